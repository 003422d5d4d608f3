// The gradient check on real data: it passes for every activation and loss, and it catches wrong
// gradients, including the classic bug of a δ without σ′.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>
#include <vector>

#include "check/gradcheck.hpp"
#include "data/loader.hpp"

using namespace nabla;

namespace {

// The first `rows` Fashion-MNIST training samples (committed in data/samples), as doubles.
struct RealBatch {
  std::vector<double> x;
  std::vector<int32_t> labels;
  int64_t features = 0;
};

RealBatch real_batch(int64_t rows) {
  DataSource src;
  src.images = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-images-idx3-ubyte.gz";
  src.labels = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-labels-idx1-ubyte.gz";
  data::LoaderOptions o;
  o.end = rows;
  o.batch_size = rows;
  o.shuffle = false;
  data::BatchLoader loader(src, DataFormat::idx, false, o);
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));
  REQUIRE(b.rows == rows);
  return {std::vector<double>(b.x, b.x + b.rows * b.features), std::vector<int32_t>(b.labels, b.labels + b.rows),
          b.features};
}

LayerConfig dense(int units, Activation act, Init init = Init::glorot_normal) {
  LayerConfig l;
  l.units = units;
  l.activation = act;
  l.init = init;
  return l;
}

std::string report_text(const GradcheckReport& r, const GradcheckOptions& o) {
  std::ostringstream s;
  print_report(s, r, o);
  return s.str();
}

}  // namespace

TEST_CASE("gradcheck passes for every hidden activation under every loss and output") {
  const RealBatch batch = real_batch(4);
  const Activation hidden[] = {Activation::sigmoid, Activation::tanh,    Activation::relu,      Activation::leaky_relu,
                               Activation::linear,  Activation::gelu,    Activation::gelu_tanh, Activation::silu,
                               Activation::elu,     Activation::softplus};
  struct Pairing {
    LossKind loss;
    Activation output;
  };
  const Pairing pairings[] = {{LossKind::cross_entropy, Activation::softmax},
                              {LossKind::binary_cross_entropy, Activation::sigmoid},
                              {LossKind::mse, Activation::sigmoid},
                              {LossKind::mse, Activation::tanh},
                              {LossKind::mse, Activation::relu},
                              {LossKind::mse, Activation::leaky_relu},
                              {LossKind::mse, Activation::linear},
                              {LossKind::mse, Activation::softmax},
                              {LossKind::mse, Activation::gelu},
                              {LossKind::mse, Activation::silu},
                              {LossKind::mse, Activation::elu},
                              {LossKind::mse, Activation::softplus}};
  GradcheckOptions o;
  o.per_tensor = 300;
  for (Activation h : hidden) {
    for (const Pairing& p : pairings) {
      Network<double> net({dense(5, h), dense(10, p.output)}, batch.features, 10, p.loss, 4);
      Rng rng(11);
      net.initialize(rng);
      // Biases of 0 would put every unit of a sample whose relu layer is all off exactly at a kink.
      for (const TensorInfo& t : net.tensors())
        if (t.shape.size() == 1)
          for (size_t k = 0; k < t.size(); ++k) net.params()[t.offset + k] = 0.05 * double(k % 3) - 0.04;
      const GradcheckReport r = gradcheck(net, batch.x, batch.labels, o);
      CAPTURE(std::string(to_string(h)));
      CAPTURE(std::string(to_string(p.loss)));
      CAPTURE(std::string(to_string(p.output)));
      CAPTURE(report_text(r, o));
      CHECK(r.pass);
      CHECK(r.tensors.size() == 5);  // two weights, two biases, the input
      for (const TensorCheck& t : r.tensors) CHECK(t.checked > 0);
    }
  }
}

