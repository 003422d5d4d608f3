#pragma once
// The validated configuration: plain structs, filled once at the edge by load_config() (json.hpp)
// and read everywhere else. Every key, its type, default and range is documented in
// configs/README.md; the struct defaults below are the format's defaults. No JSON library here.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace nabla {

enum class Activation { sigmoid, tanh, relu, leaky_relu, linear, softmax, gelu, gelu_tanh, silu, elu, softplus };
enum class Init { glorot_uniform, glorot_normal, he, gaussian };
enum class LayerType { dense, dropout };
enum class Norm { none, batch_norm, layer_norm };
enum class LossKind { cross_entropy, binary_cross_entropy, mse };
enum class OptimizerKind { sgd, adam, adamw };
enum class ScheduleKind { constant, step, exponential, cosine };
enum class DataFormat { idx, csv };

const char* to_string(Activation);
const char* to_string(Init);
const char* to_string(LayerType);
const char* to_string(Norm);
const char* to_string(LossKind);
const char* to_string(OptimizerKind);
const char* to_string(ScheduleKind);
const char* to_string(DataFormat);

struct LayerConfig {
  LayerType type = LayerType::dense;
  // dense
  int units = 0;  // 0 only for the last dense layer: then it is the class count
  Activation activation = Activation::linear;
  Init init = Init::glorot_uniform;
  double negative_slope = 0.01;  // leaky_relu's slope for z < 0
  double alpha = 1.0;            // elu's α: a = α(eᶻ − 1) for z < 0
  // Normalisation of z before the activation: a = σ(γ·ẑ + β), ẑ = (z − μ)/√(σ² + ε), μ and σ² over
  // the batch per unit (batch_norm) or over the units per sample (layer_norm).
  Norm norm = Norm::none;
  double norm_momentum = 0.1;  // batch_norm: running = (1 − m)·running + m·batch statistic
  double norm_epsilon = 1e-5;  // ε
  // dropout
  double rate = 0.0;  // probability of dropping a unit, in [0, 1)

  bool operator==(const LayerConfig&) const = default;
};

// One split of the data on disk: IDX image + label files, or one CSV file (label first).
struct DataSource {
  std::string images;  // IDX: absolute path (resolved against the config's folder)
  std::string labels;
  std::string csv;  // CSV: absolute path
  bool present() const { return !images.empty() || !csv.empty(); }

  bool operator==(const DataSource&) const = default;
};

struct DataConfig {
  DataSource train;
  DataSource test;  // optional: present() is false when not given
  DataFormat format = DataFormat::idx;
  bool csv_header = false;               // CSV: skip the first row
  int64_t validation = 0;                // samples held out of the end of the training file
  double scale = 255.0;                  // x = raw / scale
  int64_t memory_budget_mb = 512;        // above this the loader streams instead of holding the set
  int64_t classes = 0;                   // 0: max label + 1, read from the training labels
  std::vector<std::string> class_names;  // optional: one per class, in label order (predict, eval)

  bool operator==(const DataConfig&) const = default;
};

// The loss and what shapes it. label_smoothing and class weights apply to cross_entropy only.
struct LossConfig {
  LossKind type = LossKind::cross_entropy;
  double label_smoothing = 0.0;       // the target is (1 − ε)·one-hot + ε/K, K the class count
  std::vector<double> class_weights;  // one per class, in label order (empty: all 1)
  bool balanced = false;              // class_weights "balanced": N / (K·n_c) from the training labels

  bool weighted() const { return balanced || !class_weights.empty(); }
  bool operator==(const LossConfig&) const = default;
};

struct OptimizerConfig {
  OptimizerKind type = OptimizerKind::sgd;
  double learning_rate = 0.01;
  double momentum = 0.0;      // sgd
  bool nesterov = false;      // sgd, needs momentum > 0
  double weight_decay = 0.0;  // sgd/adam: L2 added to the gradient; adamw: decoupled
  double beta1 = 0.9;         // adam, adamw
  double beta2 = 0.999;
  double epsilon = 1e-8;

