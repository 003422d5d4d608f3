#include "cli/cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "check/gradcheck.hpp"
#include "cli/summary.hpp"
#include "config/config.hpp"
#include "data/loader.hpp"
#include "math/blas.hpp"
#include "train/trainer.hpp"
#include "util/error.hpp"

namespace nabla::cli {

namespace fs = std::filesystem;

namespace {

// Exit codes, documented in the README.
constexpr int kOk = 0;
constexpr int kCheckFailed = 1;  // --gradcheck found a wrong gradient
constexpr int kBadInput = 2;     // a bad flag, config, data file
constexpr int kDiverged = 3;     // training stopped on a non-finite loss

struct TrainFlags {
  std::string config;
  std::string out;
  std::vector<std::string> sets;
  int64_t epochs = 0, threads = 0;
  uint64_t seed = 0;
  bool seed_given = false, dry_run = false, gradcheck = false, quiet = false;
  int64_t check_batch = 8, check_samples = 200;
  double check_epsilon = 1e-5, check_tolerance = 1e-6, check_floor = -1;
  bool check_no_input = false;
};

// A run folder that holds no run yet: runs/NAME, else runs/NAME-2, runs/NAME-3, ...
std::string default_run_dir(const std::string& name) {
  for (int i = 1;; ++i) {
    const fs::path p = fs::path("runs") / (i == 1 ? name : name + "-" + std::to_string(i));
    if (!fs::exists(p / "metrics.jsonl")) return p.string();
  }
}

int dry_run(const Config& config) {
  const DataPlan plan = plan_data(config);
  std::cout << to_json(config).dump(2) << "\n\n";
  print_model_summary(std::cout, config, plan);
  std::cout << "data: " << plan.train_samples << " training + " << config.data.validation << " validation samples ("
            << plan.train.rows << "x" << plan.train.cols << " = " << plan.train.features << " features, "
            << plan.classes << " classes)";
  if (plan.has_test) std::cout << ", " << plan.test.count << " test samples";
  std::cout << "\nconfig and data are valid; nothing was trained (--dry-run)\n";
  return kOk;
}

int gradcheck(const Config& config, const TrainFlags& f) {
  const DataPlan plan = plan_data(config);
  set_blas_threads(int(config.training.threads));
  // The first samples of the training file, in file order: real data, the same every time.
  const int64_t rows = std::min(f.check_batch, plan.train_samples);
  data::LoaderOptions lo;
  lo.begin = 0;
  lo.end = rows;
  lo.batch_size = rows;
  lo.shuffle = false;
  lo.scale = config.data.scale;
  data::BatchLoader loader(config.data.train, config.data.format, config.data.csv_header, lo);
  loader.start_epoch(0);
  data::Batch b;
  if (!loader.next(b)) throw Error(config.path, "data.train", "no samples to check on");
  const std::vector<double> x(b.x, b.x + b.rows * b.features);
  const std::vector<int32_t> labels(b.labels, b.labels + b.rows);

  // The very network that trains, in double precision; dropout is off (evaluation mode).
  Network<double> net(config.layers, plan.train.features, plan.classes, config.loss, rows);
  Rng init = Rng::stream(config.training.seed, 0);
  net.initialize(init);

  GradcheckOptions o;
  o.per_tensor = f.check_samples;
  o.epsilon = f.check_epsilon;
  o.tolerance = f.check_tolerance;
  o.floor = f.check_floor;
  o.check_input = !f.check_no_input;
  o.seed = config.training.seed;
  std::cout << "gradcheck " << config.path << ": " << rows << " training samples, double precision, "
            << (o.per_tensor > 0 ? std::to_string(o.per_tensor) + " random entries per tensor (all if fewer)"
                                 : std::string("every entry"))
            << "\n";
  const GradcheckReport r = nabla::gradcheck(net, x, labels, o);
  print_report(std::cout, r, o);
  return r.pass ? kOk : kCheckFailed;
}

int train_command(const TrainFlags& f) {
  std::vector<std::string> sets = f.sets;  // the shorthand flags are --set overrides, validated alike
  if (f.epochs) sets.push_back("training.epochs=" + std::to_string(f.epochs));
  if (f.seed_given) sets.push_back("training.seed=" + std::to_string(f.seed));
  if (f.threads) sets.push_back("training.threads=" + std::to_string(f.threads));
  const Config config = load_config(f.config, sets);
  if (f.dry_run) return dry_run(config);
  if (f.gradcheck) return gradcheck(config, f);

  TrainOptions o;
  o.out_dir = f.out.empty() ? default_run_dir(config.name) : f.out;
  o.progress = f.quiet ? Progress::quiet : isatty(STDOUT_FILENO) ? Progress::bar : Progress::lines;
  if (!f.quiet) std::cout << "training " << config.name << " into " << o.out_dir << "\n";
  const TrainResult r = train(config, o);
  if (!f.quiet) {
    std::cout << "done: " << r.epochs_run << " epochs";
    if (r.best_epoch) std::cout << ", best " << config.training.early_stopping.metric << " " << r.best_metric
                                << " at epoch " << r.best_epoch;
    std::cout << "; run folder " << o.out_dir << "\n";
  }
  return kOk;
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"nabla: trains feedforward neural networks from a JSON config, on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nabla 0.1.0");

