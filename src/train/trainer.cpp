#include "train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <optional>

#include "config/json.hpp"
#include "io/checkpoint.hpp"
#include "math/blas.hpp"
#include "math/finite.hpp"
#include "math/rng.hpp"
#include "report/chart.hpp"
#include "train/curves.hpp"
#include "train/data_plan.hpp"
#include "train/evaluate.hpp"
#include "train/manifest.hpp"
#include "train/optimizer.hpp"
#include "train/parallel.hpp"
#include "train/resume.hpp"
#include "train/run_folder.hpp"
#include "train/run_report.hpp"
#include "train/schedule.hpp"
#include "train/signals.hpp"
#include "util/format.hpp"

namespace nabla {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One training run: everything train() sets up, and what it does epoch by epoch.
class Run {
 public:
  Run(const Config& c, const TrainOptions& options, const DataPlan& plan, RunFolder& folder, const io::Checkpoint* from,
      const StopSignals& signals);

  // The weights, optimiser state and position of the checkpoint resumed from, or the initial
  // weights (saved as epoch-0000); then the config is written.
  void restore_or_initialize();
  // The steps of one epoch (1-based); returns its training time. Throws Diverged before an update
  // that would not be finite, Interrupted after the step in which a signal came (with a
  // checkpoint of it).
  double train_epoch(int64_t epoch);
  // Evaluation, the metrics row, the best epoch, the checkpoints. False when early stopping ends
  // the run; throws Interrupted when a signal came during the evaluation.
  bool finish_epoch(int64_t epoch, double seconds);
  TrainResult finish(double load_seconds);

  int64_t first_epoch() const { return st_.epoch + 1; }
  int64_t steps_per_epoch() const { return loaders_.train->batches_per_epoch(); }
  void add_note(const std::string& note) {
    if (options_.on_note)
      options_.on_note(note);
    else
      result_.notes.push_back(note);
  }

 private:
  void save(const std::filesystem::path& path);
  Diverged diverged(int64_t epoch, const std::string& what) const;
  std::string evaluate_splits(nlohmann::ordered_json& row, double& metric);

