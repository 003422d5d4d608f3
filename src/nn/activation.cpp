#include "nn/activation.hpp"

#include <algorithm>
#include <cmath>

#include "math/per_cpu.hpp"
#include "util/error.hpp"

namespace nabla {

namespace {

// Logistic function, stable for large |z|: never evaluates exp of a large positive number.
template <class T>
T sigmoid(T z) {
  if (z >= 0) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

// z += bias, then each row of a becomes softmax(z) = exp(z − max) / Σ exp(z − max). a may be z.
template <class T>
void softmax_rows(T* z, const T* bias, T* a, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t i = 0; i < rows; ++i) {
    T* zi = z + i * ld;
    T* ai = a + i * ld;
    T m = zi[0] + bias[0];
    for (int64_t j = 0; j < cols; ++j) {
      zi[j] += bias[j];
      m = std::max(m, zi[j]);
    }
    T sum = 0;
    for (int64_t j = 0; j < cols; ++j) {
      ai[j] = std::exp(zi[j] - m);
      sum += ai[j];
    }
    const T inv = T(1) / sum;
    for (int64_t j = 0; j < cols; ++j) ai[j] *= inv;
  }
}

// The element-wise σ, each a small function the passes below inline.
template <class T>
T gelu(T z) {
  return T(0.5) * z * (T(1) + std::erf(z * T(M_SQRT1_2)));
}
constexpr double kSqrt2OverPi = 0.79788456080286535588, kGeluCubic = 0.044715;
template <class T>
T gelu_tanh(T z) {
  return T(0.5) * z * (T(1) + std::tanh(T(kSqrt2OverPi) * (z + T(kGeluCubic) * z * z * z)));
}

// Calls `pass` with the element-wise σ of `act` (not softmax), as a lambda it can inline.
template <class T, class Pass>
void with_sigma(Activation act, T s, Pass pass) {
  switch (act) {
    case Activation::sigmoid:
      return pass([](T v) { return sigmoid(v); });
    case Activation::tanh:
      return pass([](T v) { return std::tanh(v); });
    case Activation::relu:
      return pass([](T v) { return v > 0 || v != v ? v : T(0); });  // NaN stays NaN, as in PyTorch
    case Activation::leaky_relu:
      return pass([s](T v) { return v > 0 ? v : s * v; });
    case Activation::linear:
      return pass([](T v) { return v; });
    case Activation::gelu:
      return pass([](T v) { return gelu(v); });
    case Activation::gelu_tanh:
      return pass([](T v) { return gelu_tanh(v); });
    case Activation::silu:
      return pass([](T v) { return v * sigmoid(v); });
    case Activation::elu:
      return pass([s](T v) { return v > 0 ? v : s * std::expm1(v); });
    case Activation::softplus:  // max(z, 0) + log(1 + e^−|z|): no overflow for large |z|
      return pass([](T v) { return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))); });
    case Activation::softmax:
      break;
  }
  throw InternalError("with_sigma: softmax normalises rows, not elements");
}

// One pass over the matrix: z[i, j] = f(z[i, j] + bias[j]), in place.
template <class T, class F>
void map_biased(T* z, const T* bias, int64_t rows, int64_t cols, int64_t ld, F f) {
  for (int64_t i = 0; i < rows; ++i) {
    T* row = z + i * ld;
    for (int64_t j = 0; j < cols; ++j) row[j] = f(row[j] + bias[j]);
  }
}

// One pass keeping z: z[i, j] += bias[j], a[i, j] = f(z[i, j]).
template <class T, class F>
void map_biased_into(T* z, const T* bias, T* a, int64_t rows, int64_t cols, int64_t ld, F f) {
  for (int64_t i = 0; i < rows; ++i) {
    T* zi = z + i * ld;
    T* ai = a + i * ld;
    for (int64_t j = 0; j < cols; ++j) {
      const T v = zi[j] + bias[j];
      zi[j] = v;
      ai[j] = f(v);
    }
  }
}

// One pass: delta[k] *= g(x[k]), x being a or z.
template <class T, class G>
void map_derivative(T* delta, const T* x, int64_t n, G g) {
  for (int64_t k = 0; k < n; ++k) delta[k] *= g(x[k]);
}

}  // namespace

