#include "train/parallel.hpp"

#include <algorithm>
#include <cmath>


namespace nabla {

DataParallel::DataParallel(Network<float>& primary, int threads)
    : primary_(primary), team_(threads), results_(size_t(threads)), shard_rows_(size_t(threads)) {
  sources_.reserve(size_t(threads));
  const int64_t shard_max = (primary.max_batch() + threads - 1) / threads;
  for (int k = 1; k < threads; ++k) replicas_.push_back(std::make_unique<Network<float>>(primary, shard_max));
  // Parameter ranges in whole cache lines (16 floats), as even as that allows.
  const size_t n = primary.params().size();
  for (int k = 0; k <= threads; ++k) range_.push_back(std::min(n, (n * size_t(k) / size_t(threads) + 15) / 16 * 16));
  range_.back() = n;
}

StepResult DataParallel::compute(const float* x, const int32_t* labels, int64_t rows, uint64_t dropout_seed) {
  const int n = team_.size();
  const int64_t features = primary_.inputs();
  // Shard k: rows/n samples, the first rows % n shards one more, so shard 0 is never empty.
  auto shard = [&](int k) {
    const int64_t base = rows / n, extra = rows % n;
    const int64_t begin = k * base + std::min<int64_t>(k, extra);
    return std::pair<int64_t, int64_t>(begin, base + (k < extra ? 1 : 0));
  };
  auto forward_backward = [&](int k) {
    const auto [begin, count] = shard(k);
    shard_rows_[size_t(k)] = count;
    if (count == 0) return;
    Network<float>& m = net(k);
    Rng dropout(Rng::mix(dropout_seed ^ Rng::mix(uint64_t(k) + 1)));
    m.forward(x + begin * features, count, &dropout);
    results_[size_t(k)] = m.loss(labels + begin, true, rows);
    m.backward();
  };
  team_.run(forward_backward);

  StepResult r;
  sources_.clear();
  for (int k = 0; k < n; ++k) {
    if (shard_rows_[size_t(k)] == 0) continue;
    r.loss += results_[size_t(k)].loss * double(shard_rows_[size_t(k)]);
    r.correct += results_[size_t(k)].correct;
    r.finite = r.finite && net(k).grads_bounded();
    sources_.push_back(net(k).grads().data());
  }
  r.loss /= double(rows);
  r.finite = r.finite && std::isfinite(r.loss);
  return r;
}

void DataParallel::update(Optimizer& optimizer, double lr) {
  optimizer.begin_step();
  float* theta = primary_.params().data();
  auto step = [&](int k) {
    optimizer.update(theta, sources_.data(), int(sources_.size()), lr, range_[size_t(k)], range_[size_t(k) + 1]);
  };
  team_.run(step);
}

std::string DataParallel::first_nonfinite() const {
  for (int k = 0; k < team_.size(); ++k) {
    if (shard_rows_[size_t(k)] == 0) continue;
    const std::string where = net(k).first_nonfinite();
    if (!where.empty()) return where;
  }
  return "";
}

}  // namespace nabla
