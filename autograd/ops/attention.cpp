// Scaled dot-product attention as one fused op, flash-attention style: per head and per tile of
// query rows, scores -> masks -> softmax -> dropout -> weighted sum. Backward recomputes the
// weights from the saved per-row log-sum-exp, so no [Tq, Tk] tensor outlives a tile.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "autograd/gemm.h"
#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "autograd/vector_exp.h"
#include "base/error.h"
#include "base/rng.h"

namespace kiln::ops {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Query rows per tile. A thread's scratch is a few kTileRows x Tk float buffers (64 KB each at
// Tk = 256, so they stay in L2), and causal tiles skip the keys none of their rows can see.
// Forward + backward at B=8, H=6, T=256, D=64, causal, on one thread (best of 30): 32 rows
// 28.1 ms, 64 rows 27.4 ms, 128 rows 30.9 ms, whole heads (256) 51 ms.
constexpr int64_t kTileRows = 64;

// The GEMMs go through kiln::gemm, the one backend policy. Inside parallel_for each runs on its
// thread (oneDNN is sequential inside a parallel region); at the per-head shapes (256x256x64
// with B transposed, 256x64x256, their 64-row tiles, and A-transposed 256x64x64) that policy
// picks oneDNN, which beat single-threaded OpenBLAS there by 20-50% (bench/attention_bench.cpp,
// BM_HeadGemm). A call small enough for parallel_for to run inline keeps small products on
// the calling thread too (gemm_uses_team), with the backend it would get inside a region, so
// such calls now give the same bits at any thread count.

// exp(x) for softmax arguments (<= 0): exp_in_range above -87, exactly 0 below it and for -inf
// (masked keys), through an integer mask rather than a branch.
inline float exp_or_zero(float x) {
  const uint32_t alive = x >= -87.0f ? ~0u : 0u;
  const float e = exp_in_range(x >= -87.0f ? x : -87.0f);  // no NaN from -inf
  return std::bit_cast<float>(std::bit_cast<uint32_t>(e) & alive);
}

// What forward and backward share about one call.
struct Geometry {
  int64_t B, H, Tq, Tk, D;
  float scale;
  bool causal;
  float p;           // dropout probability
  float keep_scale;  // 1 / (1 - p)
  uint64_t seed;
  int64_t tiles;  // row tiles per head
};

// Keys visible to some row of the tile ending at row r1: causal tiles stop at the last row's
// limit, so the GEMMs skip keys that only later rows can see.
int64_t tile_cols(const Geometry& g, int64_t r1) {
  return g.causal ? std::clamp(r1 + g.Tk - g.Tq, int64_t{0}, g.Tk) : g.Tk;
}
// Keys [0, end) that query row i may attend to (before padding), within a tile of n columns.
int64_t row_end(const Geometry& g, int64_t i, int64_t n) {
  return g.causal ? std::clamp(i + 1 + g.Tk - g.Tq, int64_t{0}, n) : n;
}

// Per-thread scratch; it only grows, so steady-state steps allocate nothing.
struct Scratch {
  std::vector<float> s, ds, keep;
  float* get(std::vector<float>& buf, int64_t n) {
    if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<std::size_t>(n));
    return buf.data();
  }
};
thread_local Scratch scratch;

// keep[j] = 1/(1-p) or 0 for the n keys of query row i of head bh: the dropout fate of weight
// (bh, i, j) is a pure function of (seed, (bh * Tq + i) * Tk + j).
void dropout_row(const Geometry& g, int64_t bh, int64_t i, int64_t n, float* keep) {
  uint64_t base = static_cast<uint64_t>((bh * g.Tq + i) * g.Tk);
  for (int64_t j = 0; j < n; ++j)
    keep[j] = random_uniform(g.seed, base + static_cast<uint64_t>(j)) >= g.p ? g.keep_scale : 0.0f;
}

