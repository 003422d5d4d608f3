// The network's forward and backward passes against values worked out by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "layers.hpp"
#include "nn/activation.hpp"
#include "nn/network.hpp"
#include "util/error.hpp"

using namespace nabla;

using test_layers::dense;

TEST_CASE("the seed article's circuit f(x, y, z) = (x + y) * z through backprop") {
  // A linear network expresses the circuit: layer 0 (2 -> 1, W = [1 1]) computes q = x + y, layer 1
  // (1 -> 1, W = [z]) computes f = q * z. With the quadratic cost and target f - 1, C = (f - t)^2 / 2
  // has dC/df = 1, so backprop's gradients are exactly the circuit's: df/dx = df/dy = z = -4 (the
  // input gradient) and df/dz = q = 3 (layer 1's weight gradient).
  Network<double> net({dense(1, Activation::linear), dense(1, Activation::linear)}, 2, 1, LossKind::mse, 1);
  auto& p = net.params();
  const auto& t = net.tensors();
  p[t[0].offset] = 1;  // layers.0.weight = [1 1]
  p[t[0].offset + 1] = 1;
  p[t[1].offset] = 0;   // layers.0.bias
  p[t[2].offset] = -4;  // layers.1.weight = [z]
  p[t[3].offset] = 0;   // layers.1.bias
  const std::vector<double> xy = {-2, 5};
  const int32_t target = -13;  // f - 1
  const double* f = net.forward(xy.data(), 1);
  CHECK(f[0] == -12);
  const LossResult r = net.loss(&target, true);
  CHECK(r.loss == doctest::Approx(0.5));
  std::vector<double> grad_xy(2);
  net.backward(grad_xy.data());
  CHECK(grad_xy[0] == -4);                     // df/dx
  CHECK(grad_xy[1] == -4);                     // df/dy
  CHECK(net.grads()[t[2].offset] == 3);        // df/dz
  CHECK(net.grads()[t[3].offset] == 1);        // df/d(layer 1's bias)
  CHECK(net.grads()[t[0].offset] == 8);        // df/dW0 = z * x = -4 * -2
  CHECK(net.grads()[t[0].offset + 1] == -20);  // z * y
}

TEST_CASE("a tiny sigmoid network's forward values, worked out by hand") {
  // 2 inputs -> 2 sigmoid units -> 2 softmax outputs.
  // W0 = [[0.1 0.2] [0.3 -0.4]], b0 = [0.5 -0.5], W1 = [[1 -1] [2 0.5]], b1 = [0 0.25], x = [1 2]
  // z0 = [0.1 + 0.4 + 0.5, 0.3 - 0.8 - 0.5] = [1, -1];  a0 = [σ(1), σ(-1)] = [0.7310585786, 0.2689414214]
  // z1 = [0.7310585786 - 0.2689414214, 1.4621171573 + 0.1344707107 + 0.25] = [0.4621171573, 1.8465878680]
  // a1 = softmax(z1): e^(0.4621171573 - 1.8465878680) = e^-1.3844707107 = 0.2504563286,
  //      a1 = [0.2504563286 / 1.2504563286, 1 / 1.2504563286] = [0.2002919437, 0.7997080563]
  // cross-entropy for label 1: -log 0.7997080563 = 0.2235085476
  Network<double> net({dense(2, Activation::sigmoid), dense(2, Activation::softmax)}, 2, 2, LossKind::cross_entropy, 1);
  net.params() = {0.1, 0.2, 0.3, -0.4, 0.5, -0.5, 1, -1, 2, 0.5, 0, 0.25};
  const std::vector<double> x = {1, 2};
  const double* a = net.forward(x.data(), 1);
  CHECK(net.activations(0)[0] == doctest::Approx(0.7310585786).epsilon(1e-9));
  CHECK(net.activations(0)[1] == doctest::Approx(0.2689414214).epsilon(1e-9));
  CHECK(a[0] == doctest::Approx(0.2002919437).epsilon(1e-9));
  CHECK(a[1] == doctest::Approx(0.7997080563).epsilon(1e-9));
  const int32_t label = 1;
  const LossResult r = net.loss(&label, false);
  CHECK(r.loss == doctest::Approx(0.2235085476).epsilon(1e-9));
  CHECK(r.correct == 1);
}

