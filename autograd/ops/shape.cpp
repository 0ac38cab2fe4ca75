// Shape ops: reshape and slice_rows (views), permute / transpose, split and concat (copies).
// Each op's backward sits right after its forward and adds into the input gradient.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"

namespace kiln::ops {
namespace {

constexpr int64_t kMinPerThread = 1 << 14;  // elements; below this threads cost more than they save

// Maps a possibly negative dimension into [0, rank), naming the op when it is out of range.
int normalize_dim(const char* op, int dim, const Shape& shape) {
  int rank = static_cast<int>(shape.size());
  KILN_CHECK(dim >= -rank && dim < rank, op, ": expected a dimension in [", -rank, ", ", rank,
             ") for shape ", shape_str(shape), ", got ", dim);
  return dim < 0 ? dim + rank : dim;
}

void check_float(const char* op, const Tensor& x) {
  KILN_CHECK(x.dtype() == DType::kF32, op, ": expected a float32 tensor, got ",
             dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
}

// n floats: dst = src, or dst += src when accumulating.
inline void move_run(float* dst, const float* src, int64_t n, bool accumulate) {
  if (accumulate) {
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
  } else {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
  }
}

// dst (contiguous, dims reordered so dst.dim(k) == src.dim(dims[k])) = or += src.
// Output dims that are also neighbours in src are merged first, so [B,T,H,D] -> [B,H,T,D]
// becomes B*H*T runs of D contiguous floats: the inner loop is a memcpy (or a vector add).
void permute_into(const float* src, const Shape& src_shape, const std::vector<int>& dims,
                  float* dst, bool accumulate) {
  int rank = static_cast<int>(src_shape.size());
  int64_t numel = shape_numel(src_shape);
  if (numel == 0) return;
  std::vector<int64_t> src_stride(rank);
  for (int64_t d = rank - 1, s = 1; d >= 0; --d) {
    src_stride[d] = s;
    s *= src_shape[d];
  }
  // Walk the output dims outer to inner: size-1 dims vanish, contiguous neighbours merge.
  std::vector<int64_t> size, stride;
  for (int k = 0; k < rank; ++k) {
    int64_t n = src_shape[dims[k]], st = src_stride[dims[k]];
    if (n == 1) continue;
    if (!size.empty() && stride.back() == st * n) {
      size.back() *= n;
      stride.back() = st;
    } else {
      size.push_back(n);
      stride.push_back(st);
    }
  }
  if (size.empty()) {  // a single element
    size = {1};
    stride = {1};
  }
  int outer_rank = static_cast<int>(size.size()) - 1;
  int64_t inner = size.back(), inner_stride = stride.back();
  int64_t rows = numel / inner;
  parallel_for(rows, std::max<int64_t>(1, kMinPerThread / inner), [&](int64_t b, int64_t e) {
    // The multi-index of row b over the outer dims, advanced like an odometer.
    std::vector<int64_t> idx(outer_rank);
    for (int64_t k = outer_rank - 1, r = b; k >= 0; --k) {
      idx[k] = r % size[k];
      r /= size[k];
    }
    for (int64_t row = b; row < e; ++row) {
      int64_t offset = 0;
      for (int k = 0; k < outer_rank; ++k) offset += idx[k] * stride[k];
      float* out = dst + row * inner;
      const float* in = src + offset;
      if (inner_stride == 1) {
        move_run(out, in, inner, accumulate);
      } else if (accumulate) {
        for (int64_t i = 0; i < inner; ++i) out[i] += in[i * inner_stride];
      } else {
        for (int64_t i = 0; i < inner; ++i) out[i] = in[i * inner_stride];
      }
      for (int k = outer_rank - 1; k >= 0 && ++idx[k] == size[k]; --k) idx[k] = 0;
    }
  });
}

// The layout split and concat share: the whole is [outer, total, inner] and piece p is
// [outer, sizes[p], inner], sitting at offsets[p] along the middle dimension.
struct PieceLayout {
  int64_t outer = 1, inner = 1, total = 0;
  std::vector<int64_t> sizes, offsets;
};

PieceLayout make_layout(const Shape& whole, int dim, std::vector<int64_t> sizes) {
  PieceLayout l;
  for (int d = 0; d < dim; ++d) l.outer *= whole[d];
  for (std::size_t d = dim + 1; d < whole.size(); ++d) l.inner *= whole[d];
  l.total = whole[dim];
  l.sizes = std::move(sizes);
  l.offsets.resize(l.sizes.size());
  std::exclusive_scan(l.sizes.begin(), l.sizes.end(), l.offsets.begin(), int64_t{0});
  return l;
}

// Moves data between the whole and its pieces (to_pieces: whole -> pieces, else pieces ->
// whole), copying or adding. Null pieces are skipped. One thread owns a whole outer index and
// visits pieces in order, so pieces that alias one buffer (concat({x, x})) never race.
void transfer(float* whole, const std::vector<float*>& pieces, const PieceLayout& l, bool to_pieces,
              bool accumulate) {
  if (l.outer == 1) {  // each piece is one contiguous block: parallelise inside it
    for (std::size_t p = 0; p < pieces.size(); ++p) {
      if (!pieces[p]) continue;
      float* w = whole + l.offsets[p] * l.inner;
      float* dst = to_pieces ? pieces[p] : w;
      const float* src = to_pieces ? w : pieces[p];
      parallel_for(l.sizes[p] * l.inner, kMinPerThread,
                   [&](int64_t b, int64_t e) { move_run(dst + b, src + b, e - b, accumulate); });
    }
    return;
  }
  int64_t per_outer = std::max<int64_t>(1, l.total * l.inner);
  parallel_for(l.outer, std::max<int64_t>(1, kMinPerThread / per_outer), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      for (std::size_t p = 0; p < pieces.size(); ++p) {
        if (!pieces[p]) continue;
        int64_t n = l.sizes[p] * l.inner;
        float* w = whole + (o * l.total + l.offsets[p]) * l.inner;
        float* q = pieces[p] + o * n;
        if (to_pieces) {
          move_run(q, w, n, accumulate);
        } else {
          move_run(w, q, n, accumulate);
        }
      }
    }
  });
}

}  // namespace

