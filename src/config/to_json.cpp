// Config -> the resolved JSON: every default written out, in the order configs/README.md lists the
// keys, and only the keys that apply to the chosen variants (so that parse_config accepts it back).
#include "config/config.hpp"

namespace nabla {
namespace {

using ojson = nlohmann::ordered_json;

ojson source_json(const DataSource& s, DataFormat format) {
  ojson j = ojson::object();
  if (format == DataFormat::idx) {
    j["images"] = s.images;
    j["labels"] = s.labels;
  } else {
    j["csv"] = s.csv;
  }
  return j;
}

ojson layer_json(const LayerConfig& l) {
  ojson j = ojson::object();
  j["type"] = to_string(l.type);
  if (l.type == LayerType::dropout) {
    j["rate"] = l.rate;
    return j;
  }
  if (l.units > 0) j["units"] = l.units;  // 0: the class count from the data, written by leaving it out
  j["activation"] = to_string(l.activation);
  j["init"] = to_string(l.init);
  if (l.activation == Activation::leaky_relu) j["negative_slope"] = l.negative_slope;
  return j;
}

}  // namespace

nlohmann::ordered_json to_json(const Config& c) {
  ojson j = ojson::object();
  j["name"] = c.name;

  ojson& data = j["data"];
  data["train"] = source_json(c.data.train, c.data.format);
  if (c.data.test.present()) data["test"] = source_json(c.data.test, c.data.format);
  data["format"] = to_string(c.data.format);
  if (c.data.format == DataFormat::csv) data["csv_header"] = c.data.csv_header;
  data["validation"] = c.data.validation;
  data["scale"] = c.data.scale;
  data["memory_budget_mb"] = c.data.memory_budget_mb;
  data["classes"] = c.data.classes;

  ojson layers = ojson::array();
  for (const auto& l : c.layers) layers.push_back(layer_json(l));
  j["model"]["layers"] = std::move(layers);

  j["loss"] = to_string(c.loss);

  const OptimizerConfig& o = c.optimizer;
  ojson& optimizer = j["optimizer"];
  optimizer["type"] = to_string(o.type);
  optimizer["learning_rate"] = o.learning_rate;
  if (o.type == OptimizerKind::sgd) {
    optimizer["momentum"] = o.momentum;
    optimizer["nesterov"] = o.nesterov;
  }
  optimizer["weight_decay"] = o.weight_decay;
  if (o.type != OptimizerKind::sgd) {
    optimizer["beta1"] = o.beta1;
    optimizer["beta2"] = o.beta2;
    optimizer["epsilon"] = o.epsilon;
  }

  const ScheduleConfig& s = c.schedule;
  ojson& schedule = j["schedule"];
  schedule["type"] = to_string(s.type);
  schedule["warmup_epochs"] = s.warmup_epochs;
  if (s.type == ScheduleKind::step) schedule["step_size"] = s.step_size;
  if (s.type == ScheduleKind::step || s.type == ScheduleKind::exponential) schedule["gamma"] = s.gamma;
  if (s.type == ScheduleKind::cosine) schedule["min_lr"] = s.min_lr;

  const TrainingConfig& t = c.training;
  ojson& training = j["training"];
  training["epochs"] = t.epochs;
  training["batch_size"] = t.batch_size;
  training["shuffle"] = t.shuffle;
  training["seed"] = t.seed;
  training["threads"] = t.threads;
  training["precision"] = t.precision;
  if (t.early_stopping.enabled) {
    training["early_stopping"]["metric"] = t.early_stopping.metric;
    training["early_stopping"]["patience"] = t.early_stopping.patience;
    training["early_stopping"]["min_delta"] = t.early_stopping.min_delta;
  }

  j["checkpoint"]["every"] = c.checkpoint.every;
  j["checkpoint"]["keep"] = c.checkpoint.keep;
  return j;
}

}  // namespace nabla
