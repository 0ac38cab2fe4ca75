// Small parallel loops that many ops share (accumulate, fill, scaled add).
#pragma once

#include "autograd/tensor.h"

namespace kiln {

// dst += src, elementwise; shapes must hold the same number of elements.
void add_into(const Tensor& dst, const Tensor& src);
// dst += alpha * src.
void add_scaled_into(const Tensor& dst, const Tensor& src, float alpha);
// Raw forms over n floats.
void add_into(float* dst, const float* src, int64_t n);
void add_scaled_into(float* dst, const float* src, float alpha, int64_t n);

}  // namespace kiln
