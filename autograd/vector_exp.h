// exp_in_range: e^x as straight-line float code, so that the loops of softmax, cross-entropy
// and GELU that call it vectorise (std::exp does not). Callers clamp or mask outside the range.
#pragma once

#include <bit>
#include <cstdint>

namespace kiln {

// e^x for -87 <= x <= 88, to within 1 ulp (measured against double), where 2^n stays a normal
// float. Cephes' expf: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 split in two so n ln2
// stays exact), e^r by a degree-7 polynomial, and 2^n through the exponent bits.
inline float exp_in_range(float x) {
  constexpr float kRoundingShift = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + kRoundingShift) - kRoundingShift;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

}  // namespace kiln
