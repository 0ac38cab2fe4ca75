// Elementwise activations: tanh on oneDNN's eltwise primitive; GELU (both forms), SiLU and
// ReLU on kiln's own loops.
#include <cstdint>

#include "autograd/backend/dnnl.h"
#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/ops/gelu.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "autograd/vector_exp.h"
#include "base/error.h"

namespace kiln::ops {
namespace {

void check_float(const char* name, const Tensor& x) {
  KILN_CHECK(x.defined(), name, ": expected a defined tensor, got an undefined one");
  KILN_CHECK(x.dtype() == DType::kF32, name, ": expected a float32 tensor, got ",
             dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
}

// sigmoid(x) = 1 / (1 + e^-x) on the vectorised exp; the clamps keep e^-x in its range, where
// sigmoid is 0 or 1 to float precision anyway.
inline float sigmoid(float x) {
  float z = -x;
  z = z < 88.0f ? z : 88.0f;
  z = z > -87.0f ? z : -87.0f;
  return 1.0f / (1.0f + exp_in_range(z));
}

// y = f(x) elementwise on kiln's own vectorised loop; backward adds dy * df(x) into x's
// gradient in the same pass. Saves x. f and df are inlined, so each activation is one loop.
template <typename F, typename DF>
Tensor pointwise(const char* name, const Tensor& x, F f, DF df) {
  check_float(name, x);
  Tensor y = Tensor::empty(x.shape());
  map_elements(x.data(), y.data(), x.numel(), f);
  if (!should_record({x})) return y;
  return record(name, y, {x}, [x, df](const Tensor& dy) {
    if (GradTarget dx = grad_target(x))
      add_times_derivative(dx.data(), dy.data(), x.data(), x.numel(), df, dx.accumulate);
  });
}

}  // namespace

// x: [...] -> x.shape. Saves x.
Tensor silu(const Tensor& x) {
  return pointwise(
      "silu", x, [](float v) { return v * sigmoid(v); },
      [](float v) {
        const float s = sigmoid(v);  // d/dx [x s(x)] = s + x s (1 - s)
        return s * (1.0f + v * (1.0f - s));
      });
}

// x: [...] -> x.shape. Saves x (its sign is the derivative; 0 at x = 0, as PyTorch).
Tensor relu(const Tensor& x) {
  return pointwise(
      "relu", x, [](float v) { return v > 0.0f ? v : 0.0f; },
      [](float v) { return v > 0.0f ? 1.0f : 0.0f; });
}

namespace {

// x: [...] -> x.shape on oneDNN. Backward reads the output y (tanh's derivative 1 - y^2
// needs only y).
Tensor eltwise(const char* name, const Tensor& x, backend::Eltwise alg) {
  check_float(name, x);
  Tensor y = Tensor::empty(x.shape());
  backend::eltwise_forward(alg, x.numel(), x.data(), y.data());
  if (!should_record({x})) return y;
  // Saves y's storage without its autograd state, and x's gradient handle.
  Tensor saved = y.detach();
  return record(name, y, {x}, [x = x.gradient_handle(), saved, alg](const Tensor& dy) {
    const GradTarget dx = grad_target(x);
    if (!dx) return;
    // oneDNN overwrites its output: a new gradient directly, else scratch that is then added.
    Tensor dx_new = dx.accumulate ? Tensor::empty(x.shape()) : dx.grad;
    backend::eltwise_backward(alg, x.numel(), saved.data(), dy.data(), dx_new.data());
    if (dx.accumulate) add_into(dx.grad, dx_new);
  });
}

}  // namespace

// x: [...] -> x.shape. Saves x. Not oneDNN: its 2.6 gelu_tanh is slow (see gelu.h), and the
// erf form shares its scalar function with gelu_linear, so the fused op equals this one.
Tensor gelu(const Tensor& x, GeluForm form) {
  return with_gelu_form(form, [&](auto form_functions) {
    using F = decltype(form_functions);
    return pointwise(
        "gelu", x, [](float v) { return F::value(v); }, [](float v) { return F::derivative(v); });
  });
}

// x: [...] -> x.shape. Saves the output.
Tensor tanh(const Tensor& x) {
  return eltwise("tanh", x, backend::Eltwise::kTanh);
}

}  // namespace kiln::ops
