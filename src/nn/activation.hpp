#pragma once
// Activations σ and their derivatives σ′, each a whole-array pass: the kind is switched on once per
// layer, then a tight loop runs (never a switch per element).
//
// Most σ′ here are computed from the activation a = σ(z) itself, so the forward pass can overwrite z
// with a in place:  sigmoid′ = a(1 − a), tanh′ = 1 − a², relu′ = [a > 0],
// leaky_relu′ = 1 if a > 0 else slope, linear′ = 1, elu′ = 1 if a > 0 else a + α,
// softplus′ = sigmoid(z) = 1 − e⁻ᵃ. (softmax has a full Jacobian and is handled by the loss: see
// loss.hpp.) Three are not functions of a alone, and need z kept beside a (needs_z):
//   gelu       a = z·Φ(z),  Φ(z) = ½(1 + erf(z/√2))          gelu′ = Φ(z) + z·φ(z),  φ(z) = e^(−z²/2)/√(2π)
//   gelu_tanh  a = ½z(1 + tanh u),  u = √(2/π)(z + 0.044715z³)
//              gelu_tanh′ = ½(1 + tanh u) + ½z(1 − tanh² u)·√(2/π)(1 + 3·0.044715z²)
//   silu       a = z·s,  s = sigmoid(z)                      silu′ = s(1 + z(1 − s))
// (PyTorch's GELU(), GELU(approximate="tanh") and SiLU(); ELU(alpha) and Softplus() likewise.)
#include <cstdint>

#include "config/types.hpp"

namespace nabla {

// z (rows x cols, row-major) += bias (cols) broadcast over rows, then a = σ(z), in place.
// softmax normalises each row; the others work element by element. `ld`, the distance between
// rows, is cols unless z is a block of columns of a wider matrix.
template <class T>
void bias_activate(Activation act, double slope, T* z, const T* bias, int64_t rows, int64_t cols, int64_t ld = 0);

// The same in one pass that keeps z: z += bias, and a = σ(z) goes to a separate buffer of the same
// layout (for the output layer, whose z the losses need, and for the activations that need_z).
template <class T>
void bias_activate_into(Activation act, double slope, T* z, const T* bias, T* a, int64_t rows, int64_t cols,
                        int64_t ld = 0);

// Whether σ′ needs z as well as a (gelu, gelu_tanh, silu).
bool needs_z(Activation act);

// delta (rows x cols) ⊙= σ′, evaluated from the activations a (rows x cols) and, for the activations
// that need it, from z (rows x cols; may be null otherwise). Not for softmax.
template <class T>
void mul_derivative(Activation act, double slope, T* delta, const T* a, const T* z, int64_t rows, int64_t cols);

// Scalar versions, one element at a time: the tests' reference values for the array versions above.
// `slope` is leaky_relu's slope or elu's α.
double activate(Activation act, double slope, double z);
double derivative_at(Activation act, double slope, double z);

}  // namespace nabla
