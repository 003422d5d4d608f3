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

#include "check/gradcheck.hpp"
#include "cli/summary.hpp"
#include "config/config.hpp"
#include "data/loader.hpp"
#include "io/checkpoint.hpp"
#include "math/blas.hpp"
#include "train/trainer.hpp"
#include "util/error.hpp"

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
// A signal stops training with 128 + its number (130 for SIGINT, 143 for SIGTERM), as a shell would.

struct TrainFlags {
  std::string config;
  std::string out;
  std::string resume;
  std::vector<std::string> sets;
  int64_t epochs = 0, threads = 0;
  std::optional<uint64_t> seed;
  bool dry_run = false, gradcheck = false, quiet = false;
  int64_t check_batch = 8, check_samples = 200;
  double check_epsilon = 1e-5, check_tolerance = 1e-6, check_floor = -1;
  bool check_no_input = false;
};

struct EvalFlags {
  std::string checkpoint;
  std::string images, labels, csv;
  bool csv_header = false, json = false;
};

std::string fixed(const char* fmt, double x) {
  char b[64];
  std::snprintf(b, sizeof b, fmt, x);
  return b;
}

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

  // The very network that trains, in double precision, with the training run's initial weights.
  Network<double> net(config.layers, plan.train.features, plan.classes, config.loss, rows);
  Rng init = Rng::stream(config.training.seed, 0);
  net.initialize(init);
  // Dropout stays on, with masks fixed for the whole check (the training run's first ones).
  bool dropout = false;
  for (const LayerConfig& l : config.layers) dropout = dropout || l.type == LayerType::dropout;
  const Rng masks = Rng::stream(config.training.seed, 2);

  GradcheckOptions o;
  o.per_tensor = f.check_samples;
  o.epsilon = f.check_epsilon;
  o.tolerance = f.check_tolerance;
  o.floor = f.check_floor;
  o.check_input = !f.check_no_input;
  o.seed = config.training.seed;
  const GradcheckReport r = nabla::gradcheck(net, x, labels, o, dropout ? &masks : nullptr);
  if (!f.quiet || !r.pass) {
    std::cout << "gradcheck " << config.path << ": " << rows << " training samples, double precision, "
              << (o.per_tensor > 0 ? std::to_string(o.per_tensor) + " random entries per tensor (all if fewer)"
                                   : std::string("every entry"))
              << (dropout ? ", dropout on with fixed masks" : "") << "\n";
    if (config.training.precision == "bf16")
      std::cout << "(training.precision is bf16: this checks the mathematics, in double; bf16 rounds the GEMMs' "
                   "operands on top of it, which the tests check against the same rounding done in double)\n";
    print_report(std::cout, r, o);
  }
  return r.pass ? kOk : kCheckFailed;
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
      std::cout << ", best " << config.training.early_stopping.metric << " " << fixed("%.4f", r.best_metric)
                << " at epoch " << r.best_epoch;
    std::cout << "; run folder " << o.out_dir << ", best checkpoint " << o.out_dir
              << "/checkpoints/best.safetensors\n";
  }
  return kOk;
}

