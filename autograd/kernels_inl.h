// Template and inline bodies for autograd/kernels.h (kept apart so the contracts read cleanly).
#pragma once

#include <algorithm>
#include <limits>

#include "autograd/threads.h"

namespace kiln {

template <int kLanes, TailOrder kTail, typename Lane, typename Total, typename Term, typename Op>
Total lane_reduce(int64_t n, Lane init, Term term, Op op) {
  Lane lane[kLanes];
  std::fill_n(lane, kLanes, init);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] = op(lane[l], term(j + l));
  Total total = init;
  if constexpr (kTail == TailOrder::kBeforeLanes)
    for (int64_t t = j; t < n; ++t) total = op(total, static_cast<Total>(term(t)));
  for (int l = 0; l < kLanes; ++l) total = op(total, static_cast<Total>(lane[l]));
  if constexpr (kTail == TailOrder::kAfterLanes)
    for (int64_t t = j; t < n; ++t) total = op(total, static_cast<Total>(term(t)));
  return total;
}

namespace detail {
// x when it exceeds acc, else acc: a NaN term never wins, so NaNs are skipped.
inline float max_op(float acc, float x) {
  return x > acc ? x : acc;
}
}  // namespace detail

inline float lane_max(const float* x, int64_t n) {
  return lane_reduce<8, TailOrder::kBeforeLanes>(
      n, -std::numeric_limits<float>::infinity(), [x](int64_t j) { return x[j]; }, detail::max_op);
}

inline float lane_sum(const float* x, int64_t n) {
  return lane_reduce<8, TailOrder::kBeforeLanes>(
      n, 0.0f, [x](int64_t j) { return x[j]; }, [](float s, float v) { return s + v; });
}

inline double lane_sum_f64(const float* x, int64_t n) {
  return lane_reduce<8, TailOrder::kBeforeLanes>(
      n, 0.0, [x](int64_t j) { return static_cast<double>(x[j]); },
      [](double s, double v) { return s + v; });
}

inline float lane_dot(const float* a, const float* b, int64_t n) {
  return lane_reduce<8, TailOrder::kBeforeLanes>(
      n, 0.0f, [a, b](int64_t j) { return a[j] * b[j]; }, [](float s, float v) { return s + v; });
}

template <bool kAccumulate, typename F>
void apply_broadcast(const BroadcastPlan& p, const float* a, const float* b, float* c, F f) {
  const int nd = static_cast<int>(p.sizes.size());
  const int64_t inner = p.sizes.back(), sa = p.sa.back(), sb = p.sb.back();
  int64_t total = 1;
  for (int64_t s : p.sizes) total *= s;
  parallel_for(total, kMinElementsPerThread, [&](int64_t begin, int64_t end) {
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

// One thread's share [b, e) of map_elements and add_times_derivative.
template <typename F>
KILN_WIDE_VECTORS void map_range(const float* in, float* out, int64_t b, int64_t e, F f) {
#pragma omp simd
  for (int64_t i = b; i < e; ++i) out[i] = f(in[i]);
}
template <typename DF>
KILN_WIDE_VECTORS void times_derivative_range(float* acc, const float* g, const float* x, int64_t b,
                                              int64_t e, DF df, bool accumulate) {
  if (accumulate) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) acc[i] += g[i] * df(x[i]);
  } else {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) acc[i] = g[i] * df(x[i]);
  }
}

template <typename F>
void map_elements(const float* in, float* out, int64_t n, F f) {
  parallel_for(n, kMinElementsPerThread,
               [&](int64_t b, int64_t e) { map_range(in, out, b, e, f); });
}

template <typename DF>
void add_times_derivative(float* acc, const float* g, const float* x, int64_t n, DF df,
                          bool accumulate) {
  parallel_for(n, kMinElementsPerThread, [&](int64_t b, int64_t e) {
    times_derivative_range(acc, g, x, b, e, df, accumulate);
  });
}

}  // namespace kiln
