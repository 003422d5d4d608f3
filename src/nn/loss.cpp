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

double batch_weight(const LossSpec& loss, const int32_t* labels, int64_t rows) {
  if (loss.class_weights.empty()) return double(rows);
  double w = 0;
  for (int64_t i = 0; i < rows; ++i) w += loss.class_weights[size_t(labels[i])];
  return w;
}

template <class T>
LossResult loss_and_delta(const LossSpec& spec, Activation output, double slope, const T* z, const T* a,
                          const int32_t* labels, int64_t rows, int64_t cols, T* delta, double batch_weight) {
  LossResult r;
  double total = 0;
  const LossKind loss = spec.kind;
  const bool shaped = loss == LossKind::cross_entropy && spec.shaped();
  const T inv_b = T(1.0 / batch_weight);
  // Shaped cross-entropy: the target's smoothed share of each class, (ε/K)·w_c, and its sum.
  const double eps_k = spec.label_smoothing / double(cols);
  auto weight = [&](int64_t c) { return spec.class_weights.empty() ? 1.0 : spec.class_weights[size_t(c)]; };
  double spread = 0;
  for (int64_t c = 0; shaped && c < cols; ++c) spread += eps_k * weight(c);
  for (int64_t i = 0; i < rows; ++i) {
    const T* zi = z + i * cols;
    const T* ai = a + i * cols;
    const int32_t label = labels[i];
    r.correct += is_correct(ai, label, cols);
    T* di = delta ? delta + i * cols : nullptr;
    switch (loss) {
      case LossKind::cross_entropy: {  // log Σ exp(z) − z_y, with the max taken out
        const T m = *std::max_element(zi, zi + cols);
        T sum = 0;
        for (int64_t j = 0; j < cols; ++j) sum += std::exp(zi[j] - m);
        const double lse = double(m + std::log(sum));
        if (!shaped) {
          total += lse - double(zi[label]);
          break;
        }
        // Σ_c t_c (lse − z_c), with t_c = (1 − ε)·w_y·[c = y] + (ε/K)·w_c
        const double hit = (1 - spec.label_smoothing) * weight(label);
        double sample = hit * (lse - double(zi[label]));
        for (int64_t c = 0; c < cols; ++c) sample += eps_k * weight(c) * (lse - double(zi[c]));
        total += sample;
        if (!di) break;
        const double t_sum = hit + spread;  // δ = (T·a − t)/W
        for (int64_t j = 0; j < cols; ++j)
          di[j] = T((t_sum * double(ai[j]) - eps_k * weight(j) - (j == label ? hit : 0.0)) / batch_weight);
        continue;
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
    if (!di) continue;
    for (int64_t j = 0; j < cols; ++j) di[j] = (ai[j] - T(target(label, j, cols))) * inv_b;  // (a − y)/B
    if (loss != LossKind::mse) continue;  // the fused losses stop here: δᴸ = (a − y)/B
    if (output == Activation::softmax) {  // δ = a ⊙ (g − ⟨a, g⟩)
      T dot = 0;
      for (int64_t j = 0; j < cols; ++j) dot += ai[j] * di[j];
      for (int64_t j = 0; j < cols; ++j) di[j] = ai[j] * (di[j] - dot);
    }
  }
  if (delta && loss == LossKind::mse && output != Activation::softmax)
    mul_derivative(output, slope, delta, a, z, rows, cols);  // BP1: δᴸ = ∇ₐC ⊙ σ′(zᴸ)
  r.loss = total / batch_weight;
  return r;
}

template LossResult loss_and_delta<float>(const LossSpec&, Activation, double, const float*, const float*,
                                          const int32_t*, int64_t, int64_t, float*, double);
template LossResult loss_and_delta<double>(const LossSpec&, Activation, double, const double*, const double*,
                                           const int32_t*, int64_t, int64_t, double*, double);

}  // namespace nabla
