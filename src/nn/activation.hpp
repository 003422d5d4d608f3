#pragma once
// Activations σ and their derivatives σ′, each a whole-array pass: the kind is switched on once per
// layer, then a tight loop runs (never a switch per element).
//
// Every σ′ here is computed from the activation a = σ(z) itself, never from z, so the forward pass can
// overwrite z with a in place:  sigmoid′ = a(1 − a), tanh′ = 1 − a², relu′ = [a > 0],
// leaky_relu′ = 1 if a > 0 else slope, linear′ = 1. (softmax has a full Jacobian and is handled by the
// loss: see loss.hpp.)
#include <cstdint>

#include "config/types.hpp"

namespace nabla {

// z (rows x cols, row-major) += bias (cols) broadcast over rows, then a = σ(z), in place.
// softmax normalises each row; the others work element by element. `ld`, the distance between
// rows, is cols unless z is a block of columns of a wider matrix.
template <class T>
void bias_activate(Activation act, double slope, T* z, const T* bias, int64_t rows, int64_t cols, int64_t ld = 0);

// The same in one pass that keeps z: z += bias, and a = σ(z) goes to a separate buffer (for the
// output layer, whose z the losses need).
template <class T>
void bias_activate_into(Activation act, double slope, T* z, const T* bias, T* a, int64_t rows, int64_t cols);

// delta (rows x cols) ⊙= σ′ evaluated from the activations a (rows x cols). Not for softmax.
template <class T>
void mul_derivative(Activation act, double slope, T* delta, const T* a, int64_t rows, int64_t cols);

// Scalar versions, one element at a time: the tests' reference values for the array versions above.
double activate(Activation act, double slope, double z);
double derivative_from_output(Activation act, double slope, double a);

}  // namespace nabla
