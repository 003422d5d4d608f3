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
    d.norm = lc.norm;
    d.norm_epsilon = lc.norm_epsilon;
    d.norm_momentum = lc.norm_momentum;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, bool trained = true) {
      tensors_.push_back({prefix + name, offset, shape, trained});
      offset += tensors_.back().size();
      return tensors_.back().offset;
    };
    d.w_offset = add(".weight", {d.out, d.in});
    d.b_offset = add(".bias", {d.out});
    if (d.norm != Norm::none) {
      d.gamma_offset = add(".norm.weight", {d.out});
      d.beta_offset = add(".norm.bias", {d.out});
    }
    if (d.norm == Norm::batch_norm) {
      d.mean_offset = add(".norm.running_mean", {d.out}, false);
      d.var_offset = add(".norm.running_var", {d.out}, false);
    }
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
    const bool normed = d.norm != Norm::none;
    xhat_.emplace_back(normed ? rows * size_t(d.out) : 0);
    dy_.emplace_back(normed ? rows * size_t(d.out) : 0);
    // batch_norm: 1/√(σ² + ε) per unit, then two scratch rows of column sums; layer_norm: per row.
    inv_std_.emplace_back(d.norm == Norm::batch_norm ? 3 * size_t(d.out) : normed ? rows : 0);
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
    if (d.norm != Norm::none) {  // γ = 1, β = 0; running mean 0, variance 1
      std::fill_n(params_.data() + d.gamma_offset, d.out, T(1));
      std::fill_n(params_.data() + d.beta_offset, d.out, T(0));
    }
    if (d.norm == Norm::batch_norm) {
      std::fill_n(params_.data() + d.mean_offset, d.out, T(0));
      std::fill_n(params_.data() + d.var_offset, d.out, T(1));
    }
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
void Network<T>::begin_batch(const T* x, int64_t rows, bool training, bool running) {
  if (rows <= 0 || rows > max_batch_)
    throw std::invalid_argument("Network: a batch of " + std::to_string(rows) + " rows, the workspaces hold 1 to " +
                                std::to_string(max_batch_));
  x_ = x;
  rows_ = rows;
  training_ = training;
  running_ = training && running;
  bf16_batch_ = bf16_ && training;
}

