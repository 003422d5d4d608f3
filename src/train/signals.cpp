#include "train/signals.hpp"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "math/blas.hpp"
#include "util/threads.hpp"

namespace nabla {

namespace {

// The process-wide state the handler shares with the run: lock-free atomics only.
std::atomic<int> g_signal{0};
std::atomic<int64_t> g_signal_ns{0};  // when the first signal came; 0 before

int64_t monotonic_ns() {  // async-signal-safe
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// The time is claimed first, so that a second signal handled at the same moment sees it.
extern "C" void on_signal(int sig) {
  const int64_t now = monotonic_ns();
  int64_t first = 0;
  if (g_signal_ns.compare_exchange_strong(first, now)) {
    g_signal = sig;
    return;
  }
  if (now - first > 200000000) _exit(128 + sig);
}

}  // namespace

StopSignals::StopSignals() {
  {
    const StopSignalsBlocked blocked;
    restart_blas_threads();
  }
  g_signal = 0;
  g_signal_ns = 0;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
  sigaction(SIGHUP, nullptr, &old_hup_);
  if (old_hup_.sa_handler != SIG_IGN) sigaction(SIGHUP, &sa, nullptr);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
  sigaction(SIGHUP, &old_hup_, nullptr);
}

int StopSignals::requested() const { return g_signal.load(); }

std::string StopSignals::name() const {
  const int sig = g_signal.load();
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : std::to_string(sig);
}

}  // namespace nabla
