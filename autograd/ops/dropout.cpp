// dropout: inverted dropout whose mask is a pure function of (seed, element index), so it
// does not depend on thread count and can be reproduced from the seed alone.
#include <algorithm>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "base/rng.h"

namespace kiln::ops {
namespace {
constexpr int64_t kMinPerThread = 1 << 14;  // elements; below this threads cost more than they save
}

// x: [...] -> x.shape. Element i survives iff random_uniform(seed, i) >= p and is scaled by
// 1 / (1 - p). Saves the mask as floats (0 or 1 / (1 - p)) when recording.
Tensor dropout(const Tensor& x, float p, uint64_t seed, bool training) {
  // Checked even when inactive, so a bad config fails in evaluation too.
  KILN_CHECK(p >= 0.0f && p < 1.0f, "dropout: expected p in [0, 1), got ", p);
  KILN_CHECK(x.dtype() == DType::kF32, "dropout: expected a float32 tensor, got ",
             dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
  if (!training || p == 0.0f) return x;
  const float keep_scale = 1.0f / (1.0f - p);
  const bool recording = should_record({x});
  Tensor y = Tensor::empty(x.shape());
  Tensor mask = recording ? Tensor::empty(x.shape()) : Tensor();
  const float* src = x.data();
  float* dst = y.data();
  float* m = recording ? mask.data() : nullptr;
  parallel_for(x.numel(), kMinPerThread, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float scale = random_uniform(seed, static_cast<uint64_t>(i)) >= p ? keep_scale : 0.0f;
      dst[i] = src[i] * scale;
      if (m) m[i] = scale;
    }
  });
  if (!recording) return y;
  // Saves the mask; dx += dy * mask.
  return record("dropout", y, {x}, [x = x.gradient_handle(), mask](const Tensor& dy) {
    const GradTarget gx = grad_target(x);
    if (!gx) return;
    float* g = gx.data();
    const float* d = dy.data();
    const float* mk = mask.data();
    const bool accumulate = gx.accumulate;
    parallel_for(dy.numel(), kMinPerThread, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) g[i] = (accumulate ? g[i] : 0.0f) + d[i] * mk[i];
    });
  });
}

}  // namespace kiln::ops