  bool operator==(const OptimizerConfig&) const = default;
};

struct ScheduleConfig {
  ScheduleKind type = ScheduleKind::constant;
  double warmup_epochs = 0;  // linear warm-up from 0 to learning_rate, counted in steps
  double step_size = 1;      // step: epochs between decays
  double gamma = 0.1;        // step, exponential: the decay factor
  double min_lr = 0.0;       // cosine: the floor it anneals to

  bool operator==(const ScheduleConfig&) const = default;
};

struct EarlyStoppingConfig {
  bool enabled = false;                 // true when the section is given
  std::string metric = "val_accuracy";  // val_accuracy (higher is better) or val_loss (lower is better)
  int64_t patience = 3;                 // epochs without improvement before stopping
  double min_delta = 0.0;               // an improvement smaller than this does not count

  bool operator==(const EarlyStoppingConfig&) const = default;
};

struct TrainingConfig {
  int64_t epochs = 10;
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 42;
  int64_t threads = 1;
  std::string precision = "fp32";  // fp32, or bf16: the training step's GEMMs in bf16 (math/bf16.hpp)
  int64_t log_every_steps = 0;     // a steps.jsonl row every this many steps (0: none)
  double clip_grad_value = 0;      // each gradient entry clamped to [−c, c] (0: off)
  double clip_grad_norm = 0;       // the whole gradient scaled to an L2 norm of at most this (0: off)
  EarlyStoppingConfig early_stopping;

  bool operator==(const TrainingConfig&) const = default;
};

struct CheckpointConfig {
  int64_t every = 1;  // keep epoch-NNNN files every this many epochs (0: none)
  int64_t keep = 3;   // how many epoch-NNNN files to keep (0: all)

  bool operator==(const CheckpointConfig&) const = default;
};

struct Config {
  std::string name;
  DataConfig data;
  std::vector<LayerConfig> layers;
  LossConfig loss;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  TrainingConfig training;
  CheckpointConfig checkpoint;

  std::string path;  // the file it came from, as given (for messages)

  bool operator==(const Config&) const = default;
};

// How many moment buffers the optimiser keeps, each one float a parameter: sgd's velocity (with
// momentum), adam's and adamw's m and v. The optimiser, checkpoints and the memory estimate size
// their state from it.
inline int moment_buffers(const OptimizerConfig& o) {
  if (o.type == OptimizerKind::sgd) return o.momentum > 0 ? 1 : 0;
  return 2;
}

// The config's data files by the key that names them: {"data.train.images", &path}, ... for
// the train and test splits' images, labels and csv (a path is empty where the config gives none).
// Writable through a non-const Config.
template <class C>
auto data_files(C& c) {
  using Path = std::conditional_t<std::is_const_v<C>, const std::string*, std::string*>;
  auto& t = c.data.train;
  auto& v = c.data.test;
  return std::array<std::pair<const char*, Path>, 6>{{{"data.train.images", &t.images},
                                                      {"data.train.labels", &t.labels},
                                                      {"data.train.csv", &t.csv},
                                                      {"data.test.images", &v.images},
                                                      {"data.test.labels", &v.labels},
                                                      {"data.test.csv", &v.csv}}};
}

// The output layer: the last dense layer (the last layer, when none is dense; `layers` must not be
// empty). A validated config's last layer is dense.
size_t output_layer_index(const std::vector<LayerConfig>& layers);

// A dense layer's init when the config gives none: he for relu, leaky_relu, gelu, gelu_tanh, silu,
// elu and softplus; glorot_uniform for sigmoid, tanh, linear and softmax.
Init default_init(Activation a);

// The JSON path of the output layer's size, for messages about it: "model.layers[2].units", or
// "model.layers" when no layer is dense.
std::string output_layer_path(const Config& c);

}  // namespace nabla
