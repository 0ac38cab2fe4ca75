// layer_norm: normalisation over the last dimension with a learned scale and shift. Both
// directions run on oneDNN's layer_normalization primitives (see backend/dnnl.h).
#include "autograd/backend/dnnl.h"
#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "base/error.h"

namespace kiln::ops {

// x: [..., C], gamma, beta: [C] -> [..., C], viewed as rows = numel / C rows of C.
// Saves x, gamma, and the per-row mean and variance ([rows] each) when recording.
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
  if (!should_record({x, gamma, beta})) {
    // Null statistics select the inference primitive, which keeps nothing.
    backend::layer_norm_forward(rows, channels, x.data(), gamma.data(), beta.data(), eps, y.data(),
                                nullptr, nullptr);
    return y;
  }
  Tensor mean = Tensor::empty({rows}), variance = Tensor::empty({rows});
  backend::layer_norm_forward(rows, channels, x.data(), gamma.data(), beta.data(), eps, y.data(),
                              mean.data(), variance.data());
  // Saves x and gamma (the handles: backward also asks them for their gradient buffers; beta is
  // kept only for that), mean and variance.
  return record("layer_norm", y, {x, gamma, beta}, [=](const Tensor& dy) {
    // oneDNN overwrites its outputs, while gradients accumulate (fan-out), so it writes
    // scratch that is then added, or x's new gradient directly. One call yields all three,
    // needed or not. dx is written in full before gamma's and beta's targets are taken.
    const GradTarget dx = grad_target(x);
    Tensor dx_new = dx && !dx.accumulate ? dx.grad : Tensor::empty(x.shape());
    Tensor dgamma_new = Tensor::empty({channels}), dbeta_new = Tensor::empty({channels});
    backend::layer_norm_backward(rows, channels, x.data(), gamma.data(), mean.data(),
                                 variance.data(), dy.data(), eps, dx_new.data(), dgamma_new.data(),
                                 dbeta_new.data());
    if (dx && dx.accumulate) add_into(dx.grad, dx_new);
    Tensor dgamma = grad_if_needed(gamma), dbeta = grad_if_needed(beta);
    if (dgamma.defined()) add_into(dgamma, dgamma_new);
    if (dbeta.defined()) add_into(dbeta, dbeta_new);
  });
}

}  // namespace kiln::ops
