// The only code that includes oneDNN: engine and stream, sgemm, and the primitives kiln
// uses (layer norm, eltwise, softmax), each built once per shape and cached.
#pragma once

#include <cstdint>

namespace kiln::backend {

// Row-major C[M,N] = alpha * op(A) * op(B) + beta * C with oneDNN's sgemm, threaded over
// kiln's OpenMP team (sequential when called inside a parallel region).
void dnnl_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc);

}  // namespace kiln::backend
