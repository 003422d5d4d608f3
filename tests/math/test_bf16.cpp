// bf16 rounding and the bf16 matrix product, against values worked out by hand and products summed
// in double precision.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "math/bf16.hpp"

using namespace nabla;

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

TEST_CASE("to_bf16 keeps the top 16 bits, rounded to nearest with ties to even") {
  CHECK(to_bf16(1.0f) == 0x3f80);
  CHECK(to_bf16(-2.5f) == 0xc020);
  CHECK(to_bf16(from_bits(0x3f808000)) == 0x3f80);  // 1 + 2⁻⁸: halfway, to the even 1
  CHECK(to_bf16(from_bits(0x3f818000)) == 0x3f82);  // 1 + 3·2⁻⁸: halfway, to the even 1 + 2⁻⁶
  CHECK(to_bf16(from_bits(0x3f808001)) == 0x3f81);  // just above halfway: up
  CHECK(to_bf16(from_bits(0x3f807fff)) == 0x3f80);  // just below: down
  CHECK(to_bf16(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // rounds past the largest bf16
  const bf16 nan = to_bf16(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan & 0x7f80) == 0x7f80);
  CHECK((nan & 0x007f) != 0);
  CHECK(std::isnan(from_bf16(to_bf16(from_bits(0x7f800001)))));  // a NaN whose payload would round to inf
  CHECK(from_bf16(0x4049) == 3.140625f);
}

TEST_CASE("rounding an array gives what rounding each value gives, tails included") {
  std::mt19937 gen(5);
  std::normal_distribution<float> normal;
  std::vector<float> x(1000);
  for (float& v : x) v = normal(gen) * std::exp2(float(int(gen() % 40) - 20));  // no subnormals
  for (size_t n : {size_t(0), size_t(1), size_t(15), size_t(16), size_t(17), size_t(33), x.size()}) {
    CAPTURE(n);
    std::vector<bf16> y(n + 1, 0xabcd);
    to_bf16(x.data(), y.data(), n);
    for (size_t i = 0; i < n; ++i) REQUIRE(y[i] == to_bf16(x[i]));
    CHECK(y[n] == 0xabcd);  // nothing written past the end
  }
}

TEST_CASE("gemm_bf16 is the double-precision product of the rounded operands, for every transpose") {
  const std::string why = bf16_unavailable();
  if (!why.empty()) {
    WARN_MESSAGE(false, ("bf16 not tested: " + why).c_str());
    return;
  }
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> u(-1, 1);
  const int m = 37, n = 29, k = 70, pad = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      // op(A) is m x k and op(B) k x n; stored transposed when ta/tb, with padded rows.
      const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      std::vector<float> a(size_t((ta ? k : m) * lda)), b(size_t((tb ? n : k) * ldb));
      for (float& v : a) v = u(gen);
      for (float& v : b) v = u(gen);
      std::vector<bf16> a16(a.size()), b16(b.size());
      to_bf16(a.data(), a16.data(), a.size());
      to_bf16(b.data(), b16.data(), b.size());
      std::vector<float> c(size_t(m * ldc), 7.0f);
      gemm_bf16(ta, tb, m, n, k, a16.data(), lda, b16.data(), ldb, c.data(), ldc);

      auto A = [&](int i, int p) { return ta ? size_t(p * lda + i) : size_t(i * lda + p); };
      auto B = [&](int p, int j) { return tb ? size_t(j * ldb + p) : size_t(p * ldb + j); };
      double worst = 0, worst_unrounded = 0;
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double rounded = 0, unrounded = 0, scale = 0;
          for (int p = 0; p < k; ++p) {
            rounded += double(from_bf16(a16[A(i, p)])) * double(from_bf16(b16[B(p, j)]));
            unrounded += double(a[A(i, p)]) * double(b[B(p, j)]);
            scale += std::fabs(double(a[A(i, p)]) * double(b[B(p, j)]));
          }
          const double got = c[size_t(i * ldc + j)];
          worst = std::max(worst, std::fabs(got - rounded) / scale);
          worst_unrounded = std::max(worst_unrounded, std::fabs(got - unrounded) / scale);
        }
      // bf16 products are exact in float; only the float sums round: k · 2⁻²⁴ at most.
      CHECK(worst < k * 0x1p-24);
      // And the operands really were rounded: against the float operands the error is bf16's 2⁻⁸.
      CHECK(worst_unrounded > 1e-4);
      for (int i = 0; i < m; ++i)
        for (int j = n; j < ldc; ++j) CHECK(c[size_t(i * ldc + j)] == 7.0f);  // the padding is untouched
    }
}
