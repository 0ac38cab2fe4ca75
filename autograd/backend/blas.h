// The only code that includes OpenBLAS. kiln calls it single-threaded, from inside its own
// OpenMP team, so OpenBLAS's pthread pool never starts (see autograd/threads.h).
#pragma once

#include <cstdint>

namespace kiln::backend {

// Pins OpenBLAS to the calling thread. Idempotent; called by set_num_threads.
void blas_init_single_threaded();

// False when OpenBLAS runs a generic kernel on a CPU that has AVX2 and FMA: it did not
// recognise the CPU, so its products run several times slower than oneDNN's.
bool blas_kernel_suits_cpu();

// Row-major C[M,N] = alpha * op(A) * op(B) + beta * C on the calling thread, where op(A) is
// [M,K] (A stored [K,M] when trans_a) and op(B) is [K,N] (B stored [N,K] when trans_b).
void blas_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc);

}  // namespace kiln::backend
