// layer_norm: normalisation over the last dimension with a learned scale and shift, on kiln's
// own row loops.
#include <algorithm>
#include <cmath>

#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"

namespace kiln::ops {
namespace {

// Independent partial sums in a row reduction: four 8-wide accumulators, so the adds overlap
// instead of waiting on one another (one 8-wide accumulator was latency-bound).
constexpr int kLanes = 32;

float row_sum(int64_t n, auto term) {
  return lane_reduce<kLanes, TailOrder::kBeforeLanes>(n, 0.0f, term,
                                                      [](float a, float b) { return a + b; });
}

// y = gamma (x - mean) / sigma + beta for each row of x [rows, C], sigma = sqrt(var + eps) with
// the biased variance, as PyTorch's layer_norm. Two passes over a row (mean, then the squared
// deviations). mean and rstd (1 / sigma), [rows], are stored when non-null.
void normalize_rows(int64_t rows, int64_t C, const float* x, const float* gamma, const float* beta,
                    float eps, float* y, float* mean, float* rstd) {
  parallel_for(rows, min_rows_per_thread(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      const float mu = row_sum(C, [xr](int64_t j) { return xr[j]; }) / static_cast<float>(C);
      const float var = row_sum(C,
                                [xr, mu](int64_t j) {
                                  const float c = xr[j] - mu;
                                  return c * c;
                                }) /
                        static_cast<float>(C);
      const float inv = 1.0f / std::sqrt(var + eps);
#pragma omp simd
      for (int64_t j = 0; j < C; ++j) yr[j] = (xr[j] - mu) * inv * gamma[j] + beta[j];
      if (mean) mean[r] = mu, rstd[r] = inv;
    }
  });
}

// dx for one row of dy, written (or added to, when accumulate): with xhat = (x - mean) rstd and
// g = dy gamma, dx = rstd (g - mean_j(g) - xhat mean_j(g xhat)).
void row_gradient(int64_t C, const float* xr, const float* gamma, float mu, float inv,
                  const float* dyr, float* dxr, bool accumulate) {
  const float g_mean =
      row_sum(C, [=](int64_t j) { return dyr[j] * gamma[j]; }) / static_cast<float>(C);
  const float gx_mean =
      row_sum(C, [=](int64_t j) { return dyr[j] * gamma[j] * (xr[j] - mu) * inv; }) /
      static_cast<float>(C);
  if (accumulate) {
#pragma omp simd
    for (int64_t j = 0; j < C; ++j)
      dxr[j] += inv * (dyr[j] * gamma[j] - g_mean - (xr[j] - mu) * inv * gx_mean);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < C; ++j)
      dxr[j] = inv * (dyr[j] * gamma[j] - g_mean - (xr[j] - mu) * inv * gx_mean);
  }
}

