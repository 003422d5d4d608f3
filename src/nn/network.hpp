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
// Threads. One batch can be shared by several threads (parallel.hpp): each runs the forward pass,
// the loss and the δ recurrence (BP1, BP2) for its own rows, and then each computes BP3 and BP4 for
// its own units over the whole batch. Every thread's GEMMs are then independent, and the weight
// gradient comes out in blocks that the optimiser can apply at once, while they are in cache.
//
// bf16 (training.precision, math/bf16.hpp). With use_bf16(), a training batch's GEMMs take their
// operands rounded to bf16 and sum in float: each layer's input and δ are rounded once, by the pass
// that makes them, into a bf16 twin; the weights have a bf16 twin that the optimiser's step keeps
// current (Optimizer::update). Everything else, and every evaluation batch, stays in float.
//
// All workspaces are allocated at construction for the largest batch: forward, loss and backward
// allocate nothing. The same code runs in float (training) and double (the gradient check).
#include <cstdint>
#include <string>
#include <vector>

#include "config/types.hpp"
#include "math/bf16.hpp"
#include "math/rng.hpp"
#include "nn/loss.hpp"

namespace nabla {

// A named view of one parameter tensor, as it appears in checkpoints and gradient-check reports.
struct TensorInfo {
  std::string name;            // layers.{i}.weight or layers.{i}.bias, i counting dense layers
  size_t offset = 0;           // into params() / grads()
  std::vector<int64_t> shape;  // [out, in] or [out]
  size_t size() const;
};

template <class T>
class Network {
 public:
  struct Dense {
    int64_t in = 0, out = 0;
    size_t w_offset = 0;  // where W (out x in, row-major) starts in params() and grads()
    size_t b_offset = 0;  // where b (out) starts
    Activation act = Activation::linear;
    double slope = 0;  // the activation's parameter: leaky_relu's slope for z < 0, or elu's α
    Init init = Init::glorot_uniform;
    double dropout = 0;  // rate of the dropout applied to this layer's output
  };

