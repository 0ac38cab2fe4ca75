// Benchmarks for the fused attention op (forward, forward + backward) and for the per-head GEMM
// shapes it runs, which decide between OpenBLAS and oneDNN's sgemm inside the parallel region.
#include <benchmark/benchmark.h>

#include "autograd/backend/blas.h"
#include "autograd/backend/dnnl.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/rng.h"

namespace {

using kiln::Tensor;

Tensor random_tensor(const kiln::Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 2 * kiln::random_uniform(seed, i) - 1;
  return t;
}

// FLOP convention: the dense count of the matmuls, whatever the mask. Forward is Q K^T and P V,
// 2 * 2 * B * H * Tq * Tk * D = 4 BHTTD; backward adds dV, dP, dQ and dK (8 BHTTD) plus the
// recomputed Q K^T (2 BHTTD), so forward + backward counts 14 BHTTD. Causal runs skip 3/8 of
// that work (T = 256, 64-row tiles), so their GFLOP/s reads as "dense-equivalent".
double attention_flops(const benchmark::State& state, double per_bhttd) {
  const double B = state.range(0), H = state.range(1), T = state.range(2), D = state.range(3);
  return per_bhttd * B * H * T * T * D;
}

void set_counters(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
}

// Args: B, H, T, D, threads, causal. Self-attention with the default scale.
void BM_AttentionForward(benchmark::State& state) {
  kiln::set_num_threads(static_cast<int>(state.range(4)));
  const int64_t B = state.range(0), H = state.range(1), T = state.range(2), D = state.range(3);
  Tensor q = random_tensor({B, H, T, D}, 1), k = random_tensor({B, H, T, D}, 2),
         v = random_tensor({B, H, T, D}, 3);
  kiln::ops::AttentionOptions options;
  options.causal = state.range(5) != 0;
  for (auto _ : state) benchmark::DoNotOptimize(kiln::ops::attention(q, k, v, options).data());
  set_counters(state, attention_flops(state, 4));
}

void BM_AttentionForwardBackward(benchmark::State& state) {
  kiln::set_num_threads(static_cast<int>(state.range(4)));
  const int64_t B = state.range(0), H = state.range(1), T = state.range(2), D = state.range(3);
  Tensor q = random_tensor({B, H, T, D}, 1).set_requires_grad(true);
  Tensor k = random_tensor({B, H, T, D}, 2).set_requires_grad(true);
  Tensor v = random_tensor({B, H, T, D}, 3).set_requires_grad(true);
  Tensor seed = random_tensor({B, H, T, D}, 4);
  kiln::ops::AttentionOptions options;
  options.causal = state.range(5) != 0;
  for (auto _ : state) {
    Tensor out = kiln::ops::attention(q, k, v, options);
    kiln::backward(out, seed);  // gradients keep accumulating: same cost as after a zeroing
    benchmark::DoNotOptimize(q.grad().data());
  }
  set_counters(state, attention_flops(state, 14));
}

// GPT's form: one [B, T, 3 d] projection read where its heads lie (rows 3 d apart) and a
// [B, T, d] output, the gradient arriving into a fresh [B, T, 3 d] buffer as in a training step.
void BM_AttentionPackedForwardBackward(benchmark::State& state) {
  kiln::set_num_threads(static_cast<int>(state.range(4)));
  const int64_t B = state.range(0), H = state.range(1), T = state.range(2), D = state.range(3);
  Tensor seed = random_tensor({B, T, H * D}, 4);
  kiln::ops::AttentionOptions options;
  options.causal = state.range(5) != 0;
  for (auto _ : state) {
    state.PauseTiming();
    Tensor qkv = random_tensor({B, T, 3 * H * D}, 1).set_requires_grad(true);
    state.ResumeTiming();
    Tensor out = kiln::ops::attention_packed(qkv, H, options);
    kiln::backward(out, seed);
    benchmark::DoNotOptimize(qkv.grad().data());
  }
  set_counters(state, attention_flops(state, 14));
}

// kiln's default is every core (2 here); the one-thread run shows the scaling.
void attention_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "H", "T", "D", "threads", "causal"});
  b->Args({8, 6, 256, 64, 2, 1})->Args({4, 12, 256, 64, 2, 1})->Args({8, 6, 256, 64, 1, 1});
  b->Args({8, 8, 128, 64, 2, 0});  // bert-small's
  b->Args({12, 4, 64, 32, 2, 1});  // gpt-char's
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
}
BENCHMARK(BM_AttentionForward)->Apply(attention_shapes);
BENCHMARK(BM_AttentionForwardBackward)->Apply(attention_shapes);
BENCHMARK(BM_AttentionPackedForwardBackward)->Apply(attention_shapes);

// The op's GEMMs each run on one thread (inside parallel_for), so compare the backends on one
// thread, timed by CPU time, which shared cores disturb least. Args: M, N, K, trans_a, trans_b,
// backend (0 = OpenBLAS, 1 = oneDNN). Whole-head forms (T = 256, D = 64) first: S = Q K^T is
// 256x256x64 with B transposed, O = P V is 256x64x256; then one 64-row tile of each, and the
// backward's dK, dV += X^T Y (A transposed).
void BM_HeadGemm(benchmark::State& state) {
  kiln::set_num_threads(1);
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const bool trans_a = state.range(3) != 0, trans_b = state.range(4) != 0;
  auto gemm = state.range(5) != 0 ? kiln::backend::dnnl_gemm : kiln::backend::blas_gemm;
  Tensor a = random_tensor({M, K}, 10), b = random_tensor({K, N}, 20), c = Tensor::zeros({M, N});
  for (auto _ : state)
    gemm(trans_a, trans_b, M, N, K, 1.0f, a.data(), trans_a ? M : K, b.data(), trans_b ? K : N,
         0.0f, c.data(), N);
  set_counters(state, 2.0 * M * N * K);
  kiln::set_num_threads(2);
}
BENCHMARK(BM_HeadGemm)
    ->ArgNames({"M", "N", "K", "tA", "tB", "dnnl"})
    ->ArgsProduct({{256}, {256}, {64}, {0}, {1}, {0, 1}})
    ->ArgsProduct({{256}, {64}, {256}, {0}, {0}, {0, 1}})
    ->ArgsProduct({{64}, {256}, {64}, {0}, {1}, {0, 1}})
    ->ArgsProduct({{64}, {64}, {256}, {0}, {0}, {0, 1}})
    ->ArgsProduct({{256}, {64}, {64}, {1}, {0}, {0, 1}})
    // gpt-char's heads (T = 64, D = 32): scores and dP, the weighted sum and dQ, dV and dK.
    ->ArgsProduct({{64}, {64}, {32}, {0}, {1}, {0, 1}})
    ->ArgsProduct({{64}, {32}, {64}, {0}, {0}, {0, 1}})
    ->ArgsProduct({{64}, {32}, {64}, {1}, {0}, {0, 1}})
    ->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