  const Config& c_;
  const TrainOptions& options_;
  const DataPlan& plan_;
  RunFolder& folder_;
  const io::Checkpoint* from_;
  const StopSignals& signals_;
  Rng dropout_rng_;
  Loaders loaders_;
  Network<float> net_;
  Optimizer optimizer_;
  DataParallel parallel_;
  ProgressDisplay progress_;
  const bool higher_is_better_;
  io::RunState st_;
  std::filesystem::path good_;  // the newest state saved (or resumed from), for the messages that stop a run
  TrainResult result_;
  double eval_seconds_ = 0;     // validation and test passes, all epochs
  Clock::time_point last_log_;  // steps.jsonl: the time and samples since its last row
  int64_t logged_samples_ = 0;
};

Run::Run(const Config& c, const TrainOptions& options, const DataPlan& plan, RunFolder& folder,
         const io::Checkpoint* from, const StopSignals& signals)
    : c_(c),
      options_(options),
      plan_(plan),
      folder_(folder),
      from_(from),
      signals_(signals),
      dropout_rng_(Rng::stream(c.training.seed, Stream::dropout)),
      loaders_(open_loaders(c, plan, Rng::stream(c.training.seed, Stream::shuffle).next())),
      net_(c.layers, plan.train.features, plan.classes, training_loss(c, plan), plan.largest_batch(c)),
      optimizer_(c.optimizer, net_.params().size()),
      parallel_(net_, int(c.training.threads), {c.training.clip_grad_value, c.training.clip_grad_norm}),
      progress_(options.progress, c.training.epochs, loaders_.train->batches_per_epoch()),
      higher_is_better_(c.training.early_stopping.metric != "val_loss") {
  st_.best_metric = higher_is_better_ ? -1.0 : INFINITY;
  require(steps_per_epoch() == plan.batches_per_epoch(c) && int64_t(net_.params().size()) == plan.parameters(c),
          "Run: the loader or the network disagrees with the data plan");
}

void Run::restore_or_initialize() {
  folder_.write_config(c_);
  if (from_) {
    net_.params() = from_->params;
    optimizer_.state() = from_->optimizer_state;
    optimizer_.set_steps(from_->state.optimizer_steps);
    st_ = from_->state;
    dropout_rng_.set_state(st_.rng_dropout);
    if (const int64_t rows = folder_.keep_metrics_until(st_.epoch, options_.resume);
        rows < st_.epoch && options_.on_warning)
      options_.on_warning((folder_.path() / "metrics.jsonl").string() + " holds " + std::to_string(rows) + " of the " +
                          std::to_string(st_.epoch) +
                          " epochs' rows before this resume (was it cut or removed?): its history has a gap");
    good_ = options_.resume;
  } else {
    Rng init = Rng::stream(c_.training.seed, Stream::init);
    net_.initialize(init);
    st_.rng_dropout = dropout_rng_.state();
    good_ = folder_.epoch_checkpoint(0);
    io::save_checkpoint(good_.string(), c_, net_, optimizer_.state(), st_);
  }
  if (c_.training.precision == "bf16") net_.use_bf16();  // after the weights are set: it rounds them
  folder_.open_metrics();
  folder_.write_curves(report::svg(learning_curves(folder_.metrics(), c_.name, from_ ? st_.best_epoch : 0)));
  if (c_.training.log_every_steps > 0) folder_.open_steps(st_.step, from_ ? options_.resume : "");
  result_.epochs_run = st_.epoch;
  result_.best_epoch = st_.best_epoch;
  result_.best_metric = st_.best_metric;
}

void Run::save(const std::filesystem::path& path) {
  st_.rng_dropout = dropout_rng_.state();
  st_.optimizer_steps = optimizer_.steps();
  io::save_checkpoint(path.string(), c_, net_, optimizer_.state(), st_);
  if (path == folder_.last()) good_ = path;
}

// Where it stopped, what happened, what is safe on disk.
Diverged Run::diverged(int64_t epoch, const std::string& what) const {
  return Diverged(folder_.path().string(), "",
                  "training diverged at step " + std::to_string(st_.step + 1) + " (epoch " + std::to_string(epoch) +
                      ", batch " + std::to_string(st_.batch + 1) + "): " + what + ", and " + good_.string() +
                      " holds the last good state; lower optimizer.learning_rate");
}

double Run::train_epoch(int64_t epoch) {
  data::BatchLoader& loader = *loaders_.train;
  progress_.start_epoch(epoch);
  loader.start_epoch(epoch - 1);
  data::Batch b;
  for (int64_t k = 0; k < st_.batch; ++k) loader.next(b);  // a mid-epoch resume: these are done
  if (st_.batch == 0) st_.epoch_loss_sum = 0, st_.epoch_correct = 0, st_.epoch_seen = 0, st_.epoch_seconds = 0;
  const auto t0 = Clock::now();
  last_log_ = t0;
  logged_samples_ = 0;
  const int64_t log_every = c_.training.log_every_steps;
  while (loader.next(b)) {
    st_.lr = learning_rate(c_.schedule, c_.optimizer.learning_rate, st_.step, steps_per_epoch(), c_.training.epochs);
    const StepResult r = parallel_.compute(b, dropout_rng_.next());
    if (!r.finite) {  // stop before the update: nothing good is touched
      const std::string where = parallel_.first_nonfinite();
      throw diverged(
          epoch, (std::isfinite(r.loss) ? "a gradient is not finite" : "the loss is " + printf_string("%g", r.loss)) +
                     (where.empty() ? "" : ", first in " + where) + "; no update was applied");
    }
    const bool log = log_every > 0 && (st_.step + 1) % log_every == 0;
    double gradient_norm = 0;
    if (!parallel_.update(optimizer_, st_.lr, log ? &gradient_norm : nullptr)) {  // finite, but too large a step
      std::string where = "the optimiser's moments";
      for (const TensorInfo& t : net_.tensors())
        if (!all_finite(net_.params().data() + t.offset, t.size())) {
          where = t.name;
          break;
        }
      throw diverged(epoch, "the update made " + where + " non-finite; nothing was written");
    }
    ++st_.step;
    ++st_.batch;
    st_.epoch_loss_sum += r.loss * double(b.rows);
    st_.epoch_correct += r.correct;
    st_.epoch_seen += b.rows;
    logged_samples_ += b.rows;
    if (log) {
      nlohmann::ordered_json row;
      row["step"] = st_.step;
      row["epoch"] = epoch;
      row["loss"] = r.loss;
      row["lr"] = st_.lr;
      row["gradient_norm"] = gradient_norm;
      row["samples_per_second"] = double(logged_samples_) / std::max(seconds_since(last_log_), 1e-9);
      folder_.append_step(row);
      last_log_ = Clock::now();
      logged_samples_ = 0;
    }
    if (signals_.requested()) {  // finish this step, keep it, go
      st_.epoch_seconds += seconds_since(t0);
      st_.epoch = epoch - 1;
      save(folder_.last());
      progress_.end_epoch("");
      throw Interrupted("stopped by " + signals_.name() + " at step " + std::to_string(st_.step) + " (epoch " +
                            std::to_string(epoch) + ", batch " + std::to_string(st_.batch) +
                            "); resume with --resume " + folder_.last().string(),
                        signals_.requested());
    }
    if (options_.progress == Progress::bar) {
      const double elapsed = st_.epoch_seconds + seconds_since(t0);
      const double seen = double(st_.epoch_seen);
      progress_.batch(st_.batch, st_.epoch_loss_sum / seen, double(st_.epoch_correct) / seen,
                      seen / std::max(elapsed, 1e-9), st_.lr);
    }
  }
  st_.epoch = epoch;
  st_.batch = 0;
  return st_.epoch_seconds + seconds_since(t0);
}

// The validation and test passes into the metrics row; returns their part of the epoch's line.
std::string Run::evaluate_splits(nlohmann::ordered_json& row, double& metric) {
  const auto start = Clock::now();
  std::string line;
  auto split = [&](data::BatchLoader* loader, const std::string& name) -> double {
    if (!loader) return 0;
    const Evaluation e = evaluate(net_, *loader, parallel_.team(), plan_.classes);
    row[name + "_loss"] = e.loss;
    row[name + "_accuracy"] = e.accuracy;
    line += "  " + name + " loss " + printf_string("%.4f", e.loss) + " acc " + percent(e.accuracy);
    return higher_is_better_ ? e.accuracy : e.loss;
  };
  metric = split(loaders_.validation.get(), "val");
  split(loaders_.test.get(), "test");
  eval_seconds_ += seconds_since(start);
  return line;
}

bool Run::finish_epoch(int64_t epoch, double seconds) {
  const double seen = double(st_.epoch_seen);
  nlohmann::ordered_json row;
  row["epoch"] = epoch;
  row["step"] = st_.step;
  row["lr"] = st_.lr;
  row["train_loss"] = st_.epoch_loss_sum / seen;
  row["train_accuracy"] = double(st_.epoch_correct) / seen;
  double metric = 0;
  std::string line = "epoch " + std::to_string(epoch) + "/" + std::to_string(c_.training.epochs) + "  train loss " +
                     printf_string("%.4f", st_.epoch_loss_sum / seen) + " acc " +
                     percent(double(st_.epoch_correct) / seen) + evaluate_splits(row, metric);
  row["seconds"] = seconds;
  row["samples_per_second"] = seen / seconds;
  line += "  " + printf_string("%.2f s", seconds) + "  " + printf_string("%.0f samples/s", seen / seconds) + "  lr " +
          printf_string("%.3g", st_.lr);

  // The best epoch by the validation metric (the last one when there is no validation split).
  const EarlyStoppingConfig& es = c_.training.early_stopping;
  const bool validated = loaders_.validation != nullptr;
  bool improved = !validated;
  if (validated) {
    improved = higher_is_better_ ? metric > st_.best_metric + es.min_delta : metric < st_.best_metric - es.min_delta;
    if (improved)
      st_.best_metric = metric, st_.best_epoch = epoch, st_.since_best = 0;
    else
      ++st_.since_best;
  } else {
    st_.best_epoch = epoch;
  }
  // The metrics row first, then the checkpoints: a run stopped between them resumes from the
  // epoch before, which drops this row (keep_metrics_until), so no row is ever missing.
  folder_.append_metrics(row);
  folder_.write_curves(report::svg(learning_curves(folder_.metrics(), c_.name, validated ? st_.best_epoch : 0)));
  save(folder_.last());
  if (improved) save(folder_.best());
  if (c_.checkpoint.every > 0 && epoch % c_.checkpoint.every == 0) {
    save(folder_.epoch_checkpoint(epoch));
    folder_.prune(c_.checkpoint.keep);
  }
  progress_.end_epoch(line);
  result_.epochs_run = epoch;
  result_.best_epoch = st_.best_epoch;
  result_.best_metric = st_.best_metric;

  if (signals_.requested())
    throw Interrupted("stopped by " + signals_.name() + " after epoch " + std::to_string(epoch) +
                          "; resume with --resume " + folder_.last().string(),
                      signals_.requested());
  if (!validated || !es.enabled || st_.since_best < es.patience) return true;
  result_.stopped_early = true;
  progress_.message("early stopping: " + es.metric + " has not improved for " + std::to_string(es.patience) +
                    " epochs (best " + printf_string("%.6g", st_.best_metric) + " at epoch " +
                    std::to_string(st_.best_epoch) + ")");
  return false;
}

TrainResult Run::finish(double load_seconds) {
  nlohmann::ordered_json summary;
  summary["name"] = c_.name;
  summary["epochs_run"] = result_.epochs_run;
  summary["steps"] = st_.step;
  summary["stopped_early"] = result_.stopped_early;
  summary["best_epoch"] = st_.best_epoch;
  if (loaders_.validation) summary["best_" + c_.training.early_stopping.metric] = st_.best_metric;
  summary["best_checkpoint"] = folder_.best().string();
  summary["parameters"] = net_.params().size();
  summary["threads"] = c_.training.threads;
  summary["precision"] = c_.training.precision;
  summary["load_seconds"] = load_seconds;  // data headers, loaders, network, the initial checkpoint
  // The best checkpoint on the test set, for the report's confusion matrix.
  std::optional<Evaluation> best_on_test;
  if (loaders_.test) {
    const auto start = Clock::now();
    Network<float> best(c_.layers, plan_.train.features, plan_.classes, c_.loss.type, plan_.largest_batch(c_));
    best.params() = io::load_checkpoint(folder_.best().string()).params;
    best_on_test = evaluate(best, *loaders_.test, parallel_.team(), plan_.classes);
    eval_seconds_ += seconds_since(start);
  }
  summary["eval_seconds"] = eval_seconds_;
  folder_.write_summary(summary);

  RunReport page;
  page.name = c_.name;
  page.config = to_json(c_);
  page.manifest = folder_.manifest();
  page.summary = summary;
  page.rows = folder_.metrics();
  page.curves_svg = report::svg(learning_curves(page.rows, c_.name, loaders_.validation ? st_.best_epoch : 0));
  page.best_on_test = best_on_test ? &*best_on_test : nullptr;
  if (int64_t(c_.data.class_names.size()) == plan_.classes) page.class_names = c_.data.class_names;
  folder_.write_report(run_report_html(page));
  return result_;
}

// The run in a folder opened for it: train() removes the folder again when this throws before an epoch is done.
TrainResult train_in(RunFolder& folder, const Config& c, const TrainOptions& options, const DataPlan& plan,
                     const io::Checkpoint* from, const std::vector<std::string>& notes,
                     const nlohmann::ordered_json& entry, const StopSignals& signals, Clock::time_point started);

}  // namespace