// out rows [r0, r1) of head bh and their log-sum-exp (when lse is non-null).
// q, out: [Tq, D] of this head, k, v: [Tk, D], bias: [Tk] (0 or -inf) or null.
void forward_tile(const Geometry& g, int64_t bh, int64_t r0, int64_t r1, const float* q,
                  const float* k, const float* v, const float* bias, float* out, float* lse) {
  const int64_t rows = r1 - r0, n = tile_cols(g, r1), D = g.D;
  if (n == 0) {  // every row of the tile is fully masked
    std::fill(out + r0 * D, out + r1 * D, 0.0f);
    if (lse) std::fill(lse + r0, lse + r1, kInf);
    return;
  }
  float* s = scratch.get(scratch.s, rows * n);  // [rows, n]
  float* keep = g.p > 0 ? scratch.get(scratch.keep, n) : nullptr;
  gemm(false, true, rows, n, D, g.scale, q + r0 * D, D, k, D, 0.0f, s, n);
  for (int64_t i = r0; i < r1; ++i) {
    float* row = s + (i - r0) * n;
    const int64_t end = row_end(g, i, n);
    if (bias)
      for (int64_t j = 0; j < end; ++j) row[j] += bias[j];
    const float mx = lane_max(row, end);
    if (mx == -kInf) {
      // No visible key: the weights are all zero, so the output row is 0 and (with lse = +inf,
      // which makes every recomputed weight exp(s - inf) = 0) so is its gradient. Never NaN.
      std::fill(row, row + n, 0.0f);
      if (lse) lse[i] = kInf;
      continue;
    }
    for (int64_t j = 0; j < end; ++j) row[j] = exp_or_zero(row[j] - mx);
    std::fill(row + end, row + n, 0.0f);
    const float sum = lane_sum(row, end);
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < end; ++j) row[j] *= inv;
    if (lse) lse[i] = mx + std::log(sum);
    if (keep) {
      dropout_row(g, bh, i, end, keep);
      for (int64_t j = 0; j < end; ++j) row[j] *= keep[j];
    }
  }
  gemm(false, false, rows, D, n, 1.0f, s, n, v, D, 0.0f, out + r0 * D, D);
}

// Adds the gradients of rows [r0, r1) of head bh into dq (those rows), dk and dv (the tile's
// keys); any of the three may be null. Recomputes the tile's weights P = exp(S - lse).
// Same layout as forward_tile, plus dout: [Tq, D], lse: [Tq].
void backward_tile(const Geometry& g, int64_t bh, int64_t r0, int64_t r1, const float* q,
                   const float* k, const float* v, const float* bias, const float* lse,
                   const float* dout, float* dq, float* dk, float* dv) {
  const int64_t rows = r1 - r0, n = tile_cols(g, r1), D = g.D;
  if (n == 0) return;                             // no visible key: all weights and gradients are 0
  float* p = scratch.get(scratch.s, rows * n);    // [rows, n] the weights P
  float* ds = scratch.get(scratch.ds, rows * n);  // [rows, n] P with dropout, then dP, then dS
  float* keep = g.p > 0 ? scratch.get(scratch.keep, rows * n) : nullptr;  // [rows, n]
  gemm(false, true, rows, n, D, g.scale, q + r0 * D, D, k, D, 0.0f, p, n);
  for (int64_t i = r0; i < r1; ++i) {
    float* row = p + (i - r0) * n;
    const int64_t end = row_end(g, i, n);
    const float l = lse[i];  // +inf for a fully masked row, making its weights 0
    if (bias)
      for (int64_t j = 0; j < end; ++j) row[j] = exp_or_zero(row[j] + bias[j] - l);
    else
      for (int64_t j = 0; j < end; ++j) row[j] = exp_or_zero(row[j] - l);
    std::fill(row + end, row + n, 0.0f);
    if (keep) {
      float* keep_row = keep + (i - r0) * n;
      dropout_row(g, bh, i, end, keep_row);
      std::fill(keep_row + end, keep_row + n, 0.0f);
    }
  }
  const float* dout_tile = dout + r0 * D;
  if (dv) {  // dV += P_drop^T dO
    const float* p_drop = p;
    if (keep) {
      for (int64_t e = 0; e < rows * n; ++e) ds[e] = p[e] * keep[e];
      p_drop = ds;
    }
    gemm(true, false, n, D, rows, 1.0f, p_drop, n, dout_tile, D, 1.0f, dv, D);
  }
  if (!dq && !dk) return;
  // dP_drop = dO V^T; dP = dP_drop * keep; dS = P * (dP - rowsum(P * dP)), the softmax backward.
  gemm(false, true, rows, n, D, 1.0f, dout_tile, D, v, D, 0.0f, ds, n);
  for (int64_t r = 0; r < rows; ++r) {
    const float* p_row = p + r * n;
    float* ds_row = ds + r * n;
    if (keep)
      for (int64_t j = 0; j < n; ++j) ds_row[j] *= keep[r * n + j];
    const float dot = lane_dot(p_row, ds_row, n);
    for (int64_t j = 0; j < n; ++j) ds_row[j] = p_row[j] * (ds_row[j] - dot);
  }
  // S = scale * Q K^T, so dQ += scale * dS K and dK += scale * dS^T Q.
  if (dq) gemm(false, false, rows, D, n, g.scale, ds, n, k, D, 1.0f, dq + r0 * D, D);
  if (dk) gemm(true, false, n, D, rows, g.scale, ds, n, q + r0 * D, D, 1.0f, dk, D);
}

