#pragma once
// The model summary printed by --dry-run, in the manner of Keras' model.summary().
#include <iosfwd>

#include "config/types.hpp"
#include "train/data_plan.hpp"

namespace nabla {

void print_model_summary(std::ostream& out, const Config& config, const DataPlan& plan);

}  // namespace nabla
