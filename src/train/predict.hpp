#pragma once
// Prediction: a checkpoint's network over inputs without labels (data/inputs.hpp), in batches of
// the size it trained with (unless told otherwise), each batch's rows shared out to a team of
// threads as eval does it, so that a sample's outputs are the ones eval's accuracy counted.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/inputs.hpp"
#include "io/checkpoint.hpp"
#include "nn/network.hpp"
#include "train/team.hpp"

namespace nabla {

class Predictor {
 public:
  // threads 0: the config's training.threads; batch 0: its training.batch_size.
  explicit Predictor(const io::Checkpoint& checkpoint, int threads = 0, int64_t batch = 0);

  // The network's outputs per sample: the output layer's activations (softmax probabilities, one
  // sigmoid unit's probability of class 1, ...).
  int64_t outputs() const { return net_.outputs(); }
  // The classes the outputs stand for: outputs(), or 2 for a single unit.
  int64_t classes() const { return outputs() == 1 ? 2 : outputs(); }

  // Opens an input file (data/inputs.hpp) for this network: its samples must have its input size.
  std::unique_ptr<data::Inputs> open(const std::string& input, bool csv_header = false) const;
  // Every sample of `input`, in order: each(index, outputs of that sample). Returns the count.
  int64_t run(data::Inputs& input, const std::function<void(int64_t index, const float* outputs)>& each);

 private:
  const io::Checkpoint& checkpoint_;
  int64_t batch_;
  Network<float> net_;
  Team team_;
  std::vector<float> x_;  // one batch of inputs
};

// The probability of each class from a sample's outputs: the outputs themselves, or (1 − p, p) for
// a single sigmoid unit.
std::vector<float> class_probabilities(const float* outputs, int64_t count);

// The k most probable classes, most probable first (the lower class first among equals).
std::vector<int64_t> top_classes(const std::vector<float>& probabilities, int64_t k);

}  // namespace nabla
