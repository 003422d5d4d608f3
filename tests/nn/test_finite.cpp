// The finiteness helpers that guard every training step.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "math/finite.hpp"

using nabla::all_finite;
using nabla::max_abs;

TEST_CASE("max_abs is the largest magnitude, and infinity when anything is not finite") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v = {0.5f, -3.25f, 2.0f, 1e-40f /* denormal */, -0.0f};
  CHECK(max_abs(v.data(), v.size()) == 3.25f);
  CHECK(all_finite(v.data(), v.size()));
  CHECK(max_abs(v.data(), 0) == 0.0f);
  for (float bad : {inf, -inf, nan, -nan}) {
    std::vector<float> w = v;
    w[2] = bad;
    CHECK(max_abs(w.data(), w.size()) == inf);
    CHECK_FALSE(all_finite(w.data(), w.size()));
  }
  std::vector<float> big(1000, 1.0f);
  big[777] = -std::numeric_limits<float>::max();
  CHECK(max_abs(big.data(), big.size()) == std::numeric_limits<float>::max());
  std::vector<double> d = {1.0, -7.5, 3.0};
  CHECK(max_abs(d.data(), d.size()) == 7.5);
  d[1] = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isinf(max_abs(d.data(), d.size())));
}
