// The GEMM-only bound of one training epoch: times exactly the sgemm calls that one step of
// Network<float> makes for a dense network (the same shapes, transposes and thread count), and
// multiplies by the steps in an epoch. Nothing else of a step is done, so no trainer can beat it
// with these calls; it is what scripts/bench.sh divides nabla's epoch time by.
//
//   bench_gemm --layers 784,256,128,10 --batch 64 --threads 2 --samples 60000 [--repeats 5]
//
// Per step, for dense layers l = 0..L-1 with in_l -> out_l:
//   forward   z_l   = a_{l-1} · W_lᵀ      gemm(N, T, batch, out, in)
//   backward  ∂W_l  = δ_lᵀ · a_{l-1}      gemm(T, N, out, in, batch)
//             δ_{l-1} = δ_l · W_l          gemm(N, N, batch, in, out), for l >= 1
// Prints one JSON object: seconds per epoch (median of the repeats), and per call.
//
// With --bf16, the same products in bf16 (gemm_bf16, as training.precision "bf16" runs them), and
// with --threads 2 each split in two halves as the training step splits them (parallel.hpp): the
// first layer's forward pass by units, the others' by rows, δ by rows, gradients by units. Each
// thread runs its halves of every step's products on its own, with no waiting between phases.
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

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {784, 256, 128, 10};
  int batch = 64, threads = 1, repeats = 5;
  long samples = 60000;
  bool bf16 = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--bf16") {
      bf16 = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_gemm: %s needs a value\n", argv[i]);
      return 2;
    }
    if (a == "--layers") sizes = parse_layers(argv[i + 1]);
    else if (a == "--batch") batch = std::atoi(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--samples") samples = std::atol(argv[i + 1]);
    else if (a == "--repeats") repeats = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "bench_gemm: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  nabla::set_blas_threads(threads);

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
  if (bf16) {
    if (const std::string why = nabla::bf16_unavailable(); !why.empty()) {
      std::fprintf(stderr, "bench_gemm: no bf16: %s\n", why.c_str());
      return 2;
    }
    nabla::set_blas_threads(1);
    std::vector<nabla::bf16> a16(most, 0x3c00), b16(most, 0x3c00);
    std::vector<std::vector<float>> c16(static_cast<size_t>(threads), std::vector<float>(most));
    // Thread t's part of a call: its share of the units or rows. Each thread's first step compiles
    // its kernels (math/bf16.hpp) and is not timed.
    std::vector<double> seconds(static_cast<size_t>(threads));
    auto run = [&](int t) {
      std::chrono::steady_clock::time_point t0;
      for (long s = -1; s < steps; ++s) {
        if (s == 0) t0 = std::chrono::steady_clock::now();
        for (const Call& k : calls) {
          const bool by_n = std::string(k.what) == "forward" && k.layer == 0;
          const int whole = by_n ? k.n : k.m, from = whole * t / threads, to = whole * (t + 1) / threads;
          const int lda = k.ta ? k.m : k.k, ldb = k.tb ? k.k : k.n;
          if (from < to)
            nabla::gemm_bf16(k.ta, k.tb, by_n ? k.m : to - from, by_n ? to - from : k.n, k.k, a16.data(), lda,
                             b16.data(), ldb, c16[size_t(t)].data(), k.n);
        }
      }
      seconds[size_t(t)] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    std::vector<double> bf16_epochs;
    for (int r = 0; r < repeats; ++r) {
      std::vector<std::thread> team;
      for (int t = 1; t < threads; ++t) team.emplace_back(run, t);
      run(0);
      for (auto& th : team) th.join();
      bf16_epochs.push_back(*std::max_element(seconds.begin(), seconds.end()));  // the slower half
    }
    std::sort(bf16_epochs.begin(), bf16_epochs.end());
    std::printf("{\"batch\": %d, \"threads\": %d, \"steps\": %ld, \"bf16\": true, \"seconds_per_epoch\": %.6f}\n", batch,
                threads, steps, bf16_epochs[bf16_epochs.size() / 2]);
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
        // Leading dimensions as Network<float> passes them (row-major, untransposed widths).
        const int lda = k.ta ? k.m : k.k, ldb = k.tb ? k.k : k.n;
        nabla::gemm(k.ta, k.tb, k.m, k.n, k.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), k.n);
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
  std::printf("{\"batch\": %d, \"threads\": %d, \"steps\": %ld, \"seconds_per_epoch\": %.6f, \"calls\": [", batch, threads,
              steps, median(epochs));
  for (size_t i = 0; i < calls.size(); ++i)
    std::printf("%s{\"what\": \"%s\", \"layer\": %d, \"m\": %d, \"n\": %d, \"k\": %d, \"seconds\": %.6f}", i ? ", " : "",
                calls[i].what, calls[i].layer, calls[i].m, calls[i].n, calls[i].k, median(per_call[i]));
  std::printf("]}\n");
  return 0;
}