// x: [...] -> shape (one entry may be -1). A view: shares x's storage. Saves nothing.
Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape out = shape;
  int64_t known = 1;
  int infer = -1;
  for (int i = 0; i < static_cast<int>(out.size()); ++i) {
    if (out[i] == -1) {
      KILN_CHECK(infer < 0, "reshape: expected at most one -1, got ", shape_str(shape));
      infer = i;
    } else {
      KILN_CHECK(out[i] >= 0, "reshape: expected sizes >= 0 or one -1, got ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    KILN_CHECK(known > 0 && x.numel() % known == 0, "reshape: expected a shape compatible with ",
               shape_str(x.shape()), ", got ", shape_str(shape));
    out[infer] = x.numel() / known;
  }
  KILN_CHECK(shape_numel(out) == x.numel(), "reshape: expected a shape with ", x.numel(),
             " elements to reshape ", shape_str(x.shape()), ", got ", shape_str(shape));
  Tensor y = x.view(out);
  if (!should_record({x})) return y;
  // Saves nothing but x's handle (for its gradient buffer).
  return record("reshape", y, {x}, [x](const Tensor& dy) { write_or_add(grad_target(x), dy); });
}

// x: [d0, ..., dn] -> [d_dims[0], ..., d_dims[n]]. Copies. Saves nothing but x's gradient
// handle.
Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  check_float("permute", x);
  int rank = x.rank();
  KILN_CHECK(static_cast<int>(dims.size()) == rank, "permute: expected ", rank, " dims for shape ",
             shape_str(x.shape()), ", got ", dims.size());
  std::vector<int> norm(rank), inverse(rank, -1);
  Shape out(rank);
  for (int k = 0; k < rank; ++k) {
    norm[k] = normalize_dim("permute", dims[k], x.shape());
    KILN_CHECK(inverse[norm[k]] < 0, "permute: expected each dimension once for shape ",
               shape_str(x.shape()), ", got dimension ", dims[k], " twice");
    inverse[norm[k]] = k;
    out[k] = x.dim(norm[k]);
  }
  Tensor y = Tensor::empty(out);
  permute_into(x.data(), x.shape(), norm, y.data(), /*accumulate=*/false);
  if (!should_record({x})) return y;
  // Saves the inverse permutation; backward permutes dy back onto x's layout and adds.
  return record("permute", y, {x}, [x = x.gradient_handle(), out, inverse](const Tensor& dy) {
    if (GradTarget gx = grad_target(x))
      permute_into(dy.data(), out, inverse, gx.data(), gx.accumulate);
  });
}

// x: [..., a, ..., b, ...] -> the same with dims dim0 and dim1 swapped. Copies.
Tensor transpose(const Tensor& x, int dim0, int dim1) {
  int d0 = normalize_dim("transpose", dim0, x.shape());
  int d1 = normalize_dim("transpose", dim1, x.shape());
  std::vector<int> dims(x.rank());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[d0], dims[d1]);
  return permute(x, dims);
}

