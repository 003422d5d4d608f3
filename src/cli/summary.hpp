#pragma once
// The model summary printed by --dry-run, in the manner of Keras' model.summary().
#include <cstdint>
#include <iosfwd>

#include "config/types.hpp"

namespace nabla {

// `inputs` features a sample; a last layer of 0 units has `classes` (the data's, or a checkpoint's outputs).
void print_model_summary(std::ostream& out, const Config& config, int64_t inputs, int64_t classes);

}  // namespace nabla
