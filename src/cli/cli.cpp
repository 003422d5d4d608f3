#include "cli/cli.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "cli/commands.hpp"
#include "cli/version.hpp"
#include "train/trainer.hpp"
#include "util/error.hpp"

namespace nabla::cli {

CLI::Validator whole_number(uint64_t least, uint64_t most) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        uint64_t v = 0;
        const char* end = text.data() + text.size();
        const auto [at, ec] = std::from_chars(text.data(), end, v);
        if (ec == std::errc() && at == end && v >= least && v <= most) {
          text = std::to_string(v);  // decimal, as --set reads it: CLI11 would take 010 for octal
          return "";
        }
        return "expected a whole number " +
               (most == std::numeric_limits<uint64_t>::max()
                    ? "of at least " + std::to_string(least)
                    : "from " + std::to_string(least) + " to " + std::to_string(most)) +
               ", found '" + text + "'";
      },
      "");
}

CLI::Validator real_number(double least, double most) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (!text.empty() && end == text.c_str() + text.size() && v >= least && v <= most) return "";
        char range[64];
        std::snprintf(range, sizeof range, "from %g to %g", least, most);
        return std::string("expected a number ") + range + ", found '" + text + "'";
      },
      "");
}

namespace {

// Runs a command; what went wrong becomes its message on stderr and the exit code.
template <class Run>
int guarded(Run command) {
  try {
    const int code = command();
    // What a command prints is its result: when standard output cannot take it (a full disk, a
    // closed pipe), the command has failed.
    std::cout.flush();
    if (std::cout) return code;
    std::cerr << "nabla: cannot write the output to standard output (a full disk or a closed pipe?)\n";
    return code == kOk ? kBadInput : code;
  } catch (const Interrupted& e) {
    std::cerr << e.what() << "\n";
    return 128 + e.signal;
  } catch (const Diverged& e) {
    std::cerr << e.what() << "\n";
    return kDiverged;
  } catch (const Errors& e) {
    for (const std::string& m : e.messages()) std::cerr << m << "\n";
    return kBadInput;
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return kBadInput;
  } catch (const InternalError& e) {
    std::cerr << "nabla: " << e.what() << " (a bug: please report it with the command that gave it)\n";
    return kInternal;
  } catch (const std::bad_alloc&) {
    std::cerr << "out of memory: the network, batch or data is too large for this machine (lower model.layers' "
                 "units, training.batch_size or data.memory_budget_mb)\n";
    return kBadInput;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  }
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"nabla: trains feedforward neural networks from a JSON config, on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text());
  const std::vector<Command> commands = {add_train(app, std::vector<std::string>(argv, argv + argc)), add_eval(app),
                                         add_predict(app), add_inspect(app), add_export(app)};

  // A first word that is neither a subcommand nor a flag: CLI11 would only say one is required.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string names;
    for (const Command& c : commands) {
      known = known || c.app->get_name() == argv[1];
      names += (names.empty() ? "" : &c == &commands.back() ? " or " : ", ") + c.app->get_name();
    }
    if (!known) {
      std::cerr << "nabla: unknown command '" << argv[1] << "': expected " << names << " (see --help)\n";
      return kBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e), kOk;      // --help, --version
    std::cerr << "nabla: " << e.what() << " (see --help)\n";  // one line, as every other error
    return kBadInput;
  }
  for (const Command& c : commands)
    if (*c.app) return guarded(c.run);
  return kOk;
}

}  // namespace nabla::cli
