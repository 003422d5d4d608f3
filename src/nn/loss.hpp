#pragma once
// Losses, each the MEAN over the batch, and their output error δᴸ = ∂C/∂zᴸ (BP1), which carries the
// 1/B of the mean so that the gradients backprop computes are exactly those of the loss reported.
//
//   cross_entropy (softmax output):   C = −(1/B) Σᵢ log aᵢ,yᵢ            δᴸ = (a − y)/B
//   binary_cross_entropy (sigmoid):   C = −(1/B) Σᵢ Σⱼ [y log a + (1 − y) log(1 − a)]   δᴸ = (a − y)/B
//   mse (any output):                 C = (1/2B) Σᵢ ‖aᵢ − yᵢ‖²          δᴸ = (a − y)/B ⊙ σ′(zᴸ)
//
// y is the one-hot code of the label; for a network with a single output unit it is the label itself
// (0 or 1). Both fused losses are computed from z, so they are exact and stable: log Σ exp(z) − z_y
// with the max taken out, and max(z, 0) − z·y + log(1 + e^−|z|). With softmax under mse, δᴸ applies
// the softmax Jacobian: δ = a ⊙ (g − ⟨a, g⟩), g = (a − y)/B.
#include <algorithm>
#include <cstdint>

#include "config/types.hpp"

namespace nabla {

struct LossResult {
  double loss = 0;      // mean over the batch
  int64_t correct = 0;  // samples whose predicted class is the label
};

// The class a row of output activations predicts: the largest output (the first of equal ones), or
// for a single sigmoid unit 1 when a > 0.5.
template <class T>
int64_t predicted_class(const T* a_row, int64_t outputs) {
  if (outputs == 1) return a_row[0] > T(0.5) ? 1 : 0;
  return std::max_element(a_row, a_row + outputs) - a_row;
}

// z, a: rows x cols output pre-activations and activations; delta (rows x cols) receives δᴸ unless
// it is null. B, the batch the mean is over, is `batch_rows`: the rows themselves, or a whole batch
// of which these rows are one shard (then the shards' δ sum to the batch's gradient).
template <class T>
LossResult loss_and_delta(LossKind loss, Activation output, double slope, const T* z, const T* a, const int32_t* labels,
                          int64_t rows, int64_t cols, T* delta, int64_t batch_rows);

}  // namespace nabla
