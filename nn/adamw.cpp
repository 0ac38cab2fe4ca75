// The AdamW update as one parallel loop over the flat arena.
#include "nn/adamw.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "autograd/kernels.h"
#include "autograd/threads.h"
#include "base/error.h"

namespace kiln::nn {

AdamW::AdamW(const ParameterArena& arena, AdamWOptions options)
    : AdamW(arena, options, {0, arena.size()}) {}

namespace {

constexpr int64_t kPageBytes = 4096;

// The first index at or after `start` in `block` at which a moment array indexed from arena
// position `first` puts every position `shift_bytes` past that position's parameter within a
// 4 KB page.
int64_t page_shifted_start(const float* block, int64_t start, int64_t first, const float* params,
                           int64_t shift_bytes) {
  const auto address = [](const float* f) {
    return static_cast<int64_t>(reinterpret_cast<uintptr_t>(f));
  };
  const int64_t have = address(block + start) - first * 4;
  const int64_t want = address(params) + shift_bytes;
  return start + ((want - have) % kPageBytes + kPageBytes) % kPageBytes / 4;
}

}  // namespace

AdamW::AdamW(const ParameterArena& arena, AdamWOptions options, ArenaRange range)
    : arena_(arena), options_(options), range_(range) {
  KILN_CHECK(range.begin >= 0 && range.begin <= range.end && range.end <= arena.size(),
             "AdamW: expected a range within the arena's ", arena.size(), " elements, got [",
             range.begin, ", ", range.end, ")");
  // An arena of 1 MB or more starts its parameters and its gradients on pages (autograd/
  // allocator.cpp maps such blocks), and moments allocated the same way would put all four of
  // an element's streams (p, g, m, v) at one offset within a page: the update's loads then
  // wait on stores to other streams that look alike in their low 12 address bits (4K
  // aliasing). On the Xeon of the README the loop ran 25% faster warm with m and v 1 and 2 KB
  // past p (gradients moved too: no faster). The offsets come from the actual addresses, so a
  // small arena's moments sit the same way. Only where the moments sit changes, not a bit.
  const int64_t n = range.end - range.begin;
  const Tensor block = Tensor::zeros({2 * n + 2 * kPageBytes / 4});
  const float* params = arena.values().data();
  const int64_t m_start = page_shifted_start(block.data(), 0, range.begin, params, 1024);
  const int64_t v_start = page_shifted_start(block.data(), m_start + n, range.begin, params, 2048);
  m_ = block.rows_view(m_start, m_start + n);
  v_ = block.rows_view(v_start, v_start + n);
  KILN_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
             "AdamW: expected betas in [0, 1), got ", options.beta1, ", ", options.beta2);
  KILN_CHECK(options.eps > 0, "AdamW: expected eps > 0, got ", options.eps);
}

namespace {

// One AdamW update of elements [begin, end), each gradient read as g * grad_scale. A template
// on the decay so that the loop has no branch and vectorises (with the branch inside, GCC kept
// it scalar: a sqrt and a divide per element made the step compute-bound). Every operation is
// elementwise and exactly rounded, so vector and scalar lanes give the same bits.
template <bool kDecay>
void update(int64_t begin, int64_t end, float* p, const float* g, float* m, float* v,
            float grad_scale, float decay, float b1, float b2, float step_size,
            float sqrt_correction2, float eps) {
  // Runs of kRun elements, each first asking for its four streams' lines further ahead.
  constexpr int64_t kRun = 256;
  for (int64_t run = begin; run < end; run += kRun) {
    const int64_t run_end = std::min(end, run + kRun);
    const float* const streams[] = {p, g, m, v};
    for (int64_t i = run; i < run_end; i += kFloatsPerLine)
      for (const float* stream : streams) prefetch_stream(stream + i);
#pragma omp simd
    for (int64_t i = run; i < run_end; ++i) {
      const float gi = g[i] * grad_scale;
      float pi = p[i];
      if constexpr (kDecay) pi *= decay;  // decoupled: shrinks the weight, not the gradient
      const float mi = b1 * m[i] + (1 - b1) * gi;
      const float vi = b2 * v[i] + (1 - b2) * gi * gi;
      m[i] = mi, v[i] = vi;
      p[i] = pi - step_size * mi / (std::sqrt(vi) / sqrt_correction2 + eps);
    }
  }
}

}  // namespace

void AdamW::step(float lr, float grad_scale) {
  ++steps_taken_;
  const float b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps;
  // Bias corrections folded into the step size and the denominator, as in PyTorch.
  const double correction1 = 1.0 - std::pow(double(b1), double(steps_taken_));
  const double correction2 = 1.0 - std::pow(double(b2), double(steps_taken_));
  const float step_size = static_cast<float>(lr / correction1);
  const float sqrt_correction2 = static_cast<float>(std::sqrt(correction2));
  const float decay = 1.0f - lr * options_.weight_decay;
  const int64_t decayed = arena_.decayed_size(), first = range_.begin;
  float* p = arena_.values().data();
  const float* g = arena_.grads().data();
  float* m = m_.data() - first;  // indexed by arena position
  float* v = v_.data() - first;
  const int64_t last = std::min(range_.end, arena_.trainable_size());
  parallel_for(std::max<int64_t>(last - first, 0), 1 << 14, [&](int64_t begin, int64_t end) {
    begin += first, end += first;
    const int64_t split = std::clamp(decayed, begin, end);  // decayed elements come first
    update<true>(begin, split, p, g, m, v, grad_scale, decay, b1, b2, step_size, sqrt_correction2,
                 eps);
    update<false>(split, end, p, g, m, v, grad_scale, decay, b1, b2, step_size, sqrt_correction2,
                  eps);
  });
}

void AdamW::restore(const Tensor& m, const Tensor& v, int64_t steps_taken) {
  const bool whole = m.numel() == arena_.size() && v.numel() == arena_.size();
  KILN_CHECK(whole || (m.numel() == m_.numel() && v.numel() == v_.numel()),
             "AdamW::restore: expected moments of ", arena_.size(), " or ", m_.numel(),
             " elements, got ", m.numel(), " and ", v.numel());
  const int64_t offset = whole ? range_.begin : 0;
  std::memcpy(m_.data(), m.data() + offset, static_cast<std::size_t>(m_.numel()) * 4);
  std::memcpy(v_.data(), v.data() + offset, static_cast<std::size_t>(v_.numel()) * 4);
  steps_taken_ = steps_taken;
}

}  // namespace kiln::nn
