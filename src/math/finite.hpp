#pragma once
// Are all values finite? The test looks at the exponent bits, so the loop is an integer OR
// reduction that the compiler vectorises (a floating-point reduction it may not reorder).
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace nabla {

template <class T>
bool all_finite(const T* p, size_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  Bits bad = 0;
  for (size_t k = 0; k < n; ++k) {
    Bits b;
    std::memcpy(&b, p + k, sizeof b);
    bad |= Bits((b & exponent) == exponent);
  }
  return bad == 0;
}

// The largest |p[k]|, or +infinity when any value is not finite. One vectorised pass: with the
// sign bit cleared, IEEE floats order like their bit patterns read as integers, and every NaN or
// infinity reads larger than every finite value.
template <class T>
T max_abs(const T* p, size_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  constexpr Bits magnitude = std::numeric_limits<Bits>::max();  // all bits but the sign
  constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000) : Bits(0x7ff0000000000000ll);
  Bits m = 0;
  for (size_t k = 0; k < n; ++k) {
    Bits b;
    std::memcpy(&b, p + k, sizeof b);
    b &= magnitude;
    m = b > m ? b : m;
  }
  if (m >= exponent) return std::numeric_limits<T>::infinity();
  T x;
  std::memcpy(&x, &m, sizeof x);
  return x;
}

// The same for float, compiled per CPU (math/per_cpu.hpp): the training step's gradient bounds read
// every activation and δ once a step, and the baseline's integer max is a compare-and-blend chain
// (SSE2 has no 32-bit max) where AVX2 and AVX-512 have one instruction.
float max_abs(const float* p, size_t n);

}  // namespace nabla
