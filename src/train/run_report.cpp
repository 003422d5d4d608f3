#include "train/run_report.hpp"

#include <cstdio>

#include "report/chart.hpp"
#include "util/format.hpp"

namespace nabla {

namespace {

using report::xml_escape;

// An SVG document as an element of the page: from its <svg> tag on.
std::string inline_svg(const std::string& svg) {
  const size_t at = svg.find("<svg");
  return at == std::string::npos ? "" : svg.substr(at);
}

std::string number(const nlohmann::ordered_json& v, const char* format) {
  return v.is_number() ? printf_string(format, v.get<double>()) : std::string("–");
}
std::string percent_of(const nlohmann::ordered_json& v) {
  return v.is_number() ? printf_string("%.2f%%", 100 * v.get<double>()) : std::string("–");
}

const nlohmann::ordered_json& field(const nlohmann::ordered_json& j, const char* key) {
  static const nlohmann::ordered_json none;
  return j.is_object() && j.contains(key) ? j[key] : none;
}

// The loss and accuracy of each split in a metrics row, as table rows.
std::string split_rows(const nlohmann::ordered_json& row) {
  std::string html;
  for (const auto& [key, label] : {std::pair{"train", "train"}, {"val", "validation"}, {"test", "test"}}) {
    const std::string k = key;
    if (!row.contains(k + "_loss")) continue;
    html += "<tr><td>" + std::string(label) + "</td><td>" + number(row[k + "_loss"], "%.4f") + "</td><td>" +
            percent_of(row[k + "_accuracy"]) + "</td></tr>\n";
  }
  return html;
}

std::string results(const RunReport& r) {
  const nlohmann::ordered_json& last = r.rows.back();
  const int64_t best_epoch =
      field(r.summary, "best_epoch").is_number_integer() ? r.summary["best_epoch"].get<int64_t>() : 0;
  nlohmann::ordered_json best;
  for (const auto& row : r.rows)
    if (row.value("epoch", int64_t(0)) == best_epoch) best = row;
  std::string html = "<h2>Results</h2>\n<div class=\"pair\">\n<table><caption>last epoch (" +
                     std::to_string(last.value("epoch", int64_t(0))) +
                     ")</caption>\n<tr><th>split</th><th>loss</th><th>accuracy</th></tr>\n" + split_rows(last) +
                     "</table>\n";
  if (best.is_object() && (r.summary.contains("best_val_accuracy") || r.summary.contains("best_val_loss")))
    html += "<table><caption>best epoch (" + std::to_string(best_epoch) +
            ", by validation)</caption>\n<tr><th>split</th><th>loss</th><th>accuracy</th></tr>\n" + split_rows(best) +
            "</table>\n";
  html += "</div>\n";
  if (field(r.summary, "stopped_early") == true) html += "<p>Early stopping ended the run.</p>\n";
  return html;
}

std::string timing(const RunReport& r) {
  double train = 0, samples = 0;
  for (const auto& row : r.rows) {
    train += row.value("seconds", 0.0);
    samples += row.value("samples_per_second", 0.0) * row.value("seconds", 0.0);
  }
  const double load = field(r.summary, "load_seconds").is_number() ? r.summary["load_seconds"].get<double>() : 0;
  const double eval = field(r.summary, "eval_seconds").is_number() ? r.summary["eval_seconds"].get<double>() : 0;
  return "<h2>Time</h2>\n<table>\n<tr><th>loading (data headers, loaders, network, initial checkpoint)</th><td>" +
         printf_string("%.2f s", load) + "</td></tr>\n<tr><th>training (" + std::to_string(r.rows.size()) +
         " epochs, " + printf_string("%.0f", train > 0 ? samples / train : 0) + " samples/s)</th><td>" +
         printf_string("%.2f s", train) + "</td></tr>\n<tr><th>evaluation (validation and test, every epoch)</th><td>" +
         printf_string("%.2f s", eval) + "</td></tr>\n<tr><th>threads, precision</th><td>" +
         xml_escape(field(r.summary, "threads").dump() + ", " + r.summary.value("precision", std::string())) +
         "</td></tr>\n<tr><th>parameters</th><td>" + xml_escape(field(r.summary, "parameters").dump()) +
         "</td></tr>\n</table>\n";
}

// A one-line description of the build and machine from the manifest's newest entry.
std::string provenance(const RunReport& r) {
  const nlohmann::ordered_json& runs = field(r.manifest, "runs");
  if (!runs.is_array() || runs.empty()) return "";
  const nlohmann::ordered_json& e = runs.back();
  const nlohmann::ordered_json& n = field(e, "nabla");
  const nlohmann::ordered_json& cpu = field(e, "cpu");
  auto text = [](const nlohmann::ordered_json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  return "<p class=\"meta\">nabla " + xml_escape(text(field(n, "version"))) + " (" +
         xml_escape(text(field(n, "commit"))) + "), started " + xml_escape(text(field(e, "started"))) + ", finished " +
         xml_escape(text(field(e, "finished"))) + " on " + xml_escape(text(field(cpu, "model"))) + " (" +
         xml_escape(text(field(cpu, "cores"))) + " cores)</p>\n";
}

constexpr const char* kStyle =
    R"(body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px auto;max-width:960px;color:#222;padding:0 16px}
h1{font-size:26px;margin-bottom:4px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;margin-top:0}table{border-collapse:collapse;margin:8px 24px 8px 0}caption{text-align:left;font-weight:bold;padding:4px 0}
td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}th{background:#f5f5f5;font-weight:normal}
.pair{display:flex;flex-wrap:wrap}pre{background:#f7f7f7;border:1px solid #e5e5e5;padding:10px;overflow-x:auto;font-size:12px}
figure{margin:8px 0}svg{max-width:100%;height:auto})";

}  // namespace

std::string run_report_html(const RunReport& r) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                     xml_escape(r.name) + " — nabla run report</title>\n<style>\n" + kStyle +
                     "\n</style>\n</head>\n<body>\n<h1>" + xml_escape(r.name) + "</h1>\n" + provenance(r);
  if (!r.rows.empty()) html += results(r);
  html += "<h2>Learning curves</h2>\n<figure>" + inline_svg(r.curves_svg) + "</figure>\n";
  if (r.best_on_test)
    html +=
        "<h2>Confusion matrix: the best checkpoint on the test set</h2>\n<figure>" +
        inline_svg(report::confusion_svg(r.best_on_test->matrix(), r.class_names, "best.safetensors on the test set")) +
        "</figure>\n";
  if (!r.rows.empty()) html += timing(r);
  html += "<h2>Config</h2>\n<pre>" + xml_escape(r.config.dump(2)) + "</pre>\n";
  html += "<h2>Manifest (run.json)</h2>\n<pre>" +
          xml_escape(r.manifest.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)) + "</pre>\n";
  return html + "</body>\n</html>\n";
}

}  // namespace nabla
