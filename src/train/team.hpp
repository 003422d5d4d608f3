#pragma once
// A fixed team of threads that run one function together, many times a second: the caller is
// member 0 and n − 1 workers wait for work. run(f) calls f(k) on every member k and returns when all
// are done. Waiting members spin briefly (a training step hands out work every few hundred
// microseconds) and then sleep on a futex (std::atomic::wait), so an idle team costs nothing.
// Nothing is allocated per run.
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

namespace nabla {

class Team {
 public:
  explicit Team(int size);
  ~Team();
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // f(k) for k = 0 .. size() − 1, concurrently. When any f(k) throws, run() still waits for all,
  // then rethrows the exception of the lowest such k (the others are dropped).
  template <class F>
  void run(F& f) {
    run_erased([](void* fn, int k) { (*static_cast<F*>(fn))(k); }, &f);
  }

 private:
  void run_erased(void (*call)(void*, int), void* fn);
  void work(int k);
  // call_(fn_, k), with what it throws kept in errors_[k].
  void call_member(int k);

  std::vector<std::thread> workers_;
  // 32 bits: libstdc++ waits on a 4-byte atomic with a futex of its own; a wrap is harmless, since
  // only a change is looked for.
  std::atomic<uint32_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  void (*call_)(void*, int) = nullptr;
  void* fn_ = nullptr;
  std::vector<std::exception_ptr> errors_;  // per member, of the current run
};

}  // namespace nabla
