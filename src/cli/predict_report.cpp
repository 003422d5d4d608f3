#include "cli/predict_report.hpp"

#include <nlohmann/json.hpp>

#include "train/predict.hpp"
#include "util/format.hpp"

namespace nabla {

namespace {

// A CSV field, quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

}  // namespace

PredictionWriter::PredictionWriter(std::ostream& out, bool json, int64_t top, std::vector<std::string> class_names)
    : out_(out), json_(json), top_(top), names_(std::move(class_names)) {}

std::string PredictionWriter::name(int64_t c) const {
  return c < int64_t(names_.size()) ? names_[size_t(c)] : std::to_string(c);
}

void PredictionWriter::header() {
  if (json_) return;
  const bool named = !names_.empty();
  out_ << "input,index,class" << (named ? ",name" : "") << ",probability";
  for (int64_t k = 2; k <= top_; ++k) {
    out_ << ",class_" << k;
    if (named) out_ << ",name_" << k;
    out_ << ",probability_" << k;
  }
  out_ << "\n";
}

void PredictionWriter::sample(const std::string& input, int64_t index, const float* outputs, int64_t count) {
  const std::vector<float> p = class_probabilities(outputs, count);
  const std::vector<int64_t> top = top_classes(p, std::max<int64_t>(top_, 1));
  const bool named = !names_.empty();
  if (json_) {
    nlohmann::ordered_json j;
    j["input"] = input;
    j["index"] = index;
    j["class"] = top[0];
    if (named) j["name"] = name(top[0]);
    j["probability"] = p[size_t(top[0])];
    nlohmann::ordered_json t = nlohmann::ordered_json::array();
    for (int64_t c : top) t.push_back({c, p[size_t(c)]});
    j["top"] = std::move(t);
    j["probabilities"] = std::vector<float>(outputs, outputs + count);
    out_ << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    return;
  }
  out_ << csv_field(input) << "," << index;
  for (int64_t c : top) {
    out_ << ',' << c;
    if (named) out_ << ',' << csv_field(name(c));
    out_ << ',' << printf_string("%.6g", p[size_t(c)]);
  }
  out_ << "\n";
}

}  // namespace nabla
