#pragma once
// Data-parallel training on one machine: each mini-batch is split into one shard per thread, every
// thread runs forward and backward for its shard on a replica of the network with single-threaded
// GEMMs, and the optimiser steps on the sum of the replicas' gradients. Each shard's δᴸ carries the
// 1/B of the whole batch, so the sum is exactly the batch's gradient. The update is split over the
// threads by parameter range and adds the replicas' gradients on the fly, so the sum is never
// written out; that the gradients are finite is known before it from the bounds backward keeps
// (Network::grads_bounded), without a pass over them.
//
// Why not OpenBLAS's own threads: at a batch of 64 the small layers' GEMMs gain nothing from a
// second thread (the 256x10 one is 4x slower on two), while two independent single-threaded GEMMs
// on half batches keep both cores busy for the whole step. The replicas share the primary's
// parameters (nothing is copied); only the workspaces and gradients are per thread.
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/network.hpp"
#include "train/optimizer.hpp"
#include "train/team.hpp"

namespace nabla {

struct StepResult {
  double loss = 0;       // mean over the batch
  int64_t correct = 0;
  bool finite = true;    // the loss and every summed gradient
};

class DataParallel {
 public:
  // `primary` holds the parameters and receives the summed gradients; max_batch is its workspace size.
  DataParallel(Network<float>& primary, int threads);

  // Forward, loss and backward of the batch x (rows x inputs) with labels, in shards. Shard k's
  // dropout masks come from a generator seeded by (dropout_seed, k), so a run is the same for the
  // same seed and thread count.
  StepResult compute(const float* x, const int32_t* labels, int64_t rows, uint64_t dropout_seed);

  // One optimiser step on the sum of the shards' gradients, split over the threads.
  void update(Optimizer& optimizer, double lr);

  // After a compute() that was not finite: where the first non-finite value is (see Network).
  std::string first_nonfinite() const;

  int threads() const { return team_.size(); }

 private:
  Network<float>& net(int k) { return k == 0 ? primary_ : *replicas_[size_t(k - 1)]; }
  const Network<float>& net(int k) const { return k == 0 ? primary_ : *replicas_[size_t(k - 1)]; }

  Network<float>& primary_;
  std::vector<std::unique_ptr<Network<float>>> replicas_;
  Team team_;
  std::vector<size_t> range_;          // parameter range of thread k: [range_[k], range_[k + 1])
  std::vector<LossResult> results_;    // per shard
  std::vector<int64_t> shard_rows_;
  std::vector<const float*> sources_;  // the gradients of the shards that had rows
};

}  // namespace nabla
