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

// he (N(0, 2/in)) for the rectifier-like activations, whose outputs are 0 or small for half the
// inputs; Glorot's uniform for the saturating and linear ones.
Init default_init(Activation a) {
  switch (a) {
    case Activation::relu:
    case Activation::leaky_relu:
    case Activation::gelu:
    case Activation::gelu_tanh:
    case Activation::silu:
    case Activation::elu:
    case Activation::softplus:
      return Init::he;
    case Activation::sigmoid:
    case Activation::tanh:
    case Activation::linear:
    case Activation::softmax:
      break;
  }
  return Init::glorot_uniform;
}

std::string output_layer_path(const Config& c) {
  if (c.layers.empty()) return "model.layers";
  const size_t i = output_layer_index(c.layers);
  return c.layers[i].type == LayerType::dense ? "model.layers[" + std::to_string(i) + "].units" : "model.layers";
}

}  // namespace nabla
