#pragma once
// The training run: the epoch loop over the mini-batches, evaluation on the validation and test
// splits, early stopping, checkpoints, resume, the progress display and the run folder (resolved
// config, metrics.jsonl, summary.json, checkpoints/).
#include <cstdint>
#include <filesystem>
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

// Training stopped on SIGINT or SIGTERM, after writing a checkpoint.
class Interrupted : public Error {
 public:
  Interrupted(const std::string& message, int signal) : Error(message), signal(signal) {}
  int signal;
};

enum class Progress { bar, lines, quiet };

struct TrainOptions {
  std::string out_dir;       // the run folder; a new run must not find a run there already
  std::string resume;        // a checkpoint to continue from (empty: a new run)
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

// Refuses, as a nabla::Error naming training.precision, a bf16 config that this build or CPU cannot
// train (math/bf16.hpp).
void check_precision(const Config& config);

// The run folder a checkpoint belongs to: RUN for RUN/checkpoints/NAME.safetensors, else its folder.
std::string run_dir_of(const std::string& checkpoint);

// The epoch of an epoch-NNNN.safetensors file name (NNNN of any width), or -1 for another name.
int64_t epoch_of_file(const std::string& name);
// Keeps the newest `keep` epoch-NNNN files of a checkpoints folder with NNNN >= 1 (epoch-0000, the
// initial weights, stays), newest by number: epoch-10000 is newer than epoch-9999.
void prune_epoch_files(const std::filesystem::path& dir, int64_t keep);

struct TrainResult {
  int64_t epochs_run = 0;    // epochs completed in all, counting those before a resume
  int64_t best_epoch = 0;
  double best_metric = 0;
  bool stopped_early = false;
  std::vector<std::string> notes;  // what a resume allowed to change, for the user
};

// Trains config's network, writing the run folder. Throws nabla::Error on bad data or a checkpoint
// that does not fit, Diverged on a non-finite loss or gradient, Interrupted on a signal.
TrainResult train(const Config& config, const TrainOptions& options);

}  // namespace nabla
