#include "train/parallel.hpp"

#include <algorithm>
#include <cmath>

namespace nabla {

DataParallel::DataParallel(Network<float>& net, int threads)
    : net_(net),
      team_(threads),
      blocks_(size_t(threads)),
      scratch_(size_t(threads)),
      results_(size_t(threads)),
      shard_rows_(size_t(threads)),
      bounded_(size_t(threads)),
      updated_finite_(size_t(threads)),
      squares_(size_t(threads)) {
  int64_t largest_block = 0;  // floats of one block's weight and bias gradients, the largest
  for (size_t l = 0; l < net.layers().size(); ++l) {
    const auto& d = net.layers()[l];
    largest_block = std::max(largest_block, std::min(kBlockUnits, d.out) * (d.in + 1));
    for (int k = 0; k < threads; ++k) {  // thread k's share of the units, in blocks
      const int64_t begin = d.out * k / threads, end = d.out * (k + 1) / threads;
      for (int64_t u = begin; u < end; u += kBlockUnits)
        blocks_[size_t(k)].push_back({l, u, std::min(end, u + kBlockUnits)});
    }
  }
  for (auto& s : scratch_) s.resize(size_t(largest_block));
  x_.resize(size_t(net.max_batch() * net.inputs()));
  next_ = std::make_unique<std::atomic<size_t>[]>(size_t(threads));
}

StepResult DataParallel::compute(const data::Batch& batch, uint64_t dropout_seed) {
  const int n = team_.size();
  const int64_t rows = batch.rows;
  const int32_t* labels = batch.labels;
  const bool convert = batch.raw != nullptr;
  net_.begin_batch(convert ? x_.data() : batch.x, rows, true);
  // Thread k's rows: rows/n of them, the first rows % n threads one more.
  auto rows_of = [&](int k) {
    const int64_t base = rows / n, extra = rows % n;
    const int64_t r0 = k * base + std::min<int64_t>(k, extra);
    return std::pair<int64_t, int64_t>(r0, r0 + base + (k < extra ? 1 : 0));
  };
  // Every thread and phase its own dropout stream.
  auto masks = [&](int k, uint64_t phase) {
    return Rng(Rng::mix(dropout_seed ^ Rng::mix(uint64_t(k) * 4 + phase + 1)));
  };
  const bool split_first = net_.first_layer_by_units();
  if (split_first) {
    auto phase0 = [&](int k) {  // every row of x is needed by every thread in phase 1
      const auto [r0, r1] = rows_of(k);
      if (r0 == r1) return;
      if (convert) data::convert_rows(batch, r0, r1, x_.data());
      Rng dropout = masks(k, 0);
      net_.input_rows(r0, r1, &dropout);
    };
    if (convert || net_.needs_input_rows()) team_.run(phase0);
    const int64_t units = net_.layers()[0].out;
    auto phase1 = [&](int k) {
      Rng dropout = masks(k, 1);
      const int64_t u0 = units * k / n, u1 = units * (k + 1) / n;
      if (u0 < u1) net_.forward_first_units(u0, u1, &dropout);
    };
    team_.run(phase1);
  }
  auto phase2 = [&](int k) {
    const auto [r0, r1] = rows_of(k);
    shard_rows_[size_t(k)] = r1 - r0;
    if (r0 == r1) return;
    Rng dropout = masks(k, 2);
    if (convert && !split_first) data::convert_rows(batch, r0, r1, x_.data());  // its own rows only
    net_.forward_rows(r0, r1, &dropout, split_first ? 1 : 0);
    results_[size_t(k)] = net_.loss_rows(labels, r0, r1, true);
    bounded_[size_t(k)] = net_.delta_rows(r0, r1);
  };
  team_.run(phase2);

  StepResult r;
  for (int k = 0; k < n; ++k) {
    if (shard_rows_[size_t(k)] == 0) continue;
    r.loss += results_[size_t(k)].loss * double(shard_rows_[size_t(k)]);
    r.correct += results_[size_t(k)].correct;
    r.finite = r.finite && bounded_[size_t(k)];
  }
  r.loss /= double(rows);
  r.finite = r.finite && std::isfinite(r.loss);
  return r;
}

namespace {

// The sum of squares of n floats, in double.
double sum_of_squares(const float* x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

}  // namespace

bool DataParallel::update(Optimizer& optimizer, double lr, double* gradient_norm) {
  optimizer.begin_step();
  float* theta = net_.params().data();
  bf16* rounded = net_.params_bf16();  // the weights' bf16 twin, kept current
  const int n = team_.size();
  for (int k = 0; k < n; ++k) next_[size_t(k)].store(0, std::memory_order_relaxed);  // published by run()
  auto phase3 = [&](int k) {
    float* grad_w = scratch_[size_t(k)].data();
    bool finite = true;
    double squares = 0;
    // Its own blocks first, then whatever the others have not started.
    for (int j = 0; j < n; ++j) {
      const size_t list = size_t((k + j) % n);
      for (size_t i; (i = next_[list].fetch_add(1, std::memory_order_relaxed)) < blocks_[list].size();) {
        const Block& b = blocks_[list][i];
        const auto& d = net_.layers()[b.layer];
        const size_t units = size_t(b.u1 - b.u0), in = size_t(d.in);
        float* grad_b = grad_w + units * in;
        net_.weight_gradient(b.layer, b.u0, b.u1, grad_w, grad_b);
        if (gradient_norm) squares += sum_of_squares(grad_w, units * in) + sum_of_squares(grad_b, units);
        const size_t w0 = d.w_offset + size_t(b.u0) * in, b0 = d.b_offset + size_t(b.u0);  // rows u0.. of W, and of b
        finite = optimizer.update(theta, grad_w, lr, w0, w0 + units * in, rounded) && finite;
        finite = optimizer.update(theta, grad_b, lr, b0, b0 + units) && finite;
      }
    }
    updated_finite_[size_t(k)] = finite;
    squares_[size_t(k)] = squares;
  };
  team_.run(phase3);
  if (gradient_norm) {
    double all = 0;
    for (double s : squares_) all += s;
    *gradient_norm = std::sqrt(all);
  }
  for (int k = 0; k < n; ++k)
    if (!updated_finite_[size_t(k)]) return false;
  return true;
}

}  // namespace nabla
