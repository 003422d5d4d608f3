#include "cli/cli.hpp"

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "cli/commands.hpp"
#include "cli/version.hpp"
#include "config/names.hpp"
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

// The subcommand the command line names, or null.
const Command* named(const std::vector<Command>& commands, const std::string& word) {
  for (const Command& c : commands)
    if (c.app->get_name() == word) return &c;
  return nullptr;
}

// "train, eval, predict, inspect or export", and a suggestion for a near miss.
std::string expected_commands(const std::vector<Command>& commands, const std::string& word) {
  std::vector<std::string> names;
  std::string text;
  for (const Command& c : commands) {
    names.push_back(c.app->get_name());
    text += (text.empty() ? "" : &c == &commands.back() ? " or " : ", ") + c.app->get_name();
  }
  const auto near = config::closest(word, names);
  return text + (near ? " (did you mean " + *near + "?)" : "");
}

// CLI11's "The following argument was not expected: --epoch", with the flag it was probably meant
// to be: the closest of the subcommand's own.
std::string with_suggestion(const CLI::ParseError& e, const CLI::App& app) {
  std::string message = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e) == nullptr) return message;
  const CLI::App* command = &app;
  for (const CLI::App* sub : app.get_subcommands()) command = sub;
  std::vector<std::string> flags;
  for (const CLI::Option* o : command->get_options())
    for (const std::string& name : o->get_lnames()) flags.push_back("--" + name);
  for (const std::string& extra : command->remaining())
    if (extra.rfind("--", 0) == 0)
      if (const auto near = config::closest(extra.substr(0, extra.find('=')), flags))
        return message + " (did you mean " + *near + "?)";
  return message;
}

}  // namespace

int run(int argc, char** argv) {
  // A write past `ulimit -f` fails with EFBIG, and is reported like a full disk, naming the file;
  // by default SIGXFSZ would kill the process mid-write instead, without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"nabla: trains feedforward neural networks from a JSON config, on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text());
  app.footer(
      "Exit codes: 0 done; 1 --gradcheck found a wrong gradient; 2 bad input (a flag, config, data file or "
      "checkpoint); 3 training diverged; 4 an internal error (a bug); 128 + N stopped by signal N (130 SIGINT, 143 "
      "SIGTERM, 129 SIGHUP).\nnabla help COMMAND, or nabla COMMAND --help, for a command's flags.");
  const std::vector<Command> commands = {add_train(app, std::vector<std::string>(argv, argv + argc)),
                                         add_eval(app),
                                         add_predict(app),
                                         add_inspect(app),
                                         add_export(app),
                                         add_plot(app),
                                         add_lr_find(app)};
  // A flag given twice takes its last value, as argparse does (lists, such as --set, take them all).
  for (const Command& c : commands)
    for (CLI::Option* o : c.app->get_options())
      if (o->get_items_expected_max() == 1) o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  // nabla help [COMMAND]: the same as --help.
  if (argc > 1 && std::string(argv[1]) == "help") {
    if (argc == 2) return std::cout << app.help(), kOk;
    if (const Command* c = named(commands, argv[2])) return std::cout << c->app->help(), kOk;
    std::cerr << "nabla: unknown command '" << argv[2] << "': expected " << expected_commands(commands, argv[2])
              << "\n";
    return kBadInput;
  }
  // A first word that is neither a subcommand nor a flag: CLI11 would only say one is required.
  if (argc > 1 && argv[1][0] != '-' && named(commands, argv[1]) == nullptr) {
    std::cerr << "nabla: unknown command '" << argv[1] << "': expected " << expected_commands(commands, argv[1])
              << " (see --help)\n";
    return kBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e), kOk;                     // --help, --version
    std::cerr << "nabla: " << with_suggestion(e, app) << " (see --help)\n";  // one line, as every other error
    return kBadInput;
  }
  for (const Command& c : commands)
    if (*c.app) return guarded(c.run);
  return kOk;
}

}  // namespace nabla::cli
