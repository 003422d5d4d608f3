#include "train/team.hpp"

#include "util/threads.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NABLA_PAUSE() _mm_pause()
#else
#define NABLA_PAUSE() ((void)0)
#endif

namespace nabla {

namespace {

// Spins before sleeping: a few hundred microseconds at most (a pause is 10 to 140 cycles,
// depending on the CPU), longer than the gaps inside a step and far shorter than an evaluation.
constexpr int kSpins = 4000;

// Waits until `a` no longer holds `value`.
template <class T>
void await_change(const std::atomic<T>& a, T value) {
  for (int i = 0; i < kSpins; ++i) {
    if (a.load(std::memory_order_acquire) != value) return;
    NABLA_PAUSE();
  }
  while (a.load(std::memory_order_acquire) == value) a.wait(value, std::memory_order_acquire);
}

}  // namespace

Team::Team(int size) : errors_(size_t(size < 1 ? 1 : size)) {
  for (int k = 1; k < size; ++k) workers_.push_back(start_thread([this, k] { work(k); }));
}

void Team::call_member(int k) {
  try {
    call_(fn_, k);
  } catch (...) {
    errors_[size_t(k)] = std::current_exception();
  }
}

Team::~Team() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void Team::run_erased(void (*call)(void*, int), void* fn) {
  call_ = call;
  fn_ = fn;
  pending_.store(int(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);  // publishes call_ and fn_
  generation_.notify_all();
  call_member(0);
  for (int left; (left = pending_.load(std::memory_order_acquire)) != 0;) await_change(pending_, left);
  for (std::exception_ptr& e : errors_)
    if (e) {
      const std::exception_ptr first = e;
      for (std::exception_ptr& other : errors_) other = nullptr;
      std::rethrow_exception(first);
    }
}

void Team::work(int k) {
  uint32_t seen = 0;
  for (;;) {
    await_change(generation_, seen);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    call_member(k);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace nabla
