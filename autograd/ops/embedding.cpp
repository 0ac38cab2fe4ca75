// embedding: a row gather from a [V, D] table, and its scatter-add backward (deterministic
// with any thread count because threads split the columns, never the ids).
#include <algorithm>
#include <cstring>
#include <string>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"

namespace kiln::ops {
namespace {

constexpr int64_t kMinPerThread = 1 << 14;  // elements; below this threads cost more than they save

}  // namespace

// weight: [V, D], ids: int32 [...] -> [..., D]. Saves the ids and weight's handle.
Tensor embedding(const Tensor& weight, const Tensor& ids) {
  KILN_CHECK(weight.rank() == 2 && weight.dtype() == DType::kF32,
             "embedding: expected a float32 weight of shape [V, D], got ",
             dtype_name(weight.dtype()), " ", shape_str(weight.shape()));
  KILN_CHECK(ids.dtype() == DType::kI32, "embedding: expected int32 ids, got ",
             dtype_name(ids.dtype()), " of shape ", shape_str(ids.shape()));
  const int64_t vocab = weight.dim(0), d = weight.dim(1), n = ids.numel();
  const int32_t* id = ids.ints();
  // Checked up front, serially: an exception must not escape a parallel region.
  for (int64_t i = 0; i < n; ++i)
    KILN_CHECK(id[i] >= 0 && id[i] < vocab, "embedding: expected ids in [0, ", vocab,
               ") for weight ", shape_str(weight.shape()), ", got id ", id[i], " at position ",
               index_str(i, ids.shape()), " of ids ", shape_str(ids.shape()));
  Shape out = ids.shape();
  out.push_back(d);
  Tensor y = Tensor::empty(out);
  const float* w = weight.data();
  float* dst = y.data();
  parallel_for(n, std::max<int64_t>(1, kMinPerThread / std::max<int64_t>(d, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t i = b; i < e; ++i)
                   std::memcpy(dst + i * d, w + id[i] * d, static_cast<std::size_t>(d) * 4);
               });
  if (!should_record({weight})) return y;
  // Saves the ids (a handle: callers must not overwrite them before backward) and weight's handle.
  return record("embedding", y, {weight}, [weight, ids, d, n](const Tensor& dy) {
    Tensor gw = grad_if_needed(weight);
    if (!gw.defined()) return;
    const int32_t* idx = ids.ints();
    const float* g = dy.data();
    float* gwp = gw.data();
    // Each thread owns columns [c0, c1) of every row and walks the ids in order, so a row hit by
    // many ids is summed in the same order at any thread count. Chunks of at least 16 columns
    // keep threads off each other's cache lines except at the edges.
    int64_t min_cols = std::max<int64_t>(16, kMinPerThread / std::max<int64_t>(n, 1));
    parallel_for(d, min_cols, [&](int64_t c0, int64_t c1) {
      for (int64_t i = 0; i < n; ++i) {
        float* row = gwp + idx[i] * d;
        const float* src = g + i * d;
        for (int64_t c = c0; c < c1; ++c) row[c] += src[c];
      }
    });
  });
}

}  // namespace kiln::ops
