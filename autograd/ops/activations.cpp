// Elementwise activations (GELU in both forms, tanh) on oneDNN's eltwise primitives.
#include "autograd/backend/dnnl.h"
#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "base/error.h"

namespace kiln::ops {
namespace {

// x: [...] -> x.shape. Backward reads the forward input x, or the output y when
// `saves_output` (tanh, whose derivative 1 - y^2 needs only y).
Tensor eltwise(const char* name, const Tensor& x, backend::Eltwise alg, bool saves_output) {
  KILN_CHECK(x.defined(), name, ": expected a defined tensor, got an undefined one");
  KILN_CHECK(x.dtype() == DType::kF32, name, ": expected a float32 tensor, got ",
             dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
  Tensor y = Tensor::empty(x.shape());
  backend::eltwise_forward(alg, x.numel(), x.data(), y.data());
  if (!should_record({x})) return y;
  // Saves x (GELU) or y's storage without its autograd state (tanh).
  Tensor saved = saves_output ? y.detach() : x;
  return record(name, y, {x}, [x, saved, alg](const Tensor& dy) {
    Tensor dx = grad_if_needed(x);
    if (!dx.defined()) return;
    // oneDNN overwrites its output; the gradient may already hold other contributions.
    Tensor dx_new = Tensor::empty(x.shape());
    backend::eltwise_backward(alg, x.numel(), saved.data(), dy.data(), dx_new.data());
    add_into(dx, dx_new);
  });
}

}  // namespace

// x: [...] -> x.shape. Saves x.
Tensor gelu(const Tensor& x, GeluForm form) {
  return eltwise("gelu", x,
                 form == GeluForm::kTanh ? backend::Eltwise::kGeluTanh : backend::Eltwise::kGeluErf,
                 /*saves_output=*/false);
}

// x: [...] -> x.shape. Saves the output.
Tensor tanh(const Tensor& x) {
  return eltwise("tanh", x, backend::Eltwise::kTanh, /*saves_output=*/true);
}

}  // namespace kiln::ops
