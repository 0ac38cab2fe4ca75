// Broadcasting arithmetic (add, sub, mul), scale, and the sum / mean reductions, each with its
// backward. A broadcast's backward sums the gradient over the stretched dims, deterministically.
#include <algorithm>
#include <vector>

#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"

namespace kiln::ops {
namespace {

constexpr int64_t kMinPerThread = 1
                                  << 14;  // elements; below this a thread costs more than it saves

void check_float(const char* op, const Tensor& x) {
  KILN_CHECK(x.defined(), op, ": expected a defined tensor, got an undefined one");
  KILN_CHECK(x.dtype() == DType::kF32, op, ": expected a float32 tensor, got ",
             dtype_name(x.dtype()), " ", shape_str(x.shape()));
}

// Size of dim d of `in` when aligned at the right against a rank-`rank` shape (1 if missing).
int64_t aligned_dim(const Shape& in, std::size_t rank, std::size_t d) {
  std::size_t pad = rank - in.size();
  return d < pad ? 1 : in[d - pad];
}

// NumPy broadcast of two shapes, or an error naming the op and both shapes.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t d = 0; d < rank; ++d) {
    int64_t da = aligned_dim(a, rank, d), db = aligned_dim(b, rank, d);
    KILN_CHECK(da == db || da == 1 || db == 1, op,
               ": expected shapes that broadcast (equal or 1 in each aligned dim), got ",
               shape_str(a), " and ", shape_str(b));
    out[d] = da == 1 ? db : da;
  }
  return out;
}

// How two inputs step through `out`, with size-1 dims dropped and neighbouring dims merged
// where both inputs walk them as one (both contiguous or both stretched), so that equal shapes
// become one long run and the bias case [R, C] + [C] becomes R runs of C.
struct Plan {
  std::vector<int64_t> sizes, sa,
      sb;  // per merged dim: size and each input's stride (0 = stretched)
};

Plan make_plan(const Shape& out, const Shape& a, const Shape& b) {
  const std::size_t rank = out.size();
  std::vector<int64_t> full_a(rank), full_b(rank);
  for (int64_t d = static_cast<int64_t>(rank) - 1, na = 1, nb = 1; d >= 0; --d) {
    int64_t da = aligned_dim(a, rank, d), db = aligned_dim(b, rank, d);
    full_a[d] = da == 1 ? 0 : na;
    full_b[d] = db == 1 ? 0 : nb;
    na *= da;
    nb *= db;
  }
  Plan p;
  for (std::size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    if (!p.sizes.empty() && p.sa.back() == full_a[d] * out[d] &&
        p.sb.back() == full_b[d] * out[d]) {
      p.sizes.back() *= out[d];
      p.sa.back() = full_a[d];
      p.sb.back() = full_b[d];
    } else {
      p.sizes.push_back(out[d]);
      p.sa.push_back(full_a[d]);
      p.sb.push_back(full_b[d]);
    }
  }
  if (p.sizes.empty()) p = Plan{{1}, {1}, {1}};  // a one-element result
  return p;
}

// c[i] = f(a[...], b[...]) over the plan's output (c contiguous); c[i] += ... when kAccumulate.
// Parallel over fixed chunks of the flat output; each chunk walks contiguous inner runs.
template <bool kAccumulate, typename F>
void apply(const Plan& p, const float* a, const float* b, float* c, F f) {
  const int nd = static_cast<int>(p.sizes.size());
  const int64_t inner = p.sizes.back(), sa = p.sa.back(), sb = p.sb.back();
  int64_t total = 1;
  for (int64_t s : p.sizes) total *= s;
  parallel_for(total, kMinPerThread, [&](int64_t begin, int64_t end) {
    for (int64_t pos = begin; pos < end;) {
      int64_t row = pos / inner, col = pos % inner, n = std::min(inner - col, end - pos);
      int64_t oa = col * sa, ob = col * sb;
      for (int d = nd - 2; d >= 0; row /= p.sizes[d], --d) {
        oa += row % p.sizes[d] * p.sa[d];
        ob += row % p.sizes[d] * p.sb[d];
      }
      const float *ra = a + oa, *rb = b + ob;
      float* rc = c + pos;
      // One loop per stride pattern (the inner strides are 0 or 1) so each vectorises.
      auto store = [&](int64_t i, float v) { rc[i] = kAccumulate ? rc[i] + v : v; };
      if (sa && sb) {
        for (int64_t i = 0; i < n; ++i) store(i, f(ra[i], rb[i]));
      } else if (sa) {
        const float vb = rb[0];
        for (int64_t i = 0; i < n; ++i) store(i, f(ra[i], vb));
      } else {
        const float va = ra[0];
        for (int64_t i = 0; i < n; ++i) store(i, f(va, rb[i]));
      }
      pos += n;
    }
  });
}

