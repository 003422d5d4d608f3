// Facts about a Config that several modules need (where the output layer is).
#include "config/types.hpp"

#include "util/error.hpp"

namespace nabla {

size_t output_layer_index(const std::vector<LayerConfig>& layers) {
  require(!layers.empty(), "output_layer_index: no layers (a validated config has some)");
  for (size_t i = layers.size(); i-- > 0;)
    if (layers[i].type == LayerType::dense) return i;
  return layers.size() - 1;
}

std::string output_layer_path(const Config& c) {
  if (c.layers.empty()) return "model.layers";
  const size_t i = output_layer_index(c.layers);
  return c.layers[i].type == LayerType::dense ? "model.layers[" + std::to_string(i) + "].units" : "model.layers";
}

}  // namespace nabla
