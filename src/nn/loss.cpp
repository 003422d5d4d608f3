#include "nn/loss.hpp"

#include <algorithm>
#include <cmath>

#include "nn/activation.hpp"

namespace nabla {

namespace {

// The target yᵢⱼ: one-hot of the label, or the label itself for a single output unit.
inline double target(int32_t label, int64_t j, int64_t cols) {
  return cols == 1 ? double(label) : (label == j ? 1.0 : 0.0);
}

template <class T>
bool is_correct(const T* a_row, int32_t label, int64_t cols) {
  return predicted_class(a_row, cols) == label;
}

}  // namespace

template <class T>
LossResult loss_and_delta(LossKind loss, Activation output, double slope, const T* z, const T* a, const int32_t* labels,
                          int64_t rows, int64_t cols, T* delta, int64_t batch_rows) {
  LossResult r;
  double total = 0;
  const T inv_b = T(1) / T(batch_rows);
  for (int64_t i = 0; i < rows; ++i) {
    const T* zi = z + i * cols;
    const T* ai = a + i * cols;
    const int32_t label = labels[i];
    r.correct += is_correct(ai, label, cols);
    switch (loss) {
      case LossKind::cross_entropy: {  // log Σ exp(z) − z_y, with the max taken out
        const T m = *std::max_element(zi, zi + cols);
        T sum = 0;
        for (int64_t j = 0; j < cols; ++j) sum += std::exp(zi[j] - m);
        total += double(m + std::log(sum) - zi[label]);
        break;
      }
      case LossKind::binary_cross_entropy:
        for (int64_t j = 0; j < cols; ++j) {
          const T y = T(target(label, j, cols));
          total += double(std::max(zi[j], T(0)) - zi[j] * y + std::log1p(std::exp(-std::abs(zi[j]))));
        }
        break;
      case LossKind::mse:
        for (int64_t j = 0; j < cols; ++j) {
          const T d = ai[j] - T(target(label, j, cols));
          total += 0.5 * double(d * d);
        }
        break;
    }
    if (!delta) continue;
    T* di = delta + i * cols;
    for (int64_t j = 0; j < cols; ++j) di[j] = (ai[j] - T(target(label, j, cols))) * inv_b;  // (a − y)/B
    if (loss != LossKind::mse) continue;  // the fused losses stop here: δᴸ = (a − y)/B
    if (output == Activation::softmax) {  // δ = a ⊙ (g − ⟨a, g⟩)
      T dot = 0;
      for (int64_t j = 0; j < cols; ++j) dot += ai[j] * di[j];
      for (int64_t j = 0; j < cols; ++j) di[j] = ai[j] * (di[j] - dot);
    }
  }
  if (delta && loss == LossKind::mse && output != Activation::softmax)
    mul_derivative(output, slope, delta, a, rows, cols);  // BP1: δᴸ = ∇ₐC ⊙ σ′(zᴸ)
  r.loss = total / double(rows);
  return r;
}

template LossResult loss_and_delta<float>(LossKind, Activation, double, const float*, const float*, const int32_t*,
                                          int64_t, int64_t, float*, int64_t);
template LossResult loss_and_delta<double>(LossKind, Activation, double, const double*, const double*, const int32_t*,
                                           int64_t, int64_t, double*, int64_t);

}  // namespace nabla
