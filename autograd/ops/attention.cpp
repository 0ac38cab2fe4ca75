// Scaled dot-product attention as one fused op, flash-attention style: per head and per tile of
// query rows, scores -> masks -> softmax -> dropout -> weighted sum. For long sequences backward
// recomputes the weights from the saved per-row log-sum-exp, so no [Tq, Tk] tensor outlives a
// tile; short ones keep them (weights_to_keep).
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

// Query rows per tile. A thread's scratch is a few tile-rows x Tk float buffers (64 KB each at
// 64 rows and Tk = 256, or for a whole 128-row head at Tk = 128, so they stay in L2), and causal
// tiles skip the keys none of their rows can see.
// Forward + backward at B=8, H=6, T=256, D=64, causal, on one thread (best of 30): 32 rows
// 28.1 ms, 64 rows 27.4 ms, 128 rows 30.9 ms, whole heads (256) 51 ms.
constexpr int64_t kTileRows = 64;
// A causal head is split at least in two (tiles of Tq / 2 rows, 32 to kTileRows), so that its
// first half skips the keys only the second sees: a quarter of the products. gpt-char's T = 64,
// D = 32 (packed forward + backward, B 12, H 4, 2 threads, best of 60, two alternating runs):
// one 64-row tile 0.514 / 0.547 ms, two of 32 rows 0.484 / 0.479; at D = 64 a tie (0.903 /
// 0.920 against 0.888 / 0.918). Smaller tiles than 32 rows cost more in calls than they skip.
// Non-causal heads this short run as one tile: every row sees every key, so splitting saves no
// keys and costs a second pass over K and V (the scores' and the values' products re-read them)
// and, in backward, dK and dV added to instead of written.
constexpr int64_t kWholeHeadRows = 128;

// The GEMMs go through kiln::gemm, the one backend policy. Inside parallel_for each runs on its
// thread (oneDNN is sequential inside a parallel region); at the per-head shapes (256x256x64
// with B transposed, 256x64x256, their 64-row tiles, and A-transposed 256x64x64) that policy
// picks oneDNN, which beat single-threaded OpenBLAS there by 20-50% (bench/attention_bench.cpp,
// BM_HeadGemm); for heads 32 wide it picks OpenBLAS where that is faster (see gemm.cpp). A call
// small enough for parallel_for to run inline keeps small products on the calling thread too
// (gemm_uses_team), with the backend it would get inside a region, so such calls now give the same
// bits at any thread count.

// exp(x) for softmax arguments (<= 0): exp_in_range above -87, exactly 0 below it and for -inf
// (masked keys), through an integer mask rather than a branch.
inline float exp_or_zero(float x) {
  const uint32_t alive = x >= -87.0f ? ~0u : 0u;
  const float e = exp_in_range(x >= -87.0f ? x : -87.0f);  // no NaN from -inf
  return std::bit_cast<float>(std::bit_cast<uint32_t>(e) & alive);
}

// Where the heads of a [B, H, T, D] operand live: element (b, h, t, e) of head bh = b H + h is
// at base + head_offset(bh) + t * row + e. A dense [B, H, T, D] tensor is one such layout; the
// heads inside a [B, T, parts * H * D] projection, read where they lie, are another.
struct HeadLayout {
  int64_t batch, head, row;  // element strides
  int64_t head_offset(int64_t bh, int64_t H) const { return (bh / H) * batch + (bh % H) * head; }
};
HeadLayout dense_heads(int64_t H, int64_t T, int64_t D) {
  return {H * T * D, T * D, D};
}

// What forward and backward share about one call.
struct Geometry {
  int64_t B, H, Tq, Tk, D;
  HeadLayout q, kv, out;  // q's (and dq's), k's and v's (and their gradients'), out's (and dout's)
  float scale;
  bool causal;
  float p;           // dropout probability
  float keep_scale;  // 1 / (1 - p)
  uint64_t seed;
  int64_t tile_rows;  // query rows per tile
  int64_t tiles;      // row tiles per head
};

