#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "check/gradcheck_config.hpp"
#include "cli/commands.hpp"
#include "cli/summary.hpp"
#include "config/json.hpp"
#include "config/types.hpp"
#include "train/data_plan.hpp"
#include "train/manifest.hpp"
#include "train/resume.hpp"
#include "train/run_folder.hpp"
#include "train/trainer.hpp"
#include "util/format.hpp"

namespace nabla::cli {

namespace fs = std::filesystem;

namespace {

struct TrainFlags {
  std::string config;
  std::string out;
  std::string resume;
  std::vector<std::string> sets;
  int64_t epochs = 0, threads = 0;
  std::optional<uint64_t> seed;
  bool dry_run = false, gradcheck = false, quiet = false;
  GradcheckOptions check;  // --check-*: its defaults are the flags' defaults
  bool check_no_input = false;
  std::vector<std::string> command;  // the command line, for the run manifest
};

// A run folder that holds nothing yet: runs/NAME, else runs/NAME-2, runs/NAME-3, ...
std::string default_run_dir(const std::string& name) {
  for (int i = 1;; ++i) {
    const fs::path p = fs::path("runs") / (i == 1 ? name : name + "-" + std::to_string(i));
    std::error_code ec;
    if (!fs::exists(p, ec) || (fs::is_directory(p, ec) && fs::is_empty(p, ec))) return p.string();
  }
}

int dry_run(const Config& config, bool quiet) {
  const DataPlan plan = plan_data(config);
  check_precision(config);
  if (quiet) return kOk;
  std::cout << to_json(config).dump(2) << "\n\n";
  print_model_summary(std::cout, config, plan.train.features, plan.classes);
  std::cout << "data: " << plan.train_samples << " training + " << config.data.validation << " validation samples ("
            << plan.train.rows << "x" << plan.train.cols << " = " << plan.train.features << " features, "
            << plan.classes << " classes)";
  if (plan.has_test) std::cout << ", " << plan.test.count << " test samples";
  std::cout << "\nchecked of the data: each file's header (magic number, dimensions; the exact size of a raw file), "
               "every label (the class count), a gzip file's whole stream (its length and CRC), a CSV file's every row"
            << "\nconfig and data are valid; nothing was trained (--dry-run)\n";
  return kOk;
}

int gradcheck(const Config& config, const TrainFlags& f) {
  GradcheckOptions o = f.check;
  o.check_input = !f.check_no_input;
  const ConfigCheck r = gradcheck_config(config, o);
  if (!f.quiet || !r.report.pass) print_config_check(std::cout, config, r, o);
  return r.report.pass ? kOk : kCheckFailed;
}

int train_command(const TrainFlags& f) {
  std::vector<std::string> sets = f.sets;  // the shorthand flags are --set overrides, validated alike
  if (f.epochs) sets.push_back("training.epochs=" + std::to_string(f.epochs));
  if (f.seed) sets.push_back("training.seed=" + std::to_string(*f.seed));
  if (f.threads) sets.push_back("training.threads=" + std::to_string(f.threads));
  if (f.config.empty() && f.resume.empty())
    throw Error("nabla train: expected a config file, or --resume CHECKPOINT (whose config it holds)");
  // Without a config file a resume continues with the checkpoint's, changed by the flags alone.
  std::vector<std::string> notes;
  const Config config = f.config.empty() ? resumed_config(f.resume, sets) : load_config(f.config, sets, &notes);
  for (const std::string& n : notes) std::cerr << "note: " << n << "\n";
  if (f.dry_run) return dry_run(config, f.quiet);
  if (f.gradcheck) return gradcheck(config, f);
  check_precision(config);  // before the run folder is announced

  const unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && config.training.threads > int64_t(cores))
    std::cerr << "warning: training.threads is " << config.training.threads << " but this machine has " << cores
              << " cores: the threads of a step wait for each other; use --threads " << cores << "\n";
  TrainOptions o;
  o.resume = f.resume;
  o.out_dir = !f.out.empty() ? f.out : !f.resume.empty() ? run_dir_of(f.resume) : default_run_dir(config.name);
  o.progress = f.quiet ? Progress::quiet : isatty(STDOUT_FILENO) ? Progress::bar : Progress::lines;
  o.command = f.command;
  if (!f.quiet) o.on_note = [](const std::string& note) { std::cout << note << "\n"; };
  o.on_warning = [](const std::string& w) { std::cerr << "warning: " << w << "\n"; };
  if (!f.quiet)
    o.on_start = [&] {
      std::cout << (f.resume.empty() ? "training " + config.name : "resuming " + config.name + " from " + f.resume)
                << (config.training.precision == "bf16" ? " in bf16" : "") << " into " << o.out_dir << "\n";
    };
  const TrainResult r = train(config, o);
  if (!f.quiet) {
    std::cout << "done: " << r.epochs_run << " epochs";
    if (config.data.validation > 0)
      std::cout << ", best " << config.training.early_stopping.metric << " " << printf_string("%.4f", r.best_metric)
                << " at epoch " << r.best_epoch;
    std::cout << "; run folder " << o.out_dir << ", best checkpoint " << o.out_dir << "/checkpoints/best.safetensors\n";
  }
  return kOk;
}

}  // namespace

