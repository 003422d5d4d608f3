#include "train/data_plan.hpp"

#include <unistd.h>

#include <algorithm>

#include "math/bf16.hpp"
#include "train/optimizer.hpp"
#include "train/parallel.hpp"
#include "util/error.hpp"
#include "util/format.hpp"

namespace nabla {

namespace {

// The file a problem is in: the CSV file, or of IDX the labels file (for a label or the count) or
// the images file (for the features).
std::string source_name(const DataSource& s) { return s.csv.empty() ? s.labels : s.csv; }
std::string features_name(const DataSource& s) { return s.csv.empty() ? s.images : s.csv; }

// The test split against the training split: some samples, the same features, no unknown label.
void check_test_split(const Config& c, const DataPlan& p) {
  const std::string& file = c.path;
  if (p.test.count == 0) throw Error(file, "data.test", source_name(c.data.test) + " holds no samples");
  if (p.test.features != p.train.features)
    throw Error(file, "data.test",
                features_name(c.data.test) + " has " + std::to_string(p.test.features) +
                    " features a sample, the "
                    "training data " +
                    std::to_string(p.train.features));
  if (p.test.classes > p.classes)
    throw Error(file, "data.test",
                source_name(c.data.test) + " has label " + std::to_string(p.test.classes - 1) +
                    " but the training data has only " + std::to_string(p.classes) + " classes");
}

// The output layer's units against the classes (one sigmoid unit serves two).
void check_output_layer(const Config& c, const DataPlan& p) {
  const LayerConfig& out = c.layers[output_layer_index(c.layers)];
  const bool binary_unit = out.units == 1 && p.classes == 2 && out.activation != Activation::softmax;
  if (out.units != 0 && out.units != p.classes && !binary_unit)
    throw Error(c.path, output_layer_path(c),
                "the output layer has " + std::to_string(out.units) + " units but the data has " +
                    std::to_string(p.classes) + " classes (labels 0.." + std::to_string(p.classes - 1) + " in " +
                    source_name(c.data.train) + ")");
}

// The dense layers' sizes in turn: visit(in, out, norm) for each.
template <class Visit>
void for_each_dense(const Config& c, const DataPlan& p, Visit visit) {
  double in = double(p.train.features);
  for (const LayerConfig& l : c.layers) {
    if (l.type != LayerType::dense) continue;
    const double out = l.units > 0 ? double(l.units) : double(p.classes);
    visit(in, out, l.norm);
    in = out;
  }
}

// A layer's parameters as Network lays them out: W, b, and a norm's γ and β (and batch_norm's
// running mean and variance).
double layer_parameters(double in, double out, Norm norm) {
  return in * out + out + (norm == Norm::batch_norm ? 4 : norm == Norm::layer_norm ? 2 : 0) * out;
}

// What the network will take, in bytes, before anything is allocated (in double: a config can
// ask for more than 2^63 bytes).
void check_memory(const Config& c, const DataPlan& p) {
  double params = 0, units = 0, block = 0;
  for_each_dense(c, p, [&](double in, double out, Norm norm) {
    params += layer_parameters(in, out, norm);
    units += out * (norm != Norm::none ? 3 : 1);  // a norm's ẑ and δʸ too
    block = std::max(block, std::min(double(DataParallel::kBlockUnits), out) * (in + 3));
  });
  // Per parameter: itself, its gradient and a checkpoint's copy (3), and each moment buffer with
  // its checkpoint copy (2 each). Per batch row and unit (the input's too): the activations, the
  // pre-activations, δ, the dropout mask and its scaled copy (5). Per training thread: a block of
  // gradients (parallel.hpp). Floats of 4 bytes.
  const double per_parameter = 3 + 2 * double(moment_buffers(c.optimizer));
  constexpr double per_unit_row = 5;
  const double batch = double(std::min(c.training.batch_size, p.train.count));
  const double need = 4 * params * per_parameter + 4 * batch * (units + double(p.train.features)) * per_unit_row +
                      4 * block * double(c.training.threads);
  const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  if (memory > 0 && need > memory)
    throw Error(
        c.path, "model.layers",
        printf_string("the network needs about %.3g GB", need / 1e9) + " (" + printf_string("%.4g", params) +
            " parameters, their gradients, optimiser state and checkpoint copies, and a batch's activations), " +
            printf_string("more than this machine's %.3g GB of memory", memory / 1e9));
}

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
  o.prefetch = 8;  // filled in bursts of 4 (loader.cpp): few wake-ups while the cores compute
  return o;
}

}  // namespace

int64_t DataPlan::batches_per_epoch(const Config& c) const {
  return (train_samples + c.training.batch_size - 1) / c.training.batch_size;
}

int64_t DataPlan::parameters(const Config& c) const {
  double n = 0;
  for_each_dense(c, *this, [&](double in, double out, Norm norm) { n += layer_parameters(in, out, norm); });
  return int64_t(n);  // below the memory limit check_memory enforced, so exact
}

int64_t DataPlan::largest_batch(const Config& c) const {
  const int64_t largest_split = std::max({train_samples, c.data.validation, has_test ? test.count : 0});
  return std::min(c.training.batch_size, largest_split);
}

