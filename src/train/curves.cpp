#include "train/curves.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "train/run_folder.hpp"
#include "util/error.hpp"

namespace nabla {

namespace {

bool is_loss(const std::string& metric) {
  return metric.size() >= 4 && metric.compare(metric.size() - 4, 4, "loss") == 0;
}
bool is_accuracy(const std::string& metric) {
  return metric.size() >= 8 && metric.compare(metric.size() - 8, 8, "accuracy") == 0;
}

// `key` of every row against its epoch; a row without it is a gap (NaN).
report::Series series_of(const std::vector<nlohmann::ordered_json>& rows, const std::string& key, std::string name,
                         int color) {
  report::Series s;
  s.name = std::move(name);
  s.color = color;
  for (const auto& row : rows) {
    if (!row.contains("epoch") || !row["epoch"].is_number()) continue;
    s.x.push_back(row["epoch"].get<double>());
    s.y.push_back(row.contains(key) && row[key].is_number() ? row[key].get<double>() : NAN);
  }
  s.points = s.x.size() <= 20;
  return s;
}

bool has(const std::vector<nlohmann::ordered_json>& rows, const std::string& key) {
  return std::any_of(rows.begin(), rows.end(), [&](const auto& row) { return row.contains(key); });
}

report::Axis epoch_axis() {
  report::Axis x;
  x.label = "epoch";
  x.integer = true;
  return x;
}

}  // namespace

report::Figure learning_curves(const std::vector<nlohmann::ordered_json>& rows, const std::string& title,
                               int64_t best_epoch) {
  report::Figure f;
  f.title = title;
  f.height = 620;
  const struct {
    const char* key;
    const char* name;
    int color;
  } splits[] = {{"train", "train", 0}, {"val", "validation", 1}, {"test", "test", 2}};
  report::Panel loss, accuracy, lr;
  loss.title = "loss";
  loss.y.label = "loss (log scale)";
  loss.y.log = true;
  accuracy.title = "accuracy";
  accuracy.y.label = "accuracy";
  accuracy.y.percent = true;
  for (report::Panel* p : {&loss, &accuracy}) p->x = epoch_axis();
  for (const auto& s : splits) {
    if (!has(rows, std::string(s.key) + "_loss")) continue;
    loss.series.push_back(series_of(rows, std::string(s.key) + "_loss", s.name, s.color));
    accuracy.series.push_back(series_of(rows, std::string(s.key) + "_accuracy", s.name, s.color));
  }
  if (best_epoch > 0)
    for (report::Panel* p : {&loss, &accuracy})
      p->markers.push_back({double(best_epoch), "best: epoch " + std::to_string(best_epoch)});
  lr.title = "learning rate";
  lr.x = epoch_axis();
  lr.y.label = "lr";
  lr.y.lo = 0;
  lr.series.push_back(series_of(rows, "lr", "", 6));  // black
  lr.height = 0.35;
  lr.legend = false;
  f.panels = {loss, accuracy, lr};
  return f;
}

report::Figure compared_runs(const std::vector<RunCurves>& runs, const std::string& metric) {
  report::Figure f;
  f.title = metric;
  report::Panel p;
  p.x = epoch_axis();
  p.y.label = metric + (is_loss(metric) ? " (log scale)" : "");
  p.y.log = is_loss(metric);
  p.y.percent = is_accuracy(metric);
  for (size_t i = 0; i < runs.size(); ++i) p.series.push_back(series_of(runs[i].rows, metric, runs[i].name, int(i)));
  f.panels = {p};
  return f;
}

RunCurves read_run(const std::string& run_dir) {
  namespace fs = std::filesystem;
  const fs::path dir(run_dir);
  RunCurves run;
  run.name = fs::path(dir).lexically_normal().filename().string();
  if (run.name.empty()) run.name = fs::path(dir).lexically_normal().parent_path().filename().string();
  run.rows = read_rows(dir / "metrics.jsonl");
  std::error_code ec;
  if (run.rows.empty())
    throw Error(run_dir, "",
                fs::exists(dir / "metrics.jsonl", ec) ? "metrics.jsonl holds no rows yet"
                                                      : "has no metrics.jsonl (not a run folder of nabla train?)");
  auto json_of = [&](const char* name) {
    std::ifstream in(dir / name);
    return in ? nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false) : nlohmann::json();
  };
  const nlohmann::json summary = json_of("summary.json"), config = json_of("config.json");
  run.title = config.is_object() && config.contains("name") && config["name"].is_string()
                  ? config["name"].get<std::string>()
                  : run.name;
  const bool validated =
      summary.is_object() && (summary.contains("best_val_accuracy") || summary.contains("best_val_loss"));
  if (validated && summary.contains("best_epoch") && summary["best_epoch"].is_number_integer()) {
    run.best_epoch = summary["best_epoch"].get<int64_t>();
    return run;
  }
  std::string metric = "val_accuracy";
  if (config.is_object() && config.contains("training") && config["training"].contains("early_stopping"))
    metric = config["training"]["early_stopping"].value("metric", metric);
  double best = 0;
  for (const auto& row : run.rows) {
    if (!row.contains(metric) || !row[metric].is_number() || !row["epoch"].is_number_integer()) continue;
    const double v = row[metric].get<double>();
    if (run.best_epoch == 0 || (metric == "val_loss" ? v < best : v > best)) best = v, run.best_epoch = row["epoch"];
  }
  return run;
}

std::vector<std::string> plottable_metrics(const std::vector<nlohmann::ordered_json>& rows) {
  std::vector<std::string> keys;
  for (const auto& row : rows)
    for (const auto& [key, value] : row.items())
      if (value.is_number() && key != "epoch" && key != "step" &&
          std::find(keys.begin(), keys.end(), key) == keys.end())
        keys.push_back(key);
  return keys;
}

}  // namespace nabla
