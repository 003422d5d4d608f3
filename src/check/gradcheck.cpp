#include "check/gradcheck.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <ostream>

namespace nabla {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A fingerprint of which side of 0 every relu-like unit is on after the last forward pass. Two
// forward passes with different fingerprints straddle a kink.
uint64_t kink_signature(const Network<double>& net, int64_t rows) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a over the sign bits
  const auto& layers = net.layers();
  for (size_t l = 0; l < layers.size(); ++l) {
    if (layers[l].act != Activation::relu && layers[l].act != Activation::leaky_relu) continue;
    const double* a = net.activations(l);
    const int64_t n = rows * layers[l].out;
    for (int64_t k = 0; k < n; ++k) h = (h ^ uint64_t(a[k] > 0)) * 1099511628211ULL;
  }
  return h;
}

// `count` distinct indices of [0, n), or all of them, in increasing order.
std::vector<size_t> pick(size_t n, int64_t count, Rng& rng) {
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), size_t(0));
  if (count <= 0 || size_t(count) >= n) return all;
  for (size_t i = 0; i < size_t(count); ++i) {  // partial Fisher–Yates
    const size_t j = i + size_t(rng.uniform() * double(n - i));
    std::swap(all[i], all[j]);
  }
  all.resize(size_t(count));
  std::sort(all.begin(), all.end());
  return all;
}

std::string entry_name(const std::string& tensor, const std::vector<int64_t>& shape, size_t k) {
  if (shape.size() == 1) return tensor + "[" + std::to_string(k) + "]";
  return tensor + "[" + std::to_string(int64_t(k) / shape[1]) + "," + std::to_string(int64_t(k) % shape[1]) + "]";
}

}  // namespace

Gradients backprop(Network<double>& net, const std::vector<double>& x, const std::vector<int32_t>& labels,
                    const Rng* masks) {
  Gradients g;
  const int64_t rows = int64_t(labels.size());
  g.input.resize(x.size());
  std::vector<double> times;
  for (int rep = 0; rep < 5; ++rep) {
    Rng dropout = masks ? *masks : Rng();
    const auto t0 = Clock::now();
    net.forward(x.data(), rows, masks ? &dropout : nullptr);
    g.loss = net.loss(labels.data(), true).loss;
    net.backward(g.input.data());
    times.push_back(seconds_since(t0));
  }
  std::nth_element(times.begin(), times.begin() + 2, times.end());
  g.seconds = times[2];
  g.params = net.grads();
  return g;
}

GradcheckReport gradcheck(Network<double>& net, const std::vector<double>& x, const std::vector<int32_t>& labels,
                          const GradcheckOptions& options, const Rng* masks) {
  return gradcheck(net, x, labels, backprop(net, x, labels, masks), options, masks);
}

