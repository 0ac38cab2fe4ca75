// OpenBLAS wrapper: single-threaded row-major sgemm, and whether OpenBLAS's kernel suits the CPU.
#include "autograd/backend/blas.h"

#include <cblas.h>

#include <string_view>

namespace kiln::backend {

void blas_init_single_threaded() {
  openblas_set_num_threads(1);
}

bool blas_kernel_suits_cpu() {
  static const bool suits = [] {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return true;
    // OpenBLAS picks its kernel from a table of CPU models. A model newer than its release
    // (0.3.21 takes a 2023 Xeon, family 6 model 207, for a "Prescott") gets the generic SSE3
    // kernel, a fifth of the AVX2 or AVX-512 ones.
    const std::string_view core = openblas_get_corename();
    for (std::string_view tuned :
         {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"})
      if (core == tuned) return true;
    return false;
  }();
  return suits;
}

void blas_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace kiln::backend
