#pragma once
// Evaluation: the loss, accuracy and confusion matrix of a network over a split, as the trainer
// reports it every epoch and `nabla eval` reports it for a checkpoint.
#include <cstdint>
#include <string>
#include <vector>

#include "config/types.hpp"
#include "data/loader.hpp"
#include "nn/network.hpp"

namespace nabla {

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  int64_t samples = 0;
  int64_t classes = 0;
  std::vector<int64_t> confusion;  // classes x classes, row = true label, column = prediction
  int64_t top_k = 0;               // with evaluate(..., top_k): the samples whose label is among the
  int64_t top_k_correct = 0;       // top_k most probable classes

  int64_t count(int64_t label, int64_t predicted) const { return confusion[size_t(label * classes + predicted)]; }
  int64_t total(int64_t label) const;                // the samples of a class
  int64_t correct() const;                           // the diagonal's sum
  int64_t predicted(int64_t c) const;                // the samples predicted as class c (a column's sum)
  std::vector<std::vector<int64_t>> matrix() const;  // the confusion matrix, a row per true label
};

// Over every batch of loader, in evaluation mode (no dropout); with top_k > 0 it also counts the
// samples whose label is among the top_k most probable classes (ranked as predict ranks them).
Evaluation evaluate(Network<float>& net, data::BatchLoader& loader, int64_t classes, int64_t top_k = 0);

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

// Evaluates checkpoint `path` on `data` (given) or on its config's test set, with the trainer's
// batches and one BLAS thread, so that the figures equal the trainer's metrics bit for bit. Throws
// nabla::Error when the data does not fit the checkpoint's network.
CheckpointEvaluation evaluate_checkpoint(const std::string& path, const EvalData* data, int64_t top_k = 0);

}  // namespace nabla
