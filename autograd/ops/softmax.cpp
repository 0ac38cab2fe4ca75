// softmax and log_softmax over the last dimension on oneDNN's softmax_v2 primitives.
#include "autograd/backend/dnnl.h"
#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "base/error.h"

namespace kiln::ops {
namespace {

// x: [..., C] -> x.shape, as numel / C rows of C. Saves the output: both backward formulas
// (dx = y * (dy - sum(dy * y)) and dx = dy - exp(y) * sum(dy)) need only y.
Tensor softmax_op(const char* name, const Tensor& x, bool log) {
  KILN_CHECK(x.defined(), name, ": expected a defined tensor, got an undefined one");
  KILN_CHECK(x.dtype() == DType::kF32, name, ": expected a float32 tensor, got ",
             dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
  KILN_CHECK(x.rank() >= 1, name, ": expected x of shape [..., C] with rank >= 1, got ",
             shape_str(x.shape()));
  const int64_t channels = x.dim(-1);
  const int64_t rows = channels == 0 ? 0 : x.numel() / channels;
  Tensor y = Tensor::empty(x.shape());
  backend::softmax_forward(rows, channels, x.data(), y.data(), log);
  if (!should_record({x})) return y;
  // Saves y's storage without its autograd state, and x's gradient handle.
  return record(
      name, y, {x},
      [x = x.gradient_handle(), y_saved = y.detach(), rows, channels, log](const Tensor& dy) {
        const GradTarget dx = grad_target(x);
        if (!dx) return;
        // oneDNN overwrites its output: a new gradient directly, else scratch then added.
        Tensor dx_new = dx.accumulate ? Tensor::empty(x.shape()) : dx.grad;
        backend::softmax_backward(rows, channels, y_saved.data(), dy.data(), dx_new.data(), log);
        if (dx.accumulate) add_into(dx.grad, dx_new);
      });
}

}  // namespace

// x: [..., C] -> x.shape. Saves the output.
Tensor softmax(const Tensor& x) {
  return softmax_op("softmax", x, /*log=*/false);
}

// x: [..., C] -> x.shape. Saves the output.
Tensor log_softmax(const Tensor& x) {
  return softmax_op("log_softmax", x, /*log=*/true);
}

}  // namespace kiln::ops
