#include "train/optimizer.hpp"

#include <cmath>

#include "math/finite.hpp"

namespace nabla {

namespace {

// The gradient of parameter k, for a block of parameters [begin, end) whose gradients are g[0 ..).
struct BlockGrad {
  const float* g;
  size_t begin;
  float operator()(size_t k) const { return g[k - begin]; }
};

}  // namespace

Optimizer::Optimizer(const OptimizerConfig& config, size_t parameters) : c_(config), n_(parameters) {
  size_t buffers = 0;
  if (c_.type == OptimizerKind::sgd) buffers = c_.momentum > 0 ? 1 : 0;
  else buffers = 2;
  state_.assign(buffers * n_, 0.0f);
}

void Optimizer::step(float* theta, const float* grad, double lr) {
  begin_step();
  update(theta, grad, lr, 0, n_);
}

bool Optimizer::update(float* theta, const float* grad, double lr, size_t begin, size_t end) {
  return apply(theta, BlockGrad{grad, begin}, lr, begin, end);
}

template <class Grad>
bool Optimizer::apply(float* theta, Grad grad, double lr_d, size_t begin, size_t end) {
  const float lr = float(lr_d), wd = float(c_.weight_decay);
  switch (c_.type) {
    case OptimizerKind::sgd: {
      const float mu = float(c_.momentum);
      if (mu == 0) {
        for (size_t k = begin; k < end; ++k) theta[k] -= lr * (grad(k) + wd * theta[k]);
        return all_finite(theta + begin, end - begin);
      }
      float* v = state_.data();
      if (c_.nesterov) {
        for (size_t k = begin; k < end; ++k) {
          const float g = grad(k) + wd * theta[k];
          v[k] = mu * v[k] + g;
          theta[k] -= lr * (g + mu * v[k]);
        }
      } else {
        for (size_t k = begin; k < end; ++k) {
          v[k] = mu * v[k] + grad(k) + wd * theta[k];
          theta[k] -= lr * v[k];
        }
      }
      return all_finite(theta + begin, end - begin) && all_finite(v + begin, end - begin);
    }
    case OptimizerKind::adam:
    case OptimizerKind::adamw: {
      const float b1 = float(c_.beta1), b2 = float(c_.beta2), eps = float(c_.epsilon);
      const double t = double(t_);
      const float c1 = float(1.0 / (1.0 - std::pow(c_.beta1, t)));  // bias corrections
      const float c2 = float(1.0 / std::sqrt(1.0 - std::pow(c_.beta2, t)));
      const bool decoupled = c_.type == OptimizerKind::adamw;
      const float l2 = decoupled ? 0.0f : wd;
      const float shrink = decoupled ? 1.0f - lr * wd : 1.0f;
      float* m = state_.data();
      float* v = state_.data() + n_;
      for (size_t k = begin; k < end; ++k) {
        const float g = grad(k) + l2 * theta[k];
        m[k] = b1 * m[k] + (1 - b1) * g;
        v[k] = b2 * v[k] + (1 - b2) * g * g;
        // PyTorch: θ −= η · (m / (1 − β₁ᵗ)) / (√v / √(1 − β₂ᵗ) + ε)
        theta[k] = theta[k] * shrink - lr * (m[k] * c1) / (std::sqrt(v[k]) * c2 + eps);
      }
      return all_finite(theta + begin, end - begin) && all_finite(v + begin, end - begin);
    }
  }
  return true;
}

}  // namespace nabla
