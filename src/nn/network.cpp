#include "nn/network.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "math/blas.hpp"
#include "math/finite.hpp"
#include "nn/activation.hpp"

namespace nabla {

size_t TensorInfo::size() const {
  size_t n = 1;
  for (int64_t d : shape) n *= size_t(d);
  return n;
}

template <class T>
Network<T>::Network(const std::vector<LayerConfig>& layers, int64_t inputs, int64_t outputs,
                    LossKind loss, int64_t max_batch)
    : loss_(loss), inputs_(inputs), max_batch_(max_batch) {
  assert(inputs > 0 && outputs > 0 && max_batch > 0);
  size_t offset = 0;
  int64_t in = inputs;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerConfig& lc = layers[i];
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
    d.slope = lc.negative_slope;
    d.init = lc.init;
    const std::string prefix = "layers." + std::to_string(dense_.size());
    d.w = offset;
    tensors_.push_back({prefix + ".weight", offset, {d.out, d.in}});
    offset += size_t(d.out * d.in);
    d.b = offset;
    tensors_.push_back({prefix + ".bias", offset, {d.out}});
    offset += size_t(d.out);
    dense_.push_back(d);
    in = d.out;
  }
  assert(!dense_.empty());

  own_params_.assign(offset, T(0));
  allocate(max_batch);
}

template <class T>
Network<T>::Network(const Network& primary, int64_t max_batch)
    : loss_(primary.loss_),
      inputs_(primary.inputs_),
      input_dropout_(primary.input_dropout_),
      dense_(primary.dense_),
      tensors_(primary.tensors_),
      params_(primary.params_) {
  allocate(max_batch);
}

template <class T>
void Network<T>::allocate(int64_t max_batch) {
  assert(max_batch > 0);
  max_batch_ = max_batch;
  int64_t widest = inputs_;
  for (const Dense& d : dense_) widest = std::max(widest, d.out);
  grads_.assign(params_->size(), T(0));
  const size_t rows = size_t(max_batch);
  for (const Dense& d : dense_) {
    a_.emplace_back(rows * size_t(d.out));
    drop_.emplace_back(d.dropout > 0 ? rows * size_t(d.out) : 0);
    mask_.emplace_back(d.dropout > 0 ? rows * size_t(d.out) : 0);
  }
  if (input_dropout_ > 0) {
    x_drop_.resize(rows * size_t(inputs_));
    x_mask_.resize(rows * size_t(inputs_));
  }
  z_out_.resize(rows * size_t(dense_.back().out));
  delta_.resize(rows * size_t(widest));
  delta_prev_.resize(rows * size_t(widest));
}

