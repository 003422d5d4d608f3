// Training in bf16 (training.precision): the gradients are double precision's within bf16's
// rounding, the threaded step is the whole-batch one, the weights' bf16 twin follows every update,
// and evaluation stays in float.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/loader.hpp"
#include "layers.hpp"
#include "train/parallel.hpp"

using namespace nabla;
using test_layers::dense;
using test_layers::dropout;

namespace {

const std::vector<LayerConfig> kLayers = {dense(64, Activation::relu), dense(32, Activation::tanh),
                                          dense(10, Activation::softmax)};

// The first `rows` Fashion-MNIST training images of the committed sample, as one batch.
data::Batch first_rows(data::BatchLoader& loader) {
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));
  return b;
}

data::LoaderOptions rows_options(int64_t rows) {
  data::LoaderOptions o;
  o.end = rows;
  o.batch_size = rows;
  o.shuffle = false;
  return o;
}

DataSource fashion_sample() {
  DataSource src;
  src.images = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-images-idx3-ubyte.gz";
  src.labels = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-labels-idx1-ubyte.gz";
  return src;
}

// ‖a − b‖ / ‖b‖ over two parameter-shaped buffers.
template <class A, class B>
double relative_error(const std::vector<A>& a, const std::vector<B>& b) {
  double diff = 0, norm = 0;
  for (size_t k = 0; k < b.size(); ++k) {
    diff += std::pow(double(a[k]) - double(b[k]), 2);
    norm += std::pow(double(b[k]), 2);
  }
  return std::sqrt(diff / norm);
}

// The bf16 step in double precision: the same network (relu, tanh, softmax with cross-entropy),
// each GEMM operand rounded to bf16 where nabla rounds it (through float, as nabla rounds the
// floats it has), every product and sum in double. Returns the gradients in params() layout.
std::vector<double> bf16_gradients_in_double(const Network<float>& net, const float* x, const int32_t* labels,
                                             int64_t rows) {
  auto r = [](double v) { return double(from_bf16(to_bf16(float(v)))); };
  const auto& L = net.layers();
  const std::vector<float>& p = net.params();
  std::vector<double> grads(p.size(), 0.0);
  // Forward: a[l] is layer l's output, in[l] its input rounded.
  std::vector<std::vector<double>> in(L.size()), a(L.size());
  in[0].resize(size_t(rows * L[0].in));
  for (size_t k = 0; k < in[0].size(); ++k) in[0][k] = r(x[k]);
  for (size_t l = 0; l < L.size(); ++l) {
    const auto& d = L[l];
    a[l].assign(size_t(rows * d.out), 0.0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < d.out; ++j) {
        double z = 0;
        for (int64_t q = 0; q < d.in; ++q) z += in[l][size_t(i * d.in + q)] * r(p[d.w_offset + size_t(j * d.in + q)]);
        z = float(z) + double(p[d.b_offset + size_t(j)]);
        a[l][size_t(i * d.out + j)] = d.act == Activation::relu ? std::max(z, 0.0) : d.act == Activation::tanh ? std::tanh(z) : z;
      }
    if (d.act == Activation::softmax)
      for (int64_t i = 0; i < rows; ++i) {
        double* row = a[l].data() + i * d.out;
        const double top = *std::max_element(row, row + d.out);
        double sum = 0;
        for (int64_t j = 0; j < d.out; ++j) sum += row[j] = std::exp(row[j] - top);
        for (int64_t j = 0; j < d.out; ++j) row[j] /= sum;
      }
    if (l + 1 < L.size()) {
      in[l + 1].resize(a[l].size());
      for (size_t k = 0; k < a[l].size(); ++k) in[l + 1][k] = r(float(a[l][k]));
    }
  }
  // Backward: δᴸ = (softmax − one-hot) / B, then δ = (δ_16 · W_16) ⊙ σ′, each δ rounded for its GEMMs.
  std::vector<double> delta(a.back());
  for (int64_t i = 0; i < rows; ++i) delta[size_t(i * L.back().out + labels[i])] -= 1;
  for (double& v : delta) v /= double(rows);
  for (size_t l = L.size(); l-- > 0;) {
    const auto& d = L[l];
    std::vector<double> d16(delta.size());
    for (size_t k = 0; k < delta.size(); ++k) d16[k] = r(float(delta[k]));
    for (int64_t j = 0; j < d.out; ++j) {
      for (int64_t q = 0; q < d.in; ++q) {
        double g = 0;
        for (int64_t i = 0; i < rows; ++i) g += d16[size_t(i * d.out + j)] * in[l][size_t(i * d.in + q)];
        grads[d.w_offset + size_t(j * d.in + q)] = g;
      }
      double g = 0;
      for (int64_t i = 0; i < rows; ++i) g += float(delta[size_t(i * d.out + j)]);
      grads[d.b_offset + size_t(j)] = g;
    }
    if (l == 0) break;
    const auto& below = L[l - 1];
    std::vector<double> next(size_t(rows * d.in));
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t q = 0; q < d.in; ++q) {
        double s = 0;
        for (int64_t j = 0; j < d.out; ++j) s += d16[size_t(i * d.out + j)] * r(p[d.w_offset + size_t(j * d.in + q)]);
        const double act = float(a[l - 1][size_t(i * d.in + q)]);
        next[size_t(i * d.in + q)] = s * (below.act == Activation::relu ? (act > 0 ? 1.0 : 0.0) : 1 - act * act);
      }
    delta = std::move(next);
  }
  return grads;
}

}  // namespace

