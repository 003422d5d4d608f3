#pragma once
// What `nabla eval` prints: a table for people, or one JSON object (--json) for programs.
#include <iosfwd>
#include <string>

#include "train/evaluate.hpp"

namespace nabla {

// Loss, accuracy, per-class accuracy and the confusion matrix.
void print_evaluation(std::ostream& out, const std::string& checkpoint, const CheckpointEvaluation& e);
// The same as one line of JSON: checkpoint, epoch, data, samples, loss, accuracy, correct,
// per_class_accuracy (null for a class with no samples), confusion.
void print_evaluation_json(std::ostream& out, const std::string& checkpoint, const CheckpointEvaluation& e);

}  // namespace nabla