// Sets the row tiles of a geometry whose Tq and causal are set.
void set_tiles(Geometry& g) {
  if (g.causal)
    g.tile_rows = std::clamp<int64_t>(g.Tq / 2, 32, kTileRows);
  else
    g.tile_rows = g.Tq <= kWholeHeadRows ? std::max<int64_t>(g.Tq, 1) : kTileRows;
  g.tiles = (g.Tq + g.tile_rows - 1) / g.tile_rows;
}

// Keys visible to some row of the tile ending at row r1: causal tiles stop at the last row's
// limit, so the GEMMs skip keys that only later rows can see.
int64_t tile_cols(const Geometry& g, int64_t r1) {
  return g.causal ? std::clamp(r1 + g.Tk - g.Tq, int64_t{0}, g.Tk) : g.Tk;
}
// Keys [0, end) that query row i may attend to (before padding), within a tile of n columns.
int64_t row_end(const Geometry& g, int64_t i, int64_t n) {
  return g.causal ? std::clamp(i + 1 + g.Tk - g.Tq, int64_t{0}, n) : n;
}

// Kept weights (weights_to_keep) store each row tile as [rows, tile_cols] one after another,
// so a causal head keeps only the keys its tiles can see. Where the tile starting at row r0
// begins within its head's kept weights:
int64_t kept_offset(const Geometry& g, int64_t r0) {
  int64_t offset = 0;
  for (int64_t t0 = 0; t0 < r0; t0 += g.tile_rows) {
    const int64_t t1 = std::min(g.Tq, t0 + g.tile_rows);
    offset += (t1 - t0) * tile_cols(g, t1);
  }
  return offset;
}
// Kept weights per head.
int64_t kept_per_head(const Geometry& g) {
  return kept_offset(g, g.Tq);
}

// Zeroes `rows` rows of D floats, `ld` apart: a slice of one head's gradient.
void zero_rows(float* x, int64_t rows, int64_t D, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) std::fill_n(x + r * ld, D, 0.0f);
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
// q, out: this head's Tq rows of D, k, v: its Tk rows (row strides in g), bias: [Tk] (0 or
// -inf) or null, lse: [Tq]. weights: null, or this head's kept weights (before dropout) for
// backward, computed in place: the tile's [rows, tile_cols] at kept_offset.
void forward_tile(const Geometry& g, int64_t bh, int64_t r0, int64_t r1, const float* q,
                  const float* k, const float* v, const float* bias, float* out, float* lse,
                  float* weights) {
  const int64_t rows = r1 - r0, n = tile_cols(g, r1), D = g.D;
  const int64_t ldq = g.q.row, ldkv = g.kv.row, ldo = g.out.row;
  if (n == 0) {  // every row of the tile is fully masked
    for (int64_t i = r0; i < r1; ++i) std::fill_n(out + i * ldo, D, 0.0f);
    if (lse) std::fill(lse + r0, lse + r1, kInf);
    return;
  }
  float* keep = g.p > 0 ? scratch.get(scratch.keep, n) : nullptr;
  // s [rows, n]: the scores, then the weights. What multiplies V is s itself, or with dropout
  // on kept weights a dropped copy in scratch.
  float* s = weights ? weights + kept_offset(g, r0) : scratch.get(scratch.s, rows * n);
  const bool copy_dropped = keep && weights;
  float* dropped = copy_dropped ? scratch.get(scratch.s, rows * n) : s;
  gemm(false, true, rows, n, D, g.scale, q + r0 * ldq, ldq, k, ldkv, 0.0f, s, n);
  for (int64_t i = r0; i < r1; ++i) {
    float* row = s + (i - r0) * n;
    float* dropped_row = dropped + (i - r0) * n;
    const int64_t end = row_end(g, i, n);
    if (bias)
      for (int64_t j = 0; j < end; ++j) row[j] += bias[j];
    const float mx = lane_max(row, end);
    if (mx == -kInf) {
      // No visible key: the weights are all zero, so the output row is 0 and (with lse = +inf,
      // which makes every recomputed weight exp(s - inf) = 0) so is its gradient. Never NaN.
      std::fill(row, row + n, 0.0f);
      if (copy_dropped) std::fill(dropped_row, dropped_row + n, 0.0f);
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
      for (int64_t j = 0; j < end; ++j) dropped_row[j] = row[j] * keep[j];
      if (copy_dropped) std::fill(dropped_row + end, dropped_row + n, 0.0f);
    }
  }
  gemm(false, false, rows, D, n, 1.0f, dropped, n, v, ldkv, 0.0f, out + r0 * ldo, ldo);
}

