#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "math/blas.hpp"
#include "train/optimizer.hpp"
#include "train/progress.hpp"
#include "train/schedule.hpp"
#include "util/error.hpp"

namespace nabla {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The JSON path of the last dense layer, for messages about the output size.
std::string output_layer_path(const Config& c) {
  for (size_t i = c.layers.size(); i-- > 0;)
    if (c.layers[i].type == LayerType::dense) return "model.layers[" + std::to_string(i) + "].units";
  return "model.layers";
}

const LayerConfig& output_layer(const Config& c) {
  for (size_t i = c.layers.size(); i-- > 0;)
    if (c.layers[i].type == LayerType::dense) return c.layers[i];
  return c.layers.back();
}

std::string source_name(const DataSource& s) { return s.csv.empty() ? s.labels : s.csv; }

data::LoaderOptions loader_options(const Config& c, int64_t begin, int64_t end, bool shuffle, uint64_t seed,
                                   int64_t budget_bytes) {
  data::LoaderOptions o;
  o.begin = begin;
  o.end = end;
  o.batch_size = c.training.batch_size;
  o.shuffle = shuffle;
  o.seed = seed;
  o.scale = c.data.scale;
  o.memory_budget_bytes = budget_bytes;
  return o;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f.flush()) throw Error(path.string(), "", "cannot write");
}

std::string percent(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * x);
  return b;
}

}  // namespace

DataPlan plan_data(const Config& c) {
  DataPlan p;
  p.train = data::inspect(c.data.train, c.data.format, c.data.csv_header);
  p.classes = c.data.classes > 0 ? c.data.classes : p.train.classes;
  const std::string& file = c.path;
  if (c.data.classes > 0 && p.train.classes > c.data.classes)
    throw Error(file, "data.classes",
                "is " + std::to_string(c.data.classes) + " but " + source_name(c.data.train) + " has label " +
                    std::to_string(p.train.classes - 1));
  if (c.data.validation >= p.train.count)
    throw Error(file, "data.validation",
                "expected fewer than the " + std::to_string(p.train.count) + " training samples in " +
                    source_name(c.data.train) + ", got " + std::to_string(c.data.validation));
  p.train_samples = p.train.count - c.data.validation;
  if (c.data.test.present()) {
    p.has_test = true;
    p.test = data::inspect(c.data.test, c.data.format, c.data.csv_header);
    if (p.test.features != p.train.features)
      throw Error(file, "data.test",
                  source_name(c.data.test) + " has " + std::to_string(p.test.features) + " features a sample, the "
                  "training data " + std::to_string(p.train.features));
    if (p.test.classes > p.classes)
      throw Error(file, "data.test",
                  source_name(c.data.test) + " has label " + std::to_string(p.test.classes - 1) +
                      " but the training data has only " + std::to_string(p.classes) + " classes");
  }
  const LayerConfig& out = output_layer(c);
  const bool binary_unit = out.units == 1 && p.classes == 2 && out.activation != Activation::softmax;
  if (out.units != 0 && out.units != p.classes && !binary_unit)
    throw Error(file, output_layer_path(c),
                "the output layer has " + std::to_string(out.units) + " units but the data has " +
                    std::to_string(p.classes) + " classes (labels 0.." + std::to_string(p.classes - 1) + " in " +
                    source_name(c.data.train) + ")");
  return p;
}

Evaluation evaluate(Network<float>& net, data::BatchLoader& loader, int64_t classes) {
  Evaluation e;
  e.confusion.assign(size_t(classes * classes), 0);
  double loss_sum = 0;
  int64_t correct = 0;
  const int64_t outputs = net.outputs();
  loader.start_epoch(0);
  data::Batch b;
  while (loader.next(b)) {
    const float* a = net.forward(b.x, b.rows);
    const LossResult r = net.loss(b.labels, false);
    loss_sum += r.loss * double(b.rows);
    correct += r.correct;
    e.samples += b.rows;
    for (int64_t i = 0; i < b.rows; ++i) {
      const float* row = a + i * outputs;
      const int64_t predicted =
          outputs == 1 ? (row[0] > 0.5f ? 1 : 0) : int64_t(std::max_element(row, row + outputs) - row);
      ++e.confusion[size_t(b.labels[i] * classes + predicted)];
    }
  }
  if (e.samples > 0) {
    e.loss = loss_sum / double(e.samples);
    e.accuracy = double(correct) / double(e.samples);
  }
  return e;
}

