#include "train/lr_find.hpp"

#include <cmath>

#include "math/blas.hpp"
#include "math/rng.hpp"
#include "train/data_plan.hpp"
#include "train/optimizer.hpp"
#include "train/parallel.hpp"
#include "util/error.hpp"
#include "util/format.hpp"

namespace nabla {

LrFindResult lr_find(const Config& c, const LrFindOptions& o) {
  require(o.min_lr > 0 && o.max_lr > o.min_lr && o.steps >= 2, "lr_find: bad options");
  check_precision(c);
  const DataPlan plan = plan_data(c);
  set_blas_threads(1);  // as training runs
  Loaders loaders = open_loaders(c, plan, Rng::stream(c.training.seed, Stream::shuffle).next());
  Network<float> net(c.layers, plan.train.features, plan.classes, training_loss(c, plan), plan.largest_batch(c));
  Rng init = Rng::stream(c.training.seed, Stream::init);
  net.initialize(init);  // the run's own initial weights
  if (c.training.precision == "bf16") net.use_bf16();
  Optimizer optimizer(c.optimizer, net.params().size());
  DataParallel parallel(net, int(c.training.threads), {c.training.clip_grad_value, c.training.clip_grad_norm});
  Rng dropout = Rng::stream(c.training.seed, Stream::dropout);

  constexpr double kBeta = 0.95;  // the moving average's weight: about the last 20 steps
  LrFindResult r;
  double average = 0, lowest = INFINITY;
  data::Batch b;
  for (int64_t step = 0, epoch = 0; step < o.steps;) {
    data::BatchLoader& loader = *loaders.train;
    loader.start_epoch(epoch++);
    while (step < o.steps && loader.next(b)) {
      const double lr = o.min_lr * std::pow(o.max_lr / o.min_lr, double(step) / double(o.steps - 1));
      const StepResult s = parallel.compute(b, dropout.next());
      average = kBeta * average + (1 - kBeta) * s.loss;
      const double smoothed = average / (1 - std::pow(kBeta, double(step + 1)));
      r.lr.push_back(lr);
      r.loss.push_back(s.loss);
      r.smoothed.push_back(smoothed);
      if (!s.finite || !std::isfinite(smoothed) || smoothed > 4 * lowest) {
        r.diverged = true;
        break;
      }
      if (smoothed < lowest) lowest = smoothed, r.lowest = step;
      if (!parallel.update(optimizer, lr)) {
        r.diverged = true;
        break;
      }
      ++step;
    }
    if (r.diverged) break;
  }
  r.suggested = r.lr[size_t(r.lowest)] / 10;
  return r;
}

report::Figure lr_find_figure(const LrFindResult& r, const std::string& title) {
  report::Figure f;
  f.title = title;
  f.height = 480;
  report::Panel p;
  p.title = "learning-rate range test";
  p.x.label = "learning rate (log scale)";
  p.x.log = true;
  p.y.label = "training loss";
  report::Series raw, smooth;
  raw.name = "batch loss";
  raw.color = 5;
  smooth.name = "smoothed";
  smooth.color = 0;
  raw.x = smooth.x = r.lr;
  raw.y = r.loss;
  smooth.y = r.smoothed;
  // The first steps' loss at the initial weights sets the scale; a diverged tail would flatten it.
  double top = 0;
  for (size_t i = 0; i < r.smoothed.size(); ++i)
    if (std::isfinite(r.smoothed[i]) && i <= size_t(r.lowest) + 1) top = std::max(top, r.smoothed[i]);
  if (top > 0) p.y.lo = 0, p.y.hi = top * 1.25;
  p.series = {raw, smooth};
  p.markers.push_back({r.suggested, "suggested " + printf_string("%.3g", r.suggested)});
  p.markers.push_back({r.lr[size_t(r.lowest)], "lowest " + printf_string("%.3g", r.lr[size_t(r.lowest)])});
  f.panels = {p};
  return f;
}

}  // namespace nabla
