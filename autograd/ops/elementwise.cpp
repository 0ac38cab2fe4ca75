// Broadcasting arithmetic (add, sub, mul), scale, and the sum / mean reductions, each with its
// backward. A broadcast's backward sums the gradient over the stretched dims, deterministically.
#include <vector>

#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"

namespace kiln::ops {
namespace {

void check_float(const char* op, const Tensor& x) {
  KILN_CHECK(x.defined(), op, ": expected a defined tensor, got an undefined one");
  KILN_CHECK(x.dtype() == DType::kF32, op, ": expected a float32 tensor, got ",
             dtype_name(x.dtype()), " ", shape_str(x.shape()));
}

// add and sub: c = a + sign_b * b. Saves only the gradient handles of a and b.
Tensor add_or_sub(const char* op, const Tensor& a, const Tensor& b, float sign_b) {
  check_float(op, a);
  check_float(op, b);
  const Shape out = broadcast_shape(op, a.shape(), b.shape());
  Tensor c = Tensor::empty(out);
  const BroadcastPlan p = make_broadcast_plan(out, a.shape(), b.shape());
  if (sign_b > 0)
    apply_broadcast<false>(p, a.data(), b.data(), c.data(), [](float x, float y) { return x + y; });
  else
    apply_broadcast<false>(p, a.data(), b.data(), c.data(), [](float x, float y) { return x - y; });
  if (!should_record({a, b})) return c;
  return record(op, c, {a, b},
                [a = a.gradient_handle(), b = b.gradient_handle(), sign_b](const Tensor& dc) {
                  if (GradTarget da = grad_target(a)) add_reduced(da.grad, dc, 1.0f, da.accumulate);
                  if (GradTarget db = grad_target(b))
                    add_reduced(db.grad, dc, sign_b, db.accumulate);
                });
}

// g += dc * other, summed down to g's shape (other broadcasts to dc's shape).
void add_product_grad(const Tensor& g, const Tensor& dc, const Tensor& other) {
  const Shape& out = dc.shape();
  const BroadcastPlan p = make_broadcast_plan(out, out, other.shape());
  auto times = [](float x, float y) { return x * y; };
  if (g.numel() == dc.numel())
    return apply_broadcast<true>(p, dc.data(), other.data(), g.data(), times);
  Tensor prod = Tensor::empty(out);  // only when g itself was stretched
  apply_broadcast<false>(p, dc.data(), other.data(), prod.data(), times);
  reduce_into(g.data(), prod.data(), out, kept_dims(g.shape(), out), 1.0f, true);
}

// sum and mean over one dim: y = scale * sum_dim(x). Saves x's gradient handle and the shapes.
Tensor reduce_dim(const char* op, const Tensor& x, int dim, bool keepdim, bool mean) {
  check_float(op, x);
  const int rank = x.rank();
  KILN_CHECK(rank >= 1 && dim >= -rank && dim < rank, op, ": expected dim in [", -rank, ", ", rank,
             ") for shape ", shape_str(x.shape()), ", got ", dim);
  const int d = dim < 0 ? dim + rank : dim;
  const float scale = mean ? 1.0f / static_cast<float>(x.dim(d)) : 1.0f;
  Shape kept_shape = x.shape();  // x's shape with dim d as 1
  kept_shape[d] = 1;
  Shape out = kept_shape;
  if (!keepdim) out.erase(out.begin() + d);
  std::vector<bool> kept(rank, true);
  kept[d] = false;
  Tensor y = Tensor::empty(out);
  reduce_into(y.data(), x.data(), x.shape(), kept, scale, false);
  if (!should_record({x})) return y;
  return record(op, y, {x}, [x = x.gradient_handle(), kept_shape, scale](const Tensor& dy) {
    Tensor dx = grad_if_needed(x);
    if (!dx.defined()) return;
    // dx += scale * dy stretched along d; apply_broadcast takes two inputs, both dy here.
    const BroadcastPlan p = make_broadcast_plan(x.shape(), kept_shape, kept_shape);
    apply_broadcast<true>(p, dy.data(), dy.data(), dx.data(),
                          [scale](float g, float) { return scale * g; });
  });
}

// sum_all and mean_all: [] = scale * sum(x). Saves x's gradient handle.
Tensor reduce_all(const char* op, const Tensor& x, bool mean) {
  check_float(op, x);
  const float scale = mean ? 1.0f / static_cast<float>(x.numel()) : 1.0f;
  Tensor y = Tensor::scalar(static_cast<float>(scale * sum_blocks(x.data(), x.numel())));
  if (!should_record({x})) return y;
  return record(op, y, {x}, [x = x.gradient_handle(), scale](const Tensor& dy) {
    Tensor dx = grad_if_needed(x);
    if (!dx.defined()) return;
    const float g = scale * dy.item();
    float* p = dx.data();
    parallel_for(dx.numel(), kMinElementsPerThread, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) p[i] += g;
    });
  });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {  // -> broadcast(a, b)
  return add_or_sub("add", a, b, 1.0f);
}

Tensor sub(const Tensor& a, const Tensor& b) {  // -> broadcast(a, b)
  return add_or_sub("sub", a, b, -1.0f);
}

// -> broadcast(a, b). Saves a and b.
Tensor mul(const Tensor& a, const Tensor& b) {
  check_float("mul", a);
  check_float("mul", b);
  const Shape out = broadcast_shape("mul", a.shape(), b.shape());
  Tensor c = Tensor::empty(out);
  apply_broadcast<false>(make_broadcast_plan(out, a.shape(), b.shape()), a.data(), b.data(),
                         c.data(), [](float x, float y) { return x * y; });
  if (!should_record({a, b})) return c;
  return record("mul", c, {a, b}, [=](const Tensor& dc) {
    if (Tensor da = grad_if_needed(a); da.defined()) add_product_grad(da, dc, b);
    if (Tensor db = grad_if_needed(b); db.defined()) add_product_grad(db, dc, a);
  });
}

// -> x.shape. Saves x's gradient handle.
Tensor scale(const Tensor& x, float s) {
  check_float("scale", x);
  Tensor y = Tensor::empty(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.numel(), kMinElementsPerThread, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) yp[i] = s * xp[i];
  });
  if (!should_record({x})) return y;
  return record("scale", y, {x}, [x = x.gradient_handle(), s](const Tensor& dy) {
    if (GradTarget dx = grad_target(x))
      add_scaled_into(dx.data(), dy.data(), s, dy.numel(), dx.accumulate);
  });
}

Tensor sum(const Tensor& x, int dim, bool keepdim) {  // -> x.shape without dim (1 if keepdim)
  return reduce_dim("sum", x, dim, keepdim, false);
}

Tensor mean(const Tensor& x, int dim, bool keepdim) {  // -> x.shape without dim (1 if keepdim)
  return reduce_dim("mean", x, dim, keepdim, true);
}

Tensor sum_all(const Tensor& x) {  // -> []
  return reduce_all("sum_all", x, false);
}

Tensor mean_all(const Tensor& x) {  // -> []
  return reduce_all("mean_all", x, true);
}

}  // namespace kiln::ops
