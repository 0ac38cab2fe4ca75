// Loops that many ops share: accumulation (add_into), the fixed-order lane reductions behind
// every row sum, max and dot product, and the broadcasting machinery of the elementwise ops
// (a broadcast plan, the loop over it, and deterministic reductions over stretched dims).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "autograd/tensor.h"

namespace kiln {

// Elements per thread below which a parallel loop costs more than it saves.
inline constexpr int64_t kMinElementsPerThread = 1 << 14;
// The same for a loop over rows of `cols` floats: the rows a thread should take at least.
inline int64_t min_rows_per_thread(int64_t cols) {
  return std::max<int64_t>(1, kMinElementsPerThread / std::max<int64_t>(cols, 1));
}

// For a function whose loop is compute-bound math on long arrays: the elementwise activations
// (GELU's gates), cross-entropy's rows (exp), the gradient norm and the bias gradients' column
// sums (float to double). GCC's
// -march=native keeps to 256-bit vectors on AVX-512 CPUs, which suits most loops; these gain
// from 512 bits. Measured on 2 threads of a Xeon with AVX-512: ops_bench's GELU forward +
// backward 3.6 -> 3.1 ms; gpt-mini's LM head outside its GEMMs 6.0-6.9 -> 5.6-5.7 ms a step;
// but attention's softmax rows 5-10% slower, layer norm's short rows 35% slower (all of kiln at
// 512 bits) and AdamW no faster (memory bounds it), so those stay at 256. No effect on CPUs
// without AVX-512. Each lane computes what it did before, so results do not change (30-step
// gpt-char and 20-step bert-mini runs give the same checkpoints to the bit). noinline: GCC
// inlines such a function into its caller and then vectorises it with the caller's width; a
// lambda takes no target attribute.
// Clang (the fuzz build) has no such target option.
#if defined(__GNUC__) && !defined(__clang__)
#define KILN_WIDE_VECTORS __attribute__((target("prefer-vector-width=512"), noinline))
#else
#define KILN_WIDE_VECTORS
#endif

// ---- streaming ---------------------------------------------------------------------------

// Loops that stream arrays far larger than the caches (AdamW, the gradient norm) ask for the
// cache line kStreamAhead floats (2 KB) ahead of the one they are on: the hardware prefetcher
// alone left a core waiting on memory. Measured over bert-small's 28.9M parameters on 2 threads
// of a Xeon with AVX-512, standalone: the sum of squares 3.7-3.9 -> 2.5 ms, AdamW 17-18 -> 15.3-
// 15.9 ms (further ahead, 8 KB, gained less). A prefetch never faults and changes no result.
inline constexpr int64_t kStreamAhead = 512;
inline void prefetch_stream(const float* p) {
  __builtin_prefetch(p + kStreamAhead, 0, 3);
}
// Floats in a cache line: a loop calls prefetch_stream once per line.
inline constexpr int64_t kFloatsPerLine = 16;

// ---- accumulation -------------------------------------------------------------------------

// dst += src, elementwise; shapes must hold the same number of elements.
void add_into(const Tensor& dst, const Tensor& src);
// dst += alpha * src.
void add_scaled_into(const Tensor& dst, const Tensor& src, float alpha);
// Raw forms over n floats; with accumulate false they write dst = src (or alpha * src).
void add_into(float* dst, const float* src, int64_t n, bool accumulate = true);
void add_scaled_into(float* dst, const float* src, float alpha, int64_t n, bool accumulate = true);

// db[j] += sum over the rows of dy[r, j], dy: [rows, cols] (a bias gradient). Each column is
// summed in row order in double, so the result is the same for any thread count.
void add_column_sums(float* db, const float* dy, int64_t rows, int64_t cols);

// ---- fixed-order lane reductions ----------------------------------------------------------
// Term j of the whole groups of kLanes goes to lane j % kLanes (independent accumulators, so
// the loop vectorises without -ffast-math); the lanes, in lane order, and the remaining terms
// are then folded into one total. The order depends only on n, never on threads.

// Whether the remaining n % kLanes terms join the total before or after the lanes.
enum class TailOrder { kBeforeLanes, kAfterLanes };

// op(...op(op(init, t_a), t_b)...) over term(0..n-1) in the order above; lanes add in Lane,
// the total in Total. init must be op's identity (0 for +, -inf for max).
template <int kLanes, TailOrder kTail, typename Lane, typename Total = Lane, typename Term,
          typename Op>
Total lane_reduce(int64_t n, Lane init, Term term, Op op);

// 8-lane forms, inline for the ops' row loops. Max of x[0..n): -inf when n == 0, NaNs skipped.
inline float lane_max(const float* x, int64_t n);
// Sum of x[0..n) in float, and in double.
inline float lane_sum(const float* x, int64_t n);
inline double lane_sum_f64(const float* x, int64_t n);
// Sum of a[j] * b[j] over [0, n), in float.
inline float lane_dot(const float* a, const float* b, int64_t n);

// ---- broadcasting -------------------------------------------------------------------------

// Size of dim d of `in` when aligned at the right against a rank-`rank` shape (1 if missing).
int64_t aligned_dim(const Shape& in, std::size_t rank, std::size_t d);
// NumPy broadcast of two shapes, or an error naming `op` and both shapes.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);

// How two inputs step through an output, with size-1 dims dropped and neighbouring dims merged
// where both inputs walk them as one (both contiguous or both stretched), so that equal shapes
// become one long run and the bias case [R, C] + [C] becomes R runs of C.
struct BroadcastPlan {
  std::vector<int64_t> sizes, sa,
      sb;  // per merged dim: size and each input's stride (0 = stretched)
};
// The plan for inputs of shapes a and b that broadcast to `out`.
BroadcastPlan make_broadcast_plan(const Shape& out, const Shape& a, const Shape& b);

// c[i] = f(a[...], b[...]) over the plan's output (c contiguous); c[i] += ... when kAccumulate.
// Parallel over fixed chunks of the flat output; each chunk walks contiguous inner runs.
template <bool kAccumulate, typename F>
void apply_broadcast(const BroadcastPlan& p, const float* a, const float* b, float* c, F f);

// out[i] = f(in[i]) for i < n, over the team, in wide vectors (KILN_WIDE_VECTORS): an
// elementwise function such as an activation, inlined.
template <typename F>
void map_elements(const float* in, float* out, int64_t n, F f);

// acc[i] += g[i] * df(x[i]) for i < n, over the team: the chain rule through an elementwise
// function whose derivative df is inlined, in one pass.
// With accumulate false, acc[i] = g[i] * df(x[i]) (acc need not be initialised).
template <typename DF>
void add_times_derivative(float* acc, const float* g, const float* x, int64_t n, DF df,
                          bool accumulate = true);

// Sum of n floats in double: fixed 8192-element blocks summed in parallel, then in order, so
// the result is bit-identical for any thread count.
double sum_blocks(const float* x, int64_t n);

// dst = scale * (src summed over the dims of `shape` where kept[d] is false), or dst += that
// when `accumulate`. src is contiguous with `shape`; dst is contiguous over the kept dims.
// Each dst element is one thread's sum, in double and in a fixed order: deterministic.
void reduce_into(float* dst, const float* src, const Shape& shape, const std::vector<bool>& kept,
                 float scale, bool accumulate);
// Which dims of `out` a gradient for `in` (aligned right) keeps: those `in` does not stretch.
std::vector<bool> kept_dims(const Shape& in, const Shape& out);
// g += scale * dy summed down to g's shape (g's shape broadcasts to dy's); g = that when not
// accumulate.
void add_reduced(const Tensor& g, const Tensor& dy, float scale, bool accumulate = true);

}  // namespace kiln

#include "autograd/kernels_inl.h"
