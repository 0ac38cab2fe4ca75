// Draws: successive draws from one counter-based stream of base/rng.h, with the few Python
// random.Random methods that create_pretraining_data.py uses. Header-only.
#pragma once

#include <cstdint>

#include "base/rng.h"

namespace kiln {

// The n-th call draws random_bits(seed, n), so a stream is a pure function of its seed.
class Draws {
 public:
  explicit Draws(uint64_t seed) : seed_(seed) {}

  uint64_t bits() { return random_bits(seed_, counter_++); }
  // Uniform in [0, 1) with 53 random bits, like Python's random().
  double uniform() { return static_cast<double>(bits() >> 11) * 0x1.0p-53; }
  // Uniform integer in [lo, hi], both ends included like Python's randint; needs lo <= hi.
  // Modulo bias is below (hi - lo + 1) / 2^64: nothing for the ranges used here.
  int64_t randint(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(bits() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
};

}  // namespace kiln
