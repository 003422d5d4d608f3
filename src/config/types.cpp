// Facts about a Config that several modules need (where the output layer is).
#include "config/types.hpp"

#include <cassert>

namespace nabla {

size_t output_layer_index(const std::vector<LayerConfig>& layers) {
  assert(!layers.empty());
  for (size_t i = layers.size(); i-- > 0;)
    if (layers[i].type == LayerType::dense) return i;
  return layers.size() - 1;
}

std::string output_layer_path(const Config& c) {
  for (size_t i = c.layers.size(); i-- > 0;)
    if (c.layers[i].type == LayerType::dense) return "model.layers[" + std::to_string(i) + "].units";
  return "model.layers";
}

}  // namespace nabla
