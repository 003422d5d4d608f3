#pragma once
// bfloat16 matrix products, for training.precision "bf16": the GEMM's inputs rounded to bf16 (the
// top 16 bits of a float: its 8 exponent bits, 7 of its 23 mantissa bits), the products summed in
// float. CPUs with AVX-512 BF16 multiply bf16 pairs at twice the rate of floats, and the operands
// are half the bytes. The master weights, the optimiser's state, the biases, the activations'
// passes and the loss stay in float; only what enters a GEMM is rounded.
//
// The engine is oneDNN's matmul (Debian's libdnnl): OpenBLAS has no bf16 GEMM in Debian's build.
// A build without oneDNN (cmake -DNABLA_BF16=OFF) has everything here but gemm_bf16, and
// bf16_unavailable() says why.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace nabla {

using bf16 = uint16_t;  // the bit pattern; arithmetic happens in float

// Round to nearest, ties to even, as the CPU's VCVTNEPS2BF16 does; a NaN stays a NaN.
inline bf16 to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16(u >> 16);
}

inline float from_bf16(bf16 h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// y[i] = to_bf16(x[i]) for n values.
void to_bf16(const float* x, bf16* y, size_t n);

// The same for a block of a row-major matrix: rows x cols, leading dimensions ldx and ldy.
void to_bf16(const float* x, size_t ldx, bf16* y, size_t ldy, size_t rows, size_t cols);

// Empty when this build and this CPU train in bf16; otherwise why not, in a phrase.
std::string bf16_unavailable();

// Whether this build has the bf16 engine (oneDNN), whatever the CPU.
bool bf16_in_build();

// The engine and its version ("oneDNN 2.6.3"), or "none" in a build without it.
std::string bf16_engine();

// C (m x n, float) = op(A) (m x k) · op(B) (k x n), A and B in bf16, row-major, as gemm() in
// blas.hpp with alpha 1 and beta 0. Runs on the calling thread. Each thread keeps one compiled
// kernel per shape it has met (a few dozen in a run: the first steps, a block taken from another
// thread, an epoch's shorter last batch bring new ones), so after the first epoch nothing
// allocates. Throws (std::runtime_error, or oneDNN's dnnl::error) when oneDNN fails.
void gemm_bf16(bool ta, bool tb, int m, int n, int k, const bf16* a, int lda, const bf16* b, int ldb, float* c,
               int ldc);

}  // namespace nabla