TEST_CASE("gradcheck fails when delta forgets sigma' (backprop of a linear net against a sigmoid net)") {
  const RealBatch batch = real_batch(4);
  Network<double> sigmoid_net({dense(6, Activation::sigmoid), dense(10, Activation::softmax)}, batch.features, 10,
                              LossKind::cross_entropy, 4);
  Network<double> linear_net({dense(6, Activation::linear), dense(10, Activation::softmax)}, batch.features, 10,
                             LossKind::cross_entropy, 4);
  Rng rng(3);
  sigmoid_net.initialize(rng);
  linear_net.params() = sigmoid_net.params();
  // The same weights, but the gradient of the wrong function: what BP2 without ⊙σ′ would give.
  const Gradients wrong = backprop(linear_net, batch.x, batch.labels);
  GradcheckOptions o;
  o.per_tensor = 200;
  const GradcheckReport r = gradcheck(sigmoid_net, batch.x, batch.labels, wrong, o);
  CHECK_FALSE(r.pass);
  CHECK(r.tensors[0].name == "layers.0.weight");
  CHECK_FALSE(r.tensors[0].pass);
  CHECK(r.tensors[0].normwise > 1e-2);
  CHECK(report_text(r, o).find("FAIL") != std::string::npos);
}

TEST_CASE("gradcheck passes for cross-entropy with label smoothing, class weights and both") {
  const RealBatch batch = real_batch(6);
  LossSpec smoothed, weighted, both;
  smoothed.label_smoothing = 0.1;
  weighted.class_weights = {0.5, 1, 1.5, 2, 0.25, 1, 3, 1, 0.75, 1};
  both = weighted;
  both.label_smoothing = 0.3;
  GradcheckOptions o;
  o.per_tensor = 300;
  for (const LossSpec* loss : {&smoothed, &weighted, &both}) {
    Network<double> net({dense(5, Activation::gelu), dense(10, Activation::softmax)}, batch.features, 10, *loss, 6);
    Rng rng(12);
    net.initialize(rng);
    const GradcheckReport r = gradcheck(net, batch.x, batch.labels, o);
    CAPTURE(report_text(r, o));
    CHECK(r.pass);
  }
}

TEST_CASE("gradcheck fails on a planted error in each new backward") {
  const RealBatch batch = real_batch(4);
  GradcheckOptions o;
  o.per_tensor = 200;
  // The gradient of another function with the same weights: what the backward pass gives when
  // it gets the piece wrong.
  auto fails = [&](const std::vector<LayerConfig>& right, LossSpec right_loss, const std::vector<LayerConfig>& wrong,
                   LossSpec wrong_loss) {
    Network<double> checked(right, batch.features, 10, std::move(right_loss), 4);
    Network<double> planted(wrong, batch.features, 10, std::move(wrong_loss), 4);
    Rng rng(3);
    checked.initialize(rng);
    planted.params() = checked.params();
    const GradcheckReport r = gradcheck(checked, batch.x, batch.labels, backprop(planted, batch.x, batch.labels), o);
    CAPTURE(report_text(r, o));
    return !r.pass;
  };
  const LayerConfig out = dense(10, Activation::softmax);
  SUBCASE("each new activation's δ without its σ′ (BP2 of a linear layer)") {
    for (Activation a :
         {Activation::gelu, Activation::gelu_tanh, Activation::silu, Activation::elu, Activation::softplus}) {
      CAPTURE(std::string(to_string(a)));
      CHECK(fails({dense(6, a), out}, LossKind::cross_entropy, {dense(6, Activation::linear), out},
                  LossKind::cross_entropy));
    }
  }
  SUBCASE("gelu's σ′ taken from its tanh approximation, and the other way round: close, and still caught") {
    CHECK(fails({dense(6, Activation::gelu), out}, LossKind::cross_entropy, {dense(6, Activation::gelu_tanh), out},
                LossKind::cross_entropy));
    CHECK(fails({dense(6, Activation::gelu_tanh), out}, LossKind::cross_entropy, {dense(6, Activation::gelu), out},
                LossKind::cross_entropy));
  }
  SUBCASE("δᴸ that forgets the label smoothing, or the class weights") {
    LossSpec smoothed, weighted;
    smoothed.label_smoothing = 0.1;
    weighted.class_weights = {0.5, 1, 1.5, 2, 0.25, 1, 3, 1, 0.75, 1};
    const std::vector<LayerConfig> net = {dense(6, Activation::tanh), out};
    CHECK(fails(net, smoothed, net, LossKind::cross_entropy));
    CHECK(fails(net, weighted, net, LossKind::cross_entropy));
  }
}

