#pragma once
// Learning-rate schedules, as a pure function of the step, so that a resumed run continues exactly.
//
//   warm-up     η(s) = η₀·(s + 1)/W for the first W = warmup_epochs·steps_per_epoch steps
//   constant    η₀
//   step        η₀·γ^⌊e / step_size⌋          e = ⌊(s − W) / steps_per_epoch⌋, epochs since warm-up
//   exponential η₀·γ^e
//   cosine      η_min + (η₀ − η_min)(1 + cos πp)/2,   p = (s − W)/(S − W), S = all steps
#include <cstdint>

#include "config/types.hpp"

namespace nabla {

double learning_rate(const ScheduleConfig& schedule, double base_lr, int64_t step, int64_t steps_per_epoch,
                     int64_t epochs);

}  // namespace nabla
