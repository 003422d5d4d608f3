#pragma once
// The subcommands, each a thin layer over one library call: its flags, declared on CLI11 with their
// checks, and a function that runs it once the command line is parsed and prints its result.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace nabla::cli {

// Exit codes, documented in the README. A signal stops training with 128 + its number (130 for
// SIGINT, 143 for SIGTERM), as a shell would.
constexpr int kOk = 0;
constexpr int kCheckFailed = 1;  // --gradcheck found a wrong gradient
constexpr int kBadInput = 2;     // a bad flag, config, data file or checkpoint
constexpr int kDiverged = 3;     // training stopped on a non-finite loss or gradient
constexpr int kInternal = 4;     // a broken invariant of nabla's own: a bug to report

// A subcommand added to the app: what parsing selected, and what runs it (returning the exit code).
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// train_command.cpp: train, --dry-run, --gradcheck. `command` is the whole command line (run.json).
Command add_train(CLI::App& app, std::vector<std::string> command);
Command add_eval(CLI::App& app);  // use_commands.cpp: eval, predict, inspect, export
Command add_predict(CLI::App& app);
Command add_inspect(CLI::App& app);
Command add_export(CLI::App& app);
Command add_plot(CLI::App& app);     // plot_command.cpp
Command add_lr_find(CLI::App& app);  // lr_find_command.cpp

// A flag's number, checked before CLI11 converts it, with a message in plain words (CLI11's own
// range checks print their bounds with %f: a 309-digit number for "no upper bound").
CLI::Validator whole_number(uint64_t least, uint64_t most = std::numeric_limits<uint64_t>::max());
CLI::Validator real_number(double least, double most);

}  // namespace nabla::cli
