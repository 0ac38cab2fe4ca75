// matmul and linear: forward and backward side by side. All the arithmetic is kiln::gemm;
// every backward GEMM runs with beta = 1, which is the accumulation into the gradient.
#include <algorithm>
#include <cstring>

#include "autograd/gemm.h"
#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/ops/gelu.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"

namespace kiln::ops {

// a: [..., M, K] ([..., K, M] when trans_a), b: [..., K, N] ([..., N, K] when trans_b) or a
// rank-2 b shared by every batch -> [..., M, N]. Saves a and b (handles, no copies).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  KILN_CHECK(a.defined() && b.defined(), "matmul: expected defined tensors, got an undefined one");
  KILN_CHECK(a.dtype() == DType::kF32 && b.dtype() == DType::kF32,
             "matmul: expected float32 tensors, got ", dtype_name(a.dtype()), " ",
             shape_str(a.shape()), " and ", dtype_name(b.dtype()), " ", shape_str(b.shape()));
  KILN_CHECK(a.rank() >= 2 && b.rank() >= 2, "matmul: expected tensors of rank >= 2, got ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  const bool shared_b = b.rank() == 2;
  KILN_CHECK(shared_b || std::equal(a.shape().begin(), a.shape().end() - 2, b.shape().begin(),
                                    b.shape().end() - 2),
             "matmul: expected b to be rank 2 or to share a's leading dims, got ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  const int64_t m = trans_a ? a.dim(-1) : a.dim(-2), k = trans_a ? a.dim(-2) : a.dim(-1);
  const int64_t kb = trans_b ? b.dim(-1) : b.dim(-2), n = trans_b ? b.dim(-2) : b.dim(-1);
  KILN_CHECK(k == kb, "matmul: expected matching inner dims (", k, " vs ", kb,
             ", trans_a=", trans_a, ", trans_b=", trans_b, "), got ", shape_str(a.shape()), " and ",
             shape_str(b.shape()));
  const int64_t batch = shape_numel(Shape(a.shape().begin(), a.shape().end() - 2));
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const int64_t stride_b = shared_b ? 0 : k * n;

  Shape out_shape = a.shape();
  out_shape[out_shape.size() - 2] = m;
  out_shape.back() = n;
  Tensor c = Tensor::empty(out_shape);
  // A shared b with untransposed a is one tall GEMM: the batches are consecutive rows of a.
  const bool fold = shared_b && !trans_a;
  const int64_t gb = fold ? 1 : batch, gm = fold ? batch * m : m;
  gemm_batched(gb, trans_a, trans_b, gm, n, k, 1.0f, a.data(), lda, m * k, b.data(), ldb, stride_b,
               0.0f, c.data(), n, m * n);
  if (!should_record({a, b})) return c;

  return record("matmul", c, {a, b}, [=](const Tensor& dc) {  // dc: [..., M, N]
    if (Tensor da = grad_if_needed(a); da.defined()) {
      if (!trans_a)  // dA[M,K] += dC[M,N] op(B)^T
        gemm_batched(gb, false, !trans_b, gm, k, n, 1.0f, dc.data(), n, m * n, b.data(), ldb,
                     stride_b, 1.0f, da.data(), k, m * k);
      else  // A^T = op(A), so dA[K,M] += op(B)[K,N] dC^T
        gemm_batched(batch, trans_b, true, k, m, n, 1.0f, b.data(), ldb, stride_b, dc.data(), n,
                     m * n, 1.0f, da.data(), m, m * k);
    }
    if (Tensor db = grad_if_needed(b); db.defined()) {
      // A shared b sums its gradient over the batch: folded, or stride_c == 0 (in order).
      const int64_t stride_db = shared_b ? 0 : k * n;
      if (!trans_b)  // dB[K,N] += op(A)^T dC
        gemm_batched(gb, !trans_a, false, k, n, gm, 1.0f, a.data(), lda, m * k, dc.data(), n, m * n,
                     1.0f, db.data(), n, stride_db);
      else  // dB[N,K] += dC^T op(A)
        gemm_batched(gb, true, trans_a, n, k, gm, 1.0f, dc.data(), n, m * n, a.data(), lda, m * k,
                     1.0f, db.data(), k, stride_db);
    }
  });
}

namespace {

// Checks linear's operands and returns its sizes.
struct LinearSizes {
  int64_t rows, in, out;
  bool out_in;
};

LinearSizes linear_sizes(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                         WeightLayout layout, const Tensor& residual) {
  KILN_CHECK(x.defined() && weight.defined(), op,
             ": expected defined x and weight, got an undefined one");
  KILN_CHECK(x.dtype() == DType::kF32 && weight.dtype() == DType::kF32 &&
                 (!bias.defined() || bias.dtype() == DType::kF32),
             op, ": expected float32 tensors, got x ", dtype_name(x.dtype()), " and weight ",
             dtype_name(weight.dtype()));
  const bool out_in = layout == WeightLayout::kOutIn;
  KILN_CHECK(x.rank() >= 1 && weight.rank() == 2, op, ": expected x [..., in] and weight ",
             out_in ? "[out, in]" : "[in, out]", ", got ", shape_str(x.shape()), " and ",
             shape_str(weight.shape()));
  const int64_t in = x.dim(-1), out = out_in ? weight.dim(0) : weight.dim(1);
  KILN_CHECK((out_in ? weight.dim(1) : weight.dim(0)) == in, op, ": expected weight ",
             out_in ? "[out, in]" : "[in, out]", " with in = ", in, " (x is ", shape_str(x.shape()),
             "), got ", shape_str(weight.shape()));
  KILN_CHECK(!bias.defined() || bias.shape() == Shape{out}, op, ": expected bias [", out, "], got ",
             bias.defined() ? shape_str(bias.shape()) : "");
  if (residual.defined()) {
    Shape out_shape = x.shape();
    out_shape.back() = out;
    KILN_CHECK(residual.shape() == out_shape && residual.dtype() == DType::kF32, op,
               ": expected a float32 residual ", shape_str(out_shape), ", got ",
               dtype_name(residual.dtype()), " ", shape_str(residual.shape()));
  }
  return {x.numel() / std::max<int64_t>(in, 1), in, out, out_in};
}

// y [rows, out] = x W^T (kOutIn) or x W (kInOut), plus the bias and the residual.
Tensor linear_values(const float* x, const Shape& x_shape, const Tensor& weight, const Tensor& bias,
                     const Tensor& residual, const LinearSizes& z) {
  Shape out_shape = x_shape;
  out_shape.back() = z.out;
  Tensor y = Tensor::empty(out_shape);
  gemm_linear(z.out_in, z.rows, z.out, z.in, x, weight.data(),
              bias.defined() ? bias.data() : nullptr,
              residual.defined() ? residual.data() : nullptr, y.data());
  return y;
}

// dx [rows, in] = dy W (weights [out, in]) or dy W^T ([in, out]), written (beta 0) or added to.
void data_gradient(const LinearSizes& z, const Tensor& dy, const Tensor& weight, float beta,
                   float* dx) {
  gemm_linear_data_gradient(z.out_in, z.rows, z.out, z.in, dy.data(), weight.data(), beta, dx);
}

// Linear's gradients for dy [rows, out]: dx [rows, in] into x_grad's gradient (x_grad: x or its
// gradient handle; undefined for no dx), and the residual's, weight's and bias's gradients when
// they need them. x is the forward input's values. Each gradient target is taken just before it
// is written in full (see GradTarget). The residual's gradient is dy itself, passed on last,
// once nothing here reads dy again: a new one shares dy's buffer instead of copying it (12
// copies of 3 MB a gpt-mini step).
void linear_gradients(const float* x, const Tensor& x_grad, const Tensor& weight,
                      const Tensor& bias, const Tensor& residual, const LinearSizes& z,
                      const Tensor& dy) {
  if (GradTarget dx = grad_target(x_grad)) data_gradient(z, dy, weight, dx.beta(), dx.data());
  if (GradTarget dw = grad_target(weight))
    gemm_linear_weight_gradient(z.out_in, z.rows, z.out, z.in, x, dy.data(), dw.beta(), dw.data());
  if (Tensor db = grad_if_needed(bias); db.defined())
    add_column_sums(db.data(), dy.data(), z.rows, z.out);
  pass_gradient(residual, dy);
}

// For i < n: g[i] = GELU(a) (of form F) for a = h[i] (+ bias[i] with kBias).
template <typename F, bool kBias>
KILN_WIDE_VECTORS void gelu_values(F f, const float* h, const float* bias, int64_t n, float* g) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) g[i] = f.value(kBias ? h[i] + bias[i] : h[i]);
}

// g [rows, cols] = GELU(h + h_bias) (of `form`), h_bias [cols] or null for none.
void gelu_into(GeluForm form, const float* h, const float* h_bias, int64_t rows, int64_t cols,
               float* g) {
  with_gelu_form(form, [&](auto f) {
    if (!h_bias)
      return parallel_for(rows * cols, kMinElementsPerThread, [&](int64_t b, int64_t e) {
        gelu_values<decltype(f), false>(f, h + b, nullptr, e - b, g + b);
      });
    parallel_for(rows, min_rows_per_thread(cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        gelu_values<decltype(f), true>(f, h + r * cols, h_bias, cols, g + r * cols);
    });
  });
}

// For i < n, with a = h[i] (+ bias[i] with kBias): g[i] = GELU(a) (of form F) and dh[i] =
// (with kAccumulate +=) dg[i] GELU'(a), from one evaluation of the gate.
template <typename F, bool kBias, bool kAccumulate>
KILN_WIDE_VECTORS void gelu_values_and_gradients(F f, const float* h, const float* bias,
                                                 const float* dg, int64_t n, float* g, float* dh) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const GeluValueSlope vs = f.both(kBias ? h[i] + bias[i] : h[i]);
    g[i] = vs.value;
    if constexpr (kAccumulate)
      dh[i] += dg[i] * vs.slope;
    else
      dh[i] = dg[i] * vs.slope;
  }
}

