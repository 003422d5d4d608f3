#pragma once
// The gradient check: backpropagation's ∂C/∂θ against central finite differences
//     ĝ = (C(θ + ε) − C(θ − ε)) / 2ε
// in double precision, on the very Network code that trains (Network<double>), for every parameter
// (or a random sample of each tensor) and for the input batch itself, so that a wrong δ is caught
// even below the first layer.
//
// Error measures. Per tensor, the norm-wise relative error ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖); per entry,
// |g − ĝ| / max(|g|, |ĝ|, s). The floor s keeps harmless tiny gradients from failing: a finite
// difference is itself only good to about
//     noise = κ·u·max(|C|, max|zᴸ|, 1)/ε + ε²   (rounding of C, with u = 2⁻⁵³ and κ = 16 for
//                                             the accumulated rounding of a forward pass, and the
//                                             largest output z since log Σ exp z rounds at its
//                                             scale; truncation, taking |C‴|/6 ≤ 1)
// so a gradient smaller than s = noise / tolerance cannot be resolved to the tolerance, and for it
// the check asks |g − ĝ| ≤ tolerance·s = noise instead. The norm-wise error uses the same floor,
// scaled by √(entries checked). Both must be under the tolerance (1e-6 by default: double precision
// central differences are good to ~1e-10 relative for gradients above s, so 1e-6 leaves four
// orders of margin while a single wrong term in a gradient shows up as an error of order 1).
//
// The network runs in training mode, whose gradient training follows: batch_norm normalises by the
// batch's statistics (so each sample's loss depends on every sample of the batch, and the input
// gradient checks that coupling), and dropout drops. Every forward pass starts from a copy of the
// `masks` generator (a fixed default one without it), so C(θ ± ε) and backprop all see the same
// dropout masks and the gradient of the dropped-out network is checked exactly. batch_norm's
// running statistics are no parameters of the loss: they are left out (and left unchanged).
//
// Kinks: where relu or leaky_relu units change sides between θ − ε and θ + ε, the loss is not
// differentiable inside the interval and the finite difference is meaningless; such entries are
// detected (the sign pattern of every relu-like unit is compared) and reported apart, not counted.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "nn/network.hpp"

namespace nabla {

// The defaults are `nabla train --gradcheck`'s (its --check-* flags set these fields).
struct GradcheckOptions {
  int64_t samples = 8;       // the training samples checked on (gradcheck_config: the first of the file)
  int64_t per_tensor = 200;  // entries checked per tensor, chosen at random; 0: all of them
  double epsilon = 1e-5;
  double tolerance = 1e-6;
  double floor = -1;        // s; negative: derived from ε, the loss and the tolerance as above
  bool check_input = true;  // also ∂C/∂x
  uint64_t seed = 0;        // picks the sampled entries
  int worst = 3;            // entries reported per tensor
};

struct EntryCheck {
  std::string name;  // layers.1.weight[3,17]
  double analytic = 0, numeric = 0, error = 0;
};

struct TensorCheck {
  std::string name;
  int64_t entries = 0, checked = 0, kinks = 0;
  double normwise = 0;   // ‖g − ĝ‖ / max(‖g‖ + ‖ĝ‖, s·√checked)
  double max_error = 0;  // the worst entry's error
  std::vector<EntryCheck> worst;
  bool pass = false;
};

struct GradcheckReport {
  std::vector<TensorCheck> tensors;
  double loss = 0;
  double floor = 0;         // s as used
  double max_gradient = 0;  // the largest |g| checked
  bool pass = false;
  std::string refusal;  // why it refuses to pass although no entry failed (empty otherwise)
  // The cost of each method.
  int64_t forward_passes = 0;  // by the finite differences
  double fd_seconds = 0;
  double backprop_seconds = 0;  // one forward + one backward (median of several)
  int64_t parameters = 0;
};

// What backpropagation says: ∂C/∂θ in the layout of net.params(), and ∂C/∂x (rows x inputs).
struct Gradients {
  std::vector<double> params, input;
  double loss = 0;
  double seconds = 0;  // one forward + one backward, the median of five
};

Gradients backprop(Network<double>& net, const std::vector<double>& x, const std::vector<int32_t>& labels,
                   const Rng* masks = nullptr);

// Checks `analytic` against finite differences of net's loss on the batch x (rows x inputs) with
// labels. The network's parameters are restored exactly afterwards.
GradcheckReport gradcheck(Network<double>& net, const std::vector<double>& x, const std::vector<int32_t>& labels,
                          const Gradients& analytic, const GradcheckOptions& options, const Rng* masks = nullptr);

// The check of backprop itself: gradcheck(net, x, labels, backprop(net, x, labels, masks), options, masks).
GradcheckReport gradcheck(Network<double>& net, const std::vector<double>& x, const std::vector<int32_t>& labels,
                          const GradcheckOptions& options, const Rng* masks = nullptr);

// The report as a table, with the cost comparison and PASS or FAIL last.
void print_report(std::ostream& out, const GradcheckReport& report, const GradcheckOptions& options);

}  // namespace nabla
