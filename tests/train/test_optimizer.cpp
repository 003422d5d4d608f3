// Each optimiser's first two steps against values worked out by hand (PyTorch's update rules), for
// θ₀ = [1, −2], g₁ = [0.5, 0.1], g₂ = [−0.2, 0.3], η = 0.1.
#include <doctest/doctest.h>

#include <vector>

#include "train/optimizer.hpp"
#include "train/schedule.hpp"

using namespace nabla;

namespace {

struct Case {
  const char* name;
  OptimizerConfig config;
  double after1[2], after2[2];
};

OptimizerConfig make(OptimizerKind type, double momentum, bool nesterov, double weight_decay) {
  OptimizerConfig c;
  c.type = type;
  c.learning_rate = 0.1;
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.weight_decay = weight_decay;
  return c;
}

}  // namespace

TEST_CASE("the first two steps of every optimiser, by hand") {
  const Case cases[] = {
      // θ₁ = 1 − 0.1·0.5 = 0.95;  θ₂ = 0.95 + 0.1·0.2 = 0.97
      {"sgd", make(OptimizerKind::sgd, 0, false, 0), {0.95, -2.01}, {0.97, -2.04}},
      // g' = g + 0.1θ: θ₁ = 1 − 0.1·0.6 = 0.94;  g' = −0.2 + 0.094: θ₂ = 0.94 + 0.0106 = 0.9506
      {"sgd + weight decay", make(OptimizerKind::sgd, 0, false, 0.1), {0.94, -1.99}, {0.9506, -2.0001}},
      // v₁ = 0.5, θ₁ = 0.95;  v₂ = 0.45 − 0.2 = 0.25, θ₂ = 0.95 − 0.025 = 0.925
      {"momentum", make(OptimizerKind::sgd, 0.9, false, 0), {0.95, -2.01}, {0.925, -2.049}},
      // v₁ = 0.5, step = 0.5 + 0.45 = 0.95, θ₁ = 0.905;  v₂ = 0.25, step = −0.2 + 0.225, θ₂ = 0.9025
      {"nesterov", make(OptimizerKind::sgd, 0.9, true, 0), {0.905, -2.019}, {0.9025, -2.0841}},
      // m̂₁ = 0.5, v̂₁ = 0.25: θ₁ = 1 − 0.1·0.5/(0.5 + 1e−8) = 0.900000002
      // m₂ = 0.025, v₂ = 0.00028975: m̂₂ = 0.025/0.19, v̂₂ = 0.00028975/0.001999, θ₂ = 0.8654394181
      {"adam", make(OptimizerKind::adam, 0, false, 0), {0.900000002, -2.09999999}, {0.8654394181, -2.1917780978}},
      {"adam + L2", make(OptimizerKind::adam, 0, false, 0.1), {0.9000000017, -1.90000001}, {0.8475190630, -1.9100134863}},
      // θ is first shrunk by 1 − 0.1·0.1: θ₁ = 0.99 − 0.1 = 0.89 (+2e−9 from ε)
      {"adamw", make(OptimizerKind::adamw, 0, false, 0.1), {0.890000002, -2.07999999}, {0.8465394181, -2.1509780979}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Optimizer opt(c.config, 2);
    std::vector<float> theta = {1, -2};
    const std::vector<float> g1 = {0.5f, 0.1f}, g2 = {-0.2f, 0.3f};
    opt.step(theta.data(), g1.data(), 0.1);
    CHECK(theta[0] == doctest::Approx(c.after1[0]).epsilon(1e-6));
    CHECK(theta[1] == doctest::Approx(c.after1[1]).epsilon(1e-6));
    opt.step(theta.data(), g2.data(), 0.1);
    CHECK(theta[0] == doctest::Approx(c.after2[0]).epsilon(1e-6));
    CHECK(theta[1] == doctest::Approx(c.after2[1]).epsilon(1e-6));
    CHECK(opt.steps() == 2);
  }
}

TEST_CASE("learning-rate schedules at chosen steps, by hand") {
  ScheduleConfig s;
  // 10 steps an epoch, 5 epochs, η₀ = 1.
  s.type = ScheduleKind::constant;
  CHECK(learning_rate(s, 1.0, 37, 10, 5) == 1.0);
  s.type = ScheduleKind::step;
  s.step_size = 2;
  s.gamma = 0.5;
  CHECK(learning_rate(s, 1.0, 19, 10, 5) == 1.0);   // epoch 1
  CHECK(learning_rate(s, 1.0, 20, 10, 5) == 0.5);   // epoch 2
  CHECK(learning_rate(s, 1.0, 45, 10, 5) == 0.25);  // epoch 4
  s.type = ScheduleKind::exponential;
  CHECK(learning_rate(s, 1.0, 30, 10, 5) == 0.125);  // 0.5³
  s.type = ScheduleKind::cosine;
  s.min_lr = 0;
  CHECK(learning_rate(s, 1.0, 0, 10, 5) == 1.0);
  CHECK(learning_rate(s, 1.0, 25, 10, 5) == doctest::Approx(0.5));  // halfway: (1 + cos π/2)/2
  CHECK(learning_rate(s, 1.0, 50, 10, 5) == doctest::Approx(0.0));
  s.warmup_epochs = 1;  // 10 warm-up steps: 0.1, 0.2, ..., 1.0, then cosine over the other 40
  CHECK(learning_rate(s, 1.0, 0, 10, 5) == doctest::Approx(0.1));
  CHECK(learning_rate(s, 1.0, 4, 10, 5) == doctest::Approx(0.5));
  CHECK(learning_rate(s, 1.0, 10, 10, 5) == doctest::Approx(1.0));
  CHECK(learning_rate(s, 1.0, 30, 10, 5) == doctest::Approx(0.5));
  s.type = ScheduleKind::step;  // after 1 epoch of warm-up, the decay's epochs count from 0 again
  s.step_size = 2;
  s.gamma = 0.5;
  CHECK(learning_rate(s, 1.0, 9, 10, 5) == doctest::Approx(1.0));   // the last warm-up step
  CHECK(learning_rate(s, 1.0, 10, 10, 5) == 1.0);                   // no jump at the end of warm-up
  CHECK(learning_rate(s, 1.0, 29, 10, 5) == 1.0);
  CHECK(learning_rate(s, 1.0, 30, 10, 5) == 0.5);
}
