// The only code that includes oneDNN: engine and stream, sgemm, and the primitives kiln
// uses (bf16 matmul, eltwise, softmax), each built once per shape and cached.
#pragma once

#include <cstdint>

namespace kiln::backend {

// Row-major C[M,N] = alpha * op(A) * op(B) + beta * C with oneDNN's sgemm, threaded over
// kiln's OpenMP team (sequential when called inside a parallel region).
void dnnl_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc);

// Row-major C[M,N] = op(A) * op(B) + beta * C, beta 0 or 1, with oneDNN's matmul on bfloat16
// operands (their bit patterns, dense: A [M,K] or, when trans_a, [K,M]; B [K,N] or [N,K])
// accumulating in float32: the bf16 GEMM.
void dnnl_matmul_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                      const uint16_t* a, const uint16_t* b, float beta, float* c, int64_t ldc);

// Row-major C[M,N] = A op(B) + bias + R with oneDNN's matmul: A [M,K], B [K,N] or, when
// trans_b, [N,K], all dense; bias a row [N] added to every row of C and R [M,N], each skipped
// when null. The bias and the residual are added as each block of C is written, instead of
// in a pass over C before or after the product: a linear layer's forward.
void dnnl_matmul_f32(bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                     const float* bias, const float* residual, float* c);

// All functions below take dense row-major float32 buffers, OVERWRITE their outputs, and
// throw kiln::Error naming the primitive and the sizes when oneDNN fails. Primitives are
// cached per thread, keyed by kind, sizes and flags, so a training step builds none.

// Elementwise functions on oneDNN. (Both GELU forms run on kiln's own loops, see
// ops/gelu.h: oneDNN 2.6's tanh form was 5x slower than its erf form, and the erf form is
// shared with the fused gelu_linear.)
enum class Eltwise { kTanh };

// y[i] = f(x[i]) for i < n.
void eltwise_forward(Eltwise alg, int64_t n, const float* x, float* y);

// dx[i] = f'(x[i]) * dy[i]. `saved` is the forward OUTPUT y for kTanh (whose derivative
// 1 - y^2 needs only the output).
void eltwise_backward(Eltwise alg, int64_t n, const float* saved, const float* dy, float* dx);

// y = softmax(x) (or log_softmax when `log`) over each row of x: [rows, channels].
void softmax_forward(int64_t rows, int64_t channels, const float* x, float* y, bool log);

// dx from the forward OUTPUT y and dy, all [rows, channels].
void softmax_backward(int64_t rows, int64_t channels, const float* y, const float* dy, float* dx,
                      bool log);

}  // namespace kiln::backend