TrainResult train(const Config& c, const TrainOptions& options) {
  const auto started = Clock::now();
  // From here a signal asks the run to stop at the next safe point (before the first step, or
  // after a step), never leaving half a run folder.
  const StopSignals signals;
  const DataPlan plan = plan_data(c);
  check_precision(c);
  // The threads split each step between them (parallel.hpp); every GEMM runs on one thread.
  set_blas_threads(1);

  // A checkpoint to continue from must describe this very run.
  std::optional<io::Checkpoint> from;
  std::vector<std::string> notes;
  if (!options.resume.empty()) {
    from = io::load_checkpoint(options.resume);
    notes = check_resume(*from, c, options.resume);
    check_resume_fits(*from, plan.parameters(c), plan.batches_per_epoch(c), options.resume);
  }
  // This invocation's manifest entry, its data files hashed once: for the warning below and run.json.
  const nlohmann::ordered_json entry = manifest_entry(c, options.command);
  if (from && options.on_warning) {
    for (const std::string& w : from->moved) options.on_warning(w);
    for (const std::string& w : changed_data_files(options.resume, entry["data"])) options.on_warning(w);
  }
  RunFolder folder(options.out_dir, options.resume, from ? &*from : nullptr);
  if (!folder.reused().empty() && options.on_warning) options.on_warning(folder.reused());
  if (options.on_start) options.on_start();
  try {
    return train_in(folder, c, options, plan, from ? &*from : nullptr, notes, entry, signals, started);
  } catch (const Diverged&) {
    throw;  // its message names the checkpoint that holds the last good state
  } catch (const Interrupted&) {
    throw;  // it has kept (or removed) what it said
  } catch (...) {
    // Bad data found while loading (a NaN in a float file), no memory, a full disk before the first
    // epoch ended: nothing in the folder is worth keeping, and the same command must run again.
    if (folder.metrics().empty()) folder.abandon();
    throw;
  }
}