// The same over h [rows, cols] with h_bias [cols] or null added, over the team.
template <typename F, bool kAccumulate>
void gelu_values_and_gradients(F f, const float* h, const float* h_bias, const float* dg,
                               int64_t rows, int64_t cols, float* g, float* dh) {
  if (!h_bias)
    return parallel_for(rows * cols, kMinElementsPerThread, [&](int64_t b, int64_t e) {
      gelu_values_and_gradients<F, false, kAccumulate>(f, h + b, nullptr, dg + b, e - b, g + b,
                                                       dh + b);
    });
  parallel_for(rows, min_rows_per_thread(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t at = r * cols;
      gelu_values_and_gradients<F, true, kAccumulate>(f, h + at, h_bias, dg + at, cols, g + at,
                                                      dh + at);
    }
  });
}

// gelu_linear's backward for dy. The data gradient dg = dy W comes first; then one pass over h
// recomputes g = GELU(h + h_bias), which the weight's gradient needs, and makes h's gradient
// dh (+)= dg GELU'(h + h_bias) from the same gate evaluation, so the slope is never stored (a
// pass that wrote it and another that read it back cost gpt-mini 25 MB of traffic a layer);
// h_bias's gradient is the column sums of this op's dh. linear's other gradients follow.
void gelu_linear_gradients(const Tensor& h, const Tensor& h_bias, const Tensor& weight,
                           const Tensor& bias, const Tensor& residual, const LinearSizes& z,
                           GeluForm form, const Tensor& dy) {
  const int64_t rows = z.rows, cols = z.in;
  const float* b = h_bias.defined() ? h_bias.data() : nullptr;
  Tensor g = Tensor::empty(h.shape());
  const Tensor dbias = grad_if_needed(h_bias);
  if (h.requires_grad() || dbias.defined()) {
    Tensor dg = Tensor::empty(h.shape());
    data_gradient(z, dy, weight, 0.0f, dg.data());
    // This op's part of dh goes straight into h's gradient (written or added to). Only when
    // h_bias needs its own sum of it and h's gradient is not this part alone (h has one
    // already, or needs none) is it formed apart first.
    const GradTarget dh = grad_target(h);
    const bool apart = dbias.defined() && (!dh || dh.accumulate);
    const Tensor part = apart ? Tensor::empty(h.shape()) : dh.grad;
    const bool add = !apart && dh.accumulate;
    with_gelu_form(form, [&](auto f) {
      if (add)
        gelu_values_and_gradients<decltype(f), true>(f, h.data(), b, dg.data(), rows, cols,
                                                     g.data(), part.data());
      else
        gelu_values_and_gradients<decltype(f), false>(f, h.data(), b, dg.data(), rows, cols,
                                                      g.data(), part.data());
    });
    if (dbias.defined()) add_column_sums(dbias.data(), part.data(), rows, cols);
    if (apart && dh) add_into(dh.data(), part.data(), part.numel());
  } else {
    gelu_into(form, h.data(), b, rows, cols, g.data());
  }
  linear_gradients(g.data(), Tensor(), weight, bias, residual, z, dy);
}

}  // namespace

