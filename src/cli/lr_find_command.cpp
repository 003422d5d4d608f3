// nabla lr-find: the learning-rate range test on a config (train/lr_find.hpp).
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "config/json.hpp"
#include "io/atomic_file.hpp"
#include "train/lr_find.hpp"
#include "util/error.hpp"
#include "util/format.hpp"

namespace nabla::cli {

namespace {

struct LrFindFlags {
  std::string config;
  std::vector<std::string> sets;
  LrFindOptions options;
  std::string output = "lr-find.svg";
};

int lr_find_command(const LrFindFlags& f) {
  std::vector<std::string> notes;
  const Config c = load_config(f.config, f.sets, &notes);
  for (const std::string& n : notes) std::cerr << "note: " << n << "\n";
  if (f.options.max_lr <= f.options.min_lr)
    throw Error("nabla lr-find: --max-lr (" + printf_string("%g", f.options.max_lr) + ") must exceed --min-lr (" +
                printf_string("%g", f.options.min_lr) + ")");
  std::cout << "lr-find: " << f.options.steps << " steps of " << c.name << " (" << to_string(c.optimizer.type)
            << ", batches of " << c.training.batch_size << ") at rates rising from "
            << printf_string("%g", f.options.min_lr) << " to " << printf_string("%g", f.options.max_lr) << "\n";
  const LrFindResult r = lr_find(c, f.options);
  // The curve in a few rows, every tenth of the steps taken.
  std::cout << "          lr   smoothed loss\n";
  const size_t n = r.lr.size(), every = std::max<size_t>(1, n / 10);
  for (size_t i = 0; i < n; i += every)
    std::cout << printf_string("%12.3g", r.lr[i]) << printf_string("   %.4f\n", r.smoothed[i]);
  if (r.diverged)
    std::cout << "the loss diverged at lr " << printf_string("%.3g", r.lr.back()) << " (step " << n << ")\n";
  std::cout << "lowest smoothed loss " << printf_string("%.4f", r.smoothed[size_t(r.lowest)]) << " at lr "
            << printf_string("%.3g", r.lr[size_t(r.lowest)])
            << "\nsuggested learning rate: " << printf_string("%.3g", r.suggested)
            << " (the rate at the lowest smoothed loss, divided by 10)\n";
  io::write_atomically(f.output, report::svg(lr_find_figure(r, c.name)));
  std::cout << "wrote " << f.output << "\n";
  return kOk;
}

}  // namespace

Command add_lr_find(CLI::App& app) {
  auto flags = std::make_shared<LrFindFlags>();
  LrFindFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand(
      "lr-find", "The learning-rate range test: a rate to start from, with the loss against the rate in an SVG");
  cmd->add_option("config", f.config, "A JSON config (its network, optimiser, data and batch size)")->required();
  cmd->add_option("--set", f.sets, "Override a config value, as for train: --set training.batch_size=128");
  cmd->add_option("--min-lr", f.options.min_lr, "The first step's rate")
      ->transform(real_number(1e-12, 1e6))
      ->capture_default_str();
  cmd->add_option("--max-lr", f.options.max_lr, "The last step's rate")
      ->transform(real_number(1e-12, 1e6))
      ->capture_default_str();
  cmd->add_option("--steps", f.options.steps, "Steps from the first rate to the last")
      ->transform(whole_number(10, 100000))
      ->capture_default_str();
  cmd->add_option("-o,--output", f.output, "The SVG file to draw the loss against the rate in")->capture_default_str();
  return {cmd, [flags] { return lr_find_command(*flags); }};
}

}  // namespace nabla::cli
