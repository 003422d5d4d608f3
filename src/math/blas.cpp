#include "math/blas.hpp"

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

std::string blas_description() {
  return std::string(openblas_get_config()) + ", kernels for " + openblas_get_corename();
}

void restart_blas_threads() {
  if (blas_thread_shutdown_ == nullptr || blas_thread_init == nullptr) return;
  blas_thread_shutdown_();
  blas_thread_init();
}

}  // namespace nabla
