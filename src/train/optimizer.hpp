#pragma once
// Optimisers: each step is one loop over the flat parameter and gradient buffers. The conventions are
// PyTorch's (torch.optim.SGD, Adam, AdamW), so that runs can be compared step for step:
//
//   sgd:    g ← g + λθ;  v ← μv + g;  step = g + μv (nesterov) or v (μ > 0) or g;  θ ← θ − η·step
//   adam:   g ← g + λθ;  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
//           θ ← θ − η·m̂ / (√v̂ + ε),  m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
//   adamw:  θ ← θ(1 − ηλ), then adam without the λθ term (decoupled weight decay)
//
// λ (weight_decay) applies to every parameter, biases included, as in PyTorch.
//
// The step is memory-bound: it reads the gradient, the parameters and the moments once and writes
// the last two once. So each rule is one loop that also checks that what it wrote is finite, run a
// few kilobytes at a time so that a bf16 twin of the parameters (math/bf16.hpp) is rounded from L1,
// and compiled for AVX-512, AVX2 and the baseline, the CPU picking at load time.
#include <cstdint>
#include <vector>

#include "config/types.hpp"
#include "math/bf16.hpp"

namespace nabla {

class Optimizer {
 public:
  Optimizer(const OptimizerConfig& config, size_t parameters);

  // One update of params by grads at learning rate lr: begin_step(), then update() of everything.
  void step(float* params, const float* grads, double lr);

  // The same in pieces, so that threads can update disjoint blocks of one step: begin_step() once,
  // then update() for each block of parameters [begin, end), whose gradients are grad[0 .. end − begin).
  // Returns false when the update left a parameter or a moment non-finite (a finite gradient can
  // still overflow them at a large learning rate): the run must stop. With `rounded`, it also
  // writes the updated params[begin, end) rounded to bf16 into rounded[begin, end).
  void begin_step();
  bool update(float* params, const float* grad, double lr, size_t begin, size_t end, bf16* rounded = nullptr);

  // The state, for checkpoints: the step count and the moment buffers (velocity for sgd; m then v
  // for adam and adamw; empty for plain sgd).
  int64_t steps() const { return t_; }
  void set_steps(int64_t t) { t_ = t; }
  std::vector<float>& state() { return state_; }

 private:
  // The rule for params[begin, begin + n), whose gradients are grad[0, n).
  bool apply(float* params, const float* grad, float lr, size_t begin, size_t n);

  OptimizerConfig c_;
  size_t n_;
  int64_t t_ = 0;
  float c1_ = 1, c2_ = 1;  // adam's bias corrections for step t_: 1 / (1 − β₁ᵗ), 1 / √(1 − β₂ᵗ)
  std::vector<float> state_;
};

}  // namespace nabla
