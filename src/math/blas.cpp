#include "math/blas.hpp"

// OpenBLAS's own thread pool (its pthreads build, Debian's default) is started when the library
// loads, before main, and its threads keep the signal mask of that moment. These two functions of
// that build stop the pool and start it again; declared weak, so that a build of OpenBLAS without
// them (its OpenMP one) links all the same and leaves its threads as they are.
extern "C" {
int blas_thread_shutdown_(void) __attribute__((weak));
int blas_thread_init(void) __attribute__((weak));
}

namespace nabla {

void restart_blas_threads() {
  if (blas_thread_shutdown_ == nullptr || blas_thread_init == nullptr) return;
  blas_thread_shutdown_();
  blas_thread_init();
}

}  // namespace nabla
