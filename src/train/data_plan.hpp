#pragma once
// What a run's data is, checked against its config before anything is allocated: the splits' sizes
// and the class count, the network's memory, and the loaders that share the memory budget.
#include <cstdint>
#include <memory>

#include "config/types.hpp"
#include "data/loader.hpp"
#include "nn/loss.hpp"

namespace nabla {

// What the data holds for this config: the training split's Info, checked against the model
// (features, classes, validation size) and the test split's when one is given.
struct DataPlan {
  data::Info train, test;
  int64_t train_samples = 0;  // the training split without the validation samples
  int64_t classes = 0;
  bool has_test = false;
  // The largest batch any split hands out: the network's workspaces are sized for it.
  int64_t largest_batch(const Config& config) const;
  // The training split's batches an epoch (the last one may be short).
  int64_t batches_per_epoch(const Config& config) const;
  // The network's parameter count: its dense layers' weights and biases, and its norms' γ, β and
  // running statistics.
  int64_t parameters(const Config& config) const;
};

// Reads the data's headers and checks them against the config; a network far over the machine's
// memory is refused here (and by --dry-run), not by an allocation that fails later. Throws
// nabla::Error naming the config and the key.
DataPlan plan_data(const Config& config);

// Refuses, as a nabla::Error naming training.precision, a bf16 config that this build or CPU cannot
// train (math/bf16.hpp).
void check_precision(const Config& config);

// The loss the network trains on: the config's, with "balanced" class weights worked out from the
// training split's labels (one pass over them): w_c = N / (K·n_c), N samples, K classes, n_c of
// class c. Throws nabla::Error naming loss.class_weights when a class has no sample.
LossSpec training_loss(const Config& config, const DataPlan& plan);

// The three splits' loaders. The memory budget is shared between them in proportion to their size.
struct Loaders {
  std::unique_ptr<data::BatchLoader> train;
  std::unique_ptr<data::BatchLoader> validation;  // null without data.validation
  std::unique_ptr<data::BatchLoader> test;        // null without data.test
};
Loaders open_loaders(const Config& config, const DataPlan& plan, uint64_t shuffle_seed);

}  // namespace nabla