int eval_command(const EvalFlags& f) {
  const io::Checkpoint ck = io::load_checkpoint(f.checkpoint);
  const Config& c = ck.config;
  set_blas_threads(1);  // as the trainer evaluates, so the figures match its metrics bit for bit

  DataSource source = c.data.test;
  DataFormat format = c.data.format;
  bool header = c.data.csv_header;
  if (!f.csv.empty()) {
    source = DataSource{};
    source.csv = f.csv;
    format = DataFormat::csv;
    header = f.csv_header;
  } else if (!f.images.empty()) {
    source = DataSource{};
    source.images = f.images;
    source.labels = f.labels;
    format = DataFormat::idx;
  } else if (!source.present()) {
    throw Error(f.checkpoint, "", "its config has no test set: give --images and --labels, or --csv");
  }
  const data::Info info = data::inspect(source, format, header);
  const std::string name = source.csv.empty() ? source.images : source.csv;
  if (info.features != ck.inputs)
    throw Error(name, "", "has " + std::to_string(info.features) + " features a sample, the checkpoint's network takes " +
                              std::to_string(ck.inputs));
  const int64_t classes = ck.outputs == 1 ? 2 : ck.outputs;
  if (info.classes > classes)
    throw Error(source.csv.empty() ? source.labels : source.csv, "",
                "has label " + std::to_string(info.classes - 1) + " but the checkpoint's network has " +
                    std::to_string(classes) + " classes");

  Network<float> net(c.layers, ck.inputs, ck.outputs, c.loss, std::min(c.training.batch_size, info.count));
  net.params() = ck.params;
  data::LoaderOptions lo;
  lo.batch_size = c.training.batch_size;  // the trainer's batches, so the figures match its metrics exactly
  lo.shuffle = false;
  lo.scale = c.data.scale;
  lo.memory_budget_bytes = c.data.memory_budget_mb << 20;
  data::BatchLoader loader(source, format, header, lo);
  const Evaluation e = evaluate(net, loader, classes);

  std::vector<int64_t> per_class_total(size_t(classes), 0), per_class_correct(size_t(classes), 0);
  for (int64_t t = 0; t < classes; ++t)
    for (int64_t p = 0; p < classes; ++p) {
      per_class_total[size_t(t)] += e.confusion[size_t(t * classes + p)];
      if (t == p) per_class_correct[size_t(t)] += e.confusion[size_t(t * classes + p)];
    }
  int64_t correct = 0;
  for (int64_t k : per_class_correct) correct += k;

  if (f.json) {
    nlohmann::ordered_json j;
    j["checkpoint"] = f.checkpoint;
    j["epoch"] = ck.state.epoch;
    j["data"] = name;
    j["samples"] = e.samples;
    j["loss"] = e.loss;
    j["accuracy"] = e.accuracy;
    j["correct"] = correct;
    auto& pc = j["per_class_accuracy"] = nlohmann::ordered_json::array();
    for (int64_t t = 0; t < classes; ++t)
      pc.push_back(per_class_total[size_t(t)]
                       ? nlohmann::ordered_json(double(per_class_correct[size_t(t)]) / double(per_class_total[size_t(t)]))
                       : nlohmann::ordered_json());
    auto& cm = j["confusion"] = nlohmann::ordered_json::array();
    for (int64_t t = 0; t < classes; ++t)
      cm.push_back(std::vector<int64_t>(e.confusion.begin() + t * classes, e.confusion.begin() + (t + 1) * classes));
    std::cout << j.dump() << "\n";
    return kOk;
  }
  std::cout << "checkpoint " << f.checkpoint << " (epoch " << ck.state.epoch << ", step " << ck.state.step << ")\n"
            << "data " << name << ": " << e.samples << " samples\n"
            << "loss " << fixed("%.4f", e.loss) << "  accuracy " << fixed("%.2f%%", 100 * e.accuracy) << " ("
            << correct << "/" << e.samples << ")\n\nper-class accuracy:\n";
  for (int64_t t = 0; t < classes; ++t)
    std::cout << "  class " << t << ": "
              << (per_class_total[size_t(t)]
                      ? fixed("%6.2f%%", 100.0 * double(per_class_correct[size_t(t)]) / double(per_class_total[size_t(t)]))
                      : std::string("     -"))
              << " (" << per_class_correct[size_t(t)] << "/" << per_class_total[size_t(t)] << ")\n";
  std::cout << "\nconfusion matrix (rows: true class, columns: predicted class):\n     ";
  for (int64_t p = 0; p < classes; ++p) std::cout << fixed("%6.0f", double(p));
  std::cout << "\n";
  for (int64_t t = 0; t < classes; ++t) {
    std::cout << fixed("%5.0f", double(t));
    for (int64_t p = 0; p < classes; ++p) std::cout << fixed("%6.0f", double(e.confusion[size_t(t * classes + p)]));
    std::cout << "\n";
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
  train->add_option("config", f.config, "The JSON config file (keys: configs/README.md)")->required();
  train->add_option("--out", f.out, "Run folder (default runs/NAME, or runs/NAME-2, ... if that is taken; with --resume, the checkpoint's run folder)");
  train->add_option("--resume", f.resume, "Continue exactly from a checkpoint (CONFIG may change only name, epochs, learning rate, threads, precision, checkpoint cadence)");
  train->add_option("--epochs", f.epochs, "Override training.epochs")->transform(whole_number(1, uint64_t(std::numeric_limits<int64_t>::max())));
  train->add_option("--seed", f.seed, "Override training.seed")->transform(whole_number(0));
  train->add_option("--threads", f.threads, "Override training.threads (each step is split between them; every GEMM runs on one)")->transform(whole_number(1, 64));
  train->add_option("--set", f.sets, "Override any config key: PATH=VALUE, e.g. optimizer.learning_rate=0.1 (repeatable)");
  train->add_flag("--dry-run", f.dry_run, "Validate the config and the data headers, print the resolved config and a model summary, train nothing");
  train->add_flag("--gradcheck", f.gradcheck, "Check backprop's gradients against central finite differences in double precision; exit 1 on a wrong gradient");
  train->add_flag("-q,--quiet", f.quiet, "Print nothing but errors (and a failing gradient check's report)");
  auto* gc = "Gradient check";
  train->add_option("--check-batch", f.check_batch, "Training samples the check uses (the first of the file)")->transform(whole_number(1, 4096))->group(gc);
  train->add_option("--check-samples", f.check_samples, "Random entries checked per tensor; 0: all")->transform(whole_number(0, uint64_t(std::numeric_limits<int64_t>::max())))->group(gc);
  train->add_option("--check-epsilon", f.check_epsilon, "Finite-difference step")->check(real_number(1e-12, 1e-1))->group(gc);
  train->add_option("--check-tolerance", f.check_tolerance, "Largest relative error that passes")->check(real_number(1e-15, 1.0))->group(gc);
  train->add_option("--check-floor", f.check_floor, "Absolute floor s of the per-entry relative error (default: derived from epsilon, the loss and the tolerance)")->check(real_number(0, 1e300))->group(gc);
  train->add_flag("--check-no-input", f.check_no_input, "Do not check the gradient with respect to the input")->group(gc);
  for (const char* check_flag :
       {"--check-batch", "--check-samples", "--check-epsilon", "--check-tolerance", "--check-floor", "--check-no-input"})
    train->get_option(check_flag)->needs("--gradcheck");  // not silently ignored
  train->get_option("--dry-run")->excludes("--gradcheck");
  train->get_option("--resume")->excludes("--dry-run")->excludes("--gradcheck");

  EvalFlags ef;
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a checkpoint: loss, accuracy, per-class accuracy, confusion matrix");
  eval->add_option("checkpoint", ef.checkpoint, "A .safetensors checkpoint written by nabla train")->required();
  auto* images = eval->add_option("--images", ef.images, "IDX images to evaluate on (default: the config's test set)");
  auto* labels = eval->add_option("--labels", ef.labels, "IDX labels for --images");
  auto* csv = eval->add_option("--csv", ef.csv, "A CSV file to evaluate on (label first)");
  eval->add_flag("--csv-header", ef.csv_header, "The CSV file's first row is a header")->needs(csv);
  eval->add_flag("--json", ef.json, "Print one JSON object (accuracy, loss, samples, correct, per_class_accuracy, confusion)");
  images->needs(labels);
  labels->needs(images);
  csv->excludes(images)->excludes(labels);

  // A first word that is neither a subcommand nor a flag: CLI11 would only say one is required.
  if (argc > 1 && argv[1][0] != '-' && std::string(argv[1]) != "train" && std::string(argv[1]) != "eval") {
    std::cerr << "nabla: unknown command '" << argv[1] << "': expected train or eval (see --help)\n";
    return kBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e), kOk;  // --help, --version
    std::cerr << "nabla: " << e.what() << " (see --help)\n";  // one line, as every other error
    return kBadInput;
  }
  // What a command prints is its result: when standard output cannot take it (a full disk, a
  // closed pipe), the command has failed.
  auto written = [](int code) {
    std::cout.flush();
    if (std::cout) return code;
    std::cerr << "nabla: cannot write the output to standard output (a full disk or a closed pipe?)\n";
    return code == kOk ? kBadInput : code;
  };
  try {
    if (*train) return written(train_command(f));
    if (*eval) return written(eval_command(ef));
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
  } catch (const std::bad_alloc&) {
    std::cerr << "out of memory: the network, batch or data is too large for this machine (lower model.layers' "
                 "units, training.batch_size or data.memory_budget_mb)\n";
    return kBadInput;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  }
  return kOk;
}

}  // namespace nabla::cli
