#pragma once
// What `nabla predict` writes for each sample: a CSV row (the default) or a JSON line (--json).
//   CSV:  input,index,class[,name],probability, then for the 2nd to the Kth most probable class
//         class_k[,name_k],probability_k (the names when the config gives data.class_names)
//   JSON: {"input", "index", "class"[, "name"], "probability", "top": [[class, probability], ...],
//          "probabilities": [one per output]}
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace nabla {

class PredictionWriter {
 public:
  PredictionWriter(std::ostream& out, bool json, int64_t top, std::vector<std::string> class_names);
  void header();  // the CSV header (nothing for JSON lines)
  // One sample: its input file, its index there, and its network outputs (`outputs` of them).
  void sample(const std::string& input, int64_t index, const float* outputs, int64_t count);

 private:
  std::string name(int64_t c) const;
  std::ostream& out_;
  bool json_;
  int64_t top_;
  std::vector<std::string> names_;
};

}  // namespace nabla
