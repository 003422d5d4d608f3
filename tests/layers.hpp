#pragma once
// Layers for tests that build a Network directly, as a config's model.layers would describe them.
#include "config/types.hpp"

namespace test_layers {

inline nabla::LayerConfig dense(int units, nabla::Activation act, nabla::Init init = nabla::LayerConfig().init) {
  nabla::LayerConfig l;
  l.type = nabla::LayerType::dense;
  l.units = units;
  l.activation = act;
  l.init = init;
  return l;
}

inline nabla::LayerConfig dropout(double rate) {
  nabla::LayerConfig l;
  l.type = nabla::LayerType::dropout;
  l.rate = rate;
  return l;
}

}  // namespace test_layers