// x: [..., in], weight: [out, in] (kOutIn) or [in, out] (kInOut), bias: [out] or undefined,
// residual: [..., out] or undefined -> [..., out]. Saves x, weight and bias (handles, no
// copies) and the residual's gradient handle.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, WeightLayout layout,
              const Tensor& residual) {
  const LinearSizes z = linear_sizes("linear", x, weight, bias, layout, residual);
  Tensor y = linear_values(x.data(), x.shape(), weight, bias, residual, z);
  if (!should_record({x, weight, bias, residual})) return y;
  return record("linear", y, {x, weight, bias, residual},
                [=, residual = residual.gradient_handle()](const Tensor& dy) {  // dy: [rows, out]
                  linear_gradients(x.data(), x, weight, bias, residual, z, dy);
                });
}

// linear(gelu(h + h_bias, form), ...) saving only h: backward recomputes the activation, so the
// [rows, in] GELU output lives only inside each pass instead of from forward to backward.
Tensor gelu_linear(const Tensor& h, const Tensor& weight, const Tensor& bias, WeightLayout layout,
                   const Tensor& residual, GeluForm form, const Tensor& h_bias) {
  const LinearSizes z = linear_sizes("gelu_linear", h, weight, bias, layout, residual);
  KILN_CHECK(!h_bias.defined() || (h_bias.dtype() == DType::kF32 && h_bias.shape() == Shape{z.in}),
             "gelu_linear: expected a float32 h_bias [", z.in, "], got ",
             h_bias.defined() ? dtype_name(h_bias.dtype()) : "", " ",
             h_bias.defined() ? shape_str(h_bias.shape()) : "");
  Tensor y;
  {
    Tensor g = Tensor::empty(h.shape());
    gelu_into(form, h.data(), h_bias.defined() ? h_bias.data() : nullptr, z.rows, z.in, g.data());
    y = linear_values(g.data(), h.shape(), weight, bias, residual, z);
  }
  if (!should_record({h, weight, bias, residual, h_bias})) return y;
  return record("gelu_linear", y, {h, weight, bias, residual, h_bias},
                [=, residual = residual.gradient_handle()](const Tensor& dy) {
                  gelu_linear_gradients(h, h_bias, weight, bias, residual, z, form, dy);
                });
}

}  // namespace kiln::ops
