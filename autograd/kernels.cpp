// Shared elementwise accumulation loops, parallel over fixed chunks.
#include "autograd/kernels.h"

#include "autograd/threads.h"
#include "base/error.h"

namespace kiln {

namespace {
constexpr int64_t kMinPerThread = 1 << 14;  // below this, threading costs more than it saves
}

void add_into(float* dst, const float* src, int64_t n) {
  parallel_for(n, kMinPerThread, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] += src[i];
  });
}

void add_scaled_into(float* dst, const float* src, float alpha, int64_t n) {
  parallel_for(n, kMinPerThread, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] += alpha * src[i];
  });
}

void add_into(const Tensor& dst, const Tensor& src) {
  KILN_CHECK(dst.numel() == src.numel(), "add_into: expected equal sizes, got ",
             shape_str(dst.shape()), " and ", shape_str(src.shape()));
  add_into(dst.data(), src.data(), dst.numel());
}

void add_scaled_into(const Tensor& dst, const Tensor& src, float alpha) {
  KILN_CHECK(dst.numel() == src.numel(), "add_scaled_into: expected equal sizes, got ",
             shape_str(dst.shape()), " and ", shape_str(src.shape()));
  add_scaled_into(dst.data(), src.data(), alpha, dst.numel());
}

}  // namespace kiln
