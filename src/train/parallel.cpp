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

DataParallel::DataParallel(Network<float>& net, int threads, GradientClip clip)
    : net_(net),
      clip_(clip),
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
    const int64_t norm = d.norm != Norm::none ? 2 : 0;  // γ's and β's
    largest_block = std::max(largest_block, std::min(kBlockUnits, d.out) * (d.in + 1 + norm));
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
  net_.begin_batch(convert ? x_.data() : batch.x, rows, true, /*running=*/true);
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
  // Phase 2, in segments: a layer whose statistics are over the whole batch (batch_norm) ends one;
  // its forward (and later its backward) is finished by units before the next segment starts.
  // A segment's masks are its own stream, the first segment's those of a network without one.
  auto segment_masks = [&](uint64_t block, uint64_t phase, uint64_t segment) {
    return segment == 0 ? masks(block, phase)
                        : Rng(Rng::mix(dropout_seed ^ Rng::mix(block * 4 + phase + 1) ^ Rng::mix(segment << 32)));
  };
  auto by_units = [&](size_t layer, auto work) {  // each thread its blocks of the layer's units
    auto phase = [&](int k) {
      for (const Block& b : blocks_[size_t(k)])
        if (b.layer == layer) work(b);
    };
    team_.run(phase);
  };
  const size_t layers = net_.layers().size();
  std::fill(bounded_.begin(), bounded_.end(), char(1));
  // δ's rows, from `from` down (from the loss when kDone), for row block j; returns where it stopped.
  auto delta_of = [&](int64_t j, size_t from) {
    const auto [r0, r1] = rows_of(j);
    bool bounded = bounded_[size_t(j)];
    const size_t stop = net_.delta_rows(r0, r1, bounded, from, from != Network<float>::kDone);
    bounded_[size_t(j)] = bounded;
    return stop;
  };
  size_t next = Network<float>::kDone;  // a batch_norm layer whose δ is made by units next
  // The loss and δ's rows from it, for row block j, after the last layer's forward.
  auto loss_and_delta_of = [&](int64_t j) {
    const auto [r0, r1] = rows_of(j);
    results_[size_t(j)] = net_.loss_rows(labels, r0, r1, true);
    const size_t stop = delta_of(j, Network<float>::kDone);
    if (j == 0) next = stop;  // the same for every block: the layers decide it
  };
  bool loss_done = false;
  for (size_t from = split_first ? 1 : 0, segment = 0; from < layers; ++segment) {
    const size_t to = net_.next_batch_statistics(from);
    auto rows_phase = [&](int k) {
      const auto [j0, j1] = row_blocks_of(k);
      for (int64_t j = j0; j < j1; ++j) {
        const auto [r0, r1] = rows_of(j);
        Rng dropout = segment_masks(uint64_t(j), 2, segment);
        if (convert && !split_first && from == 0) data::convert_rows(batch, r0, r1, x_.data());  // its own rows
        net_.forward_rows(r0, r1, &dropout, from, to + 1);
        if (to >= layers) loss_and_delta_of(j);
      }
    };
    team_.run(rows_phase);
    loss_done = to >= layers;
    if (to < layers)
      by_units(to, [&](const Block& b) {
        Rng dropout = segment_masks(uint64_t(kRowBlocks) + b.index, 3, segment);
        net_.finish_units(to, b.u0, b.u1, &dropout);
      });
    from = to + 1;
  }
  if (!loss_done) {  // the output layer had batch statistics: its loss now, after its softmax if any
    const bool activate = net_.softmax_after_units(layers - 1);
    auto rows_phase = [&](int k) {
      const auto [j0, j1] = row_blocks_of(k);
      for (int64_t j = j0; j < j1; ++j) {
        if (activate) net_.activate_rows(layers - 1, rows_of(j).first, rows_of(j).second);
        loss_and_delta_of(j);
      }
    };
    team_.run(rows_phase);
  }
  while (next != Network<float>::kDone) {
    const size_t layer = next;
    by_units(layer, [&](const Block& b) { net_.norm_backward_units(layer, b.u0, b.u1); });
    auto rows_phase = [&](int k) {
      const auto [j0, j1] = row_blocks_of(k);
      for (int64_t j = j0; j < j1; ++j) {
        const size_t stop = delta_of(j, layer);
        if (j == 0) next = stop;
      }
    };
    team_.run(rows_phase);
  }

  StepResult r;
  for (int64_t j = 0; j < row_blocks; ++j) {  // in block order: the same sum on any thread count
    r.loss += results_[size_t(j)].loss;       // each block's share of the batch's loss
    r.correct += results_[size_t(j)].correct;
    r.finite = r.finite && bounded_[size_t(j)];
  }
  r.finite = r.finite && std::isfinite(r.loss);
  return r;
}

const float* forward_rows_on(Team& team, Network<float>& net, const float* x, int64_t rows) {
  net.begin_batch(x, rows, /*training=*/false);
  const int n = team.size();
  const int64_t per_block = DataParallel::block_rows(rows), blocks = (rows + per_block - 1) / per_block;
  auto forward = [&](int k) {
    for (int64_t j = blocks * k / n; j < blocks * (k + 1) / n; ++j)
      net.forward_rows(j * per_block, std::min(rows, (j + 1) * per_block), nullptr);
  };
  team.run(forward);
  return net.activations(net.layers().size() - 1);
}

