// nabla plot: a run's learning curves drawn again, or several runs compared on one metric.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "config/names.hpp"
#include "io/atomic_file.hpp"
#include "report/chart.hpp"
#include "train/curves.hpp"
#include "util/error.hpp"

namespace nabla::cli {

namespace {

struct PlotFlags {
  std::vector<std::string> runs;
  std::string metric;
  std::string output;
};

int plot_command(const PlotFlags& f) {
  std::vector<RunCurves> runs;
  for (const std::string& dir : f.runs) runs.push_back(read_run(dir));
  // Runs of the same folder name (a/r and b/r) are told apart by their paths as given.
  std::vector<std::string> names;
  for (const RunCurves& r : runs) names.push_back(r.name);
  for (size_t i = 0; i < runs.size(); ++i)
    if (std::count(names.begin(), names.end(), names[i]) > 1) runs[i].name = f.runs[i];
  std::string svg;
  if (runs.size() == 1 && f.metric.empty()) {
    svg = report::svg(learning_curves(runs[0].rows, runs[0].title, runs[0].best_epoch));
  } else {
    // The metric: the one asked for, which some run must have; else validation accuracy where there is one.
    std::vector<std::string> known;
    for (const RunCurves& r : runs)
      for (const std::string& m : plottable_metrics(r.rows))
        if (std::find(known.begin(), known.end(), m) == known.end()) known.push_back(m);
    std::string metric = f.metric;
    if (metric.empty())
      metric = std::find(known.begin(), known.end(), "val_accuracy") != known.end() ? "val_accuracy" : "train_accuracy";
    if (std::find(known.begin(), known.end(), metric) == known.end()) {
      std::string list;
      for (const std::string& m : known) list += (list.empty() ? "" : ", ") + m;
      const auto near = config::closest(metric, known);
      throw Error("nabla plot: --metric " + metric + ": no run has it (they have " + list + ")" +
                  (near ? "; did you mean " + *near + "?" : ""));
    }
    svg = report::svg(compared_runs(runs, metric));
  }
  // One run's picture goes back into its folder; a comparison into the current one.
  const std::string output = !f.output.empty() ? f.output
                             : runs.size() == 1 && f.metric.empty()
                                 ? (std::filesystem::path(f.runs[0]) / "curves.svg").string()
                                 : "plot.svg";
  io::write_atomically(output, svg);
  std::cout << "wrote " << output << "\n";
  return kOk;
}

}  // namespace

Command add_plot(CLI::App& app) {
  auto flags = std::make_shared<PlotFlags>();
  PlotFlags& f = *flags;
  CLI::App* plot = app.add_subcommand(
      "plot", "Draw a run's learning curves again (RUN/curves.svg), or compare runs on one metric (plot.svg)");
  plot->add_option("runs", f.runs, "Run folders (runs/NAME, each with its metrics.jsonl)")->required();
  plot->add_option("--metric", f.metric,
                   "The metric to compare: any column of metrics.jsonl (val_accuracy, val_loss, train_loss, lr, ...); "
                   "default val_accuracy for several runs");
  plot->add_option("-o,--output", f.output,
                   "The SVG file to write (default RUN/curves.svg for one run, plot.svg for a comparison)");
  return {plot, [flags] { return plot_command(*flags); }};
}

}  // namespace nabla::cli
