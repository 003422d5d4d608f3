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
void map_biased_into(T* z, const T* bias, T* a, int64_t rows, int64_t cols, F f) {
  for (int64_t i = 0; i < rows; ++i) {
    T* zi = z + i * cols;
    T* ai = a + i * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const T v = zi[j] + bias[j];
      zi[j] = v;
      ai[j] = f(v);
    }
  }
}

// One pass: delta[k] *= g(a[k]).
template <class T, class G>
void map_derivative(T* delta, const T* a, int64_t n, G g) {
  for (int64_t k = 0; k < n; ++k) delta[k] *= g(a[k]);
}

}  // namespace

template <class T>
NABLA_PER_CPU void bias_activate(Activation act, double slope, T* z, const T* bias, int64_t rows, int64_t cols,
                                 int64_t ld) {
  const T s = T(slope);
  if (ld == 0) ld = cols;
  switch (act) {
    case Activation::sigmoid:
      map_biased(z, bias, rows, cols, ld, [](T v) { return sigmoid(v); });
      break;
    case Activation::tanh:
      map_biased(z, bias, rows, cols, ld, [](T v) { return std::tanh(v); });
      break;
    case Activation::relu:
      map_biased(z, bias, rows, cols, ld, [](T v) { return v > 0 || v != v ? v : T(0); });
      break;  // NaN stays NaN, as in PyTorch
    case Activation::leaky_relu:
      map_biased(z, bias, rows, cols, ld, [s](T v) { return v > 0 ? v : s * v; });
      break;
    case Activation::linear:
      map_biased(z, bias, rows, cols, ld, [](T v) { return v; });
      break;
    case Activation::softmax:
      softmax_rows(z, bias, z, rows, cols, ld);
      break;
  }
}

template <class T>
void bias_activate_into(Activation act, double slope, T* z, const T* bias, T* a, int64_t rows, int64_t cols) {
  const T s = T(slope);
  switch (act) {
    case Activation::sigmoid:
      map_biased_into(z, bias, a, rows, cols, [](T v) { return sigmoid(v); });
      break;
    case Activation::tanh:
      map_biased_into(z, bias, a, rows, cols, [](T v) { return std::tanh(v); });
      break;
    case Activation::relu:
      map_biased_into(z, bias, a, rows, cols, [](T v) { return v > 0 || v != v ? v : T(0); });
      break;  // NaN stays NaN, as in PyTorch
    case Activation::leaky_relu:
      map_biased_into(z, bias, a, rows, cols, [s](T v) { return v > 0 ? v : s * v; });
      break;
    case Activation::linear:
      map_biased_into(z, bias, a, rows, cols, [](T v) { return v; });
      break;
    case Activation::softmax:
      softmax_rows(z, bias, a, rows, cols, cols);
      break;
  }
}

template <class T>
NABLA_PER_CPU void mul_derivative(Activation act, double slope, T* delta, const T* a, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  const T s = T(slope);
  switch (act) {
    case Activation::sigmoid:
      map_derivative(delta, a, n, [](T v) { return v * (T(1) - v); });
      break;
    case Activation::tanh:
      map_derivative(delta, a, n, [](T v) { return T(1) - v * v; });
      break;
    case Activation::relu:
      map_derivative(delta, a, n, [](T v) { return v > 0 ? T(1) : T(0); });
      break;
    case Activation::leaky_relu:
      map_derivative(delta, a, n, [s](T v) { return v > 0 ? T(1) : s; });
      break;
    case Activation::linear:
      break;
    case Activation::softmax:
      throw InternalError("mul_derivative: softmax's Jacobian is applied by the loss");
  }
}

double activate(Activation act, double slope, double z) {
  double bias = 0;
  if (act == Activation::softmax) return 1.0;  // a one-element row
  bias_activate(act, slope, &z, &bias, 1, 1);
  return z;
}

double derivative_from_output(Activation act, double slope, double a) {
  double d = 1;
  if (act != Activation::softmax) mul_derivative(act, slope, &d, &a, 1, 1);
  return d;
}

template void bias_activate<float>(Activation, double, float*, const float*, int64_t, int64_t, int64_t);
template void bias_activate<double>(Activation, double, double*, const double*, int64_t, int64_t, int64_t);
template void bias_activate_into<float>(Activation, double, float*, const float*, float*, int64_t, int64_t);
template void bias_activate_into<double>(Activation, double, double*, const double*, double*, int64_t, int64_t);
template void mul_derivative<float>(Activation, double, float*, const float*, int64_t, int64_t);
template void mul_derivative<double>(Activation, double, double*, const double*, int64_t, int64_t);

}  // namespace nabla
