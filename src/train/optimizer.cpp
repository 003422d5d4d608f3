#include "train/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "math/per_cpu.hpp"

namespace nabla {

namespace {

// Parameters a piece of update() covers: its five streams (gradient, parameters, moments, bf16
// twin) of 1,024 values each stay in L1 from the rule to the rounding.
constexpr size_t kPiece = 1024;

// The kernels: one pass each, with __restrict so that the compiler vectorises them without
// run-time overlap checks, compiled per CPU. Each returns nonzero when it wrote a NaN or an
// infinity, found as all_finite does (the exponent bits, an integer OR the compiler vectorises).
inline uint32_t not_finite(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return uint32_t((b & 0x7f800000u) == 0x7f800000u);
}

NABLA_PER_CPU uint32_t sgd(float* __restrict theta, const float* __restrict g, size_t n, float lr, float wd) {
  uint32_t bad = 0;
  for (size_t k = 0; k < n; ++k) {
    theta[k] -= lr * (g[k] + wd * theta[k]);
    bad |= not_finite(theta[k]);
  }
  return bad;
}

NABLA_PER_CPU uint32_t sgd_momentum(float* __restrict theta, float* __restrict v, const float* __restrict g, size_t n,
                                    float lr, float mu, float wd) {
  uint32_t bad = 0;
  for (size_t k = 0; k < n; ++k) {
    v[k] = mu * v[k] + g[k] + wd * theta[k];
    theta[k] -= lr * v[k];
    bad |= not_finite(theta[k]) | not_finite(v[k]);
  }
  return bad;
}

NABLA_PER_CPU uint32_t sgd_nesterov(float* __restrict theta, float* __restrict v, const float* __restrict g, size_t n,
                                    float lr, float mu, float wd) {
  uint32_t bad = 0;
  for (size_t k = 0; k < n; ++k) {
    const float gk = g[k] + wd * theta[k];
    v[k] = mu * v[k] + gk;
    theta[k] -= lr * (gk + mu * v[k]);
    bad |= not_finite(theta[k]) | not_finite(v[k]);
  }
  return bad;
}

struct AdamCoefficients {
  float lr, b1, b2, eps, c1, c2, l2, shrink;
};

NABLA_PER_CPU uint32_t adam(float* __restrict theta, float* __restrict m, float* __restrict v,
                            const float* __restrict g, size_t n, AdamCoefficients a) {
  uint32_t bad = 0;
  for (size_t k = 0; k < n; ++k) {
    const float gk = g[k] + a.l2 * theta[k];
    m[k] = a.b1 * m[k] + (1 - a.b1) * gk;
    v[k] = a.b2 * v[k] + (1 - a.b2) * gk * gk;
    // PyTorch: θ −= η · (m / (1 − β₁ᵗ)) / (√v / √(1 − β₂ᵗ) + ε)
    theta[k] = theta[k] * a.shrink - a.lr * (m[k] * a.c1) / (std::sqrt(v[k]) * a.c2 + a.eps);
    bad |= not_finite(theta[k]) | not_finite(v[k]);
  }
  return bad;
}

}  // namespace

Optimizer::Optimizer(const OptimizerConfig& config, size_t parameters) : c_(config), n_(parameters) {
  state_.assign(size_t(moment_buffers(c_)) * n_, 0.0f);
}

void Optimizer::begin_step() {
  ++t_;
  if (c_.type == OptimizerKind::sgd) return;
  c1_ = float(1.0 / (1.0 - std::pow(c_.beta1, double(t_))));
  c2_ = float(1.0 / std::sqrt(1.0 - std::pow(c_.beta2, double(t_))));
}

void Optimizer::step(float* theta, const float* grad, double lr) {
  begin_step();
  update(theta, grad, lr, 0, n_);
}

bool Optimizer::update(float* theta, const float* grad, double lr, size_t begin, size_t end, bf16* rounded) {
  bool finite = true;
  for (size_t at = begin; at < end; at += kPiece) {
    const size_t n = std::min(kPiece, end - at);
    finite = apply(theta, grad + (at - begin), float(lr), at, n) && finite;
    if (rounded) to_bf16(theta + at, rounded + at, n);
  }
  return finite;
}

bool Optimizer::apply(float* params, const float* grad, float lr, size_t begin, size_t n) {
  float* theta = params + begin;
  const float wd = float(c_.weight_decay);
  switch (c_.type) {
    case OptimizerKind::sgd: {
      const float mu = float(c_.momentum);
      if (mu == 0) return sgd(theta, grad, n, lr, wd) == 0;
      float* v = state_.data() + begin;
      return (c_.nesterov ? sgd_nesterov(theta, v, grad, n, lr, mu, wd)
                          : sgd_momentum(theta, v, grad, n, lr, mu, wd)) == 0;
    }
    case OptimizerKind::adam:
    case OptimizerKind::adamw: {
      const bool decoupled = c_.type == OptimizerKind::adamw;
      const AdamCoefficients a{lr,
                               float(c_.beta1),
                               float(c_.beta2),
                               float(c_.epsilon),
                               c1_,
                               c2_,
                               decoupled ? 0.0f : wd,
                               decoupled ? 1.0f - lr * wd : 1.0f};
      return adam(theta, state_.data() + begin, state_.data() + n_ + begin, grad, n, a) == 0;
    }
  }
  return true;
}

}  // namespace nabla