// Per gradient: 1 adds the tile's product into it, 0 writes it (the rows hold garbage before).
struct Betas {
  float dq = 1.0f, dk = 1.0f, dv = 1.0f;
};

// Adds (or writes, as `beta` says) the gradients of rows [r0, r1) of head bh into dq (those
// rows), dk and dv (the tile's keys); any of the three may be null. Reads the tile's weights P
// from `weights` (as forward_tile kept them) or, when null, recomputes them as exp(S - lse).
// Same layout as forward_tile; dout is laid out as out, and dq, dk, dv as q, k, v.
void backward_tile(const Geometry& g, int64_t bh, int64_t r0, int64_t r1, const float* q,
                   const float* k, const float* v, const float* bias, const float* lse,
                   const float* weights, const float* dout, float* dq, float* dk, float* dv,
                   Betas beta) {
  const int64_t rows = r1 - r0, n = tile_cols(g, r1), D = g.D;
  const int64_t ldq = g.q.row, ldkv = g.kv.row, ldo = g.out.row;
  if (n == 0) {  // no visible key: all weights and gradients are 0
    if (dq && beta.dq == 0.0f) zero_rows(dq + r0 * ldq, rows, D, ldq);
    return;
  }
  float* ds = scratch.get(scratch.ds, rows * n);  // [rows, n] P with dropout, then dP, then dS
  float* keep = g.p > 0 ? scratch.get(scratch.keep, rows * n) : nullptr;  // [rows, n]
  // p: the weights P [rows, n].
  const float* p = weights ? weights + kept_offset(g, r0) : nullptr;
  if (!weights) {
    float* recomputed = scratch.get(scratch.s, rows * n);
    gemm(false, true, rows, n, D, g.scale, q + r0 * ldq, ldq, k, ldkv, 0.0f, recomputed, n);
    for (int64_t i = r0; i < r1; ++i) {
      float* row = recomputed + (i - r0) * n;
      const int64_t end = row_end(g, i, n);
      const float l = lse[i];  // +inf for a fully masked row, making its weights 0
      if (bias)
        for (int64_t j = 0; j < end; ++j) row[j] = exp_or_zero(row[j] + bias[j] - l);
      else
        for (int64_t j = 0; j < end; ++j) row[j] = exp_or_zero(row[j] - l);
      std::fill(row + end, row + n, 0.0f);
    }
    p = recomputed;
  }
  if (keep)
    for (int64_t i = r0; i < r1; ++i) {
      float* keep_row = keep + (i - r0) * n;
      const int64_t end = row_end(g, i, n);
      dropout_row(g, bh, i, end, keep_row);
      std::fill(keep_row + end, keep_row + n, 0.0f);
    }
  const float* dout_tile = dout + r0 * ldo;
  if (dv) {  // dV += P_drop^T dO
    const float* p_drop = p;
    if (keep) {
      for (int64_t j = 0; j < rows * n; ++j) ds[j] = p[j] * keep[j];
      p_drop = ds;
    }
    gemm(true, false, n, D, rows, 1.0f, p_drop, n, dout_tile, ldo, beta.dv, dv, ldkv);
  }
  if (!dq && !dk) return;
  // dP_drop = dO V^T; dP = dP_drop * keep; dS = P * (dP - rowsum(P * dP)), the softmax backward.
  gemm(false, true, rows, n, D, 1.0f, dout_tile, ldo, v, ldkv, 0.0f, ds, n);
  for (int64_t r = 0; r < rows; ++r) {
    const float* p_row = p + r * n;
    float* ds_row = ds + r * n;
    if (keep)
      for (int64_t j = 0; j < n; ++j) ds_row[j] *= keep[r * n + j];
    const float dot = lane_dot(p_row, ds_row, n);
    for (int64_t j = 0; j < n; ++j) ds_row[j] = p_row[j] * (ds_row[j] - dot);
  }
  // S = scale * Q K^T, so dQ += scale * dS K and dK += scale * dS^T Q.
  if (dq) gemm(false, false, rows, D, n, g.scale, ds, n, k, ldkv, beta.dq, dq + r0 * ldq, ldq);
  if (dk) gemm(true, false, n, D, rows, g.scale, ds, n, q + r0 * ldq, ldq, beta.dk, dk, ldkv);
}

