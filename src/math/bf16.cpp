#include "math/bf16.hpp"

#include <memory>
#include <stdexcept>
#include <vector>

#include "util/error.hpp"

#ifdef NABLA_HAVE_DNNL
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NABLA_BF16_INSTRUCTIONS 1
#endif

namespace nabla {

#ifdef NABLA_BF16_INSTRUCTIONS
namespace {

// The CPU's own rounding, 16 floats an instruction, where it has it (every CPU that trains in bf16
// does: bf16_unavailable). It rounds as to_bf16(float) does, but flushes subnormals to zero.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void to_bf16_avx512(const float* x, bf16* y, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), __m256i(_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i))));
  if (i < n) {
    const __mmask16 tail = __mmask16((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(y + i, tail, __m256i(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(tail, x + i))));
  }
}

// __builtin_cpu_init first: this runs among the static initialisers, perhaps before libgcc's own.
const bool kNativeRounding = (__builtin_cpu_init(), __builtin_cpu_supports("avx512bf16"));

}  // namespace
#endif

void to_bf16(const float* x, bf16* y, size_t n) {
#ifdef NABLA_BF16_INSTRUCTIONS
  if (kNativeRounding) return to_bf16_avx512(x, y, n);
#endif
  for (size_t i = 0; i < n; ++i) y[i] = to_bf16(x[i]);
}

void to_bf16(const float* x, size_t ldx, bf16* y, size_t ldy, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; ++r) to_bf16(x + r * ldx, y + r * ldy, cols);
}

#ifdef NABLA_HAVE_DNNL

namespace {

// One compiled product: a oneDNN matmul for one shape, with the memory objects it runs on (their
// data pointers are set at each call) and its own scratch space, so that running it allocates
// nothing.
struct Plan {
  int key[8];
  dnnl::matmul matmul;
  dnnl::memory a, b, c, scratch;
  std::vector<char> scratch_bytes;
};

// The calling thread's engine, stream and plans. oneDNN is built over OpenMP here; each thread that
// calls it is one of nabla's own (parallel.hpp) and must not start an OpenMP team of its own.
struct Engine {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::vector<std::unique_ptr<Plan>> plans;
  Engine() { omp_set_num_threads(1); }
};

Plan& plan_for(Engine& e, bool ta, bool tb, int m, int n, int k, int lda, int ldb, int ldc) {
  const int key[8] = {ta, tb, m, n, k, lda, ldb, ldc};
  for (auto& p : e.plans)
    if (std::memcmp(p->key, key, sizeof key) == 0) return *p;

  using dims = dnnl::memory::dims;
  using dt = dnnl::memory::data_type;
  // Row-major with leading dimensions: a transposed operand is the same bytes with swapped strides.
  const dnnl::memory::desc a({m, k}, dt::bf16, ta ? dims{1, lda} : dims{lda, 1});
  const dnnl::memory::desc b({k, n}, dt::bf16, tb ? dims{1, ldb} : dims{ldb, 1});
  const dnnl::memory::desc c({m, n}, dt::f32, dims{ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, e.engine);

  auto p = std::make_unique<Plan>();
  std::memcpy(p->key, key, sizeof key);
  p->matmul = dnnl::matmul(pd);
  p->a = dnnl::memory(a, e.engine, DNNL_MEMORY_NONE);
  p->b = dnnl::memory(b, e.engine, DNNL_MEMORY_NONE);
  p->c = dnnl::memory(c, e.engine, DNNL_MEMORY_NONE);
  p->scratch_bytes.resize(pd.scratchpad_desc().get_size() + 1);
  p->scratch = dnnl::memory(pd.scratchpad_desc(), e.engine, p->scratch_bytes.data());
  e.plans.push_back(std::move(p));
  return *e.plans.back();
}

}  // namespace

bool bf16_in_build() { return true; }

std::string bf16_engine() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string bf16_unavailable() {
  const auto isa = int(dnnl::get_effective_cpu_isa());
  const auto want = int(dnnl::cpu_isa::avx512_core_bf16);
  if ((isa & want) != want) return "this CPU has no AVX-512 BF16 instructions";
  return "";
}

void gemm_bf16(bool ta, bool tb, int m, int n, int k, const bf16* a, int lda, const bf16* b, int ldb, float* c,
               int ldc) {
  thread_local Engine engine;
  Plan& p = plan_for(engine, ta, tb, m, n, k, lda, ldb, ldc);
  // The C API, whose argument list is a plain array: the C++ execute() builds a map at each call.
  dnnl_memory_set_data_handle_v2(p.a.get(), const_cast<bf16*>(a), nullptr);
  dnnl_memory_set_data_handle_v2(p.b.get(), const_cast<bf16*>(b), nullptr);
  dnnl_memory_set_data_handle_v2(p.c.get(), c, nullptr);
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, p.a.get()},
                                  {DNNL_ARG_WEIGHTS, p.b.get()},
                                  {DNNL_ARG_DST, p.c.get()},
                                  {DNNL_ARG_SCRATCHPAD, p.scratch.get()}};
  if (dnnl_primitive_execute(p.matmul.get(), engine.stream.get(), 4, args) != dnnl_success)
    throw std::runtime_error("oneDNN: a bf16 matrix product failed");
}

#else

bool bf16_in_build() { return false; }

std::string bf16_engine() { return "none"; }

std::string bf16_unavailable() { return "this build has no bf16 engine (built with NABLA_BF16=OFF)"; }

void gemm_bf16(bool, bool, int, int, int, const bf16*, int, const bf16*, int, float*, int) {
  throw InternalError("gemm_bf16: built without oneDNN (check_precision refuses bf16 configs in such a build)");
}

#endif

}  // namespace nabla
