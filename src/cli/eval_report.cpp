#include "cli/eval_report.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "util/format.hpp"

namespace nabla {

namespace {

// A class's recall (its accuracy: correct / its samples), precision (correct / predicted as it) and
// F1 (their harmonic mean); each unset where its denominator is 0.
struct ClassScores {
  std::optional<double> recall, precision, f1;
};

ClassScores scores(const Evaluation& e, int64_t c) {
  ClassScores s;
  const double correct = double(e.count(c, c));
  if (e.total(c) > 0) s.recall = correct / double(e.total(c));
  if (e.predicted(c) > 0) s.precision = correct / double(e.predicted(c));
  if (s.recall && s.precision)
    s.f1 = *s.recall + *s.precision > 0 ? 2 * *s.recall * *s.precision / (*s.recall + *s.precision) : 0.0;
  return s;
}

std::string percent_or_dash(const std::optional<double>& x) {
  return x ? printf_string("%8.2f%%", 100 * *x) : std::string("        -");
}

nlohmann::ordered_json json_or_null(const std::optional<double>& x) {
  return x ? nlohmann::ordered_json(*x) : nlohmann::ordered_json();
}

}  // namespace

void print_evaluation(std::ostream& out, const std::string& checkpoint, const CheckpointEvaluation& ce) {
  const Evaluation& e = ce.result;
  out << "checkpoint " << checkpoint << " (epoch " << ce.epoch << ", step " << ce.step << ")\n"
      << "data " << ce.data << ": " << e.samples << " samples\n"
      << "loss " << printf_string("%.4f", e.loss) << "  accuracy " << percent(e.accuracy) << " (" << e.correct() << "/"
      << e.samples << ")";
  if (e.top_k > 1)
    out << "  top-" << e.top_k << " accuracy "
        << percent(double(e.top_k_correct) / double(std::max<int64_t>(e.samples, 1))) << " (" << e.top_k_correct << "/"
        << e.samples << ")";
  out << "\n\nper class (recall is the class's accuracy):\n";
  char line[512];
  std::snprintf(line, sizeof line, "  %-20s %9s %9s %9s %9s\n", "class", "recall", "precision", "F1", "samples");
  out << line;
  double f1_sum = 0;
  int64_t f1_count = 0;
  for (int64_t c = 0; c < e.classes; ++c) {
    const ClassScores s = scores(e, c);
    if (s.f1) f1_sum += *s.f1, ++f1_count;
    const std::string name =
        std::to_string(c) + (c < int64_t(ce.class_names.size()) ? " " + ce.class_names[size_t(c)] : "");
    std::snprintf(line, sizeof line, "  %-20s %s %s %s %9lld\n", name.c_str(), percent_or_dash(s.recall).c_str(),
                  percent_or_dash(s.precision).c_str(), percent_or_dash(s.f1).c_str(), (long long)e.total(c));
    out << line;
  }
  if (f1_count > 0) out << "  macro F1 " << percent(f1_sum / double(f1_count)) << "\n";
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
  nlohmann::ordered_json recall = nlohmann::ordered_json::array(), precision = recall, f1 = recall, confusion = recall;
  for (int64_t t = 0; t < e.classes; ++t) {
    const ClassScores s = scores(e, t);
    recall.push_back(json_or_null(s.recall));
    precision.push_back(json_or_null(s.precision));
    f1.push_back(json_or_null(s.f1));
    confusion.push_back(
        std::vector<int64_t>(e.confusion.begin() + t * e.classes, e.confusion.begin() + (t + 1) * e.classes));
  }
  j["per_class_accuracy"] = recall;  // the same as recall: kept under its first name
  j["confusion"] = std::move(confusion);
  j["per_class_recall"] = std::move(recall);
  j["per_class_precision"] = std::move(precision);
  j["per_class_f1"] = std::move(f1);
  if (!ce.class_names.empty()) j["class_names"] = ce.class_names;
  if (e.top_k > 0) {
    j["top_k"] = e.top_k;
    j["top_k_accuracy"] = e.samples ? double(e.top_k_correct) / double(e.samples) : 0.0;
  }
  j["seconds"] = e.seconds;  // the pass, loading the batches included; not the checkpoint's loading
  j["samples_per_second"] = e.seconds > 0 ? double(e.samples) / e.seconds : 0.0;
  j["waiting_seconds"] = e.waiting;  // of `seconds`: for the loader's batches
  const double computing = e.seconds - e.waiting;
  j["computing_samples_per_second"] = computing > 0 ? double(e.samples) / computing : 0.0;
  out << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

}  // namespace nabla
