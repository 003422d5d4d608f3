#include "train/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace nabla {

double learning_rate(const ScheduleConfig& s, double base, int64_t step, int64_t steps_per_epoch, int64_t epochs) {
  const int64_t warmup = int64_t(std::llround(s.warmup_epochs * double(steps_per_epoch)));
  if (step < warmup) return base * double(step + 1) / double(warmup);
  const int64_t epoch = (step - warmup) / steps_per_epoch;  // decays count from the end of the warm-up
  switch (s.type) {
    case ScheduleKind::constant:
      return base;
    case ScheduleKind::step:
      return base * std::pow(s.gamma, std::floor(double(epoch) / s.step_size));
    case ScheduleKind::exponential:
      return base * std::pow(s.gamma, double(epoch));
    case ScheduleKind::cosine: {
      const int64_t total = epochs * steps_per_epoch;
      const double p = total > warmup ? std::clamp(double(step - warmup) / double(total - warmup), 0.0, 1.0) : 1.0;
      return s.min_lr + (base - s.min_lr) * 0.5 * (1 + std::cos(3.141592653589793 * p));
    }
  }
  return base;
}

}  // namespace nabla
