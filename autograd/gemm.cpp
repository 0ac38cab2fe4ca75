// GEMM dispatch between oneDNN's sgemm and single-threaded OpenBLAS, and the batched loop.
// bench/gemm_choice_bench.cpp measures the shape classes that decide the rules below.
#include "autograd/gemm.h"

#include <omp.h>

#include <algorithm>

#include "autograd/backend/blas.h"
#include "autograd/backend/dnnl.h"
#include "autograd/error.h"
#include "autograd/threads.h"

namespace kiln {
namespace {

// Below this many multiply-adds (M*N*K) a GEMM is "tiny": TODO(bench).
constexpr int64_t kTinyMacs = 32 * 32 * 32;

// Single-threaded backend: TODO(bench).
constexpr GemmBackend kSingleThreadBackend = GemmBackend::kBlas;

// Batched GEMMs whose matrices are below this many multiply-adds each run one per thread.
constexpr int64_t kBatchParallelMacs = 1024 * 1024 * 64;

// C = beta * C for the degenerate K == 0 product (BLAS leaves it to the library; oneDNN
// rejects lda == 0, so kiln handles it once here).
void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f)
      std::fill_n(row, n, 0.0f);
    else
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
}

}  // namespace

GemmBackend choose_gemm_backend(int64_t m, int64_t n, int64_t k) {
  // Inside a parallel region neither backend may start threads, so take the faster
  // single-threaded one; tiny problems cost less on one thread than waking the team.
  if (omp_in_parallel() || m * n * k < kTinyMacs) return kSingleThreadBackend;
  return GemmBackend::kDnnl;
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          GemmBackend backend) {
  KILN_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: expected non-negative sizes, got M=", m, " N=", n,
             " K=", k);
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_c(m, n, beta, c, ldc);
  if (backend == GemmBackend::kAuto) backend = choose_gemm_backend(m, n, k);
  if (backend == GemmBackend::kDnnl)
    backend::dnnl_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    backend::blas_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float* a, int64_t lda, int64_t stride_a, const float* b,
                  int64_t ldb, int64_t stride_b, float beta, float* c, int64_t ldc,
                  int64_t stride_c) {
  auto one = [&](int64_t i) {
    gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
         c + i * stride_c, ldc);
  };
  // A shared C is a sum over the batch: keep the order fixed (and the writes unraced).
  bool per_thread = stride_c != 0 && batch >= num_threads() && m * n * k < kBatchParallelMacs;
  if (!per_thread || omp_in_parallel()) {
    for (int64_t i = 0; i < batch; ++i) one(i);
    return;
  }
  parallel_for(batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) one(i);
  });
}

}  // namespace kiln
