#include "cli/eval_report.hpp"

#include <nlohmann/json.hpp>
#include <ostream>

#include "util/format.hpp"

namespace nabla {

void print_evaluation(std::ostream& out, const std::string& checkpoint, const CheckpointEvaluation& ce) {
  const Evaluation& e = ce.result;
  out << "checkpoint " << checkpoint << " (epoch " << ce.epoch << ", step " << ce.step << ")\n"
      << "data " << ce.data << ": " << e.samples << " samples\n"
      << "loss " << printf_string("%.4f", e.loss) << "  accuracy " << percent(e.accuracy) << " (" << e.correct() << "/"
      << e.samples << ")\n\nper-class accuracy:\n";
  for (int64_t t = 0; t < e.classes; ++t) {
    const int64_t total = e.total(t), correct = e.count(t, t);
    out << "  class " << t << ": "
        << (total ? printf_string("%6.2f%%", 100.0 * double(correct) / double(total)) : std::string("     -")) << " ("
        << correct << "/" << total << ")\n";
  }
  out << "\nconfusion matrix (rows: true class, columns: predicted class):\n     ";
  for (int64_t p = 0; p < e.classes; ++p) out << printf_string("%6.0f", double(p));
  out << "\n";
  for (int64_t t = 0; t < e.classes; ++t) {
    out << printf_string("%5.0f", double(t));
    for (int64_t p = 0; p < e.classes; ++p) out << printf_string("%6.0f", double(e.count(t, p)));
    out << "\n";
  }
}

void print_evaluation_json(std::ostream& out, const std::string& checkpoint, const CheckpointEvaluation& ce) {
  const Evaluation& e = ce.result;
  nlohmann::ordered_json j;
  j["checkpoint"] = checkpoint;
  j["epoch"] = ce.epoch;
  j["data"] = ce.data;
  j["samples"] = e.samples;
  j["loss"] = e.loss;
  j["accuracy"] = e.accuracy;
  j["correct"] = e.correct();
  nlohmann::ordered_json per_class = nlohmann::ordered_json::array(), confusion = nlohmann::ordered_json::array();
  for (int64_t t = 0; t < e.classes; ++t) {
    const int64_t total = e.total(t);
    per_class.push_back(total ? nlohmann::ordered_json(double(e.count(t, t)) / double(total))
                              : nlohmann::ordered_json());
    confusion.push_back(
        std::vector<int64_t>(e.confusion.begin() + t * e.classes, e.confusion.begin() + (t + 1) * e.classes));
  }
  j["per_class_accuracy"] = std::move(per_class);
  j["confusion"] = std::move(confusion);
  out << j.dump() << "\n";
}

}  // namespace nabla
