// Benchmarks for the ops a Transformer step spends its time in, at Transformer shapes
// (tokens = 2048, d = 384 and 768): linear forward + backward, layer norm forward +
// backward, and fused cross-entropy. GFLOP/s counters use the dense matmul FLOPs; layer
// norm and cross-entropy report GB/s of the tensors they must read and write instead.
#include <benchmark/benchmark.h>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/rng.h"

namespace {

using kiln::Tensor;

Tensor random_tensor(const kiln::Shape& shape, uint64_t seed, float scale = 1.0f) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data()[i] = scale * (2 * kiln::random_uniform(seed, i) - 1);
  return t;
}

void rate(benchmark::State& state, const char* name, double per_iteration) {
  state.counters[name] =
      benchmark::Counter(per_iteration * state.iterations(), benchmark::Counter::kIsRate);
}

// Args: M (tokens), N (out), K (in). y = x W + b in GPT-2's [in, out] layout, then backward
// into x, W and b: 3 GEMMs of 2MNK FLOPs each.
void BM_LinearForwardBackward(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  Tensor x = random_tensor({M, K}, 1).set_requires_grad(true);
  Tensor w = random_tensor({K, N}, 2, 0.02f).set_requires_grad(true);
  Tensor b = random_tensor({N}, 3).set_requires_grad(true);
  Tensor dy = random_tensor({M, N}, 4);
  for (auto _ : state) {
    Tensor y = kiln::ops::linear(x, w, b, kiln::ops::WeightLayout::kInOut);
    kiln::backward(y, dy);
    benchmark::DoNotOptimize(w.grad().data());
  }
  rate(state, "GFLOP/s", 6.0 * M * N * K * 1e-9);
}

void BM_LinearForward(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  Tensor x = random_tensor({M, K}, 1), w = random_tensor({K, N}, 2, 0.02f),
         b = random_tensor({N}, 3);
  for (auto _ : state)
    benchmark::DoNotOptimize(kiln::ops::linear(x, w, b, kiln::ops::WeightLayout::kInOut).data());
  rate(state, "GFLOP/s", 2.0 * M * N * K * 1e-9);
}

// Args: rows, channels. Forward reads x and writes y; backward reads x, dy and writes dx.
void BM_LayerNormForwardBackward(benchmark::State& state) {
  const int64_t rows = state.range(0), C = state.range(1);
  Tensor x = random_tensor({rows, C}, 1).set_requires_grad(true);
  Tensor gamma = random_tensor({C}, 2).set_requires_grad(true),
         beta = random_tensor({C}, 3).set_requires_grad(true);
  Tensor dy = random_tensor({rows, C}, 4);
  for (auto _ : state) {
    Tensor y = kiln::ops::layer_norm(x, gamma, beta, 1e-5f);
    kiln::backward(y, dy);
    benchmark::DoNotOptimize(x.grad().data());
  }
  rate(state, "GB/s", 5.0 * rows * C * 4 * 1e-9);
}

// Args: rows, classes. Forward reads the logits once; backward writes their gradient.
void BM_CrossEntropyForwardBackward(benchmark::State& state) {
  const int64_t rows = state.range(0), C = state.range(1);
  Tensor logits = random_tensor({rows, C}, 1, 4.0f).set_requires_grad(true);
  std::vector<int32_t> t(static_cast<std::size_t>(rows));
  for (int64_t i = 0; i < rows; ++i)
    t[static_cast<std::size_t>(i)] = static_cast<int32_t>(kiln::random_bits(5, i) % C);
  Tensor targets = Tensor::from_ints({rows}, t);
  for (auto _ : state) {
    kiln::backward(kiln::ops::cross_entropy(logits, targets));
    benchmark::DoNotOptimize(logits.grad().data());
  }
  rate(state, "GB/s", 3.0 * rows * C * 4 * 1e-9);
}

void BM_GeluTanhForwardBackward(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor x = random_tensor({n}, 1, 3.0f).set_requires_grad(true);
  Tensor dy = random_tensor({n}, 2);
  for (auto _ : state) {
    kiln::backward(kiln::ops::gelu(x, kiln::ops::GeluForm::kTanh), dy);
    benchmark::DoNotOptimize(x.grad().data());
  }
  rate(state, "GB/s", 4.0 * n * 4 * 1e-9);
}

}  // namespace

BENCHMARK(BM_LinearForwardBackward)
    ->Args({2048, 1536, 384})
    ->Args({2048, 1152, 384})
    ->Args({2048, 384, 1536})
    ->Args({2048, 3072, 768})
    ->Args({2048, 768, 3072})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LinearForward)
    ->Args({2048, 1536, 384})
    ->Args({2048, 3072, 768})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LayerNormForwardBackward)
    ->Args({768, 128})
    ->Args({2048, 384})
    ->Args({2048, 768})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_CrossEntropyForwardBackward)
    ->Args({2048, 65})
    ->Args({2048, 8192})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GeluTanhForwardBackward)
    ->Arg(768 * 512)
    ->Arg(2048 * 1536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_MAIN();
