#pragma once
// The training step on a team of threads. Each step has these phases (0 and 1 only where they apply):
//
//   0. by samples: scale the batch's bytes into floats (when the loader hands them out unscaled),
//      and the input dropout;
//   1. by samples: every thread takes its share of the batch's rows through the forward pass, the
//      loss and the δ recurrence (BP1, BP2), with single-threaded GEMMs on its rows;
//   2. by units: every thread takes its share of each layer's units and computes their weight and
//      bias gradients over the whole batch (BP3, BP4) in blocks of a few dozen rows of W, applying
//      the optimiser to each block at once, while its gradient is still in cache.
//
// So no gradient is ever summed across threads or written out whole, the update costs one pass
// over the weights and the optimiser state, and each thread's GEMMs are independent. That the
// gradients are finite is known between the phases, before any update, from the bounds phase 1
// keeps (Network::delta_rows). With one thread the same two phases run on the caller.
//
// Why not OpenBLAS's own threads: at a batch of 64 the small layers' GEMMs gain nothing from a
// second thread (the 64x10x128 one is slower on two), while here both cores are busy for the whole
// step.
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
  double loss = 0;       // mean over the batch
  int64_t correct = 0;
  bool finite = true;    // the loss, and (certainly) every gradient
};

class DataParallel {
 public:
  DataParallel(Network<float>& net, int threads);

  // Phases 1 and 2 for a batch. A batch handed out as bytes (Batch::raw) is scaled first, each
  // thread its own rows. Thread k's dropout masks come from a generator seeded by
  // (dropout_seed, k), so a run is the same for the same seed and thread count.
  StepResult compute(const data::Batch& batch, uint64_t dropout_seed);

  // Phase 2: the gradients and the optimiser's step, block by block.
  void update(Optimizer& optimizer, double lr);

  // After a compute() that was not finite: where the first non-finite value is (see Network).
  std::string first_nonfinite() const { return net_.first_nonfinite(); }

  int threads() const { return team_.size(); }

 private:
  struct Block {
    size_t layer;
    int64_t u0, u1;      // units [u0, u1) of the layer
  };

  Network<float>& net_;
  Team team_;
  std::vector<std::vector<Block>> blocks_;   // per thread, the largest first
  std::unique_ptr<std::atomic<size_t>[]> next_;  // per thread: the next of its blocks not yet taken
  std::vector<std::vector<float>> scratch_;  // per thread: one block's weight and bias gradients
  std::vector<LossResult> results_;          // per thread
  std::vector<int64_t> shard_rows_;
  std::vector<char> bounded_;
  std::vector<float> x_;                     // a batch scaled from bytes, when the loader defers
};

}  // namespace nabla
