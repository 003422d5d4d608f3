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
//
// cross_entropy can be shaped, as PyTorch's CrossEntropyLoss(weight, label_smoothing) is. With class
// weights w and smoothing ε over K classes, sample i's target is tᵢ,c = (1 − ε)·w_yᵢ·[c = yᵢ] + (ε/K)·w_c
// and the mean is over the batch's weight W = Σᵢ w_yᵢ instead of B:
//   C = (1/W) Σᵢ Σ_c tᵢ,c (log Σ exp(zᵢ) − zᵢ,c)          δᴸᵢ = (Tᵢ·aᵢ − tᵢ)/W,  Tᵢ = Σ_c tᵢ,c
// which is (a − y)/B again for w = 1 and ε = 0. Evaluation always reports the plain cross-entropy
// (LossSpec::plain), so that val_loss means the same whatever shaped the training.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "config/types.hpp"

namespace nabla {

// A loss and its shaping: what the network's output is trained against.
struct LossSpec {
  LossKind kind = LossKind::cross_entropy;
  double label_smoothing = 0;         // ε (cross_entropy)
  std::vector<double> class_weights;  // w, one per class (cross_entropy; empty: all 1)

  LossSpec(LossKind k = LossKind::cross_entropy) : kind(k) {}  // NOLINT: a plain loss converts
  // The same loss without its shaping.
  LossSpec plain() const { return LossSpec(kind); }
  bool shaped() const { return label_smoothing > 0 || !class_weights.empty(); }
};

struct LossResult {
  // These rows' share of the batch's loss: Σ over them of each sample's loss, divided by the
  // batch's B (or W): for a whole batch, its loss; the shares of a batch's rows add up to it.
  double loss = 0;
  int64_t correct = 0;  // samples whose predicted class is the label
};

// The class a row of output activations predicts: the largest output (the first of equal ones), or
// for a single sigmoid unit 1 when a > 0.5.
template <class T>
int64_t predicted_class(const T* a_row, int64_t outputs) {
  if (outputs == 1) return a_row[0] > T(0.5) ? 1 : 0;
  return std::max_element(a_row, a_row + outputs) - a_row;
}

// The divisor of a batch's mean: B, or with class weights W = Σᵢ w_yᵢ over all its `rows` labels.
double batch_weight(const LossSpec& loss, const int32_t* labels, int64_t rows);

// z, a: rows x cols output pre-activations and activations; delta (rows x cols) receives δᴸ unless
// it is null. The mean is over `batch_weight` (above): of these rows themselves, or of a whole
// batch of which these rows are one shard (then the shards' δ sum to the batch's gradient).
// `slope` is the output activation's parameter (activation.hpp).
template <class T>
LossResult loss_and_delta(const LossSpec& loss, Activation output, double slope, const T* z, const T* a,
                          const int32_t* labels, int64_t rows, int64_t cols, T* delta, double batch_weight);

}  // namespace nabla
