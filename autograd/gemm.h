// kiln::gemm, the one entry point for float GEMM: it picks oneDNN or OpenBLAS per shape class
// (the measurements behind the choice are in gemm.cpp), plus a batched form for per-head GEMMs
// and gemm_linear for a linear layer's forward with its bias and residual.
#pragma once

#include <cstdint>

namespace kiln {

// kAuto lets gemm() choose; the others force a backend (tests and benchmarks compare them).
// Both are threaded over kiln's team when gemm_uses_team() says so and run on the calling
// thread otherwise: oneDNN by its own split, OpenBLAS as one single-threaded call per block
// of rows of C.
enum class GemmBackend { kAuto, kDnnl, kBlas };

// Row-major C[M,N] = alpha * op(A) * op(B) + beta * C, where op(A) is [M,K] (A stored [K,M]
// when trans_a) and op(B) is [K,N] (B stored [N,K] when trans_b). beta == 0 never reads C,
// so C may hold garbage; beta == 1 accumulates, which is how backward adds into gradients.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          GemmBackend backend = GemmBackend::kAuto);

// Row-major C[M,N] = A op(B) + bias + R, a linear layer's forward: A [M,K], B [K,N] or, when
// trans_b, [N,K], C [M,N], all dense; bias a row [N] added to every row of C and R [M,N], each
// skipped when null. Where fuse_linear_epilogue says so, oneDNN's matmul adds the bias and R
// as it writes each block of C; otherwise C starts as their sum and the product adds to it.
void gemm_linear(bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                 const float* bias, const float* residual, float* c);

// A linear layer's backward products, B (the weight) stored as in gemm_linear, dY [M,N]:
// dA [M,K] = dY op(B)^T, and dB (stored like B) = X^T dY or dY^T X for the forward input X
// [M,K]. beta 0 writes the gradient, 1 adds to it.
void gemm_linear_data_gradient(bool trans_b, int64_t m, int64_t n, int64_t k, const float* dy,
                               const float* b, float beta, float* da);
void gemm_linear_weight_gradient(bool trans_b, int64_t m, int64_t n, int64_t k, const float* x,
                                 const float* dy, float beta, float* db);

// True when gemm_linear adds a bias or residual inside oneDNN's matmul: float32 products with B
// transposed (weights stored [out, in]) on AVX-512 CPUs, large enough to run over the team.
bool fuse_linear_epilogue(bool trans_b, int64_t m, int64_t n, int64_t k, bool avx512);
// The same for this machine's CPU and the current precision: when false, gemm_linear fills C
// with the bias and residual in a pass of its own before the product.
bool gemm_linear_fuses(bool trans_b, int64_t m, int64_t n, int64_t k);

// What a GEMM computes in. kBf16 is mixed precision as torch.autocast("cpu", bfloat16) runs a
// matmul: both operands rounded to bfloat16 (to nearest even), products accumulated and C
// kept in float32. Process-wide (GEMMs that run on the team's threads follow it), default kF32.
// Only kAuto GEMMs with beta 0 or 1 (all of kiln's) take the bf16 path.
enum class MatmulPrecision { kF32, kBf16 };

// What every refusal of bf16 says after naming its setting.
inline constexpr const char* kBf16CpuRequirement =
    "expected a CPU with AVX512_BF16 or AMX-BF16 (Intel Cooper Lake, Sapphire Rapids or later; "
    "AMD Zen 4 or later), got one with neither; use fp32";

// True when this CPU multiplies bfloat16 natively: AVX512_BF16 or AMX-BF16.
bool cpu_supports_bf16();
// Errors with one line naming the CPU's lack when kBf16 is asked for without cpu_supports_bf16().
void set_matmul_precision(MatmulPrecision precision);
MatmulPrecision matmul_precision();

// Sets a precision for one scope, then restores the previous one.
class MatmulPrecisionScope {
 public:
  explicit MatmulPrecisionScope(MatmulPrecision p) : saved_(matmul_precision()) {
    set_matmul_precision(p);
  }
  ~MatmulPrecisionScope() { set_matmul_precision(saved_); }
  MatmulPrecisionScope(const MatmulPrecisionScope&) = delete;
  MatmulPrecisionScope& operator=(const MatmulPrecisionScope&) = delete;

 private:
  MatmulPrecision saved_;
};

// The backend kAuto picks for an M x N x K product: OpenBLAS for the very smallest and, when
// blas_suits_cpu (OpenBLAS runs a kernel made for this CPU), for weight gradients (trans_a only)
// whose C is a power of two >= 128 wide, where on an avx512 CPU only those at least 1024 tall
// with K >= 256, and on an avx512 CPU for small products at most 32 wide without B transposed
// (attention's narrow heads); oneDNN otherwise.
GemmBackend choose_gemm_backend(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                                bool blas_suits_cpu, bool avx512);
// The same for this machine's CPU and OpenBLAS.
GemmBackend choose_gemm_backend(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k);
// True when a oneDNN product of this size, called from this thread, runs over the whole team:
// never inside a parallel region, nor for products too small to repay waking the team.
bool gemm_uses_team(int64_t m, int64_t n, int64_t k);

// For i in [0, batch): C_i = alpha * op(A_i) * op(B_i) + beta * C_i with X_i = x + i * stride_x.
// A stride of 0 shares one matrix across the batch; stride_c == 0 runs the products in batch
// order into the one C, so with beta == 1 it sums them (a shared weight's gradient). Many small
// matrices run as a parallel loop over the batch with one single-threaded GEMM each; otherwise
// each GEMM in turn is threaded.
void gemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float* a, int64_t lda, int64_t stride_a, const float* b,
                  int64_t ldb, int64_t stride_b, float beta, float* c, int64_t ldc,
                  int64_t stride_c);

}  // namespace kiln
