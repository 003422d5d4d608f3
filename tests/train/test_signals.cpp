// The stop signals (SIGINT, SIGTERM, SIGHUP) are taken by the main thread alone: every other thread
// of a training run (the step's team, the loaders, OpenBLAS's pool) has them blocked, so that the
// handler never runs there and never interrupts their system calls.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "data/loader.hpp"
#include "math/blas.hpp"
#include "train/signals.hpp"
#include "train/team.hpp"

namespace {

// A thread's blocked signals, from the kernel's own account (/proc/self/task/TID/status, SigBlk).
uint64_t blocked_signals(const std::filesystem::path& task) {
  std::ifstream in(task / "status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("SigBlk:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  FAIL("no SigBlk line in " << (task / "status").string());
  return 0;
}

constexpr uint64_t bit(int sig) { return uint64_t(1) << (sig - 1); }

}  // namespace

TEST_CASE("during a run only the main thread takes SIGINT, SIGTERM and SIGHUP") {
  // OpenBLAS's pool as the library started it (its size is fixed then: raising the thread count
  // later would add threads of this test's own making).
  const int blas_pool = openblas_get_num_threads();
  const nabla::StopSignals signals;
  nabla::Team team(2);
  nabla::DataSource src;
  src.images = NABLA_SOURCE_DIR "/data/samples/fashion-test-500-images-idx3-ubyte.gz";
  src.labels = NABLA_SOURCE_DIR "/data/samples/fashion-test-500-labels-idx1-ubyte.gz";
  nabla::data::LoaderOptions o;
  o.batch_size = 100;
  nabla::data::BatchLoader loader(src, nabla::DataFormat::idx, false, o);
  loader.start_epoch(0);
  nabla::data::Batch b;
  REQUIRE(loader.next(b));  // its thread is at work
  // OpenBLAS's pool, used by a threaded product.
  if (blas_pool > 1) {
    nabla::set_blas_threads(2);
    std::vector<float> a(512 * 512, 1.0f), c(512 * 512);
    nabla::gemm(false, false, 512, 512, 512, 1.0f, a.data(), 512, a.data(), 512, 0.0f, c.data(), 512);
    nabla::set_blas_threads(1);
    CHECK(c[0] == 512.0f);
  } else {
    MESSAGE("OpenBLAS started with one thread: its pool is not part of this check");
  }

  const uint64_t stop = bit(SIGINT) | bit(SIGTERM) | bit(SIGHUP);
  const std::string self = std::to_string(syscall(SYS_gettid));
  int others = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    const uint64_t blocked = blocked_signals(task.path());
    CAPTURE(task.path().filename().string());
    if (task.path().filename() == self) {
      CHECK((blocked & stop) == 0);  // the main thread takes them
    } else {
      ++others;
      CHECK((blocked & stop) == stop);
    }
  }
  // The team's worker and the loader's thread at least (OpenBLAS's pool where it has one).
  CHECK(others >= 2);
}