namespace {

LayerConfig normed(int units, Activation act, Norm norm) {
  LayerConfig l = dense(units, act);
  l.norm = norm;
  return l;
}

}  // namespace

TEST_CASE(
    "gradcheck passes for batch_norm (in training: every sample's loss depends on the whole batch) and "
    "layer_norm, under each activation, the input gradient included") {
  const RealBatch batch = real_batch(6);
  GradcheckOptions o;
  o.per_tensor = 300;
  for (Norm norm : {Norm::batch_norm, Norm::layer_norm})
    for (Activation a : {Activation::relu, Activation::tanh, Activation::gelu, Activation::linear}) {
      CAPTURE(std::string(to_string(norm)));
      CAPTURE(std::string(to_string(a)));
      // Two normalised layers, the second the output's (before softmax), and γ, β away from 1, 0.
      Network<double> net({normed(7, a, norm), normed(10, Activation::softmax, norm)}, batch.features, 10,
                          LossKind::cross_entropy, 6);
      Rng rng(21);
      net.initialize(rng);
      for (const TensorInfo& t : net.tensors())
        if (t.name.find(".norm.weight") != std::string::npos || t.name.find(".norm.bias") != std::string::npos)
          for (size_t k = 0; k < t.size(); ++k) net.params()[t.offset + k] += 0.1 * double(k % 5) - 0.15;
      const GradcheckReport r = gradcheck(net, batch.x, batch.labels, o);
      CAPTURE(report_text(r, o));
      CHECK(r.pass);
      // W, b, γ, β of each layer, and the input; not batch_norm's running statistics.
      CHECK(r.tensors.size() == 9);
      CHECK(r.tensors[2].name == "layers.0.norm.weight");
      CHECK(r.tensors.back().name == "input");
      for (const TensorCheck& t : r.tensors)
        if (t.name != "layers.0.bias" || norm != Norm::batch_norm) CHECK(t.checked > 0);
    }
}