namespace {

// The sum of squares of n floats, in double.
double sum_of_squares(const float* x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

}  // namespace

template <class F>
void DataParallel::for_each_block(int k, F f) {
  const int n = team_.size();
  for (int j = 0; j < n; ++j) {  // its own blocks first, then whatever the others have not started
    const size_t list = size_t((k + j) % n);
    for (size_t i; (i = next_[list].fetch_add(1, std::memory_order_relaxed)) < blocks_[list].size();)
      f(blocks_[list][i]);
  }
}

void DataParallel::reset_blocks() {
  for (int k = 0; k < team_.size(); ++k) next_[size_t(k)].store(0, std::memory_order_relaxed);  // published by run()
}

namespace {

// Clamps n gradient entries to [−c, c] (clip_grad_value; c = 0: off).
void clamp(float* g, size_t n, double c) {
  if (c <= 0) return;
  const float hi = float(c), lo = -hi;
  for (size_t i = 0; i < n; ++i) g[i] = std::min(hi, std::max(lo, g[i]));
}

}  // namespace

DataParallel::Ranges DataParallel::ranges_of(const Block& b) const {
  const auto& d = net_.layers()[b.layer];
  const size_t units = size_t(b.u1 - b.u0), u0 = size_t(b.u0);
  return {{d.w_offset + u0 * size_t(d.in), d.b_offset + u0, d.gamma_offset + u0, d.beta_offset + u0},
          {units * size_t(d.in), units, units, units},
          d.norm != Norm::none ? 4 : 2};
}

double DataParallel::block_gradient(const Block& b, const Ranges& r, float* const g[4], bool squares) {
  net_.weight_gradient(b.layer, b.u0, b.u1, g[0], g[1], r.count == 4 ? g[2] : nullptr, r.count == 4 ? g[3] : nullptr);
  double sum = 0;
  for (int i = 0; i < r.count; ++i) {
    clamp(g[i], r.size[i], clip_.value);
    if (squares) sum += sum_of_squares(g[i], r.size[i]);
  }
  return sum;
}

bool DataParallel::update(Optimizer& optimizer, double lr, double* gradient_norm) {
  if (clip_.norm > 0) return update_clipped(optimizer, lr, gradient_norm);
  optimizer.begin_step();
  float* theta = net_.params().data();
  bf16* rounded = net_.params_bf16();  // the weights' bf16 twin, kept current
  reset_blocks();
  auto phase3 = [&](int k) {
    bool finite = true;
    for_each_block(k, [&](const Block& b) {
      const Ranges r = ranges_of(b);
      float* g[4];  // the block's gradients, one after the other in this thread's scratch
      for (int i = 0, at = 0; i < r.count; at += int(r.size[i]), ++i) g[i] = scratch_[size_t(k)].data() + at;
      const double squares = block_gradient(b, r, g, gradient_norm != nullptr);
      if (gradient_norm) squares_[b.index] = squares;
      for (int i = 0; i < r.count; ++i)  // W's rows (and their bf16 twin), b's, γ's, β's
        finite = optimizer.update(theta, g[i], lr, r.at[i], r.at[i] + r.size[i], i == 0 ? rounded : nullptr) && finite;
    });
    updated_finite_[size_t(k)] = finite;
  };
  team_.run(phase3);
  if (gradient_norm) *gradient_norm = summed_norm();
  return all_updated_finite();
}

double DataParallel::summed_norm() const {
  double all = 0;
  for (double s : squares_) all += s;  // in block order, whichever thread took each
  return std::sqrt(all);
}

bool DataParallel::all_updated_finite() const {
  for (char f : updated_finite_)
    if (!f) return false;
  return true;
}

bool DataParallel::update_clipped(Optimizer& optimizer, double lr, double* gradient_norm) {
  // Phase 3a: every block's gradient, to its places in grads(), and its sum of squares.
  float* grads = net_.grads().data();
  reset_blocks();
  auto phase3a = [&](int k) {
    for_each_block(k, [&](const Block& b) {
      const Ranges r = ranges_of(b);
      float* const g[4] = {grads + r.at[0], grads + r.at[1], grads + r.at[2], grads + r.at[3]};
      squares_[b.index] = block_gradient(b, r, g, true);
    });
  };
  team_.run(phase3a);
  // torch.nn.utils.clip_grad_norm_: scaled by max_norm / (‖g‖ + 1e-6) when that is below 1.
  const double norm = summed_norm();
  if (gradient_norm) *gradient_norm = norm;
  const float scale = float(std::min(1.0, clip_.norm / (norm + 1e-6)));
  // Phase 3b: the optimiser's step, block by block, on the scaled gradient.
  optimizer.begin_step();
  float* theta = net_.params().data();
  bf16* rounded = net_.params_bf16();
  reset_blocks();
  auto phase3b = [&](int k) {
    bool finite = true;
    for_each_block(k, [&](const Block& b) {
      const Ranges r = ranges_of(b);
      for (int i = 0; i < r.count; ++i) {
        float* g = grads + r.at[i];
        if (scale < 1)
          for (size_t j = 0; j < r.size[i]; ++j) g[j] *= scale;
        finite = optimizer.update(theta, g, lr, r.at[i], r.at[i] + r.size[i], i == 0 ? rounded : nullptr) && finite;
      }
    });
    updated_finite_[size_t(k)] = finite;
  };
  team_.run(phase3b);
  return all_updated_finite();
}

}  // namespace nabla
