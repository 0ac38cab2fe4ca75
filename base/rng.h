// Counter-based random numbers: every draw is a pure function of (seed, counter), so a
// dropout mask or a sampled batch does not depend on thread count or on earlier draws.
#pragma once

#include <cstdint>

namespace kiln {

// A well-mixed 64-bit value for (seed, counter): two rounds of the splitmix64 finaliser.
inline uint64_t random_bits(uint64_t seed, uint64_t counter) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + counter + 0x632BE59BD9B4E019ull;
  for (int round = 0; round < 2; ++round) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
  }
  return z;
}

// Uniform float in [0, 1) with 24 random bits.
inline float random_uniform(uint64_t seed, uint64_t counter) {
  return static_cast<float>(random_bits(seed, counter) >> 40) * (1.0f / 16777216.0f);
}

// A new seed for a sub-stream, e.g. derive_seed(run_seed, step) then derive_seed(that, layer).
inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  return random_bits(seed ^ 0xD1B54A32D192ED03ull, stream);
}

}  // namespace kiln