// The train subcommand and its flags.
Command add_train(CLI::App& app, std::vector<std::string> command) {
  auto flags = std::make_shared<TrainFlags>();
  flags->command = std::move(command);
  TrainFlags& f = *flags;
  CLI::App* train =
      app.add_subcommand("train", "Train the network a config describes (or check it: --dry-run, --gradcheck)");
  train->add_option("config", f.config,
                    "The JSON config file (keys: configs/README.md); with --resume it may be left out: the "
                    "checkpoint holds its config, which the flags change");
  train
      ->add_option("--out", f.out,
                   "Run folder (default runs/NAME, or runs/NAME-2, ... if that is taken; with --resume, the "
                   "checkpoint's run folder)")
      ->check([](const std::string& dir) { return dir.empty() ? "expected a folder, got an empty path" : ""; });
  train->add_option(
      "--resume", f.resume,
      "Continue exactly from a checkpoint (CONFIG may change only name, class names, epochs, learning rate, "
      "threads, precision, checkpoint cadence)");
  train->add_option("--epochs", f.epochs, "Override training.epochs")
      ->transform(whole_number(1, uint64_t(std::numeric_limits<int64_t>::max())));
  train->add_option("--seed", f.seed, "Override training.seed")->transform(whole_number(0));
  train
      ->add_option("--threads", f.threads,
                   "Override training.threads (each step is split between them; every GEMM runs on one)")
      ->transform(whole_number(1, 64));
  train->add_option("--set", f.sets,
                    "Override any config key: PATH=VALUE, e.g. optimizer.learning_rate=0.1 (repeatable)");
  train->add_flag(
      "--dry-run", f.dry_run,
      "Validate the config and the data headers, print the resolved config and a model summary, train nothing");
  train->add_flag(
      "--gradcheck", f.gradcheck,
      "Check backprop's gradients against central finite differences in double precision; exit 1 on a wrong gradient");
  train->add_flag("-q,--quiet", f.quiet, "Print nothing but errors (and a failing gradient check's report)");
  auto* gc = "Gradient check";
  train->add_option("--check-batch", f.check.samples, "Training samples the check uses (the first of the file)")
      ->transform(whole_number(1, 4096))
      ->capture_default_str()
      ->group(gc);
  train->add_option("--check-samples", f.check.per_tensor, "Random entries checked per tensor; 0: all")
      ->transform(whole_number(0, uint64_t(std::numeric_limits<int64_t>::max())))
      ->capture_default_str()
      ->group(gc);
  train->add_option("--check-epsilon", f.check.epsilon, "Finite-difference step")
      ->check(real_number(1e-12, 1e-1))
      ->capture_default_str()
      ->group(gc);
  train->add_option("--check-tolerance", f.check.tolerance, "Largest relative error that passes")
      ->check(real_number(1e-15, 1.0))
      ->capture_default_str()
      ->group(gc);
  train
      ->add_option("--check-floor", f.check.floor,
                   "Absolute floor s of the per-entry relative error (default: derived from epsilon, the loss and the "
                   "tolerance)")
      ->check(real_number(0, 1e300))
      ->group(gc);
  train->add_flag("--check-no-input", f.check_no_input, "Do not check the gradient with respect to the input")
      ->group(gc);
  for (const char* check_flag : {"--check-batch", "--check-samples", "--check-epsilon", "--check-tolerance",
                                 "--check-floor", "--check-no-input"})
    train->get_option(check_flag)->needs("--gradcheck");  // not silently ignored
  train->get_option("--dry-run")->excludes("--gradcheck");
  train->get_option("--resume")->excludes("--dry-run")->excludes("--gradcheck");
  return {train, [flags] { return train_command(*flags); }};
}

}  // namespace nabla::cli