// Sum of n floats in double over 8 independent lanes: vectorisable, yet a fixed order.
double sum_run(const float* x, int64_t n) {
  double lane[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u) lane[u] += x[i + u];
  double s = 0;
  for (; i < n; ++i) s += x[i];
  for (double v : lane) s += v;
  return s;
}

// Sum of n floats: fixed 8192-element blocks summed in parallel, then in order, so the result
// is bit-identical for any thread count.
double sum_blocks(const float* x, int64_t n) {
  constexpr int64_t kBlock = 1 << 13;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (blocks <= 1) return sum_run(x, n);
  std::vector<double> partial(blocks);
  parallel_for(blocks, 2, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i)
      partial[i] = sum_run(x + i * kBlock, std::min(kBlock, n - i * kBlock));
  });
  double s = 0;
  for (double v : partial) s += v;
  return s;
}

// Offset of flat index `i` over dims (sizes, strides), innermost last.
int64_t offset_of(int64_t i, const std::vector<int64_t>& sizes,
                  const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (int d = static_cast<int>(sizes.size()) - 1; d >= 0; --d) {
    off += i % sizes[d] * strides[d];
    i /= sizes[d];
  }
  return off;
}

// dst = scale * (src summed over the dims of `shape` where kept[d] is false), or dst += that
// when `accumulate`. src is contiguous with `shape`; dst is contiguous over the kept dims.
// Each dst element is one thread's sum, in double and in a fixed order: deterministic.
void reduce_into(float* dst, const float* src, const Shape& shape, const std::vector<bool>& kept,
                 float scale, bool accumulate) {
  // Merge neighbouring dims that are both kept or both reduced (src is contiguous).
  std::vector<int64_t> ks, kst, rs, rst;  // kept / reduced dims: sizes and src strides
  bool last_kept = true, any = false;
  int64_t stride = shape_numel(shape);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    stride /= std::max<int64_t>(shape[d], 1);
    if (shape[d] == 1) continue;
    auto& sizes = kept[d] ? ks : rs;
    auto& strides = kept[d] ? kst : rst;
    if (any && last_kept == kept[d]) {
      sizes.back() *= shape[d];
      strides.back() = stride;
    } else {
      sizes.push_back(shape[d]);
      strides.push_back(stride);
    }
    any = true;
    last_kept = kept[d];
  }
  int64_t count = 1, terms = 1;  // dst elements, and src terms per dst element
  for (int64_t s : ks) count *= s;
  for (int64_t s : rs) terms *= s;
  auto put = [&](int64_t j, double v) {
    float r = static_cast<float>(scale * v);
    dst[j] = accumulate ? dst[j] + r : r;
  };

  if (count == 0) return;
  if (count == 1) return put(0, sum_blocks(src, terms));
  if (terms <= 1) {  // nothing to reduce, or an empty dim (its sum is 0)
    parallel_for(count, kMinPerThread, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) put(j, terms ? src[j] : 0.0);
    });
  } else if (!last_kept) {
    // The last dim is reduced: each dst element sums contiguous runs of src.
    const int64_t run = rs.back();
    rs.pop_back();
    rst.pop_back();
    const int64_t runs = terms / run;
    parallel_for(count, std::max<int64_t>(1, kMinPerThread / terms), [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t base = offset_of(j, ks, kst);
        double acc = 0;
        for (int64_t r = 0; r < runs; ++r) acc += sum_run(src + base + offset_of(r, rs, rst), run);
        put(j, acc);
      }
    });
  } else {
    // The last dim is kept (the bias case): tiles of consecutive dst elements add whole src
    // rows into a local double accumulator, one reduced index after another.
    constexpr int64_t kTile = 256;
    const int64_t width = ks.back();
    ks.pop_back();
    kst.pop_back();
    const int64_t per_row = (width + kTile - 1) / kTile;
    const int64_t tiles = count / width * per_row;
    const int64_t min_tiles =
        std::max<int64_t>(1, kMinPerThread / (terms * std::min(width, kTile)));
    parallel_for(tiles, min_tiles, [&](int64_t t0, int64_t t1) {
      double acc[kTile];
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t q = t / per_row, c0 = t % per_row * kTile, w = std::min(kTile, width - c0);
        const float* base = src + offset_of(q, ks, kst) + c0;
        std::fill_n(acc, w, 0.0);
        for (int64_t r = 0; r < terms; ++r) {
          const float* row = base + offset_of(r, rs, rst);
          for (int64_t i = 0; i < w; ++i) acc[i] += row[i];
        }
        for (int64_t i = 0; i < w; ++i) put(q * width + c0 + i, acc[i]);
      }
    });
  }
}

