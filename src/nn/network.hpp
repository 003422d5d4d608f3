#pragma once
// A feedforward network of dense layers, trained by backpropagation over whole mini-batches.
//
// Layout. All parameters live in one contiguous buffer, the gradients in a twin buffer of the same
// layout; each dense layer l views into them: W (out x in, row-major — PyTorch's nn.Linear.weight)
// then b (out). The optimiser, the checkpoint and the gradient check are each one loop over them.
// Activations are batch-major: a (rows x units), row-major, one sample a row.
//
// Forward, per dense layer (one GEMM, one fused pass):   z = a_prev · Wᵀ + b,   a = σ(z)
// Backward, the four equations of backpropagation over the batch:
//   BP1  δᴸ = ∇ₐC ⊙ σ′(zᴸ)                      (the loss, loss.hpp)
//   BP2  δˡ = (δˡ⁺¹ · Wˡ⁺¹) ⊙ σ′(zˡ)              (one GEMM, one fused pass)
//   BP3  ∂C/∂bˡ = Σ over the batch of δˡ         (column sums)
//   BP4  ∂C/∂Wˡ = (δˡ)ᵀ · aˡ⁻¹                    (one GEMM)
// The book (Nielsen, ch. 2) writes one sample a column, so its wᵀδ becomes δ·W here and its δ aᵀ
// becomes δᵀ·a. Layers are counted from 0 here, and the input is "layer −1".
//
// Dropout after a dense layer multiplies its activations by a mask of 0 and 1/(1 − p) (inverted
// dropout) while training; in evaluation it does nothing. A dropout before the first dense layer
// drops inputs.
//
// All workspaces are allocated at construction for the largest batch: forward, loss and backward
// allocate nothing. The same code runs in float (training) and double (the gradient check).
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "math/rng.hpp"
#include "nn/loss.hpp"

namespace nabla {

// A named view of one parameter tensor, as it appears in checkpoints and gradient-check reports.
struct TensorInfo {
  std::string name;              // layers.{i}.weight or layers.{i}.bias, i counting dense layers
  size_t offset = 0;             // into params() / grads()
  std::vector<int64_t> shape;    // [out, in] or [out]
  size_t size() const;
};

template <class T>
class Network {
 public:
  struct Dense {
    int64_t in = 0, out = 0;
    size_t w = 0, b = 0;         // offsets of W and b in params() and grads()
    Activation act = Activation::linear;
    double slope = 0;            // leaky_relu's slope for z < 0
    Init init = Init::glorot_uniform;
    double dropout = 0;          // rate of the dropout applied to this layer's output
  };

  // `layers` as in the config (a last dense layer with units 0 gets `outputs` units); `inputs` is
  // the feature count; `max_batch` sizes the workspaces.
  Network(const std::vector<LayerConfig>& layers, int64_t inputs, int64_t outputs, LossKind loss,
          int64_t max_batch);

  // A replica for data-parallel training: the same architecture and workspaces of its own, but it
  // reads the parameters of `primary` (no copy) and keeps gradients of its own.
  Network(const Network& primary, int64_t max_batch);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Draws the weights (and the gaussian init's biases) from `rng`; biases are 0 otherwise.
  void initialize(Rng& rng);

  // Forward over x (rows x inputs, row-major; it must stay valid until backward). With a dropout
  // rng the network is in training mode; without, in evaluation mode. Returns the output
  // activations (rows x outputs), valid until the next forward.
  const T* forward(const T* x, int64_t rows, Rng* dropout_rng = nullptr);

  // The loss of the last forward against `labels` (mean over its rows), with the count of correct
  // predictions. With want_delta, it also computes δᴸ for backward, for the mean over `batch_rows`
  // samples (default: this forward's rows; a shard of a larger batch passes the whole batch's).
  LossResult loss(const int32_t* labels, bool want_delta, int64_t batch_rows = 0);

  // Fills grads() with ∂C/∂θ of the last forward and loss(want_delta = true). With grad_x (rows x
  // inputs) it also gives ∂C/∂x, the δ recurrence carried one step below the first layer.
  void backward(T* grad_x = nullptr);

  std::vector<T>& params() { return *params_; }
  const std::vector<T>& params() const { return *params_; }
  std::vector<T>& grads() { return grads_; }
  const std::vector<T>& grads() const { return grads_; }
  const std::vector<Dense>& layers() const { return dense_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  int64_t inputs() const { return inputs_; }
  int64_t outputs() const { return dense_.back().out; }
  int64_t max_batch() const { return max_batch_; }
  LossKind loss_kind() const { return loss_; }

  // The output activations of the last forward, and the activations of dense layer l (rows x out).
  const T* output() const { return a_.back().data(); }
  const T* output_z() const { return z_out_.data(); }
  const T* activations(size_t l) const { return a_[l].data(); }

  // True when every gradient is finite (one pass over the gradient buffer).
  bool grads_finite() const;
  // True when the last backward's gradients are certainly finite, known without reading them:
  // every δ and every activation was finite, and for every layer B·max|δ|·max|a_prev| (a bound on
  // each entry of δᵀ·a_prev and of the column sums of δ) stays far below the largest float, so no
  // sum can overflow. Costs a pass over the small δ and activation matrices, not the weights.
  bool grads_bounded() const { return grads_bounded_; }
  // Where the first non-finite value is, for the message that stops a diverging run: the first
  // layer whose activations (of the last forward) or gradients hold a NaN or an infinity, e.g.
  // "the output of layers.1 (relu)" or "layers.2.weight's gradient". Empty when all are finite.
  std::string first_nonfinite() const;

  // Multiply-adds of one sample's forward pass (Σ in·out); backward costs twice that.
  int64_t forward_macs() const;

 private:
  // Allocates the workspaces for max_batch rows.
  void allocate(int64_t max_batch);

  // The input that dense layer l reads: the (dropped-out) activations below it, or x.
  const T* input_of(size_t l) const;

  LossKind loss_;
  int64_t inputs_ = 0;
  int64_t max_batch_ = 0;
  double input_dropout_ = 0;
  std::vector<Dense> dense_;
  std::vector<TensorInfo> tensors_;
  std::vector<T> own_params_;          // empty in a replica
  std::vector<T>* params_ = &own_params_;
  std::vector<T> grads_;

  // Workspaces, each max_batch rows.
  std::vector<std::vector<T>> a_;     // per dense layer: z, then a = σ(z) in place
  std::vector<std::vector<T>> drop_;  // per dense layer with dropout: a ⊙ mask (empty otherwise)
  std::vector<std::vector<T>> mask_;  // per dense layer with dropout: 0 or 1/(1 − p)
  std::vector<T> x_drop_, x_mask_;    // input dropout
  std::vector<T> z_out_;              // the output layer's z, kept for the fused losses
  std::vector<T> delta_, delta_prev_; // δ of the current layer and of the one below

  // State of the last forward.
  const T* x_ = nullptr;
  int64_t rows_ = 0;
  bool dropped_ = false;
  bool grads_bounded_ = false;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace nabla