namespace {

TrainResult train_in(RunFolder& folder, const Config& c, const TrainOptions& options, const DataPlan& plan,
                     const io::Checkpoint* from, const std::vector<std::string>& notes,
                     const nlohmann::ordered_json& entry, const StopSignals& signals, Clock::time_point started) {
  Run run(c, options, plan, folder, from, signals);
  for (const std::string& note : notes) run.add_note(note);
  if (from)
    if (const std::string note = cosine_note(*from, c, run.steps_per_epoch()); !note.empty()) run.add_note(note);

  // A signal while loading stops the run before it writes anything but the folder and its lock.
  if (signals.requested())
    throw Interrupted("stopped by " + signals.name() + " before the first step: " + folder.abandon(),
                      signals.requested());
  // The step's threads and the main thread's evaluation: each needs a BLAS buffer.
  check_blas_room(int(c.training.threads) + 1);
  run.restore_or_initialize();
  if (const std::string w = folder.begin_manifest(entry); !w.empty() && options.on_warning) options.on_warning(w);
  const double load_seconds = seconds_since(started);
  for (int64_t epoch = run.first_epoch(); epoch <= c.training.epochs; ++epoch) {
    const double seconds = run.train_epoch(epoch);
    if (!run.finish_epoch(epoch, seconds)) break;
  }
  folder.end_manifest();
  return run.finish(load_seconds);
}

}  // namespace

}  // namespace nabla
