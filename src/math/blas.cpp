#include "math/blas.hpp"

#include <sys/mman.h>
#include <sys/resource.h>

#include "util/error.hpp"

// OpenBLAS's own thread pool (its pthreads build, Debian's default) is started when the library
// loads, before main, and its threads keep the signal mask of that moment. These two functions of
// OpenBLAS's (internal, but exported by every build: the OpenMP one's only free and reallocate
// buffers) stop the pool and start it again. Declared weak, so that an OpenBLAS without them links
// all the same and leaves its threads as they are. Safe only while no other thread is inside BLAS.
extern "C" {
int blas_thread_shutdown_(void) __attribute__((weak));
int blas_thread_init(void) __attribute__((weak));
}

namespace nabla {

void check_blas_room(int threads) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  const size_t bytes = size_t(threads) * size_t(kBlasBufferBytes);
  void* p = ::mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p != MAP_FAILED) {
    ::munmap(p, bytes);
    return;
  }
  throw Error("the address-space limit (ulimit -v: " + std::to_string(limit.rlim_cur >> 20) +
              " MB) leaves no room for OpenBLAS's work buffers (" + std::to_string(kBlasBufferBytes >> 20) +
              " MB of address space for each thread that multiplies, " + std::to_string(threads) +
              " here), which OpenBLAS would wait for forever: raise the limit");
}

std::string blas_description() {
  return std::string(openblas_get_config()) + ", kernels for " + openblas_get_corename();
}

void restart_blas_threads() {
  if (blas_thread_shutdown_ == nullptr || blas_thread_init == nullptr) return;
  blas_thread_shutdown_();
  blas_thread_init();
}

}  // namespace nabla
