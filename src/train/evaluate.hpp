#pragma once
// Evaluation: the loss, accuracy and confusion matrix of a network over a split, as the trainer
// reports it every epoch and `nabla eval` reports it for a checkpoint.
#include <cstdint>
#include <string>
#include <vector>

#include "config/types.hpp"
#include "data/loader.hpp"
#include "nn/network.hpp"
#include "train/team.hpp"

namespace nabla {

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  int64_t samples = 0;
  int64_t classes = 0;
  std::vector<int64_t> confusion;  // classes x classes, row = true label, column = prediction
  int64_t top_k = 0;               // with evaluate(..., top_k): the samples whose label is among the
  int64_t top_k_correct = 0;       // top_k most probable classes
  double seconds = 0;              // the pass's wall time, the loader's batches included,
  double waiting = 0;              // of which waiting for the loader's next batch

  int64_t count(int64_t label, int64_t predicted) const { return confusion[size_t(label * classes + predicted)]; }
  int64_t total(int64_t label) const;                // the samples of a class
  int64_t correct() const;                           // the diagonal's sum
  int64_t predicted(int64_t c) const;                // the samples predicted as class c (a column's sum)
  std::vector<std::vector<int64_t>> matrix() const;  // the confusion matrix, a row per true label
};

// Over every batch of loader, in evaluation mode (no dropout), each batch's rows shared out to the
// team (forward_rows_on: the same bits on any thread count); with top_k > 0 it also counts the
// samples whose label is among the top_k most probable classes (ranked as predict ranks them).
Evaluation evaluate(Network<float>& net, data::BatchLoader& loader, Team& team, int64_t classes, int64_t top_k = 0);

// The data a checkpoint is evaluated on: its config's test set, or another one.
struct EvalData {
  DataSource source;
  DataFormat format = DataFormat::idx;
  bool csv_header = false;
  std::string name() const { return source.csv.empty() ? source.images : source.csv; }
};

struct CheckpointEvaluation {
  int64_t epoch = 0, step = 0;  // the checkpoint's position
  std::string data;             // the file evaluated on
  Evaluation result;
  std::vector<std::string> class_names;  // the config's data.class_names, when it has one per class
  std::vector<std::string> warnings;     // the config's test files, changed since its run recorded them
};

struct EvalOptions {
  int64_t top_k = 0;
  int threads = 0;    // 0: the config's training.threads
  int64_t batch = 0;  // 0: the config's training.batch_size
};

// Evaluates checkpoint `path` on `data` (given) or on its config's test set. In the trainer's
// batches (the default) the figures equal the trainer's metrics bit for bit, on any thread count;
// in batches of another size they may differ from them in the last bits of a float. Throws
// nabla::Error when the data does not fit the checkpoint's network.
CheckpointEvaluation evaluate_checkpoint(const std::string& path, const EvalData* data, const EvalOptions& options);

}  // namespace nabla