template <class T>
size_t Network<T>::next_batch_statistics(size_t from) const {
  while (from < dense_.size() && !batch_statistics(from)) ++from;
  return from;
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
T* Network<T>::gemm_out(size_t l) {
  if (dense_[l].norm != Norm::none) return xhat_[l].data();
  return z_[l].empty() ? a_[l].data() : z_[l].data();
}

namespace {

// Mean and 1/√(σ² + ε) of the n values of a row, two passes in double.
template <class T>
std::pair<double, double> moments(const T* v, int64_t n, double eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += double(v[i]);
  const double mean = sum / double(n);
  double squares = 0;
  for (int64_t i = 0; i < n; ++i) squares += (double(v[i]) - mean) * (double(v[i]) - mean);
  return {mean, 1.0 / std::sqrt(squares / double(n) + eps)};
}

}  // namespace

template <class T>
void Network<T>::finish(size_t l, int64_t r0, int64_t r1, int64_t c0, int64_t c1, Rng* dropout_rng) {
  const Dense& d = dense_[l];
  const int64_t out = d.out, rows = r1 - r0, cols = c1 - c0;
  const size_t at = size_t(r0 * out + c0);
  T* a = a_[l].data() + at;
  T* z = z_[l].empty() ? nullptr : z_[l].data() + at;  // z (or y) kept for σ′ or the loss
  const T* shift = params_.data() + d.b_offset + c0;   // what σ's pass adds: b, or β after a norm
  if (d.norm != Norm::none) {
    // ẑ = (z + b − μ)/√(σ² + ε) into xhat_, and γ·ẑ where the activation's pass reads it.
    T* xhat = xhat_[l].data();
    T* y = z ? z_[l].data() : a_[l].data();
    const T* b = params_.data() + d.b_offset;
    const T* gamma = params_.data() + d.gamma_offset;
    T* inv_std = inv_std_[l].data();
    auto normalize = [&](int64_t i, int64_t j, double mean, double inv) {
      const size_t k = size_t(i * out + j);
      xhat[k] = T((double(xhat[k]) - mean) * inv);
      y[k] = gamma[j] * xhat[k];
    };
    for (int64_t i = r0; i < r1; ++i)
      for (int64_t j = c0; j < c1; ++j) xhat[size_t(i * out + j)] += b[j];
    if (d.norm == Norm::layer_norm) {  // per row, over all its units
      require(c0 == 0 && c1 == out, "Network: a layer_norm normalises whole rows");
      for (int64_t i = r0; i < r1; ++i) {
        const auto [mean, inv] = moments(xhat + i * out, out, d.norm_epsilon);
        inv_std[i] = T(inv);
        for (int64_t j = 0; j < out; ++j) normalize(i, j, mean, inv);
      }
    } else if (batch_statistics(l)) {  // per unit, over all the batch's rows
      require(r0 == 0 && r1 == rows_, "Network: batch statistics are over the whole batch");
      // Row by row with a sum per unit (in the two scratch rows after inv_std): passes the compiler
      // vectorises, in a fixed order whatever the threads.
      T* mean = inv_std + out;
      T* var = mean + out;
      std::fill(mean + c0, mean + c1, T(0));
      std::fill(var + c0, var + c1, T(0));
      for (int64_t i = 0; i < rows_; ++i)
        for (int64_t j = c0; j < c1; ++j) mean[j] += xhat[size_t(i * out + j)];
      const T inv_b = T(1) / T(rows_);
      for (int64_t j = c0; j < c1; ++j) mean[j] *= inv_b;
      for (int64_t i = 0; i < rows_; ++i)
        for (int64_t j = c0; j < c1; ++j) {
          const T dev = xhat[size_t(i * out + j)] - mean[j];
          var[j] += dev * dev;
        }
      T* running_mean = params_.data() + d.mean_offset;
      T* running_var = params_.data() + d.var_offset;
      const double m = d.norm_momentum;
      for (int64_t j = c0; j < c1; ++j) {
        var[j] *= inv_b;  // biased, for the normalisation
        inv_std[j] = T(1.0 / std::sqrt(double(var[j]) + d.norm_epsilon));
        if (!running_) continue;
        running_mean[j] = T((1 - m) * double(running_mean[j]) + m * double(mean[j]));
        if (rows_ > 1)  // the unbiased variance, as PyTorch keeps
          running_var[j] = T((1 - m) * double(running_var[j]) + m * double(var[j]) * double(rows_) / double(rows_ - 1));
      }
      for (int64_t i = 0; i < rows_; ++i)
        for (int64_t j = c0; j < c1; ++j) {
          const size_t k = size_t(i * out + j);
          xhat[k] = (xhat[k] - mean[j]) * inv_std[j];
          y[k] = gamma[j] * xhat[k];
        }
    } else {  // batch_norm in evaluation: the running estimates, a unit at a time
      const T* running_mean = params_.data() + d.mean_offset;
      const T* running_var = params_.data() + d.var_offset;
      for (int64_t j = c0; j < c1; ++j) {
        const double mean = double(running_mean[j]), inv = 1.0 / std::sqrt(double(running_var[j]) + d.norm_epsilon);
        for (int64_t i = r0; i < r1; ++i) normalize(i, j, mean, inv);
      }
    }
    shift = params_.data() + d.beta_offset + c0;
    // softmax normalises whole rows: after a block of units, activate_rows does it for rows.
    if (d.act == Activation::softmax && cols < out) return;
  }
  if (z)
    bias_activate_into(d.act, d.slope, z, shift, a, rows, cols, out);  // z += shift, a = σ(z)
  else
    bias_activate(d.act, d.slope, a, shift, rows, cols, out);  // a = σ(z + shift), in place
  if (training_ && d.dropout > 0) {
    if (cols == out)
      dropout_forward(a, drop_[l].data() + at, mask_[l].data() + at, size_t(rows * out), d.dropout, *dropout_rng);
    else
      for (int64_t i = r0; i < r1; ++i) {
        const size_t row = size_t(i * out + c0);
        dropout_forward(a_[l].data() + row, drop_[l].data() + row, mask_[l].data() + row, size_t(cols), d.dropout,
                        *dropout_rng);
      }
  }
  if (l + 1 < dense_.size()) round_input(l + 1, r0, r1, c0, c1);
}

template <class T>
void Network<T>::activate_rows(size_t l, int64_t r0, int64_t r1) {
  const Dense& d = dense_[l];
  require(d.act == Activation::softmax && d.norm != Norm::none && l + 1 == dense_.size(),
          "Network: activate_rows is for a normalised softmax output");
  const size_t at = size_t(r0 * d.out);
  bias_activate_into(d.act, d.slope, z_[l].data() + at, params_.data() + d.beta_offset, a_[l].data() + at, r1 - r0,
                     d.out);
}

template <class T>
void Network<T>::forward_first_units(int64_t u0, int64_t u1, Rng* dropout_rng) {
  const Dense& d = dense_[0];
  // z[:, u0:u1] (rows x units) = x (rows x in) · W[u0:u1, :]ᵀ, the block of columns [u0, u1)
  product(false, true, int(rows_), int(u1 - u0), int(d.in), input(0), weights(0).rows(u0), gemm_out(0) + u0,
          int(d.out));
  finish(0, 0, rows_, u0, u1, dropout_rng);
}

template <class T>
void Network<T>::finish_units(size_t l, int64_t u0, int64_t u1, Rng* dropout_rng) {
  finish(l, 0, rows_, u0, u1, dropout_rng);
}

template <class T>
void Network<T>::forward_rows(int64_t r0, int64_t r1, Rng* dropout_rng, size_t from, size_t to) {
  const int64_t rows = r1 - r0;
  if (from == 0) input_rows(r0, r1, dropout_rng);
  to = std::min(to, dense_.size());
  for (size_t l = from; l < to; ++l) {
    const Dense& d = dense_[l];
    // z (rows x out) = a_prev (rows x in) · Wᵀ (in x out)
    product(false, true, int(rows), int(d.out), int(d.in), input(l).rows(r0), weights(l), gemm_out(l) + r0 * d.out,
            int(d.out));
    if (batch_statistics(l)) {  // the rest once every row's z is there: finish_units
      require(l + 1 == to, "Network: a layer with batch statistics ends a range of forward_rows");
      return;
    }
    finish(l, r0, r1, 0, d.out, dropout_rng);
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
typename Network<T>::NormBuffers Network<T>::norm_buffers(size_t l) {
  return {dense_[l].out, delta_[l].data(), dy_[l].data(), xhat_[l].data(), params_.data() + dense_[l].gamma_offset};
}

template <class T>
void Network<T>::norm_backward_rows(size_t l, int64_t r0, int64_t r1) {
  const Dense& d = dense_[l];
  const auto [out, delta, dy, xhat, gamma] = norm_buffers(l);
  std::copy(delta + r0 * out, delta + r1 * out, dy + r0 * out);  // δʸ, for ∂C/∂γ and ∂C/∂β
  if (d.norm == Norm::layer_norm) {
    // δ = (1/√(σ² + ε))·(g − mean(g) − ẑ·mean(g ⊙ ẑ)), g = γ ⊙ δʸ, the means over the row's units
    for (int64_t i = r0; i < r1; ++i) {
      const size_t row = size_t(i * out);
      double mean_g = 0, mean_gx = 0;
      for (int64_t j = 0; j < out; ++j) {
        const double g = double(gamma[j]) * double(dy[row + j]);
        mean_g += g;
        mean_gx += g * double(xhat[row + j]);
      }
      mean_g /= double(out);
      mean_gx /= double(out);
      const double inv = double(inv_std_[l][size_t(i)]);
      for (int64_t j = 0; j < out; ++j)
        delta[row + j] = T(inv * (double(gamma[j]) * double(dy[row + j]) - mean_g - double(xhat[row + j]) * mean_gx));
    }
  } else {  // batch_norm in evaluation, an affine map: δ = γ/√(running σ² + ε) ⊙ δʸ
    const T* running_var = params_.data() + d.var_offset;
    for (int64_t j = 0; j < out; ++j) {
      const double scale = double(gamma[j]) / std::sqrt(double(running_var[j]) + d.norm_epsilon);
      for (int64_t i = r0; i < r1; ++i) delta[size_t(i * out + j)] = T(scale * double(dy[size_t(i * out + j)]));
    }
  }
}

template <class T>
void Network<T>::norm_backward_units(size_t l, int64_t u0, int64_t u1) {
  const auto [out, delta, dy, xhat, gamma] = norm_buffers(l);
  const T* inv_std = inv_std_[l].data();
  // Σᵢ δʸ and Σᵢ δʸ ⊙ ẑ per unit, in the two scratch rows after inv_std (this block's columns only)
  T* sum_dy = inv_std_[l].data() + out;
  T* sum_dyx = sum_dy + out;
  std::fill(sum_dy + u0, sum_dy + u1, T(0));
  std::fill(sum_dyx + u0, sum_dyx + u1, T(0));
  for (int64_t i = 0; i < rows_; ++i)
    for (int64_t j = u0; j < u1; ++j) {
      const size_t k = size_t(i * out + j);
      dy[k] = delta[k];
      sum_dy[j] += dy[k];
      sum_dyx[j] += dy[k] * xhat[k];
    }
  // δ = γ/√(σ² + ε) ⊙ (δʸ − mean(δʸ) − ẑ ⊙ mean(δʸ ⊙ ẑ)), the means over the batch
  const T inv_b = T(1) / T(rows_);
  for (int64_t i = 0; i < rows_; ++i)
    for (int64_t j = u0; j < u1; ++j) {
      const size_t k = size_t(i * out + j);
      delta[k] = gamma[j] * inv_std[j] * (dy[k] - sum_dy[j] * inv_b - xhat[k] * sum_dyx[j] * inv_b);
    }
}

template <class T>
size_t Network<T>::delta_rows(int64_t r0, int64_t r1, bool& bounded, size_t from, bool resumed) {
  const int rows = int(r1 - r0);
  const T limit = std::numeric_limits<T>::max() / 4;  // the threads' shares add up and stay finite
  for (size_t l = std::min(from, dense_.size() - 1);; --l) {
    const Dense& d = dense_[l];
    const int in = int(d.in), out = int(d.out);
    if (d.norm != Norm::none && !(resumed && l == from)) {  // δˡ holds δʸ so far
      if (batch_statistics(l)) return l;                    // norm_backward_units, for all rows
      norm_backward_rows(l, r0, r1);
    }
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
  return kDone;
}

template <class T>
void Network<T>::weight_gradient(size_t l, int64_t u0, int64_t u1, T* grad_w, T* grad_b, T* grad_gamma,
                                 T* grad_beta) const {
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
  if (d.norm == Norm::none || !grad_gamma) return;
  // ∂C/∂γ = Σᵢ δʸ ⊙ ẑ and ∂C/∂β = Σᵢ δʸ, for units [u0, u1)
  std::fill(grad_gamma, grad_gamma + units, T(0));
  std::fill(grad_beta, grad_beta + units, T(0));
  for (int i = 0; i < rows; ++i) {
    const T* dy = dy_[l].data() + size_t(i) * size_t(out) + u0;
    const T* xhat = xhat_[l].data() + size_t(i) * size_t(out) + u0;
    for (int j = 0; j < units; ++j) {
      grad_gamma[j] += dy[j] * xhat[j];
      grad_beta[j] += dy[j];
    }
  }
}

// --- The whole batch ---------------------------------------------------------------------------------

template <class T>
const T* Network<T>::forward(const T* x, int64_t rows, Rng* dropout_rng) {
  begin_batch(x, rows, dropout_rng != nullptr);
  for (size_t from = 0; from < dense_.size();) {
    const size_t to = next_batch_statistics(from);
    forward_rows(0, rows, dropout_rng, from, to + 1);
    if (to < dense_.size()) finish_units(to, 0, dense_[to].out, dropout_rng);
    from = to + 1;
  }
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
  bool bounded = true;
  for (size_t l = delta_rows(0, rows_, bounded); l != kDone; l = delta_rows(0, rows_, bounded, l, true))
    norm_backward_units(l, 0, dense_[l].out);
  for (size_t l = 0; l < dense_.size(); ++l) {
    const Dense& d = dense_[l];
    const bool normed = d.norm != Norm::none;
    weight_gradient(l, 0, d.out, grads_.data() + d.w_offset, grads_.data() + d.b_offset,
                    normed ? grads_.data() + d.gamma_offset : nullptr,
                    normed ? grads_.data() + d.beta_offset : nullptr);
  }
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
