#include "train/parallel.hpp"

#include <algorithm>
#include <cmath>

namespace nabla {

int64_t DataParallel::block_rows(int64_t rows) {
  const int64_t even = (rows + kRowBlocks - 1) / kRowBlocks;
  return std::max(kMinBlockRows, (even + 7) / 8 * 8);
}

int64_t DataParallel::block_units(int64_t units) {
  const int64_t half = (units + 1) / 2;
  return std::min(kBlockUnits, std::max<int64_t>(8, (half + 7) / 8 * 8));
}

DataParallel::DataParallel(Network<float>& net, int threads)
    : net_(net),
      team_(threads),
      blocks_(size_t(threads)),
      scratch_(size_t(threads)),
      results_(size_t(kRowBlocks)),
      bounded_(size_t(kRowBlocks)),
      updated_finite_(size_t(threads)) {
  int64_t largest_block = 0;  // floats of one block's weight and bias gradients, the largest
  size_t index = 0;
  for (size_t l = 0; l < net.layers().size(); ++l) {
    const auto& d = net.layers()[l];
    largest_block = std::max(largest_block, std::min(kBlockUnits, d.out) * (d.in + 1));
    // The layer's blocks, from unit 0 whatever the threads; thread k owns a run of them.
    const int64_t units = block_units(d.out), count = (d.out + units - 1) / units;
    for (int64_t j = 0; j < count; ++j) {
      const int k = int(j * threads / count);
      blocks_[size_t(k)].push_back({l, j * units, std::min(d.out, (j + 1) * units), index++});
    }
  }
  squares_.resize(index);
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
  // The blocks of rows, and thread k's run of them.
  const int64_t per_block = block_rows(rows), row_blocks = (rows + per_block - 1) / per_block;
  auto rows_of = [&](int64_t j) {
    return std::pair<int64_t, int64_t>(j * per_block, std::min(rows, (j + 1) * per_block));
  };
  auto row_blocks_of = [&](int k) { return std::pair<int64_t, int64_t>(row_blocks * k / n, row_blocks * (k + 1) / n); };
  // Every block and phase its own dropout stream (blocks of units count from kRowBlocks).
  auto masks = [&](uint64_t block, uint64_t phase) {
    return Rng(Rng::mix(dropout_seed ^ Rng::mix(block * 4 + phase + 1)));
  };
  const bool split_first = net_.first_layer_by_units();
  if (split_first) {
    auto phase0 = [&](int k) {  // every row of x is needed by every thread in phase 1
      const auto [j0, j1] = row_blocks_of(k);
      for (int64_t j = j0; j < j1; ++j) {
        const auto [r0, r1] = rows_of(j);
        if (convert) data::convert_rows(batch, r0, r1, x_.data());
        Rng dropout = masks(uint64_t(j), 0);
        net_.input_rows(r0, r1, &dropout);
      }
    };
    if (convert || net_.needs_input_rows()) team_.run(phase0);
    auto phase1 = [&](int k) {  // the first layer's blocks that this thread updates in phase 3
      for (const Block& b : blocks_[size_t(k)]) {
        if (b.layer != 0) break;
        Rng dropout = masks(uint64_t(kRowBlocks) + b.index, 1);
        net_.forward_first_units(b.u0, b.u1, &dropout);
      }
    };
    team_.run(phase1);
  }
  auto phase2 = [&](int k) {
    const auto [j0, j1] = row_blocks_of(k);
    for (int64_t j = j0; j < j1; ++j) {
      const auto [r0, r1] = rows_of(j);
      Rng dropout = masks(uint64_t(j), 2);
      if (convert && !split_first) data::convert_rows(batch, r0, r1, x_.data());  // its own rows only
      net_.forward_rows(r0, r1, &dropout, split_first ? 1 : 0);
      results_[size_t(j)] = net_.loss_rows(labels, r0, r1, true);
      bounded_[size_t(j)] = net_.delta_rows(r0, r1);
    }
  };
  team_.run(phase2);

  StepResult r;
  for (int64_t j = 0; j < row_blocks; ++j) {  // in block order: the same sum on any thread count
    const auto [r0, r1] = rows_of(j);
    r.loss += results_[size_t(j)].loss * double(r1 - r0);
    r.correct += results_[size_t(j)].correct;
    r.finite = r.finite && bounded_[size_t(j)];
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
    // Its own blocks first, then whatever the others have not started.
    for (int j = 0; j < n; ++j) {
      const size_t list = size_t((k + j) % n);
      for (size_t i; (i = next_[list].fetch_add(1, std::memory_order_relaxed)) < blocks_[list].size();) {
        const Block& b = blocks_[list][i];
        const auto& d = net_.layers()[b.layer];
        const size_t units = size_t(b.u1 - b.u0), in = size_t(d.in);
        float* grad_b = grad_w + units * in;
        net_.weight_gradient(b.layer, b.u0, b.u1, grad_w, grad_b);
        if (gradient_norm) squares_[b.index] = sum_of_squares(grad_w, units * in) + sum_of_squares(grad_b, units);
        const size_t w0 = d.w_offset + size_t(b.u0) * in, b0 = d.b_offset + size_t(b.u0);  // rows u0.. of W, and of b
        finite = optimizer.update(theta, grad_w, lr, w0, w0 + units * in, rounded) && finite;
        finite = optimizer.update(theta, grad_b, lr, b0, b0 + units) && finite;
      }
    }
    updated_finite_[size_t(k)] = finite;
  };
  team_.run(phase3);
  if (gradient_norm) {
    double all = 0;
    for (double s : squares_) all += s;  // in block order, whichever thread took each
    *gradient_norm = std::sqrt(all);
  }
  for (int k = 0; k < n; ++k)
    if (!updated_finite_[size_t(k)]) return false;
  return true;
}

}  // namespace nabla
