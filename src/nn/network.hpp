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
// Normalisation (LayerConfig::norm) sits between a dense layer's linear part and its activation:
//   ẑ = (z − μ) / √(σ² + ε),   y = γ ⊙ ẑ + β,   a = σ(y)
// with μ and σ² (biased) per unit over the batch's rows (batch_norm, in training; in evaluation the
// running estimates) or per row over the layer's units (layer_norm). Backward, from δʸ = ∂C/∂y
// (what BP2 or BP1 gives through σ′(y)):
//   ∂C/∂γ = Σᵢ δʸ ⊙ ẑ,   ∂C/∂β = Σᵢ δʸ   (column sums over the batch, as BP3)
//   δ = (γ/√(σ² + ε)) ⊙ (δʸ − mean(δʸ) − ẑ ⊙ mean(δʸ ⊙ ẑ))
// the means over the batch (batch_norm: every sample's δ depends on the whole batch) or over the
// units (layer_norm); δ = ∂C/∂z then feeds BP2, BP3 and BP4 as for any dense layer. batch_norm in
// evaluation is an affine map per unit: δ = (γ/√(running σ² + ε)) ⊙ δʸ. γ and β are parameters
// (layers.{i}.norm.weight and .bias, initialised to 1 and 0); batch_norm's running mean and variance
// (layers.{i}.norm.running_mean, .running_var; 0 and 1 at first) live in params() too, so that
// checkpoints, exports and resumes carry them, but no gradient or update touches them: the threaded
// step updates them from each training batch, as PyTorch does (momentum m, the unbiased variance):
// running = (1 − m)·running + m·statistic.
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
  std::string name;            // layers.{i}.weight, layers.{i}.bias, layers.{i}.norm.*, i counting dense layers
  size_t offset = 0;           // into params() / grads()
  std::vector<int64_t> shape;  // [out, in] or [out]
  bool trained = true;         // false for batch_norm's running statistics: no gradient, no update
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
    Norm norm = Norm::none;
    double norm_epsilon = 1e-5, norm_momentum = 0.1;
    size_t gamma_offset = 0, beta_offset = 0;  // γ and β (out each), with a norm
    size_t mean_offset = 0, var_offset = 0;    // batch_norm's running mean and variance (out each)
  };

  // `layers` as in the config (a last dense layer with units 0 gets `outputs` units); `inputs` is
  // the feature count; `max_batch` sizes the workspaces.
  Network(const std::vector<LayerConfig>& layers, int64_t inputs, int64_t outputs, LossSpec loss, int64_t max_batch);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Draws the weights (and the gaussian init's biases) from `rng`; biases are 0 otherwise; a norm's
  // γ is 1, β 0, its running mean 0 and variance 1.
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

  // `running`: this training batch also updates batch_norm's running statistics (the trainer's
  // step does; the whole-batch forward, which the gradient check runs, does not).
  void begin_batch(const T* x, int64_t rows, bool training, bool running = false);
  // The forward pass of rows [r0, r1) for dense layers [from, to) (the input dropout with from = 0).
  // A layer that needs the batch's statistics (below) ends a range: its rows get only their GEMM,
  // and finish_units then does the rest of it for all rows, by units, once every range has.
  void forward_rows(int64_t r0, int64_t r1, Rng* dropout_rng, size_t from = 0, size_t to = SIZE_MAX);
  // Whether dense layer l's forward pass needs statistics over the whole batch (batch_norm in
  // training), and the first such layer at or after `from` (layers().size() if none).
  bool batch_statistics(size_t l) const { return training_ && dense_[l].norm == Norm::batch_norm; }
  size_t next_batch_statistics(size_t from) const;
  // The rest of layer l's forward pass for units [u0, u1) over all rows, after its GEMM: the bias,
  // the norm, σ, the dropout (masks from dropout_rng) and the rounding for the layer above.
  void finish_units(size_t l, int64_t u0, int64_t u1, Rng* dropout_rng);
  // A softmax output normalises whole rows, so after finish_units of a block of its units, its
  // activation waits for activate_rows(l, r0, r1), rows [r0, r1) (softmax_after_units says when).
  bool softmax_after_units(size_t l) const { return batch_statistics(l) && dense_[l].act == Activation::softmax; }
  void activate_rows(size_t l, int64_t r0, int64_t r1);
  // The first layer can instead be split by units, so that each thread reads only its own rows of
  // the (largest) first weight matrix, which it also updates: a weight matrix that every thread
  // reads and one thread writes moves between the cores' caches at every step. Then, for all rows:
  // input_rows by rows (when needs_input_rows), forward_first_units by units, and
  // forward_rows(r0, r1, rng, 1) for the layers above. Needs a layer above the first.
  // input_rows prepares rows [r0, r1) of the input for the first layer: it applies the input
  // dropout and rounds them to bf16, each when it applies.
  bool first_layer_by_units() const { return dense_.size() >= 2 && dense_[0].norm != Norm::layer_norm; }
  bool needs_input_rows() const { return input_dropout_ > 0 || bf16_; }
  void input_rows(int64_t r0, int64_t r1, Rng* dropout_rng);
  void forward_first_units(int64_t u0, int64_t u1, Rng* dropout_rng);
  // The loss of rows [r0, r1) (their share of the batch's, loss.hpp) and their δᴸ, which carries
  // the 1/B of the whole batch, so that the rows' shares of the gradient add up to the batch's.
  // `labels` are the whole batch's.
  LossResult loss_rows(const int32_t* labels, int64_t r0, int64_t r1, bool want_delta);
  // BP2 for rows [r0, r1): δ of every layer from `from` down (from the output layer, whose δᴸ
  // loss_rows made, unless resumed: see below). ANDs into `bounded` whether the gradient these rows
  // contribute is certainly finite, known without computing it: every δ and activation is finite,
  // and B·max|δ|·max|a_prev| (a bound on the rows' share of each entry of δᵀ·a_prev and of the
  // column sums of δ) stays far below the largest T, for every layer.
  // A layer whose norm backward needs the whole batch (batch_statistics) stops the pass once its δʸ
  // is made: delta_rows returns it, norm_backward_units then makes its δ for all rows, by units,
  // and delta_rows(r0, r1, that layer, true, ...) goes on from it. Returns kDone at the end.
  static constexpr size_t kDone = SIZE_MAX;
  size_t delta_rows(int64_t r0, int64_t r1, bool& bounded, size_t from = SIZE_MAX, bool resumed = false);
  // batch_norm's backward for units [u0, u1) of layer l over all rows: δʸ to δ.
  void norm_backward_units(size_t l, int64_t u0, int64_t u1);
  // BP3 and BP4 for units [u0, u1) of dense layer l, over the whole batch:
  //   grad_w ((u1 − u0) x in) = δ[:, u0:u1]ᵀ · a_prev        grad_b = column sums of δ[:, u0:u1]
  // and with a norm, its γ's and β's ((u1 − u0) each). It reads δ and the activations, never
  // params(): the trainer's threads run it while others update their blocks of params()
  // (parallel.hpp). A term that read θ here would race.
  void weight_gradient(size_t l, int64_t u0, int64_t u1, T* grad_w, T* grad_b, T* grad_gamma = nullptr,
                       T* grad_beta = nullptr) const;

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
  // Where layer l's GEMM writes z: ẑ's buffer with a norm, else z_ when kept, else a_.
  T* gemm_out(size_t l);
  // After the GEMM, the rest of layer l's forward pass for rows [r0, r1), columns [c0, c1) (a
  // layer_norm needs whole rows, batch statistics whole columns): bias, norm, σ, dropout, rounding.
  void finish(size_t l, int64_t r0, int64_t r1, int64_t c0, int64_t c1, Rng* dropout_rng);
  // A row-local norm backward (layer_norm, or batch_norm in evaluation) for rows [r0, r1).
  void norm_backward_rows(size_t l, int64_t r0, int64_t r1);
  // What a norm's backward reads and writes of layer l: δ (δʸ on the way in), δʸ's copy, ẑ, γ.
  struct NormBuffers {
    int64_t out;
    T* delta;
    T* dy;
    const T* xhat;
    const T* gamma;
  };
  NormBuffers norm_buffers(size_t l);

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
  // Per dense layer with a norm (empty otherwise): ẑ (rows x out), δʸ (rows x out), and 1/√(σ² + ε)
  // of the last forward (out for batch_norm, rows for layer_norm).
  std::vector<std::vector<T>> xhat_, dy_, inv_std_;

  // bf16 twins (use_bf16): of the parameters, of each dense layer's input and of each δ.
  bool bf16_ = false;
  std::vector<bf16> params16_;
  std::vector<std::vector<bf16>> input16_, delta16_;

  // The batch in progress.
  const T* x_ = nullptr;
  int64_t rows_ = 0;
  bool training_ = false;    // dropout applies, batch_norm uses the batch's statistics
  bool running_ = false;     // batch_norm's running statistics are updated
  bool bf16_batch_ = false;  // this batch's GEMMs run in bf16
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace nabla
