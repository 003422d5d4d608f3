#pragma once
// The validated configuration: plain structs, filled once at the edge by load_config() and read
// everywhere else. Every key, its type, default and range is documented in configs/README.md.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace nabla {

enum class Activation { sigmoid, tanh, relu, leaky_relu, linear, softmax };
enum class Init { glorot_uniform, glorot_normal, he, gaussian };
enum class LayerType { dense, dropout };
enum class LossKind { cross_entropy, binary_cross_entropy, mse };
enum class OptimizerKind { sgd, adam, adamw };
enum class ScheduleKind { constant, step, exponential, cosine };
enum class DataFormat { idx, csv };

const char* to_string(Activation);
const char* to_string(Init);
const char* to_string(LayerType);
const char* to_string(LossKind);
const char* to_string(OptimizerKind);
const char* to_string(ScheduleKind);
const char* to_string(DataFormat);

// The inverse of to_string (exact, case-sensitive names); for Init also the aliases "xavier" and
// "xavier_uniform" (glorot_uniform) and "xavier_normal" (glorot_normal). nullopt for anything else.
template <class Enum> std::optional<Enum> from_string(std::string_view name);
template <> std::optional<Activation> from_string<Activation>(std::string_view);
template <> std::optional<Init> from_string<Init>(std::string_view);
template <> std::optional<LayerType> from_string<LayerType>(std::string_view);
template <> std::optional<LossKind> from_string<LossKind>(std::string_view);
template <> std::optional<OptimizerKind> from_string<OptimizerKind>(std::string_view);
template <> std::optional<ScheduleKind> from_string<ScheduleKind>(std::string_view);
template <> std::optional<DataFormat> from_string<DataFormat>(std::string_view);

struct LayerConfig {
  LayerType type = LayerType::dense;
  // dense
  int units = 0;                       // 0 only for the last dense layer: then it is the class count
  Activation activation = Activation::linear;
  Init init = Init::glorot_uniform;
  double negative_slope = 0.01;        // leaky_relu's slope for z < 0
  // dropout
  double rate = 0.0;                   // probability of dropping a unit, in [0, 1)

  bool operator==(const LayerConfig&) const = default;
};

// One split of the data on disk: IDX image + label files, or one CSV file (label first).
struct DataSource {
  std::string images;                  // IDX: absolute path (resolved against the config's folder)
  std::string labels;
  std::string csv;                     // CSV: absolute path
  bool present() const { return !images.empty() || !csv.empty(); }

  bool operator==(const DataSource&) const = default;
};

struct DataConfig {
  DataSource train;
  DataSource test;                     // optional: present() is false when not given
  DataFormat format = DataFormat::idx;
  bool csv_header = false;             // CSV: skip the first row
  int64_t validation = 0;              // samples held out of the end of the training file
  double scale = 255.0;                // x = raw / scale
  int64_t memory_budget_mb = 512;      // above this the loader streams instead of holding the set
  int64_t classes = 0;                 // 0: max label + 1, read from the training labels

  bool operator==(const DataConfig&) const = default;
};

struct OptimizerConfig {
  OptimizerKind type = OptimizerKind::sgd;
  double learning_rate = 0.01;
  double momentum = 0.0;               // sgd
  bool nesterov = false;               // sgd, needs momentum > 0
  double weight_decay = 0.0;           // sgd/adam: L2 added to the gradient; adamw: decoupled
  double beta1 = 0.9;                  // adam, adamw
  double beta2 = 0.999;
  double epsilon = 1e-8;

  bool operator==(const OptimizerConfig&) const = default;
};

struct ScheduleConfig {
  ScheduleKind type = ScheduleKind::constant;
  double warmup_epochs = 0;            // linear warm-up from 0 to learning_rate, counted in steps
  double step_size = 1;                // step: epochs between decays
  double gamma = 0.1;                  // step, exponential: the decay factor
  double min_lr = 0.0;                 // cosine: the floor it anneals to

  bool operator==(const ScheduleConfig&) const = default;
};

struct EarlyStoppingConfig {
  bool enabled = false;                // true when the section is given
  std::string metric = "val_accuracy"; // val_accuracy (higher is better) or val_loss (lower is better)
  int64_t patience = 3;                // epochs without improvement before stopping
  double min_delta = 0.0;              // an improvement smaller than this does not count

  bool operator==(const EarlyStoppingConfig&) const = default;
};

struct TrainingConfig {
  int64_t epochs = 10;
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 42;
  int64_t threads = 1;
  std::string precision = "fp32";      // fp32, or bf16: the training step's GEMMs in bf16 (math/bf16.hpp)
  EarlyStoppingConfig early_stopping;

  bool operator==(const TrainingConfig&) const = default;
};

struct CheckpointConfig {
  int64_t every = 1;                   // keep epoch-NNNN files every this many epochs (0: none)
  int64_t keep = 3;                    // how many epoch-NNNN files to keep (0: all)

  bool operator==(const CheckpointConfig&) const = default;
};

struct Config {
  std::string name;
  DataConfig data;
  std::vector<LayerConfig> layers;
  LossKind loss = LossKind::cross_entropy;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  TrainingConfig training;
  CheckpointConfig checkpoint;

  std::string path;                    // the file it came from, as given (for messages)

  bool operator==(const Config&) const = default;
};

// Reads, overrides and validates a config. `overrides` are "a.b[2].c=VALUE" strings (from --set);
// VALUE is parsed as JSON, and as a plain string when it is not JSON. Every problem found is
// reported at once: throws nabla::Errors with one "FILE: JSON.PATH: message" line each.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The same from a JSON value already in memory; `path` names it in messages, `base_dir` resolves
// relative data paths.
Config parse_config(const nlohmann::json& j, const std::string& path, const std::string& base_dir);
// The same, reporting problems in the object's own key order (load_config keeps the file's order).
Config parse_config(const nlohmann::ordered_json& j, const std::string& path, const std::string& base_dir);

// Applies one "a.b[2].c=VALUE" override to a config's JSON, as load_config does before validating.
// A missing section on the way is created (training.early_stopping.patience=5 turns early stopping
// on); a missing key at the end is added. Throws nabla::Error "--set a.b[2].c=VALUE: PATH: what"
// when the text has no '=', an index is malformed or out of range, the path goes through a
// non-object, or a section on the way is not a known key.
void apply_override(nlohmann::ordered_json& j, const std::string& assignment);

// The resolved config, every default filled in, data paths absolute, keys in a readable order
// (name, data, model, loss, optimizer, schedule, training, checkpoint) and only the keys that apply
// to the chosen variants. For a Config from parse_config, parse_config(to_json(c), c.path, any) == c.
nlohmann::ordered_json to_json(const Config& c);

}  // namespace nabla
