#pragma once
// The training run: the epoch loop over the mini-batches, evaluation on the validation and test
// splits, early stopping, the progress display and the run folder (resolved config, metrics.jsonl,
// summary.json).
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "data/loader.hpp"
#include "nn/network.hpp"
#include "util/error.hpp"

namespace nabla {

// Training stopped because the loss or a gradient stopped being finite.
class Diverged : public Error {
 public:
  using Error::Error;
};

enum class Progress { bar, lines, quiet };

struct TrainOptions {
  std::string out_dir;       // the run folder; it must not already hold a run
  Progress progress = Progress::lines;
};

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  int64_t samples = 0;
  std::vector<int64_t> confusion;  // classes x classes, row = true label, column = prediction
};

// The loss, accuracy and confusion matrix of net over every batch of loader (in evaluation mode).
Evaluation evaluate(Network<float>& net, data::BatchLoader& loader, int64_t classes);

// What the data holds for this config: the training split's Info, checked against the model
// (features, classes, validation size) and the test split's when one is given. Throws nabla::Error.
struct DataPlan {
  data::Info train, test;
  int64_t train_samples = 0;  // the training split without the validation samples
  int64_t classes = 0;
  bool has_test = false;
};
DataPlan plan_data(const Config& config);

struct TrainResult {
  int64_t epochs_run = 0;
  int best_epoch = 0;
  double best_metric = 0;
  bool stopped_early = false;
};

// Trains config's network, writing the run folder. Throws nabla::Error on bad data or a diverging
// run.
TrainResult train(const Config& config, const TrainOptions& options);

}  // namespace nabla
