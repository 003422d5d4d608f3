#pragma once
// The training step on a team of threads, in phases (0 and 1 only where they apply):
//
//   0. by samples: each thread scales its rows of the batch from bytes into floats (when the loader
//      hands them out unscaled), applies the input dropout and, in bf16, rounds them;
//   1. by units: the first layer's forward pass, each thread its columns of z for the whole batch,
//      so that each reads only its own rows of W⁰ (the largest matrix; one that every thread reads
//      and one thread writes would move between the cores' caches at every step);
//   2. by samples: the upper layers' forward pass, the loss and the δ recurrence (BP1, BP2), each
//      thread its rows, with single-threaded GEMMs;
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

  DataParallel(Network<float>& net, int threads);

  // Phases 0 to 2 for a batch. A batch handed out as bytes (Batch::raw) is scaled first, each
  // thread its own rows. Thread k's dropout masks come from a generator seeded by
  // (dropout_seed, k), so a run is the same for the same seed and thread count.
  StepResult compute(const data::Batch& batch, uint64_t dropout_seed);

  // Phase 3: the gradients and the optimiser's step, block by block. Returns false when the update
  // made a parameter or a moment non-finite. With `gradient_norm`, also the L2 norm of the whole
  // gradient (every weight and bias), summed from each block while it is in cache.
  bool update(Optimizer& optimizer, double lr, double* gradient_norm = nullptr);

  // After a compute() that was not finite: where the first non-finite value is (see Network).
  std::string first_nonfinite() const { return net_.first_nonfinite(); }

 private:
  struct Block {
    size_t layer;
    int64_t u0, u1;  // units [u0, u1) of the layer
  };

  Network<float>& net_;
  Team team_;
  std::vector<std::vector<Block>> blocks_;       // per thread, layer by layer (the first, largest, first)
  std::unique_ptr<std::atomic<size_t>[]> next_;  // per thread: the next of its blocks not yet taken
  // Per thread: one block's weight and bias gradients (the largest block's size: a 2-unit layer over
  // 10 million inputs needs 2 rows of them, not kBlockUnits).
  std::vector<std::vector<float>> scratch_;
  std::vector<LossResult> results_;  // per thread
  std::vector<int64_t> shard_rows_;
  // Per thread, each written by its own thread only: char, not vector<bool>, whose bits share bytes
  // (two threads writing neighbouring bits would race).
  std::vector<char> bounded_;         // phase 2: the thread's rows' gradients are finite
  std::vector<char> updated_finite_;  // phase 3
  std::vector<double> squares_;       // phase 3, per thread: the sum of its blocks' squared gradients
  std::vector<float> x_;              // a batch scaled from bytes, when the loader defers
};

}  // namespace nabla
