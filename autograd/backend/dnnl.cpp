// oneDNN wrapper. Errors from oneDNN are rethrown as kiln::Error with the call named.
#include "autograd/backend/dnnl.h"

#include <oneapi/dnnl/dnnl.hpp>

#include "autograd/error.h"

namespace kiln::backend {

void dnnl_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc) {
  dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                                    lda, b, ldb, beta, c, ldc);
  KILN_CHECK(status == dnnl_success, "dnnl_sgemm: expected success, got status ",
             static_cast<int>(status), " for M=", m, " N=", n, " K=", k);
}

}  // namespace kiln::backend
