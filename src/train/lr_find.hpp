#pragma once
// The learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks",
// 2017; as fastai's lr_find): from the config's initial weights, train with a rate that rises
// exponentially from `min_lr` to `max_lr` over `steps` steps, recording each batch's loss. The loss
// is smoothed (an exponential moving average, bias-corrected), and the test stops early once the
// smoothed loss is four times its lowest (it diverged). The suggested rate is the one at the lowest
// smoothed loss divided by ten: the fastest rate that still clearly descends.
#include <cstdint>
#include <vector>

#include "config/types.hpp"
#include "report/chart.hpp"

namespace nabla {

struct LrFindOptions {
  double min_lr = 1e-6, max_lr = 10;
  int64_t steps = 300;
};

struct LrFindResult {
  std::vector<double> lr, loss, smoothed;  // per step taken
  bool diverged = false;                   // stopped early: the smoothed loss grew four-fold (or was not finite)
  int64_t lowest = 0;                      // the step of the lowest smoothed loss
  double suggested = 0;                    // lr[lowest] / 10
};

// Throws nabla::Error as train() does for bad data.
LrFindResult lr_find(const Config& config, const LrFindOptions& options);

// Loss and smoothed loss against the rate (log scale), the suggestion marked.
report::Figure lr_find_figure(const LrFindResult& r, const std::string& title);

}  // namespace nabla
