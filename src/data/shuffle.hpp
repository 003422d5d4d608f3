#pragma once
// The randomness of the epoch order, the same with every compiler and standard library:
// std::mt19937_64 (its output sequence is fixed by the C++ standard), a uniform draw by rejection,
// and Fisher–Yates written out here, because std::shuffle and std::uniform_int_distribution are
// implementation-defined and would give another order with another standard library.
#include <cstdint>
#include <random>
#include <utility>

#include "math/rng.hpp"

namespace nabla::data {

// One step of SplitMix64 from state z: its increment, then its finaliser.
inline uint64_t mix64(uint64_t z) { return Rng::mix(z + Rng::kGamma); }

// The generator for epoch `epoch` of a run seeded with `seed`: a pure function of the two. The
// constant keeps this stream apart from the other users of the same seed (initialisation, dropout).
inline std::mt19937_64 epoch_rng(uint64_t seed, int64_t epoch) {
  constexpr uint64_t kShuffleStream = 0x53485546464c4521ULL;  // "SHUFFLE!"
  return std::mt19937_64(mix64(mix64(seed ^ kShuffleStream) + uint64_t(epoch)));
}

// Uniform in [0, n), n > 0: rejects the draws below 2^64 mod n so that every residue is equally likely.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // = 2^64 mod n
  for (;;) {
    uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

// Fisher–Yates (Knuth's Algorithm P), from the back: a[i] swaps with a uniform a[0..i].
template <class T>
void fisher_yates(T* a, int64_t n, std::mt19937_64& rng) {
  for (int64_t i = n - 1; i > 0; --i) std::swap(a[i], a[uniform_below(rng, uint64_t(i) + 1)]);
}

}  // namespace nabla::data