// Which dims of `out` a gradient for `in` (aligned right) keeps: those `in` does not stretch.
std::vector<bool> kept_dims(const Shape& in, const Shape& out) {
  std::vector<bool> kept(out.size());
  for (std::size_t d = 0; d < out.size(); ++d) kept[d] = aligned_dim(in, out.size(), d) != 1;
  return kept;
}

// g += scale * dy summed down to g's shape (g's shape broadcasts to dy's).
void add_reduced(const Tensor& g, const Tensor& dy, float scale) {
  if (g.numel() == dy.numel()) return add_scaled_into(g.data(), dy.data(), scale, g.numel());
  reduce_into(g.data(), dy.data(), dy.shape(), kept_dims(g.shape(), dy.shape()), scale, true);
}

// add and sub: c = a + sign_b * b. Saves only the handles of a and b (for their gradients).
Tensor add_or_sub(const char* op, const Tensor& a, const Tensor& b, float sign_b) {
  check_float(op, a);
  check_float(op, b);
  const Shape out = broadcast_shape(op, a.shape(), b.shape());
  Tensor c = Tensor::empty(out);
  const Plan p = make_plan(out, a.shape(), b.shape());
  if (sign_b > 0)
    apply<false>(p, a.data(), b.data(), c.data(), [](float x, float y) { return x + y; });
  else
    apply<false>(p, a.data(), b.data(), c.data(), [](float x, float y) { return x - y; });
  if (!should_record({a, b})) return c;
  return record(op, c, {a, b}, [=](const Tensor& dc) {
    if (Tensor da = grad_if_needed(a); da.defined()) add_reduced(da, dc, 1.0f);
    if (Tensor db = grad_if_needed(b); db.defined()) add_reduced(db, dc, sign_b);
  });
}

// g += dc * other, summed down to g's shape (other broadcasts to dc's shape).
void add_product_grad(const Tensor& g, const Tensor& dc, const Tensor& other) {
  const Shape& out = dc.shape();
  const Plan p = make_plan(out, out, other.shape());
  auto times = [](float x, float y) { return x * y; };
  if (g.numel() == dc.numel()) return apply<true>(p, dc.data(), other.data(), g.data(), times);
  Tensor prod = Tensor::empty(out);  // only when g itself was stretched
  apply<false>(p, dc.data(), other.data(), prod.data(), times);
  reduce_into(g.data(), prod.data(), out, kept_dims(g.shape(), out), 1.0f, true);
}

// sum and mean over one dim: y = scale * sum_dim(x). Saves x's handle and the shapes.
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
  return record(op, y, {x}, [=](const Tensor& dy) {
    Tensor dx = grad_if_needed(x);
    if (!dx.defined()) return;
    // dx += scale * dy stretched along d; apply() takes two inputs, both are dy here.
    const Plan p = make_plan(x.shape(), kept_shape, kept_shape);
    apply<true>(p, dy.data(), dy.data(), dx.data(), [scale](float g, float) { return scale * g; });
  });
}

// sum_all and mean_all: [] = scale * sum(x). Saves x's handle.
Tensor reduce_all(const char* op, const Tensor& x, bool mean) {
  check_float(op, x);
  const float scale = mean ? 1.0f / static_cast<float>(x.numel()) : 1.0f;
  Tensor y = Tensor::scalar(static_cast<float>(scale * sum_blocks(x.data(), x.numel())));
  if (!should_record({x})) return y;
  return record(op, y, {x}, [=](const Tensor& dy) {
    Tensor dx = grad_if_needed(x);
    if (!dx.defined()) return;
    const float g = scale * dy.item();
    float* p = dx.data();
    parallel_for(dx.numel(), kMinPerThread, [&](int64_t i0, int64_t i1) {
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
  apply<false>(make_plan(out, a.shape(), b.shape()), a.data(), b.data(), c.data(),
               [](float x, float y) { return x * y; });
  if (!should_record({a, b})) return c;
  return record("mul", c, {a, b}, [=](const Tensor& dc) {
    if (Tensor da = grad_if_needed(a); da.defined()) add_product_grad(da, dc, b);
    if (Tensor db = grad_if_needed(b); db.defined()) add_product_grad(db, dc, a);
  });
}

// -> x.shape. Saves x's handle.
Tensor scale(const Tensor& x, float s) {
  check_float("scale", x);
  Tensor y = Tensor::empty(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.numel(), kMinPerThread, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) yp[i] = s * xp[i];
  });
  if (!should_record({x})) return y;
  return record("scale", y, {x}, [=](const Tensor& dy) {
    if (Tensor dx = grad_if_needed(x); dx.defined()) add_scaled_into(dx, dy, s);
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