DataPlan plan_data(const Config& c) {
  DataPlan p;
  p.train = data::inspect(c.data.train, c.data.format, c.data.csv_header);
  p.classes = c.data.classes > 0 ? c.data.classes : p.train.classes;
  const std::string& file = c.path;
  if (p.train.count == 0) throw Error(file, "data.train", source_name(c.data.train) + " holds no samples");
  if (c.data.classes > 0 && p.train.classes > c.data.classes)
    throw Error(file, "data.classes",
                "is " + std::to_string(c.data.classes) + " but " + source_name(c.data.train) + " has label " +
                    std::to_string(p.train.classes - 1));
  if (c.data.validation >= p.train.count)
    throw Error(file, "data.validation",
                "expected fewer than the " + std::to_string(p.train.count) + " training samples in " +
                    source_name(c.data.train) + ", got " + std::to_string(c.data.validation));
  p.train_samples = p.train.count - c.data.validation;
  if (p.classes < 2)
    throw Error(file, "data.train",
                source_name(c.data.train) + " has only label 0: a classifier needs at least 2 classes");
  // With the class count taken from the labels, one corrupt label (200 among 0..9) would widen the
  // output layer to 201 units: classes without a sample are refused unless the config says the count.
  const LayerConfig& output = c.layers.back();
  if (c.data.classes == 0 && output.units == 0 && p.train.labels_seen < p.classes)
    throw Error(file, "data.train",
                source_name(c.data.train) + " has labels up to " + std::to_string(p.classes - 1) + " but only " +
                    std::to_string(p.train.labels_seen) + " of those " + std::to_string(p.classes) +
                    " classes have a sample (a corrupt label?): set data.classes, or the output layer's units, to "
                    "say how many classes there are");
  if (!c.data.class_names.empty() && int64_t(c.data.class_names.size()) != p.classes)
    throw Error(file, "data.class_names",
                "has " + std::to_string(c.data.class_names.size()) + " names but the data has " +
                    std::to_string(p.classes) + " classes");
  if (!c.loss.class_weights.empty() && int64_t(c.loss.class_weights.size()) != p.classes)
    throw Error(file, "loss.class_weights",
                "has " + std::to_string(c.loss.class_weights.size()) + " weights but the data has " +
                    std::to_string(p.classes) + " classes");
  if (c.data.test.present()) {
    p.has_test = true;
    p.test = data::inspect(c.data.test, c.data.format, c.data.csv_header);
    check_test_split(c, p);
  }
  check_output_layer(c, p);
  check_memory(c, p);
  return p;
}

void check_precision(const Config& c) {
  if (c.training.precision == "bf16")
    if (const std::string why = bf16_unavailable(); !why.empty())
      throw Error(c.path, "training.precision", "bf16 is not available: " + why + " (use \"fp32\")");
}

Loaders open_loaders(const Config& c, const DataPlan& plan, uint64_t shuffle_seed) {
  const double budget = double(c.data.memory_budget_mb) * double(1 << 20);
  const double all = double(plan.train.count + (plan.has_test ? plan.test.count : 0));
  auto share = [&](int64_t n) {
    return std::max<int64_t>(int64_t(std::min(budget * double(n) / all, 0x1p62)), 1 << 20);
  };
  const DataSource& src = c.data.train;
  const DataFormat format = c.data.format;
  const bool header = c.data.csv_header;
  Loaders l;
  data::LoaderOptions train =
      loader_options(c, 0, plan.train_samples, c.training.shuffle, shuffle_seed, share(plan.train_samples));
  // With several training threads they scale their own rows (parallel.hpp): on two cores, the
  // loader's thread would take time from them. With one, the loader's thread uses the idle core.
  train.defer_conversion = c.training.threads > 1;
  l.train = std::make_unique<data::BatchLoader>(src, format, header, train);
  if (c.data.validation > 0)
    l.validation = std::make_unique<data::BatchLoader>(
        src, format, header,
        loader_options(c, plan.train_samples, plan.train.count, false, 0, share(c.data.validation)));
  if (plan.has_test)
    l.test = std::make_unique<data::BatchLoader>(c.data.test, format, header,
                                                 loader_options(c, 0, -1, false, 0, share(plan.test.count)));
  return l;
}

LossSpec training_loss(const Config& c, const DataPlan& plan) {
  LossSpec loss(c.loss.type);
  loss.label_smoothing = c.loss.label_smoothing;
  loss.class_weights = c.loss.class_weights;
  if (!c.loss.balanced) return loss;
  // One pass over the training split's labels: w_c = N / (K·n_c), sklearn's "balanced".
  data::LoaderOptions o = loader_options(c, 0, plan.train_samples, false, 0, int64_t(64) << 20);
  o.batch_size = 4096;
  o.defer_conversion = true;  // the labels alone: the held images are never scaled into floats
  data::BatchLoader loader(c.data.train, c.data.format, c.data.csv_header, o);
  loader.start_epoch(0);
  std::vector<int64_t> count(size_t(plan.classes), 0);
  data::Batch b;
  while (loader.next(b))
    for (int64_t i = 0; i < b.rows; ++i) ++count[size_t(b.labels[i])];
  for (int64_t k = 0; k < plan.classes; ++k) {
    if (count[size_t(k)] == 0)
      throw Error(c.path, "loss.class_weights",
                  "\"balanced\" weighs each class by how rare it is, but class " + std::to_string(k) +
                      " has no sample among the " + std::to_string(plan.train_samples) +
                      " training samples: give the weights as an array");
    loss.class_weights.push_back(double(plan.train_samples) / (double(plan.classes) * double(count[size_t(k)])));
  }
  return loss;
}

}  // namespace nabla