TEST_CASE("a batch is one matrix: the same rows give the same outputs as one at a time") {
  Network<double> net({dense(3, Activation::tanh), dense(2, Activation::softmax)}, 4, 2, LossKind::cross_entropy, 3);
  Rng rng(5);
  net.initialize(rng);
  const std::vector<double> x = {0.1, 0.2, 0.3, 0.4, -1, 0, 1, 2, 0.5, 0.5, -0.5, -0.5};
  std::vector<double> batch(net.forward(x.data(), 3), net.forward(x.data(), 3) + 6);
  for (int i = 0; i < 3; ++i) {
    const double* one = net.forward(x.data() + 4 * i, 1);
    CHECK(one[0] == doctest::Approx(batch[size_t(2 * i)]).epsilon(1e-14));
    CHECK(one[1] == doctest::Approx(batch[size_t(2 * i + 1)]).epsilon(1e-14));
  }
}

TEST_CASE("every activation's derivative agrees with a double-precision central difference") {
  const Activation acts[] = {Activation::sigmoid, Activation::tanh,    Activation::relu,      Activation::leaky_relu,
                             Activation::linear,  Activation::gelu,    Activation::gelu_tanh, Activation::silu,
                             Activation::elu,     Activation::softplus};
  const double h = 1e-6;
  for (Activation act : acts) {
    for (double z : {-3.0, -0.7, -0.1, 0.2, 0.9, 2.5}) {
      const double fd = (activate(act, 0.01, z + h) - activate(act, 0.01, z - h)) / (2 * h);
      const double analytic = derivative_at(act, 0.01, z);
      CAPTURE(int(act));
      CAPTURE(z);
      CHECK(analytic == doctest::Approx(fd).epsilon(1e-8));
    }
  }
}