// Checks the options for a call of B sequences, Tq queries and Tk keys; returns the geometry
// with everything but the operands' layouts.
Geometry describe(const char* op, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                  const AttentionOptions& options) {
  const float p = options.dropout;
  KILN_CHECK(p >= 0.0f && p < 1.0f, op, ": expected dropout in [0, 1), got ", p);
  KILN_CHECK(std::isfinite(options.scale), op, ": expected a finite scale, got ", options.scale);
  const Tensor& mask = options.key_padding_mask;
  if (mask.defined())
    KILN_CHECK(mask.shape() == Shape({B, Tk}), op,
               ": expected key_padding_mask of shape [B, Tk] = ", shape_str({B, Tk}), ", got ",
               shape_str(mask.shape()));
  Geometry g{};
  g.B = B, g.H = H, g.Tq = Tq, g.Tk = Tk, g.D = D;
  g.scale = options.scale != 0.0f ? options.scale : 1.0f / std::sqrt(static_cast<float>(g.D));
  g.causal = options.causal;
  g.p = p;
  g.keep_scale = 1.0f / (1.0f - p);
  g.seed = options.seed;
  set_tiles(g);
  return g;
}

void check_float(const char* op, const char* name, const Tensor& x, int rank, const char* dims) {
  KILN_CHECK(x.defined(), op, ": expected a defined ", name, ", got an undefined tensor");
  KILN_CHECK(x.dtype() == DType::kF32, op, ": expected float32 ", name, ", got ",
             dtype_name(x.dtype()));
  KILN_CHECK(x.rank() == rank, op, ": expected ", name, " of rank ", rank, " ", dims, ", got ",
             shape_str(x.shape()));
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

// The operands of one call, each the base its layout in Geometry starts from; a null gradient
// pointer skips that gradient.
struct Operands {
  const float *q, *k, *v;
};
// Where q's, k's and v's gradients go (null: not needed). `fresh` ones hold garbage and are
// overwritten.
struct Gradients {
  float *dq, *dk, *dv;
  bool dq_fresh = false, dk_fresh = false, dv_fresh = false;
};

// Backward needs the weights P again. Recomputing them costs a Q K^T product (one of the op's
// seven) and an exp per weight; keeping them costs the floats of the row tiles' visible keys
// (kept_per_head). They are kept when that is at most the size of the head's q, k and v:
// BERT's T = 128, D = 64 (16K floats against 24K a head: 4.2 MB a layer on bert-small),
// gpt-char's T = 64, D = 32, and the causal T = 256, D = 64 of gpt-mini and gpt2-124m (the
// lower triangle's 10 of 16 tiles, 40K floats against 48K a head: 7.9 MB a layer on gpt-mini,
// 94 MB over gpt2-124m's step). Longer sequences recompute, which keeps memory linear in T.
// What a recording forward saves for that: the weights [B, H, kept_per_head], or else each
// row's log-sum-exp [B, H, Tq] to recompute them from. Exactly one is defined.
struct SavedWeights {
  Tensor weights, lse;
};
bool keeps_weights(const Geometry& g) {
  return kept_per_head(g) <= (g.Tq + 2 * g.Tk) * g.D;
}
SavedWeights weights_to_keep(const Geometry& g) {
  if (keeps_weights(g)) return {Tensor::empty({g.B, g.H, kept_per_head(g)}), Tensor()};
  return {Tensor(), Tensor::empty({g.B, g.H, g.Tq})};
}

// Fills out, and when non-null lse [B, H, Tq] and weights [B, H, Tq, Tk] (see forward_tile and
// weights_to_keep).
// Work items are (head, row tile) pairs, each writing only its own rows; the fixed partition
// keeps whole heads together on a thread.
void attention_forward(const Geometry& g, const Operands& in, const std::vector<float>& bias,
                       float* out, float* lse, float* weights) {
  parallel_for(g.B * g.H * g.tiles, grain(4 * std::min(g.Tq, g.tile_rows) * g.Tk * g.D),
               [&](int64_t begin, int64_t end) {
                 for (int64_t item = begin; item < end; ++item) {
                   const int64_t bh = item / g.tiles, r0 = (item % g.tiles) * g.tile_rows;
                   const int64_t kv = g.kv.head_offset(bh, g.H);
                   forward_tile(g, bh, r0, std::min(g.Tq, r0 + g.tile_rows),
                                in.q + g.q.head_offset(bh, g.H), in.k + kv, in.v + kv,
                                bias.empty() ? nullptr : bias.data() + (bh / g.H) * g.Tk,
                                out + g.out.head_offset(bh, g.H), lse ? lse + bh * g.Tq : nullptr,
                                weights ? weights + bh * kept_per_head(g) : nullptr);
                 }
               });
}

// Adds the gradients for dout into d. One head per work item: its dK and dV gather every row
// tile, so a head belongs to one thread, which adds its tiles in a fixed order (no races, no
// scheduling-dependent sums). The operands may share memory (one tensor passed as q, k and v,
// or one projection holding all three): a head's slices of it still have one owner.
// A fresh gradient is written by the first product to reach each of its rows (beta 0), not
// zeroed and then added to: zeroing is a pass over cold memory (about 1 ms a layer for
// gpt-mini's 9.4 MB dqkv). The tiles run last to first because the last one sees every key,
// causal or not, so its dK and dV products cover all rows. A fresh gradient that is also
// another's (one tensor passed as q and k) is zeroed first instead: the other adds into it.
void attention_backward(const Geometry& g, const Operands& in, const std::vector<float>& bias,
                        const float* lse, const float* weights, const float* dout,
                        const Gradients& d) {
  const bool shared = (d.dq && (d.dq == d.dk || d.dq == d.dv)) || (d.dk && d.dk == d.dv);
  parallel_for(g.B * g.H, grain(10 * g.Tq * g.Tk * g.D), [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t q = g.q.head_offset(bh, g.H), kv = g.kv.head_offset(bh, g.H);
      if (shared) {
        if (d.dq && d.dq_fresh) zero_rows(d.dq + q, g.Tq, g.D, g.q.row);
        if (d.dk && d.dk_fresh) zero_rows(d.dk + kv, g.Tk, g.D, g.kv.row);
        if (d.dv && d.dv_fresh) zero_rows(d.dv + kv, g.Tk, g.D, g.kv.row);
      }
      for (int64_t tile = g.tiles - 1; tile >= 0; --tile) {
        const int64_t r0 = tile * g.tile_rows;
        const bool last = tile == g.tiles - 1;
        Betas beta;
        if (!shared) {
          if (d.dq_fresh) beta.dq = 0.0f;
          if (d.dk_fresh && last) beta.dk = 0.0f;
          if (d.dv_fresh && last) beta.dv = 0.0f;
        }
        backward_tile(g, bh, r0, std::min(g.Tq, r0 + g.tile_rows), in.q + q, in.k + kv, in.v + kv,
                      bias.empty() ? nullptr : bias.data() + (bh / g.H) * g.Tk,
                      lse ? lse + bh * g.Tq : nullptr,
                      weights ? weights + bh * kept_per_head(g) : nullptr,
                      dout + g.out.head_offset(bh, g.H), d.dq ? d.dq + q : nullptr,
                      d.dk ? d.dk + kv : nullptr, d.dv ? d.dv + kv : nullptr, beta);
      }
    }
  });
}

