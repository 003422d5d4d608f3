#include "cli/cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <thread>

#include "check/gradcheck_config.hpp"
#include "cli/eval_report.hpp"
#include "cli/summary.hpp"
#include "config/json.hpp"
#include "config/types.hpp"
#include "train/data_plan.hpp"
#include "train/evaluate.hpp"
#include "train/run_folder.hpp"
#include "train/trainer.hpp"
#include "util/error.hpp"
#include "util/format.hpp"

namespace nabla::cli {

namespace fs = std::filesystem;

namespace {

// A flag's number, checked before CLI11 converts it, with a message in plain words (CLI11's own
// range checks print their bounds with %f: a 309-digit number for "no upper bound").
CLI::Validator whole_number(uint64_t least, uint64_t most = std::numeric_limits<uint64_t>::max()) {
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

// Exit codes, documented in the README.
constexpr int kOk = 0;
constexpr int kCheckFailed = 1;  // --gradcheck found a wrong gradient
constexpr int kBadInput = 2;     // a bad flag, config, data file or checkpoint
constexpr int kDiverged = 3;     // training stopped on a non-finite loss or gradient
constexpr int kInternal = 4;     // a broken invariant of nabla's own: a bug to report
// A signal stops training with 128 + its number (130 for SIGINT, 143 for SIGTERM), as a shell would.

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
};

struct EvalFlags {
  std::string checkpoint;
  std::string images, labels, csv;
  bool csv_header = false, json = false;
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
  print_model_summary(std::cout, config, plan);
  std::cout << "data: " << plan.train_samples << " training + " << config.data.validation << " validation samples ("
            << plan.train.rows << "x" << plan.train.cols << " = " << plan.train.features << " features, "
            << plan.classes << " classes)";
  if (plan.has_test) std::cout << ", " << plan.test.count << " test samples";
  std::cout << "\nconfig and data are valid; nothing was trained (--dry-run)\n";
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
  const Config config = load_config(f.config, sets);
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
  if (!f.quiet)
    std::cout << (f.resume.empty() ? "training " + config.name : "resuming " + config.name + " from " + f.resume)
              << (config.training.precision == "bf16" ? " in bf16" : "") << " into " << o.out_dir << "\n";
  const TrainResult r = train(config, o);
  if (!f.quiet) {
    for (const std::string& n : r.notes) std::cout << n << "\n";
    std::cout << "done: " << r.epochs_run << " epochs";
    if (config.data.validation > 0)
      std::cout << ", best " << config.training.early_stopping.metric << " " << printf_string("%.4f", r.best_metric)
                << " at epoch " << r.best_epoch;
    std::cout << "; run folder " << o.out_dir << ", best checkpoint " << o.out_dir << "/checkpoints/best.safetensors\n";
  }
  return kOk;
}

int eval_command(const EvalFlags& f) {
  std::optional<EvalData> data;  // the checkpoint's test set unless the flags name other data
  if (!f.csv.empty()) {
    data = EvalData{};
    data->source.csv = f.csv;
    data->format = DataFormat::csv;
    data->csv_header = f.csv_header;
  } else if (!f.images.empty()) {
    data = EvalData{};
    data->source.images = f.images;
    data->source.labels = f.labels;
    data->format = DataFormat::idx;
  }
  const CheckpointEvaluation e = evaluate_checkpoint(f.checkpoint, data ? &*data : nullptr);
  if (f.json)
    print_evaluation_json(std::cout, f.checkpoint, e);
  else
    print_evaluation(std::cout, f.checkpoint, e);
  return kOk;
}

// The train subcommand's flags, bound to f.
CLI::App* add_train(CLI::App& app, TrainFlags& f) {
  CLI::App* train =
      app.add_subcommand("train", "Train the network a config describes (or check it: --dry-run, --gradcheck)");
  train->add_option("config", f.config, "The JSON config file (keys: configs/README.md)")->required();
  train->add_option("--out", f.out,
                    "Run folder (default runs/NAME, or runs/NAME-2, ... if that is taken; with --resume, the "
                    "checkpoint's run folder)");
  train->add_option("--resume", f.resume,
                    "Continue exactly from a checkpoint (CONFIG may change only name, epochs, learning rate, threads, "
                    "precision, checkpoint cadence)");
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
      ->group(gc);
  train->add_option("--check-samples", f.check.per_tensor, "Random entries checked per tensor; 0: all")
      ->transform(whole_number(0, uint64_t(std::numeric_limits<int64_t>::max())))
      ->group(gc);
  train->add_option("--check-epsilon", f.check.epsilon, "Finite-difference step")
      ->check(real_number(1e-12, 1e-1))
      ->group(gc);
  train->add_option("--check-tolerance", f.check.tolerance, "Largest relative error that passes")
      ->check(real_number(1e-15, 1.0))
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
  return train;
}

// The eval subcommand's flags, bound to f.
CLI::App* add_eval(CLI::App& app, EvalFlags& f) {
  CLI::App* eval =
      app.add_subcommand("eval", "Evaluate a checkpoint: loss, accuracy, per-class accuracy, confusion matrix");
  eval->add_option("checkpoint", f.checkpoint, "A .safetensors checkpoint written by nabla train")->required();
  auto* images = eval->add_option("--images", f.images, "IDX images to evaluate on (default: the config's test set)");
  auto* labels = eval->add_option("--labels", f.labels, "IDX labels for --images");
  auto* csv = eval->add_option("--csv", f.csv, "A CSV file to evaluate on (label first)");
  eval->add_flag("--csv-header", f.csv_header, "The CSV file's first row is a header")->needs(csv);
  eval->add_flag("--json", f.json,
                 "Print one JSON object (accuracy, loss, samples, correct, per_class_accuracy, confusion)");
  images->needs(labels);
  labels->needs(images);
  csv->excludes(images)->excludes(labels);
  return eval;
}

// Runs a command; what went wrong becomes its message on stderr and the exit code.
template <class Command>
int guarded(Command command) {
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
  app.set_version_flag("--version", "nabla 0.1.0");
  TrainFlags train_flags;
  EvalFlags eval_flags;
  const CLI::App* train = add_train(app, train_flags);
  const CLI::App* eval = add_eval(app, eval_flags);

  // A first word that is neither a subcommand nor a flag: CLI11 would only say one is required.
  if (argc > 1 && argv[1][0] != '-' && std::string(argv[1]) != "train" && std::string(argv[1]) != "eval") {
    std::cerr << "nabla: unknown command '" << argv[1] << "': expected train or eval (see --help)\n";
    return kBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e), kOk;      // --help, --version
    std::cerr << "nabla: " << e.what() << " (see --help)\n";  // one line, as every other error
    return kBadInput;
  }
  if (*train) return guarded([&] { return train_command(train_flags); });
  if (*eval) return guarded([&] { return eval_command(eval_flags); });
  return kOk;
}

}  // namespace nabla::cli
