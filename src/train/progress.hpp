#pragma once
// What a person sees while training: a live bar redrawn in place on a terminal, one plain line per
// epoch otherwise (a log file, a pipe, CI), nothing with --quiet. Errors go to stderr regardless.
#include <chrono>
#include <cstdint>
#include <string>

namespace nabla {

// A live bar (a terminal), one line an epoch (a log file, a pipe), or nothing but errors.
enum class Progress { bar, lines, quiet };

class ProgressDisplay {
 public:
  ProgressDisplay(Progress mode, int64_t epochs, int64_t batches_per_epoch);
  ~ProgressDisplay();  // clears a half-drawn bar, so that an error message starts on a clean line
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;
  void start_epoch(int64_t epoch);  // 1-based
  // After each batch: running means of the epoch so far.
  void batch(int64_t done, double loss, double accuracy, double samples_per_second, double lr);
  void end_epoch(const std::string& summary);  // the epoch's line
  void message(const std::string& line);

 private:
  Progress mode_;
  int64_t epochs_, batches_, epoch_ = 0;
  int columns_ = 80;    // the terminal's width: the bar never wraps
  bool drawn_ = false;  // a bar is on the screen
  std::chrono::steady_clock::time_point epoch_start_, last_draw_;
};

}  // namespace nabla