TEST_CASE("gradcheck fails on a planted error in the norms' backward") {
  const RealBatch batch = real_batch(6);
  GradcheckOptions o;
  o.per_tensor = 200;
  const LayerConfig out = dense(10, Activation::softmax);
  SUBCASE("batch_norm's δ without the batch's coupling: μ and σ² taken as constants") {
    // Evaluation mode with running statistics equal to the batch's is the same forward pass, and its
    // backward is that planted error: δ = γ/√(σ² + ε) ⊙ δʸ, without the terms of mean(δʸ) and
    // mean(δʸ ⊙ ẑ) that the batch's statistics contribute.
    Network<double> net({normed(5, Activation::tanh, Norm::batch_norm), out}, batch.features, 10,
                        LossKind::cross_entropy, 6);
    Rng rng(4);
    net.initialize(rng);
    const auto& l0 = net.layers()[0];
    for (int64_t j = 0; j < l0.out; ++j) {  // z = x·Wᵀ + b, unit j's batch mean and (biased) variance
      std::vector<double> z(6);
      for (int64_t i = 0; i < 6; ++i) {
        z[size_t(i)] = net.params()[l0.b_offset + size_t(j)];
        for (int64_t k = 0; k < batch.features; ++k)
          z[size_t(i)] += batch.x[size_t(i * batch.features + k)] * net.params()[l0.w_offset + size_t(j * l0.in + k)];
      }
      double mean = 0, var = 0;
      for (double v : z) mean += v / 6;
      for (double v : z) var += (v - mean) * (v - mean) / 6;
      net.params()[l0.mean_offset + size_t(j)] = mean;
      net.params()[l0.var_offset + size_t(j)] = var;
    }
    Gradients planted;
    planted.input.resize(batch.x.size());
    net.forward(batch.x.data(), 6);  // evaluation mode
    const double eval_loss = net.loss(batch.labels.data(), true).loss;
    net.backward(planted.input.data());
    planted.params = net.grads();
    const GradcheckReport right = gradcheck(net, batch.x, batch.labels, o);
    CHECK(right.pass);
    CHECK(right.loss == doctest::Approx(eval_loss).epsilon(1e-9));  // the same forward pass, the same loss
    const GradcheckReport r = gradcheck(net, batch.x, batch.labels, planted, o);
    CAPTURE(report_text(r, o));
    CHECK_FALSE(r.pass);
    CHECK_FALSE(r.tensors[0].pass);      // layers.0.weight
    CHECK_FALSE(r.tensors.back().pass);  // the input
  }
  SUBCASE("layer_norm's δ without the row's coupling: μ and σ² of each sample taken as constants") {
    // One normalised softmax layer, so the planted backward is short enough to write here:
    // δʸ = (a − y)/B, and the planted δ = γ/√(σ² + ε) ⊙ δʸ (the right one subtracts the row means
    // of γ ⊙ δʸ and of γ ⊙ δʸ ⊙ ẑ); then ∂C/∂W = δᵀx, ∂C/∂b = Σᵢ δ, ∂C/∂γ = Σᵢ δʸ ⊙ ẑ, ∂C/∂β = Σᵢ δʸ,
    // ∂C/∂x = δ·W.
    const int64_t B = 6, K = 10, n = batch.features;
    Network<double> net({normed(int(K), Activation::softmax, Norm::layer_norm)}, n, K, LossKind::cross_entropy, B);
    Rng rng(8);
    net.initialize(rng);
    const auto& d = net.layers()[0];
    const std::vector<double>& p = net.params();
    Rng unused;
    const double* a = net.forward(batch.x.data(), B, &unused);
    Gradients planted;
    planted.params.assign(p.size(), 0.0);
    planted.input.assign(batch.x.size(), 0.0);
    for (int64_t i = 0; i < B; ++i) {
      std::vector<double> z(static_cast<size_t>(K));
      for (int64_t j = 0; j < K; ++j) {
        z[size_t(j)] = p[d.b_offset + size_t(j)];
        for (int64_t k = 0; k < n; ++k) z[size_t(j)] += batch.x[size_t(i * n + k)] * p[d.w_offset + size_t(j * n + k)];
      }
      double mean = 0, var = 0;
      for (double v : z) mean += v / double(K);
      for (double v : z) var += (v - mean) * (v - mean) / double(K);
      const double inv = 1 / std::sqrt(var + d.norm_epsilon);
      for (int64_t j = 0; j < K; ++j) {
        const double dy = (a[i * K + j] - (batch.labels[size_t(i)] == j ? 1.0 : 0.0)) / double(B);
        const double delta = p[d.gamma_offset + size_t(j)] * inv * dy;
        planted.params[d.gamma_offset + size_t(j)] += dy * (z[size_t(j)] - mean) * inv;
        planted.params[d.beta_offset + size_t(j)] += dy;
        planted.params[d.b_offset + size_t(j)] += delta;
        for (int64_t k = 0; k < n; ++k) {
          planted.params[d.w_offset + size_t(j * n + k)] += delta * batch.x[size_t(i * n + k)];
          planted.input[size_t(i * n + k)] += delta * p[d.w_offset + size_t(j * n + k)];
        }
      }
    }
    // The hand-written backward is right where the coupling does not enter: γ's and β's gradients.
    const Gradients right = backprop(net, batch.x, batch.labels);
    for (size_t k = d.gamma_offset; k < d.gamma_offset + 2 * size_t(K); ++k)
      CHECK(planted.params[k] == doctest::Approx(right.params[k]).epsilon(1e-10));
    const GradcheckReport r = gradcheck(net, batch.x, batch.labels, planted, o);
    CAPTURE(report_text(r, o));
    CHECK_FALSE(r.pass);
    CHECK_FALSE(r.tensors[0].pass);      // layers.0.weight
    CHECK(r.tensors[2].pass);            // layers.0.norm.weight
    CHECK_FALSE(r.tensors.back().pass);  // the input
  }
  SUBCASE("∂C/∂γ without ⊙ ẑ (which makes it ∂C/∂β), in batch_norm and in layer_norm") {
    for (Norm norm : {Norm::batch_norm, Norm::layer_norm}) {
      Network<double> net({normed(5, Activation::gelu, norm), out}, batch.features, 10, LossKind::cross_entropy, 6);
      Rng rng(6);
      net.initialize(rng);
      Gradients g = backprop(net, batch.x, batch.labels);
      const auto& l0 = net.layers()[0];
      std::copy_n(g.params.begin() + long(l0.beta_offset), l0.out, g.params.begin() + long(l0.gamma_offset));
      const GradcheckReport r = gradcheck(net, batch.x, batch.labels, g, o);
      CAPTURE(report_text(r, o));
      CHECK_FALSE(r.pass);
      CHECK(r.tensors[2].name == "layers.0.norm.weight");
      CHECK_FALSE(r.tensors[2].pass);
    }
  }
}

