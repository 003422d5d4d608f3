#pragma once
// The learning curves of runs, drawn from their metrics rows (metrics.jsonl): for one run its loss
// (log scale) and accuracy against the epoch for each split it has, the learning rate in a thin
// strip below and the best epoch marked; for several runs one metric, a line each.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "report/chart.hpp"

namespace nabla {

// One run's curves. `best_epoch` 0: none marked.
report::Figure learning_curves(const std::vector<nlohmann::ordered_json>& rows, const std::string& title,
                               int64_t best_epoch);

struct RunCurves {
  std::string name;   // in the legend: the run folder's name
  std::string title;  // its config's name (config.json), as training titles its curves; else `name`
  std::vector<nlohmann::ordered_json> rows;
  int64_t best_epoch = 0;  // 0: none (no validation split)
};

// A run folder's metrics rows and best epoch: summary.json's when the run has finished, else the
// best so far by its config's early-stopping metric (val_accuracy unless it says val_loss). Throws
// nabla::Error naming the folder when it holds no metrics rows.
RunCurves read_run(const std::string& run_dir);

// `metric` (val_accuracy, train_loss, lr, ...: any key of the rows) for several runs, a line each;
// a loss on a log scale, an accuracy as percentages.
report::Figure compared_runs(const std::vector<RunCurves>& runs, const std::string& metric);

// The keys of the rows that can be plotted (numbers other than epoch and step), in order first seen.
std::vector<std::string> plottable_metrics(const std::vector<nlohmann::ordered_json>& rows);

}  // namespace nabla
