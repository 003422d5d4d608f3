#include "train/evaluate.hpp"

#include <chrono>
#include <filesystem>
#include <string_view>
#include <utility>

#include "io/checkpoint.hpp"
#include "math/blas.hpp"
#include "nn/loss.hpp"
#include "train/manifest.hpp"
#include "train/parallel.hpp"
#include "train/predict.hpp"
#include "util/error.hpp"

namespace nabla {

std::vector<std::vector<int64_t>> Evaluation::matrix() const {
  std::vector<std::vector<int64_t>> m(static_cast<size_t>(classes));
  for (int64_t label = 0; label < classes; ++label)
    m[size_t(label)].assign(confusion.begin() + label * classes, confusion.begin() + (label + 1) * classes);
  return m;
}

int64_t Evaluation::total(int64_t label) const {
  int64_t n = 0;
  for (int64_t p = 0; p < classes; ++p) n += count(label, p);
  return n;
}

int64_t Evaluation::predicted(int64_t c) const {
  int64_t n = 0;
  for (int64_t t = 0; t < classes; ++t) n += count(t, c);
  return n;
}

int64_t Evaluation::correct() const {
  int64_t n = 0;
  for (int64_t t = 0; t < classes; ++t) n += count(t, t);
  return n;
}

namespace {

// Whether `label` is among the k most probable classes of a row of outputs: fewer than k classes
// rank above it (more probable, or as probable and lower).
bool in_top(const float* outputs, int64_t count, int64_t label, int64_t k) {
  const float pair[2] = {count == 1 ? 1 - outputs[0] : 0, count == 1 ? outputs[0] : 0};
  const float* p = count == 1 ? pair : outputs;  // class_probabilities, without a vector a row
  const int64_t classes = count == 1 ? 2 : count;
  int64_t above = 0;
  for (int64_t c = 0; c < classes; ++c) above += p[c] > p[label] || (p[c] == p[label] && c < label);
  return above < k;
}

}  // namespace

Evaluation evaluate(Network<float>& net, data::BatchLoader& loader, Team& team, int64_t classes, int64_t top_k) {
  const auto start = std::chrono::steady_clock::now();
  Evaluation e;
  e.classes = classes;
  e.top_k = top_k;
  e.confusion.assign(size_t(classes * classes), 0);
  double loss_sum = 0;
  int64_t correct = 0;
  const int64_t outputs = net.outputs();
  loader.start_epoch(0);
  data::Batch b;
  for (;;) {
    const auto wait = std::chrono::steady_clock::now();
    const bool more = loader.next(b);
    e.waiting += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait).count();
    if (!more) break;
    const float* a = forward_rows_on(team, net, b.x, b.rows);
    const LossResult r = net.loss(b.labels, false, /*plain=*/true);
    loss_sum += r.loss * double(b.rows);
    correct += r.correct;
    e.samples += b.rows;
    for (int64_t i = 0; i < b.rows; ++i) {
      const int64_t label = b.labels[i], predicted = predicted_class(a + i * outputs, outputs);
      require(label >= 0 && label < classes, "evaluate: a label outside the classes the data plan checked");
      ++e.confusion[size_t(label * classes + predicted)];
      if (top_k > 0) e.top_k_correct += in_top(a + i * outputs, outputs, label, top_k);
    }
  }
  if (e.samples > 0) {
    e.loss = loss_sum / double(e.samples);
    e.accuracy = double(correct) / double(e.samples);
  }
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return e;
}

namespace {

// The data against the checkpoint's network: the same features a sample, no label it cannot predict.
void check_fits(const io::Checkpoint& ck, const EvalData& d, const data::Info& info, int64_t classes) {
  if (info.count == 0) throw Error(d.name(), "", "holds no samples");
  if (info.features != ck.inputs)
    throw Error(d.name(), "",
                "has " + std::to_string(info.features) + " features a sample, the checkpoint's network takes " +
                    std::to_string(ck.inputs));
  if (info.classes > classes)
    throw Error(d.source.csv.empty() ? d.source.labels : d.source.csv, "",
                "has label " + std::to_string(info.classes - 1) + " but the checkpoint's network has " +
                    std::to_string(classes) + " classes");
}

// The config's test files, where a checkpoint moved from another machine or folder will not find
// them: said with the key they come from and the flags that override them.
void check_test_files(const std::string& path, const Config& c) {
  const DataSource& t = c.data.test;
  for (const auto& [key, file] : data_files(c)) {
    std::error_code ec;
    if (std::string_view(key).rfind("data.test.", 0) != 0 || file->empty() || std::filesystem::exists(*file, ec))
      continue;
    throw Error(path, "",
                std::string(key) + " of its config, " + *file +
                    ", does not exist (was the checkpoint moved from another machine or folder?): give " +
                    (t.csv.empty() ? "--images and --labels" : "--csv") + " to evaluate on files that do");
  }
}

}  // namespace

CheckpointEvaluation evaluate_checkpoint(const std::string& path, const EvalData* given, const EvalOptions& options) {
  const io::Checkpoint ck = io::load_checkpoint(path);
  const Config& c = ck.config;
  const int threads = options.threads > 0 ? options.threads : int(c.training.threads);
  // The trainer's batches unless told otherwise, so that the figures match its metrics bit for bit.
  const int64_t batch = options.batch > 0 ? options.batch : c.training.batch_size;
  set_blas_threads(1);  // every GEMM on one thread, as the trainer evaluates
  EvalData d{c.data.test, c.data.format, c.data.csv_header};
  if (given)
    d = *given;
  else if (!d.source.present())
    throw Error(path, "", "its config has no test set: give --images and --labels, or --csv");
  else
    check_test_files(path, c);
  const data::Info info = data::inspect(d.source, d.format, d.csv_header);
  const int64_t classes = ck.outputs == 1 ? 2 : ck.outputs;
  check_fits(ck, d, info, classes);

  Network<float> net(c.layers, ck.inputs, ck.outputs, c.loss.type, std::min(batch, info.count));
  net.params() = ck.params;
  data::LoaderOptions lo;
  lo.batch_size = batch;
  lo.shuffle = false;
  lo.scale = c.data.scale;
  lo.memory_budget_bytes = c.data.memory_budget_mb << 20;
  data::BatchLoader loader(d.source, d.format, d.csv_header, lo);
  check_blas_room(threads);
  Team team(threads);
  // Top-K says something only for K below the class count: every label is among all of them.
  const int64_t k = options.top_k < classes ? options.top_k : 0;
  CheckpointEvaluation result{ck.state.epoch, ck.state.step, d.name(), evaluate(net, loader, team, classes, k), {}, {}};
  if (int64_t(c.data.class_names.size()) == classes) result.class_names = c.data.class_names;
  if (!given) {
    for (const std::string& m : ck.moved)
      if (m.rfind("data.test.", 0) == 0) result.warnings.push_back(m);
    for (const std::string& w : changed_data_files(path, c, "data.test.")) result.warnings.push_back(w);
  }
  return result;
}

}  // namespace nabla
