#include "math/finite.hpp"

#include "math/per_cpu.hpp"

namespace nabla {

NABLA_PER_CPU float max_abs(const float* p, size_t n) { return max_abs<float>(p, n); }

}  // namespace nabla