bool needs_z(Activation act) {
  return act == Activation::gelu || act == Activation::gelu_tanh || act == Activation::silu;
}

template <class T>
NABLA_PER_CPU void bias_activate(Activation act, double slope, T* z, const T* bias, int64_t rows, int64_t cols,
                                 int64_t ld) {
  if (ld == 0) ld = cols;
  if (act == Activation::softmax) return softmax_rows(z, bias, z, rows, cols, ld);
  with_sigma<T>(act, T(slope), [&](auto f) { map_biased(z, bias, rows, cols, ld, f); });
}

template <class T>
NABLA_PER_CPU void bias_activate_into(Activation act, double slope, T* z, const T* bias, T* a, int64_t rows,
                                      int64_t cols, int64_t ld) {
  if (ld == 0) ld = cols;
  if (act == Activation::softmax) return softmax_rows(z, bias, a, rows, cols, ld);
  with_sigma<T>(act, T(slope), [&](auto f) { map_biased_into(z, bias, a, rows, cols, ld, f); });
}

template <class T>
NABLA_PER_CPU void mul_derivative(Activation act, double slope, T* delta, const T* a, const T* z, int64_t rows,
                                  int64_t cols) {
  const int64_t n = rows * cols;
  const T s = T(slope);
  switch (act) {
    case Activation::sigmoid:
      return map_derivative(delta, a, n, [](T v) { return v * (T(1) - v); });
    case Activation::tanh:
      return map_derivative(delta, a, n, [](T v) { return T(1) - v * v; });
    case Activation::relu:
      return map_derivative(delta, a, n, [](T v) { return v > 0 ? T(1) : T(0); });
    case Activation::leaky_relu:
      return map_derivative(delta, a, n, [s](T v) { return v > 0 ? T(1) : s; });
    case Activation::linear:
      return;
    case Activation::elu:
      return map_derivative(delta, a, n, [s](T v) { return v > 0 ? T(1) : v + s; });
    case Activation::softplus:
      return map_derivative(delta, a, n, [](T v) { return -std::expm1(-v); });
    case Activation::gelu:  // Φ(z) + z·φ(z)
      return map_derivative(delta, z, n, [](T v) {
        const T inv_sqrt_2pi = T(0.39894228040143267794);
        return T(0.5) * (T(1) + std::erf(v * T(M_SQRT1_2))) + v * inv_sqrt_2pi * std::exp(T(-0.5) * v * v);
      });
    case Activation::gelu_tanh:
      return map_derivative(delta, z, n, [](T v) {
        const T t = std::tanh(T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v));
        return T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * v * v);
      });
    case Activation::silu:
      return map_derivative(delta, z, n, [](T v) {
        const T sv = sigmoid(v);
        return sv * (T(1) + v * (T(1) - sv));
      });
    case Activation::softmax:
      break;
  }
  throw InternalError("mul_derivative: softmax's Jacobian is applied by the loss");
}

double activate(Activation act, double slope, double z) {
  double bias = 0;
  if (act == Activation::softmax) return 1.0;  // a one-element row
  bias_activate(act, slope, &z, &bias, 1, 1);
  return z;
}

double derivative_at(Activation act, double slope, double z) {
  double d = 1;
  const double a = activate(act, slope, z);
  if (act != Activation::softmax) mul_derivative(act, slope, &d, &a, &z, 1, 1);
  return d;
}

template void bias_activate<float>(Activation, double, float*, const float*, int64_t, int64_t, int64_t);
template void bias_activate<double>(Activation, double, double*, const double*, int64_t, int64_t, int64_t);
template void bias_activate_into<float>(Activation, double, float*, const float*, float*, int64_t, int64_t, int64_t);
template void bias_activate_into<double>(Activation, double, double*, const double*, double*, int64_t, int64_t,
                                         int64_t);
template void mul_derivative<float>(Activation, double, float*, const float*, const float*, int64_t, int64_t);
template void mul_derivative<double>(Activation, double, double*, const double*, const double*, int64_t, int64_t);

}  // namespace nabla