TEST_CASE("gradcheck names the one wrong entry of an otherwise right gradient") {
  const RealBatch batch = real_batch(4);
  Network<double> net({dense(4, Activation::tanh), dense(10, Activation::softmax)}, batch.features, 10,
                      LossKind::cross_entropy, 4);
  Rng rng(5);
  net.initialize(rng);
  Gradients g = backprop(net, batch.x, batch.labels);
  const size_t bias1 = net.tensors()[3].offset;  // layers.1.bias
  g.params[bias1 + 7] *= 1.001;                  // off by 0.1% in one entry
  GradcheckOptions o;
  o.per_tensor = 0;  // every entry of every tensor
  const GradcheckReport r = gradcheck(net, batch.x, batch.labels, g, o);
  CHECK_FALSE(r.pass);
  CHECK(r.tensors[0].pass);
  CHECK(r.tensors[2].pass);
  CHECK_FALSE(r.tensors[3].pass);
  REQUIRE_FALSE(r.tensors[3].worst.empty());
  CHECK(r.tensors[3].worst[0].name == "layers.1.bias[7]");
  CHECK(r.tensors[3].worst[0].error == doctest::Approx(0.001).epsilon(0.01));
}

TEST_CASE("gradcheck reports relu kinks apart and does not count them") {
  const RealBatch batch = real_batch(4);
  Network<double> net({dense(3, Activation::relu), dense(10, Activation::softmax)}, batch.features, 10,
                      LossKind::cross_entropy, 4);
  Rng rng(8);
  net.initialize(rng);
  // Unit 0 of layer 0 sees nothing: z = 0 exactly for every sample, the kink of relu. Moving its bias
  // by ±ε moves every sample across it.
  const size_t w0 = net.tensors()[0].offset, b0 = net.tensors()[1].offset;
  for (int64_t k = 0; k < batch.features; ++k) net.params()[w0 + size_t(k)] = 0;
  net.params()[b0] = 0;
  GradcheckOptions o;
  o.per_tensor = 0;
  o.check_input = false;
  const GradcheckReport r = gradcheck(net, batch.x, batch.labels, o);
  CHECK(r.tensors[1].name == "layers.0.bias");
  CHECK(r.tensors[1].kinks >= 1);
  CHECK(r.tensors[1].checked == 3 - r.tensors[1].kinks);
  CHECK(r.pass);
}

TEST_CASE("gradcheck refuses to pass when every gradient is below the noise floor") {
  const RealBatch batch = real_batch(4);
  Network<double> net({dense(4, Activation::sigmoid), dense(10, Activation::softmax)}, batch.features, 10,
                      LossKind::cross_entropy, 4);
  Rng rng(2);
  net.initialize(rng);
  GradcheckOptions o;
  o.per_tensor = 20;
  o.floor = 1e6;  // a floor above every gradient: nothing is really checked
  const GradcheckReport r = gradcheck(net, batch.x, batch.labels, o);
  for (const TensorCheck& t : r.tensors) CHECK(t.pass);  // no entry fails...
  CHECK_FALSE(r.pass);                                   // ...and still it does not pass
  CHECK(r.refusal.find("noise floor") != std::string::npos);
}

TEST_CASE("the parameters are exactly as before after a gradient check") {
  const RealBatch batch = real_batch(2);
  Network<double> net({dense(3, Activation::tanh), dense(10, Activation::softmax)}, batch.features, 10,
                      LossKind::cross_entropy, 2);
  Rng rng(4);
  net.initialize(rng);
  const std::vector<double> before = net.params();
  GradcheckOptions o;
  o.per_tensor = 0;
  gradcheck(net, batch.x, batch.labels, o);
  CHECK(net.params() == before);
}
