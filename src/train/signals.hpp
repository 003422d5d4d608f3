#pragma once
// SIGINT, SIGTERM and SIGHUP (the terminal closed) while training. The first asks the run to stop
// at its next safe point: before the first step, or after a step, with a checkpoint. A second one,
// more than 0.2 s after the first, stops the process at once (exit 128 + the signal), saying so.
// Within 0.2 s it is the same request twice (`timeout` and a `kill` of a process group deliver one
// to the process and one to its group), not a second Ctrl-C. A run that reaches no safe point
// within kStopGraceSeconds of the first (stuck in a call that does not return) is stopped by a
// watchdog thread in the same way: a single `kill` always ends it. Either is safe on disk, as every
// checkpoint is written aside and renamed.
//
// Only the main thread takes them: every other thread runs with them blocked (util/threads.hpp),
// so that the handler never runs on a loader, team or BLAS thread. The handler is installed with
// SA_RESTART, so that a signal does not fail the main thread's writes (the progress bar's printf
// to a full pipe) with EINTR.
#include <signal.h>

#include <string>
#include <thread>

namespace nabla {

class StopSignals {
 public:
  // Installs the handler and clears any earlier request; OpenBLAS's threads are restarted with the
  // signals blocked. A run started under nohup ignores SIGHUP, and keeps ignoring it.
  StopSignals();
  ~StopSignals();  // the handlers that were there before
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  static constexpr int kStopGraceSeconds = 20;

  // The first signal's number, 0 while none came.
  int requested() const;
  // Its name: "SIGINT", "SIGTERM" or "SIGHUP".
  std::string name() const;

 private:
  struct sigaction old_int_ = {}, old_term_ = {}, old_hup_ = {};  // the handlers before
  std::thread watchdog_;
};

}  // namespace nabla
