#include "cli/inspect_report.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "cli/summary.hpp"
#include "config/json.hpp"
#include "train/run_folder.hpp"
#include "util/format.hpp"

namespace nabla {

namespace {

using ojson = nlohmann::ordered_json;

struct TensorStats {
  std::string name;
  std::vector<int64_t> shape;
  int64_t count = 0, non_finite = 0;
  double min = 0, max = 0, mean = 0, std = 0;  // over the finite values
};

TensorStats stats_of(const std::string& name, std::vector<int64_t> shape, const float* v, size_t n) {
  TensorStats s{name, std::move(shape), int64_t(n)};
  double sum = 0, sum2 = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int64_t finite = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) {
      ++s.non_finite;
      continue;
    }
    const double x = v[i];
    sum += x, sum2 += x * x, lo = std::min(lo, x), hi = std::max(hi, x), ++finite;
  }
  if (finite > 0) {
    s.min = lo, s.max = hi, s.mean = sum / double(finite);
    s.std = std::sqrt(std::max(0.0, sum2 / double(finite) - s.mean * s.mean));
  }
  return s;
}

// The model's tensors and the optimiser's state.
std::vector<TensorStats> tensor_stats(const io::Checkpoint& ck) {
  const Network<float> net(ck.config.layers, ck.inputs, ck.outputs, ck.config.loss.type, 1);
  std::vector<TensorStats> all;
  for (const TensorInfo& t : net.tensors())
    all.push_back(stats_of(t.name, t.shape, ck.params.data() + t.offset, t.size()));
  if (!ck.optimizer_state.empty()) {
    const int64_t n = int64_t(ck.params.size());
    all.push_back(stats_of("optimizer.state", {int64_t(ck.optimizer_state.size()) / n, n}, ck.optimizer_state.data(),
                           ck.optimizer_state.size()));
  }
  return all;
}

// The metrics row of the checkpoint's epoch, from its run folder; null when there is none.
ojson metrics_row(const std::string& path, int64_t epoch) {
  std::ifstream in(std::filesystem::path(run_dir_of(path)) / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const ojson row = ojson::parse(line, nullptr, false);
    if (!row.is_discarded() && row.contains("epoch") && row["epoch"] == epoch) return row;
  }
  return nullptr;
}

}  // namespace

void print_inspection(std::ostream& out, const std::string& path, const io::Checkpoint& ck) {
  const io::RunState& s = ck.state;
  out << "checkpoint " << path << ": nabla checkpoint format " << ck.format_version << ", verified (header, offsets, "
      << (ck.format_version == "1" ? "the tensors' CRC-32" : "both CRC-32s") << ", shapes against the config)\n"
      << "position: epoch " << s.epoch << ", step " << s.step
      << (s.batch > 0 ? ", batch " + std::to_string(s.batch) + " of the next epoch (saved on a signal)" : "")
      << "; optimizer " << ck.optimizer << " after " << s.optimizer_steps << " steps; learning rate "
      << printf_string("%.6g", s.lr) << "\n";
  if (s.best_epoch > 0)
    out << "best: epoch " << s.best_epoch << ", " << ck.config.training.early_stopping.metric << " "
        << printf_string("%.6g", s.best_metric) << "\n";
  const ojson row = metrics_row(path, s.epoch);
  if (!row.is_null()) out << "metrics of epoch " << s.epoch << " (metrics.jsonl): " << row.dump() << "\n";
  out << "\n";
  print_model_summary(out, ck.config, ck.inputs, ck.outputs);
  out << "\n";
  char line[256];
  const std::vector<TensorStats> stats = tensor_stats(ck);
  int width = 18;  // the tensor column: wider for a norm's tensors' longer names
  for (const TensorStats& t : stats) width = std::max(width, int(t.name.size()));
  std::snprintf(line, sizeof line, "%-*s %-5s %-12s %10s %12s %12s %12s %12s %10s\n", width, "tensor", "dtype", "shape",
                "bytes", "min", "max", "mean", "std", "non-finite");
  out << line;
  for (const TensorStats& t : stats) {
    std::snprintf(line, sizeof line, "%-*s %-5s %-12s %10lld %12.5g %12.5g %12.5g %12.5g %10lld\n", width,
                  t.name.c_str(), "F32", shape_text(t.shape).c_str(), (long long)(t.count * 4), t.min, t.max, t.mean,
                  t.std, (long long)t.non_finite);
    out << line;
  }
  out << "\nconfig:\n" << to_json(ck.config).dump(2) << "\n";
}

void print_inspection_json(std::ostream& out, const std::string& path, const io::Checkpoint& ck) {
  const io::RunState& s = ck.state;
  ojson j;
  j["checkpoint"] = path;
  j["format_version"] = ck.format_version;
  j["epoch"] = s.epoch;
  j["step"] = s.step;
  j["batch"] = s.batch;
  j["optimizer"] = ck.optimizer;
  j["optimizer_steps"] = s.optimizer_steps;
  j["lr"] = s.lr;
  j["best_epoch"] = s.best_epoch;
  j["best_metric"] = s.best_metric;
  j["metrics"] = metrics_row(path, s.epoch);
  j["inputs"] = ck.inputs;
  j["outputs"] = ck.outputs;
  ojson tensors = ojson::array();
  for (const TensorStats& t : tensor_stats(ck))
    tensors.push_back({{"name", t.name},
                       {"dtype", "F32"},
                       {"shape", t.shape},
                       {"bytes", t.count * 4},
                       {"min", t.min},
                       {"max", t.max},
                       {"mean", t.mean},
                       {"std", t.std},
                       {"non_finite", t.non_finite}});
  j["tensors"] = std::move(tensors);
  j["config"] = to_json(ck.config);
  out << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

}  // namespace nabla
