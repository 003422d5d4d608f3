// The GEMM-only bound of one training epoch: times exactly the sgemm calls that one step of
// Network<float> makes for a dense network (the same shapes, transposes and threads), and multiplies
// by the steps in an epoch. Nothing else of a step is done, so no trainer can beat it with these
// calls; it is what scripts/bench.sh divides nabla's epoch time by.
//
//   bench_gemm --layers 784,256,128,10 --batch 64 --threads 2 --samples 60000 [--repeats 5]
//              [--bf16 | --blas-threads]
//
// Per step, for dense layers l = 0..L-1 with in_l -> out_l:
//   forward   z_l   = a_{l-1} · W_lᵀ      gemm(N, T, batch, out, in)
//   backward  ∂W_l  = δ_lᵀ · a_{l-1}      gemm(T, N, out, in, batch)
//             δ_{l-1} = δ_l · W_l          gemm(N, N, batch, in, out), for l >= 1
// Prints one JSON object: seconds per epoch (median of the repeats), and on one thread per call.
//
// With --threads 2 each product is split in two halves as the training step splits them
// (parallel.hpp): the first layer's forward pass by units, the others' by rows, δ by rows, gradients
// by units, in blocks of DataParallel::kBlockUnits (on one thread too); each thread runs its halves
// of every step's products with single-threaded GEMMs, on its own, with no waiting between phases. With --blas-threads
// instead, each product is one whole-batch call on OpenBLAS's own threads: what a trainer that leaves the threading to
// OpenBLAS would call. With --bf16, the step's products in bf16 (gemm_bf16, as training.precision "bf16" runs them).
//
//   bench_gemm --square N --threads T [--repeats 5] [--bf16]
//
// The ceiling instead: OpenBLAS's square N x N x N sgemm (or the bf16 product) on T threads of its
// own, as many calls as take about a second, the median GFLOP/s (2 N³ per call) of the repeats.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "math/bf16.hpp"
#include "math/blas.hpp"
#include "train/parallel.hpp"