GradcheckReport gradcheck(Network<double>& net, const std::vector<double>& x_in, const std::vector<int32_t>& labels,
                          const Gradients& analytic, const GradcheckOptions& opt, const Rng* masks) {
  GradcheckReport report;
  const int64_t rows = int64_t(labels.size());
  std::vector<double> x = x_in;  // perturbed in place for ∂C/∂x

  auto cost = [&]() {
    Rng dropout = masks ? *masks : Rng();  // the same masks every time
    net.forward(x.data(), rows, masks ? &dropout : nullptr);
    return net.loss(labels.data(), false).loss;
  };
  report.loss = cost();
  double z_max = 0;
  for (int64_t k = 0; k < rows * net.outputs(); ++k) z_max = std::max(z_max, std::abs(net.output_z()[k]));
  report.backprop_seconds = analytic.seconds;
  const uint64_t base_signature = kink_signature(net, rows);
  report.parameters = int64_t(net.params().size());

  const double u = 0x1.0p-53;
  const double noise = 16 * u * std::max({std::abs(report.loss), z_max, 1.0}) / opt.epsilon + opt.epsilon * opt.epsilon;
  const double s = opt.floor >= 0 ? opt.floor : noise / opt.tolerance;
  report.floor = s;

  // One tensor: values (perturbed in place), analytic gradients, shape.
  auto check = [&](const std::string& name, double* values, const double* analytic, const std::vector<int64_t>& shape,
                   size_t n, Rng& rng) {
    TensorCheck t;
    t.name = name;
    t.entries = int64_t(n);
    double diff2 = 0, g2 = 0, fd2 = 0;
    std::vector<EntryCheck> entries;
    const auto t0 = Clock::now();
    for (size_t k : pick(n, opt.per_tensor, rng)) {
      const double saved = values[k];
      values[k] = saved + opt.epsilon;
      const double plus = values[k];
      const double c_plus = cost();
      const uint64_t sig_plus = kink_signature(net, rows);
      values[k] = saved - opt.epsilon;
      const double minus = values[k];
      const double c_minus = cost();
      const uint64_t sig_minus = kink_signature(net, rows);
      values[k] = saved;
      report.forward_passes += 2;
      if (sig_plus != base_signature || sig_minus != base_signature) {
        ++t.kinks;
        continue;
      }
      const double g = analytic[k];
      const double fd = (c_plus - c_minus) / (plus - minus);  // the step actually taken
      ++t.checked;
      diff2 += (g - fd) * (g - fd);
      g2 += g * g;
      fd2 += fd * fd;
      report.max_gradient = std::max(report.max_gradient, std::abs(g));
      const double err = std::abs(g - fd) / std::max({std::abs(g), std::abs(fd), s});
      t.max_error = std::max(t.max_error, err);
      entries.push_back({entry_name(name, shape, k), g, fd, err});
    }
    report.fd_seconds += seconds_since(t0);
    const double denom = std::max(std::sqrt(g2) + std::sqrt(fd2), s * std::sqrt(double(t.checked)));
    t.normwise = t.checked ? std::sqrt(diff2) / denom : 0;
    const size_t keep = std::min(entries.size(), size_t(std::max(opt.worst, 0)));
    std::partial_sort(entries.begin(), entries.begin() + keep, entries.end(),
                      [](const EntryCheck& a, const EntryCheck& b) { return a.error > b.error; });
    entries.resize(keep);
    t.worst = std::move(entries);
    t.pass = t.normwise < opt.tolerance && t.max_error < opt.tolerance;
    report.tensors.push_back(std::move(t));
  };

  Rng rng = Rng::stream(opt.seed, Stream::gradcheck_entries);
  for (const TensorInfo& ti : net.tensors())
    check(ti.name, net.params().data() + ti.offset, analytic.params.data() + ti.offset, ti.shape, ti.size(), rng);
  if (opt.check_input) check("input", x.data(), analytic.input.data(), {rows, net.inputs()}, x.size(), rng);

  report.pass = std::all_of(report.tensors.begin(), report.tensors.end(), [](const TensorCheck& t) { return t.pass; });
  int64_t checked = 0;
  for (const TensorCheck& t : report.tensors) checked += t.checked;
  if (checked == 0) {
    report.refusal = "no entry could be checked (every one straddles a kink)";
  } else if (report.max_gradient < s) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "every gradient is below the noise floor s = %.2g (largest %.2g): the check would prove nothing",
                  s, report.max_gradient);
    report.refusal = buf;
  }
  if (!report.refusal.empty()) report.pass = false;
  return report;
}

void print_report(std::ostream& out, const GradcheckReport& r, const GradcheckOptions& opt) {
  char line[512];
  std::snprintf(line, sizeof line, "loss C = %.10g; eps = %.1e, tolerance = %.1e, floor s = %.2e%s\n", r.loss, opt.epsilon,
                opt.tolerance, r.floor, opt.floor >= 0 ? " (set)" : " (= (16u*max(|C|,max|z|,1)/eps + eps^2) / tolerance)");
  out << line;
  std::snprintf(line, sizeof line, "%-18s %9s %8s %6s %11s %11s  %s\n", "tensor", "entries", "checked", "kinks", "norm-wise",
                "worst", "worst entries (backprop g, finite difference, error)");
  out << line;
  for (const TensorCheck& t : r.tensors) {
    std::snprintf(line, sizeof line, "%-18s %9lld %8lld %6lld %11.2e %11.2e  %s", t.name.c_str(), (long long)t.entries,
                  (long long)t.checked, (long long)t.kinks, t.normwise, t.max_error, t.pass ? "ok" : "FAIL");
    out << line << "\n";
    for (const EntryCheck& e : t.worst) {
      std::snprintf(line, sizeof line, "    %-26s g = %+.10e  fd = %+.10e  err = %.2e\n", e.name.c_str(), e.analytic,
                    e.numeric, e.error);
      out << line;
    }
  }
  const double per_forward = r.forward_passes ? r.fd_seconds / double(r.forward_passes) : 0;
  std::snprintf(line, sizeof line,
                "cost: finite differences took %lld forward passes in %.3f s; backprop took 1 forward + 1 backward "
                "in %.6f s (%.0fx less)\n",
                (long long)r.forward_passes, r.fd_seconds, r.backprop_seconds,
                r.backprop_seconds > 0 ? r.fd_seconds / r.backprop_seconds : 0.0);
  out << line;
  std::snprintf(line, sizeof line,
                "      all %lld parameters by finite differences: %lld forward passes, about %.1f s, %.0fx backprop\n",
                (long long)r.parameters, 2 * (long long)r.parameters, per_forward * 2 * double(r.parameters),
                r.backprop_seconds > 0 ? per_forward * 2 * double(r.parameters) / r.backprop_seconds : 0.0);
  out << line;
  if (!r.refusal.empty()) out << "REFUSED: " << r.refusal << "\n";
  out << (r.pass ? "PASS" : "FAIL") << "\n";
}

}  // namespace nabla