// x: [..., sum(sizes), ...] -> pieces [..., sizes[p], ...]. Views when everything before `dim`
// has size 1 (e.g. dim 0), copies otherwise. Saves the layout and x's gradient handle.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim) {
  check_float("split", x);
  int d = normalize_dim("split", dim, x.shape());
  int64_t sum = 0;
  for (int64_t s : sizes) {
    KILN_CHECK(s >= 0, "split: expected non-negative sizes, got ", shape_str(sizes));
    sum += s;
  }
  KILN_CHECK(!sizes.empty() && sum == x.dim(d), "split: expected sizes summing to ", x.dim(d),
             " (dimension ", dim, " of ", shape_str(x.shape()), "), got ", shape_str(sizes));
  PieceLayout l = make_layout(x.shape(), d, sizes);
  std::vector<Tensor> pieces;
  std::vector<float*> ptrs;
  for (std::size_t p = 0; p < sizes.size(); ++p) {
    Shape s = x.shape();
    s[d] = sizes[p];
    if (l.outer == 1) {  // a contiguous block of x: a view, no copy
      pieces.push_back(
          x.view({l.total, l.inner}).rows_view(l.offsets[p], l.offsets[p] + sizes[p]).view(s));
    } else {
      pieces.push_back(Tensor::empty(s));
      ptrs.push_back(pieces.back().data());
    }
  }
  if (l.outer != 1) transfer(x.data(), ptrs, l, /*to_pieces=*/true, /*accumulate=*/false);
  if (!should_record({x})) return pieces;
  // Saves the layout; each piece's gradient (zeros when it got none) lands in its slice.
  record("split", pieces, {x}, [x = x.gradient_handle(), l](const std::vector<Tensor>& grads) {
    const GradTarget gx = grad_target(x);  // the pieces cover x: written in full
    if (!gx) return;
    std::vector<float*> g;
    for (const Tensor& t : grads) g.push_back(t.data());
    transfer(gx.data(), g, l, /*to_pieces=*/false, gx.accumulate);
  });
  return pieces;
}

// xs[i]: [..., n_i, ...] (equal elsewhere) -> [..., sum n_i, ...]. Saves the inputs' gradient
// handles.
Tensor concat(const std::vector<Tensor>& xs, int dim) {
  KILN_CHECK(!xs.empty(), "concat: expected at least one tensor, got none");
  check_float("concat", xs[0]);
  int d = normalize_dim("concat", dim, xs[0].shape());
  Shape out = xs[0].shape();
  std::vector<int64_t> sizes;
  std::vector<float*> ptrs;
  bool needs_grad = false;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    check_float("concat", xs[i]);
    Shape s = xs[i].shape();
    bool same_rank = s.size() == out.size();
    if (same_rank) s[d] = out[d];
    KILN_CHECK(same_rank && s == out, "concat: expected shapes equal to ", shape_str(xs[0].shape()),
               " except in dimension ", dim, ", got ", shape_str(xs[i].shape()), " for input ", i);
    sizes.push_back(xs[i].dim(d));
    ptrs.push_back(xs[i].data());
    needs_grad = needs_grad || xs[i].requires_grad();
  }
  out[d] = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  PieceLayout l = make_layout(out, d, std::move(sizes));
  Tensor y = Tensor::empty(out);
  transfer(y.data(), ptrs, l, /*to_pieces=*/false, /*accumulate=*/false);
  if (!needs_grad || !grad_enabled()) return y;
  // Saves the layout; backward adds dy's slices into the inputs that need gradients.
  std::vector<Tensor> handles;
  for (const Tensor& x : xs) handles.push_back(x.gradient_handle());
  return record("concat", y, xs, [handles, l](const Tensor& dy) {
    std::vector<float*> g;
    for (const Tensor& x : handles) {
      Tensor gx = grad_if_needed(x);
      g.push_back(gx.defined() ? gx.data() : nullptr);
    }
    transfer(dy.data(), g, l, /*to_pieces=*/true, /*accumulate=*/true);
  });
}

// x: [N, ...] -> [end - begin, ...], a view of rows [begin, end). Saves x's handle.
Tensor slice_rows(const Tensor& x, int64_t begin, int64_t end) {
  KILN_CHECK(x.rank() >= 1 && 0 <= begin && begin <= end && end <= x.dim(0),
             "slice_rows: expected 0 <= begin <= end <= ", x.rank() >= 1 ? x.dim(0) : 0, ", got [",
             begin, ", ", end, ") for shape ", shape_str(x.shape()));
  Tensor y = x.rows_view(begin, end);
  if (!should_record({x})) return y;
  return record("slice_rows", y, {x}, [x, begin, end](const Tensor& dy) {
    if (Tensor gx = grad_if_needed(x); gx.defined()) add_into(gx.rows_view(begin, end), dy);
  });
}

}  // namespace kiln::ops
