// Parameter initialisation from kiln's counter-based RNG: a tensor's values are a pure
// function of (seed, element index), so a model is identical at any thread count.
#pragma once

#include <cmath>
#include <cstdint>

#include "autograd/tensor.h"
#include "base/rng.h"

namespace kiln::nn {

// Fills `t` with N(0, std^2) samples (Box-Muller over two uniform draws per element).
inline void init_normal(const Tensor& t, float std, uint64_t seed) {
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    double u1 = (random_bits(seed, 2 * uint64_t(i)) >> 11) * 0x1.0p-53;
    double u2 = (random_bits(seed, 2 * uint64_t(i) + 1) >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(1.0 - u1));  // 1 - u1 lies in (0, 1]
    p[i] = static_cast<float>(std * r * std::cos(2.0 * M_PI * u2));
  }
}

inline void init_constant(const Tensor& t, float value) {
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = value;
}

}  // namespace kiln::nn
