#pragma once
// report.html, written into a run folder when its run ends: one self-contained page (inline SVG
// and CSS, no script, nothing fetched) with the run's results, its learning curves, the confusion
// matrix of its best checkpoint on the test set, the time it took, its config and its manifest.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/evaluate.hpp"

namespace nabla {

struct RunReport {
  std::string name;
  nlohmann::ordered_json config;             // the resolved config
  nlohmann::ordered_json manifest;           // run.json
  nlohmann::ordered_json summary;            // summary.json
  std::vector<nlohmann::ordered_json> rows;  // metrics.jsonl
  std::string curves_svg;
  // The best checkpoint on the test set, when the run has one: its confusion matrix drawn.
  const Evaluation* best_on_test = nullptr;
  std::vector<std::string> class_names;
};

std::string run_report_html(const RunReport& r);

}  // namespace nabla
