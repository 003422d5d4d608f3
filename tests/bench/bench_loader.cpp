// One epoch of an IDX dataset through the BatchLoader, timed, with the process's peak RSS: what
// scripts/bench-loader.sh runs (three times per setting, in fresh processes, taking medians).
//
//   bench_loader IMAGES LABELS BUDGET_MB [BATCH=64] [SEED=1]
//
// Prints one line of "key value" pairs. The consumer reads one value and the label of every row,
// so the loader's work is measured, not a model's.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "data/loader.hpp"
#include "util/error.hpp"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_loader IMAGES LABELS BUDGET_MB [BATCH=64] [SEED=1]\n");
    return 2;
  }
  nabla::DataSource source;
  source.images = argv[1];
  source.labels = argv[2];
  nabla::data::LoaderOptions o;
  o.memory_budget_bytes = std::atoll(argv[3]) << 20;
  o.batch_size = argc > 4 ? std::atoll(argv[4]) : 64;
  o.seed = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 1;
  o.shuffle = true;

  using clock = std::chrono::steady_clock;
  try {
    auto t0 = clock::now();
    nabla::data::BatchLoader loader(source, nabla::DataFormat::idx, false, o);
    auto t1 = clock::now();
    loader.start_epoch(0);
    nabla::data::Batch b;
    int64_t samples = 0;
    double checksum = 0;
    while (loader.next(b)) {
      for (int64_t r = 0; r < b.rows; ++r) checksum += b.x[r * b.features + b.features / 2] + b.labels[r];
      samples += b.rows;
    }
    auto t2 = clock::now();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("samples %lld load_s %.4f epoch_s %.4f peak_rss_kb %ld streaming %d buffer_bytes %lld checksum %.3f\n",
                static_cast<long long>(samples), std::chrono::duration<double>(t1 - t0).count(),
                std::chrono::duration<double>(t2 - t1).count(), ru.ru_maxrss, loader.streaming() ? 1 : 0,
                static_cast<long long>(loader.buffer_bytes()), checksum);
  } catch (const nabla::Error& e) {
    std::fprintf(stderr, "bench_loader: %s\n", e.what());
    return 1;
  }
  return 0;
}