float* data_or_null(const Tensor& t) {
  return t.defined() ? t.data() : nullptr;
}

// Checks that q, k, v are float32 of rank `rank` ("dims" names the axes) and k, v alike.
void check_separate(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, int rank,
                    const char* dims) {
  check_float(op, "q", q, rank, dims);
  check_float(op, "k", k, rank, dims);
  check_float(op, "v", v, rank, dims);
  KILN_CHECK(k.shape() == v.shape(), op, ": expected k and v of the same shape, got k ",
             shape_str(k.shape()), " and v ", shape_str(v.shape()));
}

// A call on separate q, k, v tensors laid out as g says, into a new `out_shape` tensor. Saves
// q, k, v (their data, and their autograd state for grad_if_needed), the per-row log-sum-exp
// [B, H, Tq] or the weights (weights_to_keep), and the padding bias.
Tensor attend_separate(const Geometry& g, const Tensor& q, const Tensor& k, const Tensor& v,
                       const Shape& out_shape, const AttentionOptions& options) {
  std::vector<float> bias = padding_bias(options.key_padding_mask);
  const bool needs_grad = should_record({q, k, v});
  Tensor out = Tensor::empty(out_shape);
  const SavedWeights saved = needs_grad ? weights_to_keep(g) : SavedWeights();
  attention_forward(g, {q.data(), k.data(), v.data()}, bias, out.data(), data_or_null(saved.lse),
                    data_or_null(saved.weights));
  if (!needs_grad) return out;
  return record(
      "attention", out, {q, k, v}, [q, k, v, saved, bias = std::move(bias), g](const Tensor& dout) {
        const GradTarget dq = grad_target(q), dk = grad_target(k), dv = grad_target(v);
        attention_backward(g, {q.data(), k.data(), v.data()}, bias, data_or_null(saved.lse),
                           data_or_null(saved.weights), dout.data(),
                           {data_or_null(dq.grad), data_or_null(dk.grad), data_or_null(dv.grad),
                            !dq.accumulate, !dk.accumulate, !dv.accumulate});
      });
}

}  // namespace

