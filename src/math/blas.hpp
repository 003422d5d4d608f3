#pragma once
// Typed wrappers over CBLAS, so Network<float> and Network<double> run the same code and differ only
// in which routine these pick. Row-major throughout; `ta`/`tb` say whether A/B are used transposed.
//   C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C
#include <cblas.h>

#include <string>

namespace nabla {

inline void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
                 float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
              ldb, beta, c, ldc);
}

inline void gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
                 int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
              ldb, beta, c, ldc);
}

// How many threads OpenBLAS may use for one call.
inline void set_blas_threads(int n) { openblas_set_num_threads(n); }

// Stops OpenBLAS's thread pool and starts it again, so that its threads take the calling thread's
// signal mask (util/threads.hpp: the trainer calls it with the stop signals blocked). Does nothing
// where the OpenBLAS build has no pool of its own to restart. Call it while no other thread is in
// BLAS. A later set_blas_threads above the pool's size adds threads with the mask of its caller.
void restart_blas_threads();

// OpenBLAS maps a work buffer of kBlasBufferBytes for each thread that multiplies, on its first
// product, and when the address space is too small for it (ulimit -v) it retries forever, printing
// nothing. Before the first product of `threads` threads, this maps (and unmaps) that much address
// space to see that it is there; false when an address-space limit leaves no room for it.
// Throws nabla::Error, saying so, when it is not.
constexpr long kBlasBufferBytes = 128L << 20;
void check_blas_room(int threads);

// What OpenBLAS says of itself: its version and build ("OpenBLAS 0.3.21 DYNAMIC_ARCH ...") and the
// kernels it chose for this CPU ("Cooperlake").
std::string blas_description();

}  // namespace nabla