namespace {

struct Call {
  bool ta, tb;
  int m, n, k;
  const char* what;
  int layer;
};

std::vector<int> parse_layers(const char* s) {
  std::vector<int> v;
  for (const char* p = s; *p;) {
    v.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return v;
}

// OpenBLAS's own square product on `threads` threads of its own (bf16: gemm_bf16, which runs on the
// calling thread, on `threads` threads each its rows of C): the GFLOP/s that a step's products are
// compared with.
int square_ceiling(int n, int threads, int repeats, bool bf16) {
  if (const std::string why = nabla::bf16_unavailable(); bf16 && !why.empty()) {
    std::fprintf(stderr, "bench_gemm: no bf16: %s\n", why.c_str());
    return 2;
  }
  const size_t nn = size_t(n) * size_t(n);
  std::vector<float> a(nn, 0.01f), b(nn, 0.02f), c(nn, 0.0f);
  std::vector<nabla::bf16> a16(bf16 ? nn : 0, 0x3c00), b16(bf16 ? nn : 0, 0x3c00);
  auto rows = [&](int t) {
    const int r0 = n * t / threads, r1 = n * (t + 1) / threads;
    nabla::gemm_bf16(false, false, r1 - r0, n, n, a16.data() + size_t(r0) * n, n, b16.data(), n,
                     c.data() + size_t(r0) * n, n);
  };
  auto product = [&] {
    if (bf16) {
      std::vector<std::thread> team;
      for (int t = 1; t < threads; ++t) team.emplace_back(rows, t);
      rows(0);
      for (auto& th : team) th.join();
    } else
      nabla::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  };
  product();  // warm-up: the pool's threads, the buffers, in bf16 the kernel
  const auto t0 = std::chrono::steady_clock::now();
  product();
  const double once = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int calls = std::max(1, int(1.0 / std::max(once, 1e-6)));
  std::vector<double> gflops;
  for (int r = 0; r < repeats; ++r) {
    const auto r0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) product();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
    gflops.push_back(2.0 * double(n) * double(n) * double(n) * calls / s / 1e9);
  }
  std::sort(gflops.begin(), gflops.end());
  std::printf("{\"square\": %d, \"threads\": %d, \"bf16\": %s, \"calls\": %d, \"gflops\": %.2f}\n", n, threads,
              bf16 ? "true" : "false", calls, gflops[gflops.size() / 2]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {784, 256, 128, 10};
  int batch = 64, threads = 1, repeats = 5, square = 0;
  long samples = 60000;
  bool bf16 = false, blas_threads = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--bf16" || a == "--blas-threads") {
      (a == "--bf16" ? bf16 : blas_threads) = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_gemm: %s needs a value\n", argv[i]);
      return 2;
    }
    if (a == "--layers")
      sizes = parse_layers(argv[i + 1]);
    else if (a == "--batch")
      batch = std::atoi(argv[i + 1]);
    else if (a == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (a == "--samples")
      samples = std::atol(argv[i + 1]);
    else if (a == "--repeats")
      repeats = std::atoi(argv[i + 1]);
    else if (a == "--square")
      square = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "bench_gemm: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  nabla::set_blas_threads(threads);
  if (square > 0) return square_ceiling(square, threads, repeats, bf16);

  std::vector<Call> calls;
  const int L = int(sizes.size()) - 1;
  for (int l = 0; l < L; ++l) calls.push_back({false, true, batch, sizes[l + 1], sizes[l], "forward", l});
  for (int l = L - 1; l >= 0; --l) {
    calls.push_back({true, false, sizes[l + 1], sizes[l], batch, "grad_w", l});
    if (l > 0) calls.push_back({false, false, batch, sizes[l], sizes[l + 1], "delta", l});
  }
  // Buffers big enough for every operand, filled with small values.
  size_t most = 0;
  for (int l = 0; l < L; ++l) most = std::max({most, size_t(batch) * sizes[l], size_t(sizes[l]) * sizes[l + 1]});
  std::vector<float> a(most, 0.01f), b(most, 0.02f), c(most, 0.0f);

  const long steps = (samples + batch - 1) / batch;
  std::vector<nabla::bf16> a16(bf16 ? most : 0, 0x3c00), b16(bf16 ? most : 0, 0x3c00);
  // One product as the step makes it, its operands at a_at and b_at in a and b (or a16 and b16): a
  // weight gradient (m = units) in blocks of up to kBlockUnits units, unless OpenBLAS's threads take
  // it whole. Leading dimensions as Network<float> passes them (row-major, untransposed widths).
  auto gemm_blocks = [&](const Call& k, int m, int n, size_t a_at, size_t b_at, float* c0) {
    const int lda = k.ta ? k.m : k.k, ldb = k.tb ? k.k : k.n;
    const bool blocked = std::string(k.what) == "grad_w" && !blas_threads;
    const int block = blocked ? int(nabla::DataParallel::kBlockUnits) : m;
    for (int u = 0; u < m; u += block) {  // units u.. are columns of δ (A transposed) and rows of C
      const int units = std::min(block, m - u);
      float* c = c0 + size_t(u) * size_t(k.n);
      if (bf16)
        nabla::gemm_bf16(k.ta, k.tb, units, n, k.k, a16.data() + a_at + size_t(u), lda, b16.data() + b_at, ldb, c, k.n);
      else
        nabla::gemm(k.ta, k.tb, units, n, k.k, 1.0f, a.data() + a_at + size_t(u), lda, b.data() + b_at, ldb, 0.0f, c,
                    k.n);
    }
  };
  if (bf16 && blas_threads) {
    std::fprintf(stderr, "bench_gemm: --bf16 runs on the step's own threads, not with --blas-threads\n");
    return 2;
  }
  if (bf16 || (threads > 1 && !blas_threads)) {
    if (const std::string why = nabla::bf16_unavailable(); bf16 && !why.empty()) {
      std::fprintf(stderr, "bench_gemm: no bf16: %s\n", why.c_str());
      return 2;
    }
    nabla::set_blas_threads(1);
    std::vector<std::vector<float>> out(static_cast<size_t>(threads), std::vector<float>(most));
    // Thread t's part of a call: its share of the units or rows, at the same place in the operands
    // as in the step. Each thread's first step is a warm-up (in bf16 it compiles the kernels,
    // math/bf16.hpp) and is not timed.
    std::vector<double> seconds(static_cast<size_t>(threads));
    auto run = [&](int t) {
      std::chrono::steady_clock::time_point t0;
      for (long s = -1; s < steps; ++s) {
        if (s == 0) t0 = std::chrono::steady_clock::now();
        for (const Call& k : calls) {
          const bool by_n = std::string(k.what) == "forward" && k.layer == 0;
          const int whole = by_n ? k.n : k.m, from = whole * t / threads, to = whole * (t + 1) / threads;
          if (from == to) continue;
          const int lda = k.ta ? k.m : k.k, ldb = k.tb ? k.k : k.n;
          const int m = by_n ? k.m : to - from, n = by_n ? to - from : k.n;
          // Rows [from, to) of W (by_n, B transposed); else rows of A, or columns of a transposed A.
          const size_t a_at = by_n ? 0 : size_t(from) * (k.ta ? 1 : size_t(lda)), b_at = by_n ? size_t(from) * ldb : 0;
          float* c = out[size_t(t)].data() + (by_n ? size_t(from) : 0);
          gemm_blocks(k, m, n, a_at, b_at, c);
        }
      }
      seconds[size_t(t)] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    std::vector<double> split_epochs;
    for (int r = 0; r < repeats; ++r) {
      std::vector<std::thread> team;
      for (int t = 1; t < threads; ++t) team.emplace_back(run, t);
      run(0);
      for (auto& th : team) th.join();
      split_epochs.push_back(*std::max_element(seconds.begin(), seconds.end()));  // the slower half
    }
    std::sort(split_epochs.begin(), split_epochs.end());
    std::printf(
        "{\"batch\": %d, \"threads\": %d, \"steps\": %ld, \"bf16\": %s, \"split\": true, "
        "\"seconds_per_epoch\": %.6f}\n",
        batch, threads, steps, bf16 ? "true" : "false", split_epochs[split_epochs.size() / 2]);
    return 0;
  }
  std::vector<double> epochs;
  std::vector<std::vector<double>> per_call(calls.size());
  for (int r = 0; r < repeats + 1; ++r) {  // the first is a warm-up
    std::vector<double> call_seconds(calls.size(), 0);
    const auto t0 = std::chrono::steady_clock::now();
    for (long s = 0; s < steps; ++s)
      for (size_t i = 0; i < calls.size(); ++i) {
        const Call& k = calls[i];
        const auto c0 = std::chrono::steady_clock::now();
        gemm_blocks(k, k.m, k.n, 0, 0, c.data());
        call_seconds[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
      }
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r == 0) continue;
    epochs.push_back(t);
    for (size_t i = 0; i < calls.size(); ++i) per_call[i].push_back(call_seconds[i]);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "{\"batch\": %d, \"threads\": %d, \"steps\": %ld, \"bf16\": false, \"split\": false, "
      "\"seconds_per_epoch\": %.6f, \"calls\": [",
      batch, threads, steps, median(epochs));
  for (size_t i = 0; i < calls.size(); ++i)
    std::printf("%s{\"what\": \"%s\", \"layer\": %d, \"m\": %d, \"n\": %d, \"k\": %d, \"seconds\": %.6f}",
                i ? ", " : "", calls[i].what, calls[i].layer, calls[i].m, calls[i].n, calls[i].k, median(per_call[i]));
  std::printf("]}\n");
  return 0;
}
