// The threaded training step is the same mathematics as the plain one: a whole-batch forward,
// backward and optimiser step on one thread.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "data/loader.hpp"
#include "layers.hpp"
#include "train/parallel.hpp"
#include "train/team.hpp"

using namespace nabla;

using test_layers::dense;

TEST_CASE("one step on 1, 2 and 3 threads equals the whole-batch step on real data") {
  DataSource src;
  src.images = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-images-idx3-ubyte.gz";
  src.labels = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-labels-idx1-ubyte.gz";
  data::LoaderOptions o;
  o.end = 37;  // a batch that no thread count divides evenly
  o.batch_size = 37;
  o.shuffle = false;
  data::BatchLoader loader(src, DataFormat::idx, false, o);
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));

  const std::vector<LayerConfig> layers = {dense(24, Activation::tanh), dense(16, Activation::relu),
                                           dense(10, Activation::softmax)};
  OptimizerConfig oc;
  oc.learning_rate = 0.1;
  oc.momentum = 0.9;

  // The reference: the whole batch on this thread.
  Network<float> ref(layers, 784, 10, LossKind::cross_entropy, 37);
  Rng init(9);
  ref.initialize(init);
  ref.forward(b.x, b.rows);
  const LossResult want = ref.loss(b.labels, true);
  ref.backward();
  Optimizer ref_opt(oc, ref.params().size());
  ref_opt.step(ref.params().data(), ref.grads().data(), 0.1);

  // The same batch handed out as bytes, which the threads scale themselves.
  o.defer_conversion = true;
  data::BatchLoader bytes_loader(src, DataFormat::idx, false, o);
  bytes_loader.start_epoch(0);
  data::Batch raw;
  REQUIRE(bytes_loader.next(raw));
  REQUIRE(raw.raw != nullptr);

  for (int threads : {1, 2, 3})
    for (const data::Batch* batch : {&b, &raw}) {
      CAPTURE(threads);
      CAPTURE(batch == &raw);
      Network<float> net(layers, 784, 10, LossKind::cross_entropy, 37);
      Rng again(9);
      net.initialize(again);
      Optimizer opt(oc, net.params().size());
      DataParallel step(net, threads);
      const StepResult r = step.compute(*batch, 1);
      CHECK(r.finite);
      CHECK(r.correct == want.correct);
      CHECK(r.loss == doctest::Approx(want.loss).epsilon(1e-6));
      step.update(opt, 0.1);
      double diff = 0, norm = 0;
      for (size_t k = 0; k < net.params().size(); ++k) {
        diff += std::pow(double(net.params()[k]) - double(ref.params()[k]), 2);
        norm += std::pow(double(ref.params()[k]), 2);
      }
      CHECK(std::sqrt(diff / norm) < 1e-6);
    }
}

TEST_CASE("with batch_norm, layer_norm and a shaped loss, one step on 1, 2 and 3 threads equals the whole-batch step") {
  // batch_norm's statistics are over the whole batch: the threaded step finishes such a layer by
  // units between its row phases, forward and backward (parallel.cpp). Layer 0 (split by units),
  // a middle layer and the output layer each carry a norm.
  DataSource src;
  src.images = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-images-idx3-ubyte.gz";
  src.labels = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-labels-idx1-ubyte.gz";
  data::LoaderOptions o;
  o.end = 150;  // three blocks of rows (48, 48, 54), on any thread count
  o.batch_size = 150;
  o.shuffle = false;
  data::BatchLoader loader(src, DataFormat::idx, false, o);
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));
  auto normed = [](int units, Activation a, Norm n) {
    LayerConfig l = dense(units, a);
    l.norm = n;
    return l;
  };
  const std::vector<LayerConfig> layers = {
      normed(40, Activation::gelu, Norm::batch_norm), normed(24, Activation::silu, Norm::layer_norm),
      normed(16, Activation::tanh, Norm::batch_norm), normed(10, Activation::softmax, Norm::batch_norm)};
  LossSpec loss;
  loss.label_smoothing = 0.1;
  loss.class_weights = {1, 2, 1, 1, 0.5, 1, 1, 3, 1, 1};
  OptimizerConfig oc;
  oc.learning_rate = 0.1;
  oc.momentum = 0.9;
  Network<float> ref(layers, 784, 10, loss, 150);
  Rng init(9);
  ref.initialize(init);
  Rng unused;
  ref.forward(b.x, b.rows, &unused);  // training mode: the batch's statistics
  const LossResult want = ref.loss(b.labels, true);
  ref.backward();
  Optimizer ref_opt(oc, ref.params().size());
  ref_opt.step(ref.params().data(), ref.grads().data(), 0.1);

  std::vector<float> running;  // batch_norm's running statistics after the step, on 1 thread
  for (int threads : {1, 2, 3}) {
    CAPTURE(threads);
    Network<float> net(layers, 784, 10, loss, 150);
    Rng again(9);
    net.initialize(again);
    Optimizer opt(oc, net.params().size());
    DataParallel step(net, threads);
    const StepResult r = step.compute(b, 1);
    CHECK(r.finite);
    CHECK(r.correct == want.correct);
    CHECK(r.loss == doctest::Approx(want.loss).epsilon(1e-6));
    step.update(opt, 0.1);
    double diff = 0, norm = 0;
    std::vector<float> stats;
    for (const TensorInfo& t : net.tensors())
      for (size_t k = t.offset; k < t.offset + t.size(); ++k) {
        if (!t.trained) {  // the whole-batch forward leaves them; the step updates them
          stats.push_back(net.params()[k]);
          continue;
        }
        diff += std::pow(double(net.params()[k]) - double(ref.params()[k]), 2);
        norm += std::pow(double(ref.params()[k]), 2);
      }
    CHECK(std::sqrt(diff / norm) < 1e-6);
    REQUIRE(stats.size() == 2 * (40 + 16 + 10));
    if (threads == 1) {
      running = stats;
      CHECK(running[0] != 0.0f);  // a mean moved from 0
    }
    CHECK(stats == running);  // the same bits
  }
}

