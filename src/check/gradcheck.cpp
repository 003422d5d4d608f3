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

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

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
    net.forward(x.data(), rows, &dropout);  // training mode: the gradient that training follows
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

namespace {

// Central differences of the loss on one batch, entry by entry, against backprop's gradients.
class FiniteDifferences {
 public:
  FiniteDifferences(Network<double>& net, std::vector<double>& x, const std::vector<int32_t>& labels,
                    const GradcheckOptions& opt, const Rng* masks, GradcheckReport& report)
      : net_(net), x_(x), labels_(labels), opt_(opt), masks_(masks), report_(report), rows_(int64_t(labels.size())) {
    report_.loss = cost();
    double z_max = 0;
    for (int64_t k = 0; k < rows_ * net_.outputs(); ++k) z_max = std::max(z_max, std::abs(net_.output_z()[k]));
    base_signature_ = kink_signature(net_, rows_);
    // The floor s: what a central difference can resolve (gradcheck.hpp).
    const double u = 0x1.0p-53;
    const double noise =
        16 * u * std::max({std::abs(report_.loss), z_max, 1.0}) / opt_.epsilon + opt_.epsilon * opt_.epsilon;
    report_.floor = opt_.floor >= 0 ? opt_.floor : noise / opt_.tolerance;
  }

  // The loss of the batch in training mode (batch_norm's statistics from the batch), with the same
  // dropout masks every time.
  double cost() {
    Rng dropout = masks_ ? *masks_ : Rng();
    net_.forward(x_.data(), rows_, &dropout);
    return net_.loss(labels_.data(), false).loss;
  }

  // One tensor: its values (perturbed in place and restored), backprop's gradients of them, its shape.
  TensorCheck check(const std::string& name, double* values, const double* analytic, const std::vector<int64_t>& shape,
                    size_t n, Rng& rng) {
    TensorCheck t;
    t.name = name;
    t.entries = int64_t(n);
    double diff2 = 0, g2 = 0, fd2 = 0;
    const double s = report_.floor;
    std::vector<EntryCheck> entries;
    const auto t0 = Clock::now();
    for (size_t k : pick(n, opt_.per_tensor, rng)) {
      double fd = 0;
      if (!difference(values, k, fd)) {
        ++t.kinks;
        continue;
      }
      const double g = analytic[k];
      ++t.checked;
      diff2 += (g - fd) * (g - fd);
      g2 += g * g;
      fd2 += fd * fd;
      report_.max_gradient = std::max(report_.max_gradient, std::abs(g));
      const double err = std::abs(g - fd) / std::max({std::abs(g), std::abs(fd), s});
      t.max_error = std::max(t.max_error, err);
      entries.push_back({entry_name(name, shape, k), g, fd, err});
    }
    report_.fd_seconds += seconds_since(t0);
    const double denom = std::max(std::sqrt(g2) + std::sqrt(fd2), s * std::sqrt(double(t.checked)));
    t.normwise = t.checked ? std::sqrt(diff2) / denom : 0;
    const size_t keep = std::min(entries.size(), size_t(std::max(opt_.worst, 0)));
    std::partial_sort(entries.begin(), entries.begin() + keep, entries.end(),
                      [](const EntryCheck& a, const EntryCheck& b) { return a.error > b.error; });
    entries.resize(keep);
    t.worst = std::move(entries);
    t.pass = t.normwise < opt_.tolerance && t.max_error < opt_.tolerance;
    return t;
  }

 private:
  // (C(v + ε) − C(v − ε)) / 2ε for values[k], over the step actually taken; false where the two
  // sides straddle a relu kink.
  bool difference(double* values, size_t k, double& fd) {
    const double saved = values[k];
    values[k] = saved + opt_.epsilon;
    const double plus = values[k];
    const double c_plus = cost();
    const uint64_t sig_plus = kink_signature(net_, rows_);
    values[k] = saved - opt_.epsilon;
    const double minus = values[k];
    const double c_minus = cost();
    const uint64_t sig_minus = kink_signature(net_, rows_);
    values[k] = saved;
    report_.forward_passes += 2;
    fd = (c_plus - c_minus) / (plus - minus);
    return sig_plus == base_signature_ && sig_minus == base_signature_;
  }

  Network<double>& net_;
  std::vector<double>& x_;
  const std::vector<int32_t>& labels_;
  const GradcheckOptions& opt_;
  const Rng* masks_;
  GradcheckReport& report_;
  const int64_t rows_;
  uint64_t base_signature_ = 0;
};

// Why a check that found no wrong entry still proves nothing, or "".
std::string refusal(const GradcheckReport& report) {
  int64_t checked = 0;
  for (const TensorCheck& t : report.tensors) checked += t.checked;
  if (checked == 0) return "no entry could be checked (every one straddles a kink)";
  if (report.max_gradient >= report.floor) return "";
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "every gradient is below the noise floor s = %.2g (largest %.2g): the check would prove nothing",
                report.floor, report.max_gradient);
  return buf;
}

}  // namespace

GradcheckReport gradcheck(Network<double>& net, const std::vector<double>& x_in, const std::vector<int32_t>& labels,
                          const Gradients& analytic, const GradcheckOptions& opt, const Rng* masks) {
  GradcheckReport report;
  std::vector<double> x = x_in;  // perturbed in place for ∂C/∂x
  report.backprop_seconds = analytic.seconds;
  report.parameters = int64_t(net.params().size());
  FiniteDifferences fd(net, x, labels, opt, masks, report);
  Rng rng = Rng::stream(opt.seed, Stream::gradcheck_entries);
  for (const TensorInfo& ti : net.tensors())
    if (ti.trained)  // not batch_norm's running statistics, which no gradient moves
      report.tensors.push_back(fd.check(ti.name, net.params().data() + ti.offset, analytic.params.data() + ti.offset,
                                        ti.shape, ti.size(), rng));
  if (opt.check_input)
    report.tensors.push_back(
        fd.check("input", x.data(), analytic.input.data(), {int64_t(labels.size()), net.inputs()}, x.size(), rng));
  report.pass = std::all_of(report.tensors.begin(), report.tensors.end(), [](const TensorCheck& t) { return t.pass; });
  report.refusal = refusal(report);
  if (!report.refusal.empty()) report.pass = false;
  return report;
}

void print_report(std::ostream& out, const GradcheckReport& r, const GradcheckOptions& opt) {
  char line[512];
  std::snprintf(line, sizeof line, "loss C = %.10g; eps = %.1e, tolerance = %.1e, floor s = %.2e%s\n", r.loss,
                opt.epsilon, opt.tolerance, r.floor,
                opt.floor >= 0 ? " (set)" : " (= (16u*max(|C|,max|z|,1)/eps + eps^2) / tolerance)");
  out << line;
  int width = 18;  // the tensor column: wider for a norm's tensors' longer names
  for (const TensorCheck& t : r.tensors) width = std::max(width, int(t.name.size()));
  std::snprintf(line, sizeof line, "%-*s %9s %8s %6s %11s %11s  %s\n", width, "tensor", "entries", "checked", "kinks",
                "norm-wise", "worst", "worst entries (backprop g, finite difference, error)");
  out << line;
  for (const TensorCheck& t : r.tensors) {
    std::snprintf(line, sizeof line, "%-*s %9lld %8lld %6lld %11.2e %11.2e  %s", width, t.name.c_str(),
                  (long long)t.entries, (long long)t.checked, (long long)t.kinks, t.normwise, t.max_error,
                  t.pass ? "ok" : "FAIL");
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