  TrainFlags f;
  CLI::App* train = app.add_subcommand("train", "Train the network a config describes (or check it: --dry-run, --gradcheck)");
  train->add_option("config", f.config, "The JSON config file (keys: configs/README.md)")->required()->check(CLI::ExistingFile);
  train->add_option("--out", f.out, "Run folder (default runs/NAME, or runs/NAME-2, ... if that holds a run)");
  train->add_option("--epochs", f.epochs, "Override training.epochs")->check(CLI::PositiveNumber);
  train->add_option("--seed", f.seed, "Override training.seed")->each([&](const std::string&) { f.seed_given = true; });
  train->add_option("--threads", f.threads, "Override training.threads (also the BLAS threads)")->check(CLI::Range(1, 64));
  train->add_option("--set", f.sets, "Override any config key: PATH=VALUE, e.g. optimizer.learning_rate=0.1 (repeatable)");
  train->add_flag("--dry-run", f.dry_run, "Validate the config and the data headers, print the resolved config and a model summary, train nothing");
  train->add_flag("--gradcheck", f.gradcheck, "Check backprop's gradients against central finite differences in double precision; exit 1 on a wrong gradient");
  train->add_flag("-q,--quiet", f.quiet, "Print nothing but errors");
  auto* gc = "Gradient check";
  train->add_option("--check-batch", f.check_batch, "Training samples the check uses (first of the file)")->check(CLI::Range(1, 4096))->group(gc);
  train->add_option("--check-samples", f.check_samples, "Random entries checked per tensor; 0: all")->check(CLI::NonNegativeNumber)->group(gc);
  train->add_option("--check-epsilon", f.check_epsilon, "Finite-difference step")->check(CLI::Range(1e-12, 1e-1))->group(gc);
  train->add_option("--check-tolerance", f.check_tolerance, "Largest relative error that passes")->check(CLI::Range(1e-15, 1.0))->group(gc);
  train->add_option("--check-floor", f.check_floor, "Absolute floor s of the per-entry relative error (default: derived from epsilon, the loss and the tolerance)")->check(CLI::NonNegativeNumber)->group(gc);
  train->add_flag("--check-no-input", f.check_no_input, "Do not check the gradient with respect to the input")->group(gc);
  train->get_option("--dry-run")->excludes("--gradcheck");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kBadInput;
  }
  try {
    if (*train) return train_command(f);
  } catch (const Diverged& e) {
    std::cerr << e.what() << "\n";
    return kDiverged;
  } catch (const Errors& e) {
    for (const std::string& m : e.messages()) std::cerr << m << "\n";
    return kBadInput;
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return kBadInput;
  }
  return kOk;
}

}  // namespace nabla::cli