bool attention_keeps_weights(int64_t Tq, int64_t Tk, int64_t D, bool causal) {
  Geometry g{};
  g.Tq = Tq, g.Tk = Tk, g.D = D, g.causal = causal;
  set_tiles(g);
  return keeps_weights(g);
}

// q: [B, H, Tq, D], k, v: [B, H, Tk, D] -> [B, H, Tq, D].
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 const AttentionOptions& options) {
  const char* op = "attention";
  check_separate(op, q, k, v, 4, "[B, H, T, D]");
  KILN_CHECK(k.dim(0) == q.dim(0) && k.dim(1) == q.dim(1) && k.dim(3) == q.dim(3), op,
             ": expected k, v [B, H, Tk, D] to match q ", shape_str(q.shape()),
             " in B, H and D, got ", shape_str(k.shape()));
  KILN_CHECK(q.dim(3) >= 1, op, ": expected a head dimension D >= 1, got q ", shape_str(q.shape()));
  Geometry g = describe(op, q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3), options);
  g.q = g.out = dense_heads(g.H, g.Tq, g.D);
  g.kv = dense_heads(g.H, g.Tk, g.D);
  return attend_separate(g, q, k, v, {g.B, g.H, g.Tq, g.D}, options);
}

// q: [B, Tq, d], k, v: [B, Tk, d], d = n_head D, the heads side by side in each row
// -> [B, Tq, d]. Reads and writes the heads where they lie.
Tensor attention_heads(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_head,
                       const AttentionOptions& options) {
  const char* op = "attention_heads";
  check_separate(op, q, k, v, 3, "[B, T, d]");
  KILN_CHECK(k.dim(0) == q.dim(0) && k.dim(2) == q.dim(2), op,
             ": expected k, v [B, Tk, d] to match q ", shape_str(q.shape()), " in B and d, got ",
             shape_str(k.shape()));
  const int64_t B = q.dim(0), Tq = q.dim(1), Tk = k.dim(1), d = q.dim(2);
  KILN_CHECK(n_head > 0 && d > 0 && d % n_head == 0, op,
             ": expected q, k, v [B, T, d] with d a multiple of n_head = ", n_head, ", got q ",
             shape_str(q.shape()));
  Geometry g = describe(op, B, n_head, Tq, Tk, d / n_head, options);
  g.q = g.out = HeadLayout{Tq * d, g.D, d};
  g.kv = HeadLayout{Tk * d, g.D, d};
  return attend_separate(g, q, k, v, {B, Tq, d}, options);
}

