#pragma once
// The signals that stop a training run (SIGINT, SIGTERM, SIGHUP: train/signals.hpp) are taken by
// the main thread alone. Every thread nabla starts (the step's team, the loaders) is started through
// start_thread, with those signals blocked: a new thread inherits the mask of the thread that
// starts it, so it never runs the handler, and a signal never interrupts its system calls.
#include <signal.h>

#include <thread>
#include <utility>

namespace nabla {

inline sigset_t stop_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGHUP);
  return s;
}

// While it lives, the calling thread has the stop signals blocked (pending ones wait, and are
// taken when it ends); threads started meanwhile keep them blocked for good.
class StopSignalsBlocked {
 public:
  StopSignalsBlocked() {
    const sigset_t s = stop_signals();
    pthread_sigmask(SIG_BLOCK, &s, &old_);
  }
  ~StopSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  StopSignalsBlocked(const StopSignalsBlocked&) = delete;
  StopSignalsBlocked& operator=(const StopSignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

template <class F>
std::thread start_thread(F&& f) {
  const StopSignalsBlocked blocked;
  return std::thread(std::forward<F>(f));
}

}  // namespace nabla