TEST_CASE("the new activations' values, worked out by hand") {
  // gelu(1) = 1·Φ(1) = ½(1 + erf(1/√2)) = 0.841344746…; gelu(−1) = −Φ(−1) = −0.158655254…
  CHECK(activate(Activation::gelu, 0, 1.0) == doctest::Approx(0.8413447460685429).epsilon(1e-15));
  CHECK(activate(Activation::gelu, 0, -1.0) == doctest::Approx(-0.15865525393145707).epsilon(1e-15));
  // gelu_tanh(1): u = √(2/π)·(1 + 0.044715) = 0.833561969, tanh u = 0.682383981, ½·1·(1 + tanh u)
  CHECK(activate(Activation::gelu_tanh, 0, 1.0) == doctest::Approx(0.8411919906082768).epsilon(1e-15));
  // silu(1) = 1/(1 + e⁻¹) = 0.731058579; silu(−2) = −2/(1 + e²) = −0.238405844
  CHECK(activate(Activation::silu, 0, 1.0) == doctest::Approx(0.7310585786300049).epsilon(1e-15));
  CHECK(activate(Activation::silu, 0, -2.0) == doctest::Approx(-0.23840584404423515).epsilon(1e-15));
  // elu(−1) with α = 0.5: 0.5·(e⁻¹ − 1) = −0.316060279; elu(2) = 2
  CHECK(activate(Activation::elu, 0.5, -1.0) == doctest::Approx(-0.31606027941427883).epsilon(1e-15));
  CHECK(activate(Activation::elu, 0.5, 2.0) == 2.0);
  // softplus(1) = log(1 + e) = 1.313261688; softplus(0) = log 2; softplus(−800) = e⁻⁸⁰⁰ underflows to 0
  CHECK(activate(Activation::softplus, 0, 1.0) == doctest::Approx(1.3132616875182228).epsilon(1e-15));
  CHECK(activate(Activation::softplus, 0, 0.0) == doctest::Approx(0.6931471805599453).epsilon(1e-15));
  CHECK(activate(Activation::softplus, 0, 800.0) == 800.0);  // no overflow of e⁸⁰⁰
  // the derivatives at a point each: gelu′(0) = Φ(0) = ½, silu′(0) = ½, softplus′(0) = ½, elu′(−1) = αe⁻¹
  CHECK(derivative_at(Activation::gelu, 0, 0.0) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(derivative_at(Activation::gelu_tanh, 0, 0.0) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(derivative_at(Activation::silu, 0, 0.0) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(derivative_at(Activation::softplus, 0, 0.0) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(derivative_at(Activation::elu, 0.5, -1.0) == doctest::Approx(0.5 * std::exp(-1.0)).epsilon(1e-15));
}

TEST_CASE("label smoothing and class weights, worked out by hand") {
  // Two classes, z = (ln 3, 0): softmax a = (3/4, 1/4).
  const double z[] = {std::log(3.0), 0, std::log(3.0), 0};
  const double a[] = {0.75, 0.25, 0.75, 0.25};
  const int32_t labels[] = {0, 1};
  double delta[4];
  SUBCASE("smoothing 0.2 of label 0: the target is (0.9, 0.1)") {
    // C = −(0.9·ln ¾ + 0.1·ln ¼) = 0.397543301;  δ = a − t = (−0.15, 0.15)
    LossSpec loss;
    loss.label_smoothing = 0.2;
    const LossResult r = loss_and_delta(loss, Activation::softmax, 0, z, a, labels, 1, 2, delta, 1.0);
    CHECK(r.loss == doctest::Approx(0.39754330131859184).epsilon(1e-14));
    CHECK(delta[0] == doctest::Approx(-0.15).epsilon(1e-14));
    CHECK(delta[1] == doctest::Approx(0.15).epsilon(1e-14));
  }
  SUBCASE("weights (1, 3) over labels 0 and 1: the mean is over W = 1 + 3") {
    // C = (1·(−ln ¾) + 3·(−ln ¼)) / 4 = 1.111641289 (unweighted: 0.836988);  δ₁ = 3·(a − y)/4 = (0.5625, −0.5625)
    LossSpec loss;
    loss.class_weights = {1, 3};
    CHECK(batch_weight(loss, labels, 2) == 4.0);
    const LossResult r = loss_and_delta(loss, Activation::softmax, 0, z, a, labels, 2, 2, delta, 4.0);
    CHECK(r.loss == doctest::Approx(1.111641288952863).epsilon(1e-14));
    CHECK(delta[0] == doctest::Approx(-0.0625).epsilon(1e-14));  // 1·(¾ − 1)/4
    CHECK(delta[2] == doctest::Approx(0.5625).epsilon(1e-14));   // 3·(¾ − 0)/4
    CHECK(delta[3] == doctest::Approx(-0.5625).epsilon(1e-14));  // 3·(¼ − 1)/4
  }
}

TEST_CASE("batch_norm and layer_norm forward values, worked out by hand") {
  SUBCASE("batch_norm over a batch of two: z = (1, 3) has μ = 2, σ² = 1") {
    // One input, one linear unit with w = 1, b = 0: z = x. ẑ = (z − 2)/√(1 + ε) = ∓0.999995,
    // y = γẑ + β with γ = 2, β = 0.5: (−1.49999, 2.49999). Running statistics after the batch, with
    // momentum 0.1: mean 0.9·0 + 0.1·2 = 0.2, variance 0.9·1 + 0.1·2 = 1.1 (unbiased: 2/(2 − 1)·1).
    LayerConfig l = dense(1, Activation::linear);
    l.norm = Norm::batch_norm;
    Network<double> net({l}, 1, 1, LossKind::mse, 2);
    const auto& d = net.layers()[0];
    auto& p = net.params();
    p[d.w_offset] = 1;
    p[d.b_offset] = 0;
    p[d.gamma_offset] = 2;
    p[d.beta_offset] = 0.5;
    p[d.mean_offset] = 0;
    p[d.var_offset] = 1;
    const double x[] = {1, 3};
    const double inv = 1 / std::sqrt(1 + 1e-5);
    net.begin_batch(x, 2, /*training=*/true, /*running=*/true);
    net.forward_rows(0, 2, nullptr, 0, 1);
    net.finish_units(0, 0, 1, nullptr);
    CHECK(net.activations(0)[0] == doctest::Approx(0.5 - 2 * inv).epsilon(1e-15));
    CHECK(net.activations(0)[1] == doctest::Approx(0.5 + 2 * inv).epsilon(1e-15));
    CHECK(p[d.mean_offset] == doctest::Approx(0.2).epsilon(1e-15));
    CHECK(p[d.var_offset] == doctest::Approx(1.1).epsilon(1e-15));
    // In evaluation the running statistics: x = 1 gives (1 − 0.2)/√(1.1 + ε)·2 + 0.5 = 2.025558…
    const double* a = net.forward(x, 1);
    CHECK(a[0] == doctest::Approx(0.8 / std::sqrt(1.1 + 1e-5) * 2 + 0.5).epsilon(1e-15));
  }
  SUBCASE("layer_norm of one sample z = (1, 2, 3): μ = 2, σ² = 2/3") {
    // W = I, b = 0: z = x. ẑ = (z − 2)/√(2/3 + ε) = (−1.2247357, 0, 1.2247357); γ = 1, β = 0.
    LayerConfig l = dense(3, Activation::linear);
    l.norm = Norm::layer_norm;
    Network<double> net({l}, 3, 3, LossKind::mse, 1);
    const auto& d = net.layers()[0];
    auto& p = net.params();
    std::fill(p.begin(), p.end(), 0.0);
    for (int k = 0; k < 3; ++k) p[d.w_offset + size_t(4 * k)] = 1;
    std::fill_n(p.begin() + long(d.gamma_offset), 3, 1.0);
    const double x[] = {1, 2, 3};
    const double* a = net.forward(x, 1);
    const double s = 1 / std::sqrt(2.0 / 3 + 1e-5);
    CHECK(a[0] == doctest::Approx(-s).epsilon(1e-15));
    CHECK(a[1] == doctest::Approx(0.0));
    CHECK(a[2] == doctest::Approx(s).epsilon(1e-15));
    CHECK(s == doctest::Approx(1.2247357).epsilon(1e-7));
  }
}

TEST_CASE("a network of impossible sizes is a broken invariant (InternalError, in Release too), not bad input") {
  using nabla::Network;
  const std::vector<nabla::LayerConfig> layers = {test_layers::dense(4, nabla::Activation::relu),
                                                  test_layers::dense(0, nabla::Activation::softmax)};
  CHECK_THROWS_AS(Network<float>(layers, 0, 10, nabla::LossKind::cross_entropy, 8), nabla::InternalError);
  CHECK_THROWS_AS(Network<float>(layers, 784, 10, nabla::LossKind::cross_entropy, 0), nabla::InternalError);
  CHECK_THROWS_AS(Network<float>(layers, int64_t(1) << 31, 10, nabla::LossKind::cross_entropy, 8),
                  nabla::InternalError);
  CHECK_THROWS_AS(Network<float>({}, 784, 10, nabla::LossKind::cross_entropy, 8), nabla::InternalError);
  // An InternalError is no nabla::Error: no handler of bad input catches it.
  CHECK_FALSE(std::is_base_of_v<nabla::Error, nabla::InternalError>);
}
