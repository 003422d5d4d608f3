#pragma once
// The training step on a team of threads, in phases (0 and 1 only where they apply):
//
//   0. by samples: each thread scales its rows of the batch from bytes into floats (when the loader
//      hands them out unscaled), applies the input dropout and, in bf16, rounds them;
//   1. by units: the first layer's forward pass, each thread its columns of z for the whole batch,
//      so that each reads only its own rows of W⁰ (the largest matrix; one that every thread reads
//      and one thread writes would move between the cores' caches at every step);
//   2. by samples: the upper layers' forward pass, the loss and the δ recurrence (BP1, BP2), each
//      thread its rows, with single-threaded GEMMs. A batch_norm layer, whose statistics are over
//      the whole batch, cuts phase 2 in segments: the rows' GEMMs up to it, then its statistics,
//      normalisation and σ by units (each thread its blocks of the layer's units, all rows), then
//      the next segment; backward, the δ recurrence by rows stops at it, its δ (which couples the
//      batch) is made by units, and the recurrence goes on below it;
//   3. by units: the weight and bias gradients over the whole batch (BP3, BP4) in blocks of up to
//      128 rows of W, each block's optimiser update applied at once, while its gradient is in
//      cache. A thread that is done takes the blocks another has not started yet (the small ones
//      come last), so neither waits long for the other.
//
// So no gradient is ever summed across threads or written out whole, and each thread's GEMMs are
// independent. That the gradients are finite is known after phase 2, before any update, from the
// bounds it keeps (Network::delta_rows); an update that still overflows (a huge learning rate)
// is reported by phase 3. With one thread the same phases run on the caller.
//
// The same bits on any number of threads: the blocks of rows (phases 0 and 2) and of units
// (phases 1 and 3) are fixed by the batch and the layers alone, never by the thread count; the
// threads only share them out. So every GEMM has the same shape and operands whatever the
// threads, and no kernel choice (OpenBLAS picks kernels by shape: a small-matrix kernel below
// 10^6 multiply-adds, edge kernels for a short tile) can differ; each dropout mask is drawn from
// its block's own stream, and the loss and the gradient norm are summed block by block in order.
// Why not OpenBLAS's own threads: at a batch of 64 the small layers' GEMMs gain little or nothing
// from a second thread, while here both cores are busy for the whole step (README, Performance).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.hpp"
#include "nn/network.hpp"
#include "train/optimizer.hpp"
#include "train/team.hpp"

namespace nabla {

// training.clip_grad_value and clip_grad_norm (0: off). Each gradient entry is clamped to
// [−value, value] first; then the whole gradient is scaled by norm / (‖g‖ + 10⁻⁶) when that is
// below 1, as torch.nn.utils.clip_grad_norm_ does. The norm needs every block's gradient before any
// block's update, so with it phase 3 runs twice: the gradients to grads() and their norm, then the
// updates (the gradient then goes to memory and back; without it, it never leaves the cache).
struct GradientClip {
  double value = 0;
  double norm = 0;
};

struct StepResult {
  double loss = 0;  // mean over the batch
  int64_t correct = 0;
  bool finite = true;  // the loss, and (certainly) every gradient
};

class DataParallel {
 public:
  // Units of W a phase-3 block holds: its gradient (128 x 784 floats for the widest layer here,
  // 400 KB) stays in L2 from the GEMM that makes it to the update that uses it. Each block's GEMM
  // packs the layer's input (batch x in) anew, so fewer, larger blocks pack it fewer times (the
  // measurement that chose 128 over 32 is in the README's Performance section).
  static constexpr int64_t kBlockUnits = 128;
  // A batch is cut into at most kRowBlocks blocks of rows, each a multiple of 8 and at least
  // kMinBlockRows (a batch of 64: 2 blocks of 32; of 256: 4 of 64; of 1024: 4 of 256). Four, as
  // eight blocks of 32 made the step at a batch of 256 on 2 threads 4% slower than one block a
  // thread (each block's GEMMs pack the weights anew); with four the paired ratio is 0.995.
  static constexpr int64_t kRowBlocks = 4, kMinBlockRows = 32;
  static int64_t block_rows(int64_t rows);
  // A layer's blocks of units: kBlockUnits, or for a narrower layer its halves (a multiple of 8),
  // so that two threads share every layer.
  static int64_t block_units(int64_t units);

