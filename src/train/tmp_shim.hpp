#pragma once
// TEMPORARY until src/config provides these.
#include <string>
#include <string_view>
#include "config/config.hpp"
namespace nabla {
inline size_t output_layer_index(const std::vector<LayerConfig>& layers) {
  for (size_t i = layers.size(); i-- > 0;)
    if (layers[i].type == LayerType::dense) return i;
  return layers.size() - 1;
}
inline std::string output_layer_path(const Config& c) {
  for (size_t i = c.layers.size(); i-- > 0;)
    if (c.layers[i].type == LayerType::dense) return "model.layers[" + std::to_string(i) + "].units";
  return "model.layers";
}
inline bool may_change_on_resume(std::string_view key) {
  return key == "name" || key == "training.epochs" || key == "optimizer.learning_rate" ||
         key == "training.threads" || key == "training.precision" || key.rfind("checkpoint.", 0) == 0;
}
inline int moment_buffers(const OptimizerConfig& o) { return o.type == OptimizerKind::sgd ? (o.momentum > 0 ? 1 : 0) : 2; }
}