// qkv: [B, T, 3 d] (each row: the queries, then keys, then values of every head, head h at
// columns h D .. (h + 1) D of its part), d = n_head D -> [B, T, d], the heads side by side.
// Reads and writes the heads where they lie. Saves qkv, the log-sum-exp or the weights
// (weights_to_keep) and the padding bias.
Tensor attention_packed(const Tensor& qkv, int64_t n_head, const AttentionOptions& options) {
  const char* op = "attention_packed";
  check_float(op, "qkv", qkv, 3, "[B, T, 3 d]");
  KILN_CHECK(n_head > 0 && qkv.dim(2) % (3 * n_head) == 0 && qkv.dim(2) > 0, op,
             ": expected qkv [B, T, 3 d] with d a multiple of n_head = ", n_head, ", got ",
             shape_str(qkv.shape()));
  const int64_t B = qkv.dim(0), T = qkv.dim(1), d = qkv.dim(2) / 3, D = d / n_head;
  Geometry g = describe(op, B, n_head, T, T, D, options);
  g.q = g.kv = HeadLayout{T * 3 * d, D, 3 * d};
  g.out = HeadLayout{T * d, D, d};
  std::vector<float> bias = padding_bias(options.key_padding_mask);
  const bool needs_grad = should_record({qkv});
  Tensor out = Tensor::empty({B, T, d});
  const SavedWeights saved = needs_grad ? weights_to_keep(g) : SavedWeights();
  const auto parts = [d](const float* x) { return Operands{x, x + d, x + 2 * d}; };
  attention_forward(g, parts(qkv.data()), bias, out.data(), data_or_null(saved.lse),
                    data_or_null(saved.weights));
  if (!needs_grad) return out;
  return record("attention", out, {qkv},
                [qkv, saved, bias = std::move(bias), g, d, parts](const Tensor& dout) {
                  const GradTarget dqkv = grad_target(qkv);
                  if (!dqkv) return;
                  float* dx = dqkv.data();
                  const bool fresh = !dqkv.accumulate;
                  attention_backward(g, parts(qkv.data()), bias, data_or_null(saved.lse),
                                     data_or_null(saved.weights), dout.data(),
                                     {dx, dx + d, dx + 2 * d, fresh, fresh, fresh});
                });
}

}  // namespace kiln::ops