  DataParallel(Network<float>& net, int threads, GradientClip clip = {});

  // Phases 0 to 2 for a batch. A batch handed out as bytes (Batch::raw) is scaled first, each
  // thread its own rows. The dropout masks of a block come from a generator seeded by
  // (dropout_seed, block, phase), so a run is the same for the same seed on any thread count.
  StepResult compute(const data::Batch& batch, uint64_t dropout_seed);

  // Phase 3: the gradients and the optimiser's step, block by block. Returns false when the update
  // made a parameter or a moment non-finite. With `gradient_norm`, also the L2 norm of the whole
  // gradient (every weight and bias, after clip_grad_value and before clip_grad_norm), summed from
  // each block while it is in cache.
  bool update(Optimizer& optimizer, double lr, double* gradient_norm = nullptr);

  // After a compute() that was not finite: where the first non-finite value is (see Network).
  std::string first_nonfinite() const { return net_.first_nonfinite(); }

  // The step's threads, for the evaluation passes between epochs (forward_rows_on).
  Team& team() { return team_; }

 private:
  struct Block {
    size_t layer;
    int64_t u0, u1;  // units [u0, u1) of the layer
    size_t index;    // in the order of all blocks, layer by layer: where its squares are summed
  };

  // A block's parameters in params() (and grads()): W's rows u0..u1 of the layer, b's, and with a
  // norm γ's and β's: `count` ranges.
  struct Ranges {
    size_t at[4];
    size_t size[4];
    int count;
  };
  Ranges ranges_of(const Block& b) const;
  // The block's gradients into g[0 .. r.count) (r.size[i] floats each), clamped by clip_grad_value;
  // with `squares`, returns their sum of squares.
  double block_gradient(const Block& b, const Ranges& r, float* const g[4], bool squares);
  // Runs f(block) for thread k's blocks, then for those that the others have not started; every
  // block runs once between two reset_blocks().
  template <class F>
  void for_each_block(int k, F f);
  void reset_blocks();
  bool update_clipped(Optimizer& optimizer, double lr, double* gradient_norm);  // with clip_.norm
  double summed_norm() const;                                                   // √ of squares_'s sum, in block order
  bool all_updated_finite() const;

  Network<float>& net_;
  GradientClip clip_;
  Team team_;
  std::vector<std::vector<Block>> blocks_;       // per thread, layer by layer (the first, largest, first)
  std::unique_ptr<std::atomic<size_t>[]> next_;  // per thread: the next of its blocks not yet taken
  // Per thread: one block's weight and bias gradients (the largest block's size: a 2-unit layer over
  // 10 million inputs needs 2 rows of them, not kBlockUnits).
  std::vector<std::vector<float>> scratch_;
  // Per block of rows, each written by the thread that ran the block only: char, not vector<bool>,
  // whose bits share bytes (two threads writing neighbouring bits would race).
  std::vector<LossResult> results_;
  std::vector<char> bounded_;  // phase 2: the block's gradients are finite
  // Per thread (phase 3): its blocks' updates left everything finite.
  std::vector<char> updated_finite_;
  std::vector<double> squares_;  // per block of units: the sum of its squared gradients
  std::vector<float> x_;         // a batch scaled from bytes, when the loader defers
};

// Inference over a batch of `rows` rows of x on a team: each thread runs the forward pass (in
// evaluation mode: no dropout, a norm's running statistics) for its blocks of rows, with
// single-threaded GEMMs. The blocks are block_rows(rows) long whatever the team's size, so the
// outputs have the same bits on any thread count. Returns the output layer's activations
// (rows x outputs), in net's workspace.
const float* forward_rows_on(Team& team, Network<float>& net, const float* x, int64_t rows);

}  // namespace nabla
