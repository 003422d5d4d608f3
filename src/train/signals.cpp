#include "train/signals.hpp"

#include <semaphore.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <thread>

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

// Written with write(2) alone, from the handler or the watchdog.
void say(const char* text) {
  size_t n = 0;
  while (text[n]) ++n;
  while (n > 0) {
    const ssize_t w = write(STDERR_FILENO, text, n);
    if (w <= 0) return;
    text += w, n -= size_t(w);
  }
}

const char* signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP"; }

sem_t g_wake;  // posted by the handler's first signal and by ~StopSignals

// The time is claimed first, so that a second signal handled at the same moment sees it.
extern "C" void on_signal(int sig) {
  const int64_t now = monotonic_ns();
  int64_t first = 0;
  if (g_signal_ns.compare_exchange_strong(first, now)) {
    g_signal = sig;
    sem_post(&g_wake);  // async-signal-safe: the watchdog starts counting
    return;
  }
  if (now - first > 200000000) {
    say("nabla: a second ");
    say(signal_name(sig));
    say(": stopped at once (a checkpoint on disk is whole or untouched: each is written aside, then renamed)\n");
    _exit(128 + sig);
  }
}

// After the first signal, the run has kStopGraceSeconds to reach a safe point; a run stuck in a
// call that never returns (a read from a hung network file system, a library that spins) is then
// stopped by this thread, with a message and the same exit code. Quits when the run ends.
std::atomic<bool> g_quit{false};

void watch() {
  while (sem_wait(&g_wake) != 0) {
  }
  if (g_quit) return;
  timespec deadline{};
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += StopSignals::kStopGraceSeconds;
  while (!g_quit) {
    if (sem_timedwait(&g_wake, &deadline) == 0) continue;  // the run's end (or a spurious post)
    if (errno == EINTR) continue;
    const int sig = g_signal.load();
    say("nabla: stopped by ");
    say(signal_name(sig));
    say(", but the run reached no safe point within 20 s (stuck in a call that does not return?): exiting now; a "
        "checkpoint on disk is whole or untouched\n");
    _exit(128 + sig);
  }
}

}  // namespace

StopSignals::StopSignals() {
  g_signal = 0;
  g_signal_ns = 0;
  g_quit = false;
  sem_init(&g_wake, 0, 0);
  {
    const StopSignalsBlocked blocked;  // inherited by the threads started here
    restart_blas_threads();
    watchdog_ = std::thread(watch);
  }
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
  g_quit = true;
  sem_post(&g_wake);
  watchdog_.join();
  sem_destroy(&g_wake);
}

int StopSignals::requested() const { return g_signal.load(); }

std::string StopSignals::name() const {
  const int sig = g_signal.load();
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : std::to_string(sig);
}

}  // namespace nabla