template <class T>
void Network<T>::initialize(Rng& rng) {
  for (const Dense& d : dense_) {
    T* w = params_->data() + d.w;
    T* b = params_->data() + d.b;
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
const T* Network<T>::input_of(size_t l) const {
  if (l == 0) return dropped_ && input_dropout_ > 0 ? x_drop_.data() : x_;
  const size_t below = l - 1;
  return dropped_ && dense_[below].dropout > 0 ? drop_[below].data() : a_[below].data();
}

template <class T>
const T* Network<T>::forward(const T* x, int64_t rows, Rng* dropout_rng) {
  if (rows <= 0 || rows > max_batch_)
    throw std::invalid_argument("Network::forward: " + std::to_string(rows) + " rows, the workspaces hold 1 to " +
                                std::to_string(max_batch_));
  x_ = x;
  rows_ = rows;
  dropped_ = dropout_rng != nullptr;
  if (dropped_ && input_dropout_ > 0)
    dropout_forward(x, x_drop_.data(), x_mask_.data(), size_t(rows * inputs_), input_dropout_, *dropout_rng);

  const size_t last = dense_.size() - 1;
  for (size_t l = 0; l < dense_.size(); ++l) {
    const Dense& d = dense_[l];
    const T* w = params_->data() + d.w;
    const T* b = params_->data() + d.b;
    T* a = a_[l].data();
    T* z = l == last ? z_out_.data() : a;  // the output layer keeps z for the loss
    // z (rows x out) = a_prev (rows x in) · Wᵀ (in x out)
    gemm(false, true, int(rows), int(d.out), int(d.in), T(1), input_of(l), int(d.in), w, int(d.in), T(0), z,
         int(d.out));
    if (l == last)
      bias_activate_into(d.act, d.slope, z, b, a, rows, d.out);  // z += b, a = σ(z)
    else
      bias_activate(d.act, d.slope, a, b, rows, d.out);  // a = σ(z + b), in place
    if (dropped_ && d.dropout > 0)
      dropout_forward(a, drop_[l].data(), mask_[l].data(), size_t(rows * d.out), d.dropout, *dropout_rng);
  }
  return a_.back().data();
}

template <class T>
LossResult Network<T>::loss(const int32_t* labels, bool want_delta, int64_t batch_rows) {
  const Dense& d = dense_.back();
  return loss_and_delta(loss_, d.act, d.slope, z_out_.data(), a_.back().data(), labels, rows_, d.out,
                        want_delta ? delta_.data() : nullptr, batch_rows > 0 ? batch_rows : rows_);  // BP1
}

template <class T>
void Network<T>::backward(T* grad_x) {
  const int rows = int(rows_);
  const T limit = std::numeric_limits<T>::max() / 4;  // the replicas' sum and more stays finite
  grads_bounded_ = true;
  // delta_ holds δˡ (rows x out) for the layer being processed, starting with δᴸ from loss().
  for (size_t l = dense_.size(); l-- > 0;) {
    const Dense& d = dense_[l];
    const int in = int(d.in), out = int(d.out);
    const T* a_prev = input_of(l);
    const T* delta = delta_.data();
    const T delta_max = T(rows) * max_abs(delta, size_t(rows) * size_t(out));
    grads_bounded_ = grads_bounded_ && delta_max < limit &&
                     delta_max * max_abs(a_prev, size_t(rows) * size_t(in)) < limit;

    // BP4: ∂C/∂W (out x in) = δᵀ (out x rows) · a_prev (rows x in)
    gemm(true, false, out, in, rows, T(1), delta, out, a_prev, in, T(0), grads_.data() + d.w, in);

    // BP3: ∂C/∂b = column sums of δ
    T* grad_b = grads_.data() + d.b;
    std::fill(grad_b, grad_b + out, T(0));
    for (int i = 0; i < rows; ++i) {
      const T* row = delta + size_t(i) * size_t(out);
      for (int j = 0; j < out; ++j) grad_b[j] += row[j];
    }

    if (l == 0 && !grad_x) break;  // no δ is needed below the first layer

    // BP2, first half: ∂C/∂a_prev (rows x in) = δ (rows x out) · W (out x in)
    T* below = l == 0 ? grad_x : delta_prev_.data();
    gemm(false, false, rows, in, out, T(1), delta, out, params_->data() + d.w, in, T(0), below, in);

    // Through the dropout below, if it was active: ∂C/∂a = ∂C/∂(a ⊙ mask) ⊙ mask
    const size_t n = size_t(rows) * size_t(in);
    const T* mask = l == 0 ? x_mask_.data() : mask_[l - 1].data();
    const bool dropout_below = dropped_ && (l == 0 ? input_dropout_ > 0 : dense_[l - 1].dropout > 0);
    if (dropout_below)
      for (size_t k = 0; k < n; ++k) below[k] *= mask[k];

    if (l == 0) break;  // ∂C/∂x is done: the input has no σ′
    // BP2, second half: δˡ⁻¹ = ∂C/∂aˡ⁻¹ ⊙ σ′(zˡ⁻¹)
    const Dense& prev = dense_[l - 1];
    mul_derivative(prev.act, prev.slope, below, a_[l - 1].data(), rows, prev.out);
    std::swap(delta_, delta_prev_);
  }
}

template <class T>
bool Network<T>::grads_finite() const {
  return all_finite(grads_.data(), grads_.size());
}

template <class T>
std::string Network<T>::first_nonfinite() const {
  for (size_t l = 0; l < dense_.size(); ++l)
    if (!all_finite(a_[l].data(), size_t(rows_ * dense_[l].out)))
      return "the output of layers." + std::to_string(l) + " (" + to_string(dense_[l].act) + ")";
  for (const TensorInfo& t : tensors_)
    if (!all_finite(grads_.data() + t.offset, t.size())) return t.name + "'s gradient";
  return "";
}

template <class T>
int64_t Network<T>::forward_macs() const {
  int64_t macs = 0;
  for (const Dense& d : dense_) macs += d.in * d.out;
  return macs;
}

template class Network<float>;
template class Network<double>;

}  // namespace nabla
