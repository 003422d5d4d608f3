#pragma once
// A small, portable random number generator: SplitMix64 (Steele, Lea & Flood 2014). Its whole state is
// one 64-bit word, so it is trivially saved in a checkpoint and restored, and it gives the same stream
// on every platform and standard library (std::normal_distribution does not).
#include <cmath>
#include <cstdint>

namespace nabla {

// The purposes one seed serves, each its own stream (the numbers are part of every checkpoint's
// and run's reproducibility: never renumber them). The epoch order draws from `shuffle`'s first
// number (data/shuffle.hpp); each thread and phase of a step from `dropout`'s number for the step
// (train/parallel.cpp).
enum class Stream : uint64_t { init = 0, shuffle = 1, dropout = 2, gradcheck_entries = 7 };

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}

  // SplitMix64's finaliser: a bijective mix of 64 bits.
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // An independent stream for one purpose (initialisation, shuffling, dropout) from one user seed.
  // The starting points are hashed apart, so no two streams of one seed sit a few steps from each
  // other on SplitMix64's single cycle (a plain seed ^ constant would for seeds like 0).
  static Rng stream(uint64_t seed, Stream purpose) {
    return Rng(mix(mix(seed) ^ mix(0xD1B54A32D192ED03ULL * (uint64_t(purpose) + 1))));
  }

  // SplitMix64's increment (2⁶⁴ divided by the golden ratio): next() mixes the state after adding it.
  static constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ULL;

  uint64_t next() { return mix(state_ += kGamma); }

  // Uniform in [0, 1), 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

  // Standard normal by Box-Muller (the second value is discarded, so the state stays one word).
  double normal() {
    double u1 = 0.0;
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

}  // namespace nabla
