// Shared loops: accumulation, broadcast plans, and the deterministic sums and reductions over
// stretched dims that the elementwise ops and their backwards use.
#include "autograd/kernels.h"

#include <algorithm>

#include "autograd/threads.h"
#include "base/error.h"

namespace kiln {
namespace {

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

}  // namespace

// ---- accumulation -------------------------------------------------------------------------

void add_into(float* dst, const float* src, int64_t n, bool accumulate) {
  parallel_for(n, kMinElementsPerThread, [&](int64_t b, int64_t e) {
    if (accumulate)
      for (int64_t i = b; i < e; ++i) dst[i] += src[i];
    else
      std::copy(src + b, src + e, dst + b);
  });
}

void add_scaled_into(float* dst, const float* src, float alpha, int64_t n, bool accumulate) {
  parallel_for(n, kMinElementsPerThread, [&](int64_t b, int64_t e) {
    if (accumulate)
      for (int64_t i = b; i < e; ++i) dst[i] += alpha * src[i];
    else
      for (int64_t i = b; i < e; ++i) dst[i] = alpha * src[i];
  });
}

void add_into(const Tensor& dst, const Tensor& src) {
  KILN_CHECK(dst.numel() == src.numel(), "add_into: expected equal sizes, got ",
             shape_str(dst.shape()), " and ", shape_str(src.shape()));
  add_into(dst.data(), src.data(), dst.numel());
}

void add_scaled_into(const Tensor& dst, const Tensor& src, float alpha) {
  KILN_CHECK(dst.numel() == src.numel(), "add_scaled_into: expected equal sizes, got ",
             shape_str(dst.shape()), " and ", shape_str(src.shape()));
  add_scaled_into(dst.data(), src.data(), alpha, dst.numel());
}

namespace {

// Column sums of dy [rows, cols] over columns [j0, j0 + w), w <= kColumnChunk, each in double
// and in row order, added into db. In 512-bit vectors where the CPU has them (the float to
// double conversions are most of the work; the same bits).
constexpr int64_t kColumnChunk = 1024;
KILN_WIDE_VECTORS void add_column_chunk(float* db, const float* dy, int64_t rows, int64_t cols,
                                        int64_t j0, int64_t w) {
  double acc[kColumnChunk];
  std::fill_n(acc, w, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = dy + r * cols + j0;
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) acc[j] += row[j];
  }
  for (int64_t j = 0; j < w; ++j) db[j0 + j] += static_cast<float>(acc[j]);
}

}  // namespace

void add_column_sums(float* db, const float* dy, int64_t rows, int64_t cols) {
  // Each thread owns a contiguous range of columns and walks every row through it, so it reads
  // long runs of each row. (Narrow 64-column tiles read 256 bytes and then jumped a whole row:
  // the prefetcher lost the stream, and gpt-mini's bias gradients took 3% of its step.) Chunks
  // of at most kColumnChunk columns keep the double accumulators in L1.
  const int64_t min_cols =
      std::max<int64_t>(16, kMinElementsPerThread / std::max<int64_t>(rows, 1));
  parallel_for(cols, min_cols, [&](int64_t c0, int64_t c1) {
    for (int64_t j0 = c0; j0 < c1; j0 += kColumnChunk)
      add_column_chunk(db, dy, rows, cols, j0, std::min(kColumnChunk, c1 - j0));
  });
}

// ---- broadcasting -------------------------------------------------------------------------

int64_t aligned_dim(const Shape& in, std::size_t rank, std::size_t d) {
  std::size_t pad = rank - in.size();
  return d < pad ? 1 : in[d - pad];
}

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

BroadcastPlan make_broadcast_plan(const Shape& out, const Shape& a, const Shape& b) {
  const std::size_t rank = out.size();
  std::vector<int64_t> full_a(rank), full_b(rank);
  for (int64_t d = static_cast<int64_t>(rank) - 1, na = 1, nb = 1; d >= 0; --d) {
    int64_t da = aligned_dim(a, rank, d), db = aligned_dim(b, rank, d);
    full_a[d] = da == 1 ? 0 : na;
    full_b[d] = db == 1 ? 0 : nb;
    na *= da;
    nb *= db;
  }
  BroadcastPlan p;
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
  if (p.sizes.empty()) p = BroadcastPlan{{1}, {1}, {1}};  // a one-element result
  return p;
}

double sum_blocks(const float* x, int64_t n) {
  constexpr int64_t kBlock = 1 << 13;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (blocks <= 1) return lane_sum_f64(x, n);
  std::vector<double> partial(blocks);
  parallel_for(blocks, 2, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i)
      partial[i] = lane_sum_f64(x + i * kBlock, std::min(kBlock, n - i * kBlock));
  });
  double s = 0;
  for (double v : partial) s += v;
  return s;
}

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
    parallel_for(count, kMinElementsPerThread, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) put(j, terms ? src[j] : 0.0);
    });
  } else if (!last_kept) {
    // The last dim is reduced: each dst element sums contiguous runs of src.
    const int64_t run = rs.back();
    rs.pop_back();
    rst.pop_back();
    const int64_t runs = terms / run;
    parallel_for(count, std::max<int64_t>(1, kMinElementsPerThread / terms),
                 [&](int64_t j0, int64_t j1) {
                   for (int64_t j = j0; j < j1; ++j) {
                     const int64_t base = offset_of(j, ks, kst);
                     double acc = 0;
                     for (int64_t r = 0; r < runs; ++r)
                       acc += lane_sum_f64(src + base + offset_of(r, rs, rst), run);
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
        std::max<int64_t>(1, kMinElementsPerThread / (terms * std::min(width, kTile)));
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

std::vector<bool> kept_dims(const Shape& in, const Shape& out) {
  std::vector<bool> kept(out.size());
  for (std::size_t d = 0; d < out.size(); ++d) kept[d] = aligned_dim(in, out.size(), d) != 1;
  return kept;
}

void add_reduced(const Tensor& g, const Tensor& dy, float scale, bool accumulate) {
  if (g.numel() == dy.numel())
    return add_scaled_into(g.data(), dy.data(), scale, g.numel(), accumulate);
  reduce_into(g.data(), dy.data(), dy.shape(), kept_dims(g.shape(), dy.shape()), scale, accumulate);
}

}  // namespace kiln
