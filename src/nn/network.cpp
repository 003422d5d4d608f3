#include "nn/network.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "math/blas.hpp"
#include "math/finite.hpp"
#include "nn/activation.hpp"
#include "util/error.hpp"

namespace nabla {

size_t TensorInfo::size() const {
  size_t n = 1;
  for (int64_t d : shape) n *= size_t(d);
  return n;
}

template <class T>
Network<T>::Network(const std::vector<LayerConfig>& layers, int64_t inputs, int64_t outputs, LossSpec loss,
                    int64_t max_batch)
    : loss_(std::move(loss)), inputs_(inputs), max_batch_(max_batch) {
  require(inputs > 0 && outputs > 0 && max_batch > 0, "Network: a size is not positive");
  // Every GEMM takes its sizes as int (CBLAS, oneDNN's plans): check once that they fit.
  require(inputs <= INT_MAX && outputs <= INT_MAX && max_batch <= INT_MAX, "Network: a size over INT_MAX");
  size_t offset = 0;
  int64_t in = inputs;
  for (const LayerConfig& lc : layers) {
    if (lc.type == LayerType::dropout) {
      if (dense_.empty())
        input_dropout_ = lc.rate;
      else
        dense_.back().dropout = lc.rate;
      continue;
    }
    Dense d;
    d.in = in;
    d.out = lc.units > 0 ? lc.units : outputs;
    d.act = lc.activation;
    d.slope = lc.activation == Activation::elu ? lc.alpha : lc.negative_slope;
    d.init = lc.init;
    const std::string prefix = "layers." + std::to_string(dense_.size());
    d.w_offset = offset;
    tensors_.push_back({prefix + ".weight", offset, {d.out, d.in}});
    offset += size_t(d.out * d.in);
    d.b_offset = offset;
    tensors_.push_back({prefix + ".bias", offset, {d.out}});
    offset += size_t(d.out);
    dense_.push_back(d);
    in = d.out;
  }
  require(!dense_.empty(), "Network: no dense layer");  // units are ints: every size fits a GEMM's int

  params_.assign(offset, T(0));
  grads_.assign(offset, T(0));
  const size_t rows = size_t(max_batch);
  require(loss_.class_weights.empty() || int64_t(loss_.class_weights.size()) == dense_.back().out,
          "Network: a class weight per output");
  for (const Dense& d : dense_) {
    const bool keep_z = &d == &dense_.back() || needs_z(d.act);
    z_.emplace_back(keep_z ? rows * size_t(d.out) : 0);
    a_.emplace_back(rows * size_t(d.out));
    drop_.emplace_back(d.dropout > 0 ? rows * size_t(d.out) : 0);
    mask_.emplace_back(d.dropout > 0 ? rows * size_t(d.out) : 0);
    delta_.emplace_back(rows * size_t(d.out));
  }
  if (input_dropout_ > 0) {
    x_drop_.resize(rows * size_t(inputs));
    x_mask_.resize(rows * size_t(inputs));
  }
}

template <class T>
void Network<T>::initialize(Rng& rng) {
  for (const Dense& d : dense_) {
    T* w = params_.data() + d.w_offset;
    T* b = params_.data() + d.b_offset;
    const size_t n = size_t(d.out * d.in);
    const double fan_in = double(d.in), fan_out = double(d.out);
    switch (d.init) {
      case Init::glorot_uniform: {  // U(−l, l), l = √(6 / (in + out))
        const double l = std::sqrt(6.0 / (fan_in + fan_out));
        for (size_t k = 0; k < n; ++k) w[k] = T((2 * rng.uniform() - 1) * l);
        break;
      }
      case Init::glorot_normal: {  // N(0, 2 / (in + out))
        const double s = std::sqrt(2.0 / (fan_in + fan_out));
        for (size_t k = 0; k < n; ++k) w[k] = T(rng.normal() * s);
        break;
      }
      case Init::he: {  // N(0, 2 / in)
        const double s = std::sqrt(2.0 / fan_in);
        for (size_t k = 0; k < n; ++k) w[k] = T(rng.normal() * s);
        break;
      }
      case Init::gaussian: {  // the textbook's: W ~ N(0, 1/in), b ~ N(0, 1)
        const double s = 1.0 / std::sqrt(fan_in);
        for (size_t k = 0; k < n; ++k) w[k] = T(rng.normal() * s);
        for (int64_t j = 0; j < d.out; ++j) b[j] = T(rng.normal());
        continue;
      }
    }
    std::fill(b, b + d.out, T(0));
  }
}

namespace {

// out = in ⊙ mask, mask drawn fresh: 0 with probability p, else 1/(1 − p).
template <class T>
void dropout_forward(const T* in, T* out, T* mask, size_t n, double p, Rng& rng) {
  const T keep_scale = T(1.0 / (1.0 - p));
  for (size_t k = 0; k < n; ++k) {
    mask[k] = rng.uniform() < p ? T(0) : keep_scale;
    out[k] = in[k] * mask[k];
  }
}

}  // namespace

template <class T>
void Network<T>::use_bf16() {
  if constexpr (!std::is_same_v<T, float>) {
    throw InternalError("Network::use_bf16: bf16 is for Network<float>");
  } else {
    const std::string why = bf16_unavailable();
    require(why.empty(), "Network::use_bf16: bf16 is not available (check_precision refuses such a config)");
    bf16_ = true;
    params16_.resize(params_.size());
    input16_.clear();
    delta16_.clear();
    for (const Dense& d : dense_) {
      input16_.emplace_back(size_t(max_batch_ * d.in));
      delta16_.emplace_back(size_t(max_batch_ * d.out));
    }
    to_bf16(params_.data(), params16_.data(), params_.size());
  }
}

template <class T>
void Network<T>::product(bool ta, bool tb, int m, int n, int k, Operand a, Operand b, T* c, int ldc) const {
  if constexpr (std::is_same_v<T, float>)
    if (bf16_batch_) return gemm_bf16(ta, tb, m, n, k, a.twin, a.ld, b.twin, b.ld, c, ldc);
  gemm(ta, tb, m, n, k, T(1), a.data, a.ld, b.data, b.ld, T(0), c, ldc);
}

template <class T>
typename Network<T>::Operand Network<T>::weights(size_t l) const {
  const Dense& d = dense_[l];
  return {params_.data() + d.w_offset, bf16_batch_ ? params16_.data() + d.w_offset : nullptr, int(d.in)};
}

template <class T>
typename Network<T>::Operand Network<T>::input(size_t l) const {
  return {input_of(l), bf16_batch_ ? input16_[l].data() : nullptr, int(dense_[l].in)};
}

template <class T>
typename Network<T>::Operand Network<T>::delta(size_t l) const {
  return {delta_[l].data(), bf16_batch_ ? delta16_[l].data() : nullptr, int(dense_[l].out)};
}

template <class T>
void Network<T>::round_input(size_t l, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  if constexpr (std::is_same_v<T, float>) {
    if (!bf16_batch_) return;
    const size_t in = size_t(dense_[l].in), at = size_t(r0) * in + size_t(c0);
    to_bf16(input_of(l) + at, in, input16_[l].data() + at, in, size_t(r1 - r0), size_t(c1 - c0));
  }
}

template <class T>
const T* Network<T>::input_of(size_t l) const {
  if (l == 0) return training_ && input_dropout_ > 0 ? x_drop_.data() : x_;
  const size_t below = l - 1;
  return training_ && dense_[below].dropout > 0 ? drop_[below].data() : a_[below].data();
}

// --- One batch shared by threads -------------------------------------------------------------------

template <class T>
void Network<T>::begin_batch(const T* x, int64_t rows, bool training) {
  if (rows <= 0 || rows > max_batch_)
    throw std::invalid_argument("Network: a batch of " + std::to_string(rows) + " rows, the workspaces hold 1 to " +
                                std::to_string(max_batch_));
  x_ = x;
  rows_ = rows;
  training_ = training;
  bf16_batch_ = bf16_ && training;
}

template <class T>
void Network<T>::input_rows(int64_t r0, int64_t r1, Rng* dropout_rng) {
  if (training_ && input_dropout_ > 0) {
    const size_t first = size_t(r0 * inputs_);
    dropout_forward(x_ + first, x_drop_.data() + first, x_mask_.data() + first, size_t((r1 - r0) * inputs_),
                    input_dropout_, *dropout_rng);
  }
  round_input(0, r0, r1, 0, inputs_);
}

template <class T>
void Network<T>::forward_first_units(int64_t u0, int64_t u1, Rng* dropout_rng) {
  const Dense& d = dense_[0];
  const int64_t units = u1 - u0;
  T* a = a_[0].data() + u0;  // the block of columns [u0, u1), leading dimension out
  // z[:, u0:u1] (rows x units) = x (rows x in) · W[u0:u1, :]ᵀ
  const T* b = params_.data() + d.b_offset + u0;
  if (z_[0].empty()) {
    product(false, true, int(rows_), int(units), int(d.in), input(0), weights(0).rows(u0), a, int(d.out));
    bias_activate(d.act, d.slope, a, b, rows_, units, d.out);
  } else {  // z kept for σ′
    T* z = z_[0].data() + u0;
    product(false, true, int(rows_), int(units), int(d.in), input(0), weights(0).rows(u0), z, int(d.out));
    bias_activate_into(d.act, d.slope, z, b, a, rows_, units, d.out);
  }
  if (training_ && d.dropout > 0)
    for (int64_t i = 0; i < rows_; ++i) {
      const size_t at = size_t(i * d.out + u0);
      dropout_forward(a_[0].data() + at, drop_[0].data() + at, mask_[0].data() + at, size_t(units), d.dropout,
                      *dropout_rng);
    }
  round_input(1, 0, rows_, u0, u1);
}

template <class T>
void Network<T>::forward_rows(int64_t r0, int64_t r1, Rng* dropout_rng, size_t from) {
  const int64_t rows = r1 - r0;
  if (from == 0) input_rows(r0, r1, dropout_rng);
  const size_t last = dense_.size() - 1;
  for (size_t l = from; l < dense_.size(); ++l) {
    const Dense& d = dense_[l];
    const T* b = params_.data() + d.b_offset;
    T* a = a_[l].data() + r0 * d.out;
    T* z = z_[l].empty() ? a : z_[l].data() + r0 * d.out;  // z kept for the loss or σ′, or overwritten
    // z (rows x out) = a_prev (rows x in) · Wᵀ (in x out)
    product(false, true, int(rows), int(d.out), int(d.in), input(l).rows(r0), weights(l), z, int(d.out));
    if (z != a)
      bias_activate_into(d.act, d.slope, z, b, a, rows, d.out);  // z += b, a = σ(z)
    else
      bias_activate(d.act, d.slope, a, b, rows, d.out);  // a = σ(z + b), in place
    if (training_ && d.dropout > 0) {
      const size_t first = size_t(r0 * d.out);
      dropout_forward(a, drop_[l].data() + first, mask_[l].data() + first, size_t(rows * d.out), d.dropout,
                      *dropout_rng);
    }
    if (l < last) round_input(l + 1, r0, r1, 0, d.out);
  }
}

template <class T>
LossResult Network<T>::loss_rows(const int32_t* labels, int64_t r0, int64_t r1, bool want_delta) {
  const Dense& d = dense_.back();
  const size_t first = size_t(r0 * d.out);
  return loss_and_delta(loss_, d.act, d.slope, z_.back().data() + first, a_.back().data() + first, labels + r0, r1 - r0,
                        d.out, want_delta ? delta_.back().data() + first : nullptr,
                        batch_weight(loss_, labels, rows_));  // BP1
}

template <class T>
bool Network<T>::delta_rows(int64_t r0, int64_t r1) {
  const int rows = int(r1 - r0);
  const T limit = std::numeric_limits<T>::max() / 4;  // the threads' shares add up and stay finite
  bool bounded = true;
  for (size_t l = dense_.size(); l-- > 0;) {
    const Dense& d = dense_[l];
    const int in = int(d.in), out = int(d.out);
    const T* own = delta_[l].data() + r0 * out;  // δˡ of these rows
    const T delta_max = T(rows_) * max_abs(own, size_t(rows) * size_t(out));
    bounded =
        bounded && delta_max < limit && delta_max * max_abs(input_of(l) + r0 * in, size_t(rows) * size_t(in)) < limit;
    if constexpr (std::is_same_v<T, float>)
      if (bf16_batch_) to_bf16(own, delta16_[l].data() + r0 * out, size_t(rows) * size_t(out));
    if (l == 0) break;  // no δ below the first layer (∂C/∂x is backward's)

    // BP2: δˡ⁻¹ = (δˡ · Wˡ) ⊙ mask ⊙ σ′(zˡ⁻¹), the dropout mask when one was applied below
    T* below = delta_[l - 1].data() + r0 * in;
    product(false, false, rows, in, out, delta(l).rows(r0), weights(l), below, in);
    const Dense& prev = dense_[l - 1];
    if (training_ && prev.dropout > 0) {
      const T* mask = mask_[l - 1].data() + r0 * in;
      for (size_t k = 0; k < size_t(rows) * size_t(in); ++k) below[k] *= mask[k];
    }
    const T* z = z_[l - 1].empty() ? nullptr : z_[l - 1].data() + r0 * in;
    mul_derivative(prev.act, prev.slope, below, a_[l - 1].data() + r0 * in, z, rows, prev.out);
  }
  return bounded;
}

template <class T>
void Network<T>::weight_gradient(size_t l, int64_t u0, int64_t u1, T* grad_w, T* grad_b) const {
  const Dense& d = dense_[l];
  const int rows = int(rows_), in = int(d.in), out = int(d.out), units = int(u1 - u0);
  // BP4: ∂C/∂W[u0:u1, :] = δ[:, u0:u1]ᵀ · a_prev
  product(true, false, units, in, rows, delta(l).cols(u0), input(l), grad_w, in);
  // BP3: ∂C/∂b[u0:u1] = column sums of δ[:, u0:u1] (leading dimension out)
  const T* block = delta_[l].data() + u0;
  std::fill(grad_b, grad_b + units, T(0));
  for (int i = 0; i < rows; ++i) {
    const T* row = block + size_t(i) * size_t(out);
    for (int j = 0; j < units; ++j) grad_b[j] += row[j];
  }
}

// --- The whole batch ---------------------------------------------------------------------------------

template <class T>
const T* Network<T>::forward(const T* x, int64_t rows, Rng* dropout_rng) {
  begin_batch(x, rows, dropout_rng != nullptr);
  forward_rows(0, rows, dropout_rng);
  return a_.back().data();
}

template <class T>
LossResult Network<T>::loss(const int32_t* labels, bool want_delta, bool plain) {
  if (!plain || !loss_.shaped()) return loss_rows(labels, 0, rows_, want_delta);
  const Dense& d = dense_.back();
  return loss_and_delta(loss_.plain(), d.act, d.slope, z_.back().data(), a_.back().data(), labels, rows_, d.out,
                        want_delta ? delta_.back().data() : nullptr, double(rows_));
}

template <class T>
void Network<T>::backward(T* grad_x) {
  delta_rows(0, rows_);
  for (size_t l = 0; l < dense_.size(); ++l)
    weight_gradient(l, 0, dense_[l].out, grads_.data() + dense_[l].w_offset, grads_.data() + dense_[l].b_offset);
  if (!grad_x) return;
  // ∂C/∂x (rows x inputs) = δ⁰ · W⁰, through the input dropout's mask when there was one
  const Dense& d = dense_[0];
  gemm(false, false, int(rows_), int(d.in), int(d.out), T(1), delta_[0].data(), int(d.out), params_.data() + d.w_offset,
       int(d.in), T(0), grad_x, int(d.in));
  if (training_ && input_dropout_ > 0)
    for (size_t k = 0; k < size_t(rows_ * inputs_); ++k) grad_x[k] *= x_mask_[k];
}

template <class T>
std::string Network<T>::first_nonfinite() const {
  for (size_t l = 0; l < dense_.size(); ++l)
    if (!all_finite(a_[l].data(), size_t(rows_ * dense_[l].out)))
      return "the output of layers." + std::to_string(l) + " (" + to_string(dense_[l].act) + ")";
  for (size_t l = dense_.size(); l-- > 0;)
    if (!all_finite(delta_[l].data(), size_t(rows_ * dense_[l].out)))
      return "the error δ of layers." + std::to_string(l) + " (its gradient)";
  return "";
}

template class Network<float>;
template class Network<double>;

}  // namespace nabla