TEST_CASE("the threaded step with dropout follows the gradient of its own masked loss, by central differences") {
  // A step's dropout masks come from (seed, thread, phase): compute() with the same seed masks the
  // same units, so the loss with those masks is a function of the parameters alone, and plain SGD
  // at rate 1 takes exactly its gradient as computed by the threads (θ − θ').
  DataSource src;
  src.images = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-images-idx3-ubyte.gz";
  src.labels = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-labels-idx1-ubyte.gz";
  data::LoaderOptions o;
  o.end = 37;
  o.batch_size = 37;
  o.shuffle = false;
  o.defer_conversion = true;  // the threads scale the bytes, as in training
  data::BatchLoader loader(src, DataFormat::idx, false, o);
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));
  // Input dropout, the first layer split by units (phase 1), dropout between the upper layers.
  const std::vector<LayerConfig> layers = {test_layers::dropout(0.2),  dense(12, Activation::tanh),
                                           test_layers::dropout(0.3),  dense(11, Activation::sigmoid),
                                           test_layers::dropout(0.25), dense(10, Activation::softmax)};
  OptimizerConfig plain;
  plain.learning_rate = 1;
  plain.momentum = 0;
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    Network<float> net(layers, 784, 10, LossKind::cross_entropy, 37);
    Rng init(3);
    net.initialize(init);
    const std::vector<float> theta = net.params();
    DataParallel step(net, threads);
    constexpr uint64_t seed = 11;
    Optimizer sgd(plain, theta.size());
    REQUIRE(step.compute(b, seed).finite);
    REQUIRE(step.update(sgd, 1.0));
    std::vector<double> backprop(theta.size());
    for (size_t k = 0; k < theta.size(); ++k) backprop[k] = double(theta[k]) - double(net.params()[k]);

    auto loss_at = [&](size_t k, float delta) {
      net.params() = theta;
      net.params()[k] += delta;
      return step.compute(b, seed).loss;
    };
    const float eps = 1e-2f;
    double err = 0, norm = 0;
    for (size_t k = 0; k < theta.size(); k += theta.size() / 97) {  // ~100 entries from every tensor
      const double fd = (loss_at(k, eps) - loss_at(k, -eps)) / (2.0 * double(eps));
      err += (fd - backprop[k]) * (fd - backprop[k]);
      norm += backprop[k] * backprop[k];
    }
    CAPTURE(std::sqrt(norm));
    CHECK(std::sqrt(norm) > 1e-3);  // a gradient there is to check
    CHECK(std::sqrt(err / norm) < 5e-3);
  }
}

TEST_CASE("a gradient that would overflow is caught from the bounds, before the update, with a finite loss") {
  // 5 inputs of 3e37 through a linear layer of weights 2: activations of 3e38, still finite. The
  // next layer's weights are tiny, so the loss is finite too; but its weight gradient sums six
  // terms of about 0.1 x 3e38, past what a float holds.
  const std::vector<LayerConfig> layers = {dense(8, Activation::linear), dense(3, Activation::softmax)};
  const std::vector<float> x(6 * 5, 3e37f);
  const std::vector<int32_t> labels = {0, 1, 2, 0, 1, 2};
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    Network<float> net(layers, 5, 3, LossKind::cross_entropy, 6);
    const TensorInfo& w0 = net.tensors()[0];
    const TensorInfo& w1 = net.tensors()[2];
    for (size_t k = 0; k < w0.size(); ++k) net.params()[w0.offset + k] = 2.0f;
    for (size_t k = 0; k < w1.size(); ++k) net.params()[w1.offset + k] = 1e-39f * float(k % 3 + 1);
    DataParallel step(net, threads);
    data::Batch b;
    b.x = x.data();
    b.labels = labels.data();
    b.rows = 6;
    b.features = 5;
    const StepResult r = step.compute(b, 1);
    CHECK(std::isfinite(r.loss));
    CHECK_FALSE(r.finite);
  }
}

TEST_CASE("an exception in one member reaches the caller after every member is done, and the team runs on") {
  for (int thrower : {0, 2}) {
    CAPTURE(thrower);
    Team team(3);
    std::vector<std::atomic<int>> done(3);
    auto f = [&](int k) {
      if (k == thrower) throw std::runtime_error("member " + std::to_string(k));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // still running when the throw happens
      done[size_t(k)].fetch_add(1);
    };
    CHECK_THROWS_WITH(team.run(f), ("member " + std::to_string(thrower)).c_str());
    for (int k = 0; k < 3; ++k) CHECK(done[size_t(k)].load() == (k == thrower ? 0 : 1));
    auto g = [&](int k) { done[size_t(k)].fetch_add(1); };
    team.run(g);  // the error is not reported twice
    for (int k = 0; k < 3; ++k) CHECK(done[size_t(k)].load() == (k == thrower ? 1 : 2));
  }
}