TrainResult train(const Config& c, const TrainOptions& options) {
  const DataPlan plan = plan_data(c);
  set_blas_threads(int(c.training.threads));

  // The run folder: never write over another run.
  const fs::path out(options.out_dir);
  if (fs::exists(out / "metrics.jsonl"))
    throw Error(out.string(), "", "already holds a run (metrics.jsonl): choose another --out or remove it");
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error(out.string(), "", "cannot create the run folder: " + ec.message());
  write_file(out / "config.json", to_json(c).dump(2) + "\n");

  // One seed, separate streams: initialisation, shuffling, dropout.
  Rng init_rng = Rng::stream(c.training.seed, 0);
  const uint64_t shuffle_seed = Rng::stream(c.training.seed, 1).next();
  Rng dropout_rng = Rng::stream(c.training.seed, 2);

  // The memory budget is shared between the splits in proportion to their size.
  const int64_t budget = c.data.memory_budget_mb << 20;
  const int64_t all = plan.train.count + (plan.has_test ? plan.test.count : 0);
  auto share = [&](int64_t n) { return std::max<int64_t>(budget * n / all, 1 << 20); };
  const DataSource& src = c.data.train;
  data::BatchLoader train_loader(src, c.data.format, c.data.csv_header,
                                 loader_options(c, 0, plan.train_samples, c.training.shuffle, shuffle_seed,
                                                share(plan.train_samples)));
  std::unique_ptr<data::BatchLoader> val_loader, test_loader;
  if (c.data.validation > 0)
    val_loader = std::make_unique<data::BatchLoader>(
        src, c.data.format, c.data.csv_header,
        loader_options(c, plan.train_samples, plan.train.count, false, 0, share(c.data.validation)));
  if (plan.has_test)
    test_loader = std::make_unique<data::BatchLoader>(c.data.test, c.data.format, c.data.csv_header,
                                                      loader_options(c, 0, -1, false, 0, share(plan.test.count)));

  Network<float> net(c.layers, plan.train.features, plan.classes, c.loss, c.training.batch_size);
  net.initialize(init_rng);
  Optimizer optimizer(c.optimizer, net.params().size());

  const int64_t steps_per_epoch = train_loader.batches_per_epoch();
  ProgressDisplay progress(options.progress, c.training.epochs, steps_per_epoch);
  std::ofstream metrics(out / "metrics.jsonl", std::ios::app);

  const EarlyStoppingConfig& es = c.training.early_stopping;
  const bool higher_is_better = es.metric != "val_loss";
  TrainResult result;
  result.best_metric = higher_is_better ? -1.0 : INFINITY;
  int64_t since_best = 0;
  int64_t step = 0;
  double lr = c.optimizer.learning_rate;

  for (int64_t epoch = 1; epoch <= c.training.epochs; ++epoch) {
    progress.start_epoch(epoch);
    train_loader.start_epoch(epoch - 1);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, batch_index = 0;
    double seconds = 0;
    data::Batch b;
    auto t0 = Clock::now();
    while (train_loader.next(b)) {
      lr = learning_rate(c.schedule, c.optimizer.learning_rate, step, steps_per_epoch, c.training.epochs);
      net.forward(b.x, b.rows, &dropout_rng);
      const LossResult r = net.loss(b.labels, true);
      if (!std::isfinite(r.loss))
        throw Diverged(out.string(), "",
                    "training diverged: the loss is " + std::to_string(r.loss) + " at step " + std::to_string(step + 1) +
                        " (epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch_index + 1) +
                        "); lower optimizer.learning_rate");
      net.backward();
      optimizer.step(net.params().data(), net.grads().data(), lr);
      ++step;
      ++batch_index;
      loss_sum += r.loss * double(b.rows);
      correct += r.correct;
      seen += b.rows;
      if (options.progress == Progress::bar) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        progress.batch(batch_index, loss_sum / double(seen), double(correct) / double(seen),
                       double(seen) / std::max(elapsed, 1e-9), lr);
      }
    }
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();

    nlohmann::ordered_json row;
    row["epoch"] = epoch;
    row["step"] = step;
    row["lr"] = lr;
    row["train_loss"] = loss_sum / double(seen);
    row["train_accuracy"] = double(correct) / double(seen);
    std::string line = "epoch " + std::to_string(epoch) + "/" + std::to_string(c.training.epochs);
    char buf[160];
    std::snprintf(buf, sizeof buf, "  train loss %.4f acc %s", loss_sum / double(seen),
                  percent(double(correct) / double(seen)).c_str());
    line += buf;
    double metric = 0;
    if (val_loader) {
      const Evaluation v = evaluate(net, *val_loader, plan.classes);
      row["val_loss"] = v.loss;
      row["val_accuracy"] = v.accuracy;
      std::snprintf(buf, sizeof buf, "  val loss %.4f acc %s", v.loss, percent(v.accuracy).c_str());
      line += buf;
      metric = higher_is_better ? v.accuracy : v.loss;
    }
    if (test_loader) {
      const Evaluation t = evaluate(net, *test_loader, plan.classes);
      row["test_loss"] = t.loss;
      row["test_accuracy"] = t.accuracy;
      std::snprintf(buf, sizeof buf, "  test loss %.4f acc %s", t.loss, percent(t.accuracy).c_str());
      line += buf;
    }
    row["seconds"] = seconds;
    row["samples_per_second"] = double(seen) / seconds;
    std::snprintf(buf, sizeof buf, "  %.2f s  %.0f samples/s  lr %.3g", seconds, double(seen) / seconds, lr);
    line += buf;
    metrics << row.dump() << "\n" << std::flush;
    progress.end_epoch(line);
    result.epochs_run = epoch;

    // Early stopping (and the best epoch, when there is a validation split).
    if (val_loader) {
      const bool improved = higher_is_better ? metric > result.best_metric + es.min_delta
                                             : metric < result.best_metric - es.min_delta;
      if (improved) {
        result.best_metric = metric;
        result.best_epoch = int(epoch);
        since_best = 0;
      } else if (es.enabled && ++since_best >= es.patience) {
        result.stopped_early = true;
        progress.message("early stopping: " + es.metric + " has not improved for " + std::to_string(es.patience) +
                         " epochs (best " + std::to_string(result.best_metric) + " at epoch " +
                         std::to_string(result.best_epoch) + ")");
        break;
      }
    }
  }

  nlohmann::ordered_json summary;
  summary["name"] = c.name;
  summary["epochs_run"] = result.epochs_run;
  summary["steps"] = step;
  summary["stopped_early"] = result.stopped_early;
  if (val_loader) {
    summary["best_epoch"] = result.best_epoch;
    summary["best_" + es.metric] = result.best_metric;
  }
  summary["parameters"] = net.params().size();
  write_file(out / "summary.json", summary.dump(2) + "\n");
  return result;
}

}  // namespace nabla
