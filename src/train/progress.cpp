#include "train/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace nabla {

ProgressDisplay::ProgressDisplay(Progress mode, int64_t epochs, int64_t batches_per_epoch)
    : mode_(mode), epochs_(epochs), batches_(batches_per_epoch) {
  winsize w = {};
  if (mode_ == Progress::bar && ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) columns_ = w.ws_col;
}

ProgressDisplay::~ProgressDisplay() {
  if (drawn_) {
    std::printf("\r\033[K");
    std::fflush(stdout);
  }
}

void ProgressDisplay::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  epoch_start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressDisplay::batch(int64_t done, double loss, double accuracy, double samples_per_second, double lr) {
  if (mode_ != Progress::bar) return;
  const auto now = std::chrono::steady_clock::now();
  if (done != batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;  // ~10 redraws a second
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  // The whole run's: the batches left in this epoch and the epochs after it, at this epoch's pace.
  const double left = double(batches_ - done) + double(epochs_ - epoch_) * double(batches_);
  const double eta = done > 0 ? elapsed * left / double(done) : 0;
  // The figures first, then as much bar as the terminal's width leaves (8 to 30 characters).
  char tail[160];
  std::snprintf(tail, sizeof tail, " %lld/%lld loss %.4f acc %.2f%% %.0f/s ETA %d:%02d lr %.3g", (long long)done,
                (long long)batches_, loss, 100 * accuracy, samples_per_second, int(eta) / 60, int(eta) % 60, lr);
  char head[32];
  std::snprintf(head, sizeof head, "epoch %lld/%lld ", (long long)epoch_, (long long)epochs_);
  const int room = columns_ - 1 - int(std::strlen(head) + std::strlen(tail)) - 2;
  const int width = std::clamp(room, 8, 30);
  const int filled = int(width * done / std::max<int64_t>(batches_, 1));
  char bar[32];
  for (int i = 0; i < width; ++i) bar[i] = i < filled ? '#' : '-';
  bar[width] = 0;
  char line[256];
  std::snprintf(line, sizeof line, "%s[%s]%s", head, bar, tail);
  line[std::min<size_t>(sizeof line - 1, size_t(std::max(columns_ - 1, 1)))] = 0;  // never wrap
  std::printf("\r\033[K%s", line);
  std::fflush(stdout);
  drawn_ = true;
}

void ProgressDisplay::end_epoch(const std::string& summary) {
  if (mode_ == Progress::quiet) return;
  if (drawn_) std::printf("\r\033[K");
  drawn_ = false;
  if (!summary.empty()) std::printf("%s\n", summary.c_str());
  std::fflush(stdout);
}

void ProgressDisplay::message(const std::string& line) {
  if (mode_ == Progress::quiet) return;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace nabla