TEST_CASE("bf16 gradients on real data are double precision's within bf16's rounding, and evaluation stays float") {
  const std::string why = bf16_unavailable();
  if (!why.empty()) {
    WARN_MESSAGE(false, ("bf16 not tested: " + why).c_str());
    return;
  }
  const int64_t rows = 64;
  data::BatchLoader loader(fashion_sample(), DataFormat::idx, false, rows_options(rows));
  const data::Batch b = first_rows(loader);
  const std::vector<double> x(b.x, b.x + rows * 784);

  // The reference, in double precision.
  Network<double> exact(kLayers, 784, 10, LossKind::cross_entropy, rows);
  Rng r0(3);
  exact.initialize(r0);
  Rng no_dropout(0);
  exact.forward(x.data(), rows, &no_dropout);
  exact.loss(b.labels, true);
  exact.backward();

  auto gradients = [&](bool bf16) {
    Network<float> net(kLayers, 784, 10, LossKind::cross_entropy, rows);
    Rng r(3);
    net.initialize(r);
    if (bf16) net.use_bf16();
    Rng training(0);
    net.forward(b.x, rows, &training);
    net.loss(b.labels, true);
    net.backward();
    return net.grads();
  };
  const double fp32 = relative_error(gradients(false), exact.grads());
  const std::vector<float> rounded = gradients(true);
  const double bf16 = relative_error(rounded, exact.grads());
  Network<float> same(kLayers, 784, 10, LossKind::cross_entropy, rows);
  Rng r1(3);
  same.initialize(r1);
  const double simulated = relative_error(rounded, bf16_gradients_in_double(same, b.x, b.labels, rows));
  CAPTURE(fp32);
  CAPTURE(bf16);
  CAPTURE(simulated);
  CHECK(fp32 < 1e-5);
  // bf16's operands are 2⁻⁹-relative roundings, and where a sum cancels, its error grows: the
  // gradients are a few percent from the exact ones (2% here), not float's 10⁻⁷ ...
  CHECK(bf16 > 1e-3);
  CHECK(bf16 < 5e-2);
  // ... but the same rounding, done in double, gives them to within float's sums.
  CHECK(simulated < 1e-6);  // 3·10⁻⁸ here

  // Evaluation (no dropout generator) is float's, bit for bit, with or without bf16.
  Network<float> plain(kLayers, 784, 10, LossKind::cross_entropy, rows), low(kLayers, 784, 10, LossKind::cross_entropy, rows);
  Rng ra(3), rb(3);
  plain.initialize(ra);
  low.initialize(rb);
  low.use_bf16();
  const float* p = plain.forward(b.x, rows);
  const float* q = low.forward(b.x, rows);
  CHECK(std::vector<float>(p, p + rows * 10) == std::vector<float>(q, q + rows * 10));
}