// Checks q, k, v and the options; returns the call's geometry.
Geometry check_and_describe(const Tensor& q, const Tensor& k, const Tensor& v,
                            const AttentionOptions& options) {
  for (const Tensor* x : {&q, &k, &v}) {
    const char* name = x == &q ? "q" : x == &k ? "k" : "v";
    KILN_CHECK(x->defined(), "attention: expected a defined ", name, ", got an undefined tensor");
    KILN_CHECK(x->dtype() == DType::kF32, "attention: expected float32 ", name, ", got ",
               dtype_name(x->dtype()));
    KILN_CHECK(x->rank() == 4, "attention: expected ", name, " of rank 4 [B, H, T, D], got ",
               shape_str(x->shape()));
  }
  KILN_CHECK(k.shape() == v.shape(), "attention: expected k and v of the same shape, got k ",
             shape_str(k.shape()), " and v ", shape_str(v.shape()));
  KILN_CHECK(k.dim(0) == q.dim(0) && k.dim(1) == q.dim(1) && k.dim(3) == q.dim(3),
             "attention: expected k, v [B, H, Tk, D] to match q ", shape_str(q.shape()),
             " in B, H and D, got ", shape_str(k.shape()));
  KILN_CHECK(q.dim(3) >= 1, "attention: expected a head dimension D >= 1, got q ",
             shape_str(q.shape()));
  const float p = options.dropout;
  KILN_CHECK(p >= 0.0f && p < 1.0f, "attention: expected dropout in [0, 1), got ", p);
  KILN_CHECK(std::isfinite(options.scale), "attention: expected a finite scale, got ",
             options.scale);
  const Tensor& mask = options.key_padding_mask;
  if (mask.defined())
    KILN_CHECK(mask.shape() == Shape({q.dim(0), k.dim(2)}),
               "attention: expected key_padding_mask of shape [B, Tk] = ",
               shape_str({q.dim(0), k.dim(2)}), ", got ", shape_str(mask.shape()));
  Geometry g{};
  g.B = q.dim(0), g.H = q.dim(1), g.Tq = q.dim(2), g.Tk = k.dim(2), g.D = q.dim(3);
  g.scale = options.scale != 0.0f ? options.scale : 1.0f / std::sqrt(static_cast<float>(g.D));
  g.causal = options.causal;
  g.p = p;
  g.keep_scale = 1.0f / (1.0f - p);
  g.seed = options.seed;
  g.tiles = (g.Tq + kTileRows - 1) / kTileRows;
  return g;
}