  // `layers` as in the config (a last dense layer with units 0 gets `outputs` units); `inputs` is
  // the feature count; `max_batch` sizes the workspaces.
  Network(const std::vector<LayerConfig>& layers, int64_t inputs, int64_t outputs, LossSpec loss, int64_t max_batch);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Draws the weights (and the gaussian init's biases) from `rng`; biases are 0 otherwise.
  void initialize(Rng& rng);

  // --- The whole batch on the calling thread ----------------------------------------------------

  // Forward over x (rows x inputs, row-major; it must stay valid until backward). With a dropout
  // rng the network is in training mode; without, in evaluation mode. Returns the output
  // activations (rows x outputs), valid until the next forward.
  const T* forward(const T* x, int64_t rows, Rng* dropout_rng = nullptr);

  // The loss of the last forward against `labels` (mean over its rows), with the count of correct
  // predictions. With want_delta, it also computes δᴸ for backward. With `plain`, the loss without
  // its shaping (label smoothing, class weights): what evaluation reports.
  LossResult loss(const int32_t* labels, bool want_delta, bool plain = false);

  // Fills grads() with ∂C/∂θ of the last forward and loss(want_delta = true). With grad_x (rows x
  // inputs) it also gives ∂C/∂x, the δ recurrence carried one step below the first layer.
  void backward(T* grad_x = nullptr);

  // --- One batch shared by threads (the trainer's step, parallel.hpp) ---------------------------
  // begin_batch once; then every thread runs forward_rows, loss_rows and delta_rows on its own rows
  // [r0, r1); then, once all have, weight_gradient on disjoint blocks of units. The whole-batch
  // functions above are these with a single range.

  void begin_batch(const T* x, int64_t rows, bool training);
  // The forward pass of rows [r0, r1) from dense layer `from` up (the input dropout with from = 0).
  void forward_rows(int64_t r0, int64_t r1, Rng* dropout_rng, size_t from = 0);
  // The first layer can instead be split by units, so that each thread reads only its own rows of
  // the (largest) first weight matrix, which it also updates: a weight matrix that every thread
  // reads and one thread writes moves between the cores' caches at every step. Then, for all rows:
  // input_rows by rows (when needs_input_rows), forward_first_units by units, and
  // forward_rows(r0, r1, rng, 1) for the layers above. Needs a layer above the first.
  // input_rows prepares rows [r0, r1) of the input for the first layer: it applies the input
  // dropout and rounds them to bf16, each when it applies.
  bool first_layer_by_units() const { return dense_.size() >= 2; }
  bool needs_input_rows() const { return input_dropout_ > 0 || bf16_; }
  void input_rows(int64_t r0, int64_t r1, Rng* dropout_rng);
  void forward_first_units(int64_t u0, int64_t u1, Rng* dropout_rng);
  // The loss of rows [r0, r1) (their share of the batch's, loss.hpp) and their δᴸ, which carries
  // the 1/B of the whole batch, so that the rows' shares of the gradient add up to the batch's.
  // `labels` are the whole batch's.
  LossResult loss_rows(const int32_t* labels, int64_t r0, int64_t r1, bool want_delta);
  // BP2 for rows [r0, r1): δ of every layer. Returns whether the gradient these rows contribute is
  // certainly finite, known without computing it: every δ and activation is finite, and
  // B·max|δ|·max|a_prev| (a bound on the rows' share of each entry of δᵀ·a_prev and of the column
  // sums of δ) stays far below the largest T, for every layer.
  bool delta_rows(int64_t r0, int64_t r1);
  // BP3 and BP4 for units [u0, u1) of dense layer l, over the whole batch:
  //   grad_w ((u1 − u0) x in) = δ[:, u0:u1]ᵀ · a_prev        grad_b = column sums of δ[:, u0:u1]
  // It reads δ and the activations, never params(): the trainer's threads run it while others
  // update their blocks of params() (parallel.hpp). A term that read θ here would race.
  void weight_gradient(size_t l, int64_t u0, int64_t u1, T* grad_w, T* grad_b) const;

  // --- bf16 ------------------------------------------------------------------------------------
  // Training batches from now on run their GEMMs in bf16 (Network<float> only). Rounds params()
  // into their bf16 twin, which whoever changes params() then keeps current (the optimiser's update
  // does, Optimizer::update): call use_bf16() again after changing them otherwise.
  void use_bf16();
  // The twin, laid out as params(); null without use_bf16.
  bf16* params_bf16() { return bf16_ ? params16_.data() : nullptr; }

  // ----------------------------------------------------------------------------------------------

  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  // ∂C/∂θ in the layout of params(), as the whole-batch backward() leaves it. The threaded step
  // (parallel.hpp) makes its gradients block by block in its own scratch and does not write it.
  std::vector<T>& grads() { return grads_; }
  const std::vector<T>& grads() const { return grads_; }
  const std::vector<Dense>& layers() const { return dense_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  int64_t inputs() const { return inputs_; }
  int64_t outputs() const { return dense_.back().out; }
  int64_t max_batch() const { return max_batch_; }

  // The output layer's z of the last forward, and the activations of dense layer l.
  const T* output_z() const { return z_.back().data(); }
  const T* activations(size_t l) const { return a_[l].data(); }

  // Where the first non-finite value is, for the message that stops a diverging run: the first
  // layer whose activations (of the last forward) or δ hold a NaN or an infinity, e.g. "the output
  // of layers.1 (relu)". Empty when all are finite.
  std::string first_nonfinite() const;

 private:
  // One operand of a product: a row-major matrix in T, its bf16 twin at the same place (null
  // when this batch is not in bf16), and its leading dimension.
  struct Operand {
    const T* data;
    const bf16* twin;
    int ld;
    Operand rows(int64_t r0) const { return at(size_t(r0) * size_t(ld)); }  // from row r0 on
    Operand cols(int64_t c0) const { return at(size_t(c0)); }               // from column c0 on
    Operand at(size_t offset) const { return {data + offset, twin ? twin + offset : nullptr, ld}; }
  };
  Operand weights(size_t l) const;  // Wˡ (out x in)
  Operand input(size_t l) const;    // what dense layer l reads (rows x in)
  Operand delta(size_t l) const;    // δˡ (rows x out)
  // The input that dense layer l reads: the (dropped-out) activations below it, or x.
  const T* input_of(size_t l) const;
  // A product of the forward or backward pass: c (m x n) = op(a) · op(b), in T, or in bf16 from
  // the operands' twins for a bf16 training batch.
  void product(bool ta, bool tb, int m, int n, int k, Operand a, Operand b, T* c, int ldc) const;
  // Rounds rows [r0, r1), columns [c0, c1) of the input of dense layer l to its bf16 twin.
  void round_input(size_t l, int64_t r0, int64_t r1, int64_t c0, int64_t c1);

  LossSpec loss_;
  int64_t inputs_ = 0;
  int64_t max_batch_ = 0;
  double input_dropout_ = 0;
  std::vector<Dense> dense_;
  std::vector<TensorInfo> tensors_;
  std::vector<T> params_, grads_;

  // Workspaces, each max_batch rows.
  std::vector<std::vector<T>> a_;     // per dense layer: a = σ(z) (made in place from z, unless z_ keeps it)
  std::vector<std::vector<T>> drop_;  // per dense layer with dropout: a ⊙ mask (empty otherwise)
  std::vector<std::vector<T>> mask_;  // per dense layer with dropout: 0 or 1/(1 − p)
  std::vector<T> x_drop_, x_mask_;    // input dropout
  // Per dense layer: z, kept beside a for the output layer (the fused losses read it) and for the
  // activations whose σ′ needs it (empty otherwise).
  std::vector<std::vector<T>> z_;
  std::vector<std::vector<T>> delta_;  // per dense layer: δ (rows x out)

  // bf16 twins (use_bf16): of the parameters, of each dense layer's input and of each δ.
  bool bf16_ = false;
  std::vector<bf16> params16_;
  std::vector<std::vector<bf16>> input16_, delta16_;

  // The batch in progress.
  const T* x_ = nullptr;
  int64_t rows_ = 0;
  bool training_ = false;    // dropout applies
  bool bf16_batch_ = false;  // this batch's GEMMs run in bf16
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace nabla