TEST_CASE("a bf16 step on 1, 2 and 3 threads is the whole-batch bf16 step, and the bf16 weights follow the update") {
  if (!bf16_unavailable().empty()) return;  // reported by the test above
  const int64_t rows = 37;  // a batch that no thread count divides evenly
  data::LoaderOptions o = rows_options(rows);
  data::BatchLoader loader(fashion_sample(), DataFormat::idx, false, o);
  const data::Batch b = first_rows(loader);
  o.defer_conversion = true;  // the threads scale the bytes themselves
  data::BatchLoader bytes_loader(fashion_sample(), DataFormat::idx, false, o);
  const data::Batch raw = first_rows(bytes_loader);
  REQUIRE(raw.raw != nullptr);

  OptimizerConfig oc;
  oc.learning_rate = 0.1;
  oc.momentum = 0.9;
  Network<float> ref(kLayers, 784, 10, LossKind::cross_entropy, rows);
  Rng init(9);
  ref.initialize(init);
  ref.use_bf16();
  Rng training(0);
  ref.forward(b.x, rows, &training);
  const LossResult want = ref.loss(b.labels, true);
  ref.backward();
  Optimizer ref_opt(oc, ref.params().size());
  ref_opt.step(ref.params().data(), ref.grads().data(), 0.1);

  for (int threads : {1, 2, 3}) {
    CAPTURE(threads);
    Network<float> net(kLayers, 784, 10, LossKind::cross_entropy, rows);
    Rng again(9);
    net.initialize(again);
    net.use_bf16();
    Optimizer opt(oc, net.params().size());
    DataParallel step(net, threads);
    const StepResult r = step.compute(raw, 1);
    CHECK(r.finite);
    CHECK(r.correct == want.correct);
    CHECK(r.loss == doctest::Approx(want.loss).epsilon(1e-6));
    CHECK(step.update(opt, 0.1));
    CHECK(relative_error(net.params(), ref.params()) < 1e-6);
    // The twin of every weight is the rounding of its new value (biases have no use for one).
    for (const auto& d : net.layers())
      for (size_t k = d.w_offset; k < d.w_offset + size_t(d.out * d.in); ++k) REQUIRE(net.params_bf16()[k] == to_bf16(net.params()[k]));
  }
}

TEST_CASE("bf16 with input and hidden dropout, and with a single layer, steps as float does within bf16's rounding") {
  if (!bf16_unavailable().empty()) return;  // reported by the first test
  // The same step in float and in bf16 draws the same dropout masks (the same seeds), so the two
  // updates differ by bf16's rounding alone. Rounding in the wrong place (the input before its
  // dropout, an activation before its mask) or a stale bf16 input would change them by far more.
  const int64_t rows = 37;
  data::LoaderOptions o = rows_options(rows);
  o.defer_conversion = true;
  data::BatchLoader bytes_loader(fashion_sample(), DataFormat::idx, false, o);
  const data::Batch raw = first_rows(bytes_loader);
  const std::vector<std::vector<LayerConfig>> models = {
      {dropout(0.5), dense(64, Activation::relu), dropout(0.3), dense(32, Activation::tanh), dropout(0.3),
       dense(10, Activation::softmax)},
      {dense(10, Activation::softmax)}};  // one layer: no split by units, the input rounded in phase 2
  OptimizerConfig oc;
  oc.learning_rate = 0.1;
  for (size_t m = 0; m < models.size(); ++m)
    for (int threads : {1, 2}) {
      CAPTURE(m);
      CAPTURE(threads);
      auto step = [&](bool bf16) {
        Network<float> net(models[m], 784, 10, LossKind::cross_entropy, rows);
        Rng init(4);
        net.initialize(init);
        if (bf16) net.use_bf16();
        const std::vector<float> before = net.params();
        Optimizer opt(oc, net.params().size());
        DataParallel parallel(net, threads);
        REQUIRE(parallel.compute(raw, 77).finite);
        REQUIRE(parallel.update(opt, 0.1));
        std::vector<double> change(before.size());
        for (size_t k = 0; k < before.size(); ++k) change[k] = double(net.params()[k]) - double(before[k]);
        return change;
      };
      const double apart = relative_error(step(true), step(false));
      CAPTURE(apart);
      CHECK(apart < 5e-2);
      CHECK(apart > 1e-5);  // and bf16 was on
    }
}