// Work items per thread for items of `flops` each: waking the OpenMP team costs microseconds
// (far more when the cores are shared), so small calls, like those of tests, stay on one thread.
int64_t grain(int64_t flops) {
  constexpr int64_t kMinFlopsPerThread = int64_t{1} << 20;
  return std::max<int64_t>(1, kMinFlopsPerThread / std::max<int64_t>(1, flops));
}

// [B, Tk] additive bias from the padding mask: 0 where the key may be attended, -inf where not.
std::vector<float> padding_bias(const Tensor& mask) {
  std::vector<float> bias(static_cast<std::size_t>(mask.defined() ? mask.numel() : 0));
  for (std::size_t e = 0; e < bias.size(); ++e) {
    bool attend = mask.dtype() == DType::kI32 ? mask.ints()[e] != 0 : mask.data()[e] != 0.0f;
    bias[e] = attend ? 0.0f : -kInf;
  }
  return bias;
}

}  // namespace

// q: [B, H, Tq, D], k, v: [B, H, Tk, D] -> [B, H, Tq, D]. Saves the per-row log-sum-exp [B, H, Tq].
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 const AttentionOptions& options) {
  const Geometry g = check_and_describe(q, k, v, options);
  std::vector<float> bias = padding_bias(options.key_padding_mask);
  const bool needs_grad = should_record({q, k, v});
  Tensor out = Tensor::empty({g.B, g.H, g.Tq, g.D});
  Tensor lse = needs_grad ? Tensor::empty({g.B, g.H, g.Tq}) : Tensor();
  // Work items are (head, row tile) pairs, each writing only its own rows; the fixed partition
  // keeps whole heads together on a thread.
  auto forward_items = [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t bh = item / g.tiles, r0 = (item % g.tiles) * kTileRows;
      const float* key_bias = bias.empty() ? nullptr : bias.data() + (bh / g.H) * g.Tk;
      forward_tile(g, bh, r0, std::min(g.Tq, r0 + kTileRows), q.data() + bh * g.Tq * g.D,
                   k.data() + bh * g.Tk * g.D, v.data() + bh * g.Tk * g.D, key_bias,
                   out.data() + bh * g.Tq * g.D, needs_grad ? lse.data() + bh * g.Tq : nullptr);
    }
  };
  parallel_for(g.B * g.H * g.tiles, grain(4 * std::min(g.Tq, kTileRows) * g.Tk * g.D),
               forward_items);
  if (!needs_grad) return out;
  // Saves q, k, v (their data, and their autograd state for grad_if_needed), the log-sum-exp
  // and the padding bias; the weights are recomputed per tile.
  return record(
      "attention", out, {q, k, v}, [q, k, v, lse, bias = std::move(bias), g](const Tensor& dout) {
        const Tensor dq = grad_if_needed(q), dk = grad_if_needed(k), dv = grad_if_needed(v);
        auto head = [&](const Tensor& t, int64_t bh, int64_t rows) {
          return t.defined() ? t.data() + bh * rows * g.D : nullptr;
        };
        // One head per work item: its dK and dV gather every row tile, so a head belongs to one
        // thread, which adds its tiles in order (no races, no scheduling-dependent sums).
        // q, k, v may be one tensor: its gradient slice still has one owner.
        parallel_for(g.B * g.H, grain(10 * g.Tq * g.Tk * g.D), [&](int64_t begin, int64_t end) {
          for (int64_t bh = begin; bh < end; ++bh)
            for (int64_t r0 = 0; r0 < g.Tq; r0 += kTileRows)
              backward_tile(g, bh, r0, std::min(g.Tq, r0 + kTileRows), head(q, bh, g.Tq),
                            head(k, bh, g.Tk), head(v, bh, g.Tk),
                            bias.empty() ? nullptr : bias.data() + (bh / g.H) * g.Tk,
                            lse.data() + bh * g.Tq, head(dout, bh, g.Tq), head(dq, bh, g.Tq),
                            head(dk, bh, g.Tk), head(dv, bh, g.Tk));
        });
      });
}

}  // namespace kiln::ops