// All of backward in one sweep over x and dy: dx (when non-null) row by row, and dgamma +=
// sum over rows of dy xhat, dbeta += sum over rows of dy (either may be null). The rows go in
// fixed blocks; each block's sums, taken in row order, are added in block order afterwards, so
// the result does not depend on the thread count. dx's row and the block's sums read the same
// row while it is in L1, where two separate sweeps read x and dy from memory twice.
void layer_norm_gradients(int64_t rows, int64_t C, const float* x, const float* gamma,
                          const float* mean, const float* rstd, const float* dy, float* dx,
                          bool accumulate, float* dgamma, float* dbeta) {
  constexpr int64_t kBlockRows = 64;
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  const bool sums = dgamma || dbeta;
  // Each block's gamma and beta sums, from kiln's allocator: no system allocation a step.
  Tensor partial = sums ? Tensor::empty({2 * blocks, C}) : Tensor();
  parallel_for(blocks, std::max<int64_t>(1, min_rows_per_thread(C) / kBlockRows),
               [&](int64_t b0, int64_t b1) {
                 for (int64_t b = b0; b < b1; ++b) {
                   float* pg = sums ? partial.data() + 2 * b * C : nullptr;
                   float* pb = sums ? pg + C : nullptr;
                   if (sums) std::fill_n(pg, 2 * C, 0.0f);
                   for (int64_t r = b * kBlockRows; r < std::min(rows, (b + 1) * kBlockRows); ++r) {
                     const float* xr = x + r * C;
                     const float* dyr = dy + r * C;
                     const float mu = mean[r], inv = rstd[r];
                     if (dx) row_gradient(C, xr, gamma, mu, inv, dyr, dx + r * C, accumulate);
                     if (!sums) continue;
#pragma omp simd
                     for (int64_t j = 0; j < C; ++j) {
                       pg[j] += dyr[j] * (xr[j] - mu) * inv;
                       pb[j] += dyr[j];
                     }
                   }
                 }
               });
  if (!sums) return;
  for (int64_t b = 0; b < blocks; ++b) {
    const float* pg = partial.data() + 2 * b * C;
    if (dgamma)
      for (int64_t j = 0; j < C; ++j) dgamma[j] += pg[j];
    if (dbeta)
      for (int64_t j = 0; j < C; ++j) dbeta[j] += pg[C + j];
  }
}

}  // namespace

// x: [..., C], gamma, beta: [C] -> [..., C], viewed as rows = numel / C rows of C.
// Saves x, gamma, and the per-row mean and 1 / sigma ([rows] each) when recording.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  KILN_CHECK(x.defined() && gamma.defined() && beta.defined(),
             "layer_norm: expected defined x, gamma and beta, got an undefined tensor");
  KILN_CHECK(
      x.dtype() == DType::kF32 && gamma.dtype() == DType::kF32 && beta.dtype() == DType::kF32,
      "layer_norm: expected float32 x, gamma and beta, got ", dtype_name(x.dtype()), ", ",
      dtype_name(gamma.dtype()), " and ", dtype_name(beta.dtype()));
  KILN_CHECK(x.rank() >= 1 && x.dim(-1) >= 1,
             "layer_norm: expected x of shape [..., C] with C >= 1, got ", shape_str(x.shape()));
  const int64_t channels = x.dim(-1);
  const int64_t rows = x.numel() / channels;
  KILN_CHECK(gamma.shape() == Shape{channels} && beta.shape() == Shape{channels},
             "layer_norm: expected gamma and beta of shape [", channels, "] for x ",
             shape_str(x.shape()), ", got gamma ", shape_str(gamma.shape()), " and beta ",
             shape_str(beta.shape()));
  KILN_CHECK(eps >= 0.0f, "layer_norm: expected eps >= 0, got ", eps);

  Tensor y = Tensor::empty(x.shape());
  const bool needs_grad = should_record({x, gamma, beta});
  Tensor mean = needs_grad ? Tensor::empty({rows}) : Tensor();
  Tensor rstd = needs_grad ? Tensor::empty({rows}) : Tensor();
  normalize_rows(rows, channels, x.data(), gamma.data(), beta.data(), eps, y.data(),
                 needs_grad ? mean.data() : nullptr, needs_grad ? rstd.data() : nullptr);
  if (!needs_grad) return y;
  // Saves x and gamma (the handles: backward also asks them for their gradient buffers; beta is
  // kept only for that), and each row's mean and 1 / sigma.
  return record("layer_norm", y, {x, gamma, beta}, [=](const Tensor& dy) {
    const GradTarget dx = grad_target(x);  // every element written
    const Tensor dgamma = grad_if_needed(gamma), dbeta = grad_if_needed(beta);
    layer_norm_gradients(rows, channels, x.data(), gamma.data(), mean.data(), rstd.data(),
                         dy.data(), dx ? dx.data() : nullptr, dx.accumulate,
                         dgamma.defined() ? dgamma.data() : nullptr,
                         dbeta.defined() ? dbeta.data() : nullptr);
  });
}

}  // namespace kiln::ops
