// The optimizer's end of a training step on a parameter arena of bert-small's size (28.9M
// floats; 0.8M for gpt-char's): the gradient norm that clipping needs, and one AdamW update, as
// TrainStep runs them. Both stream arrays far larger than the caches, so the counters are GB/s
// of the arrays each must read and write.
#include <benchmark/benchmark.h>

#include <memory>

#include "autograd/tensor.h"
#include "autograd/threads.h"
#include "nn/adamw.h"
#include "nn/module.h"
#include "nn/parameter_arena.h"

namespace {

using kiln::Tensor;

// A model of one [n / 512, 512] weight (decayed) and a [512] bias (not), filled with small
// values, moved into an arena whose gradients hold small values too.
struct Arena {
  std::shared_ptr<kiln::nn::Container> model = std::make_shared<kiln::nn::Container>();
  std::unique_ptr<kiln::nn::ParameterArena> arena;
  explicit Arena(int64_t n) {
    model->add_parameter("weight", Tensor::full({n / 512, 512}, 0.01f));
    model->add_parameter("bias", Tensor::full({512}, 0.01f));
    arena = std::make_unique<kiln::nn::ParameterArena>(*model);
    fill_grads();
  }
  // Gradients of 1e-3, refilled before each update as a backward pass would write them (zeros
  // would decay the moments into subnormals).
  void fill_grads() const {
    const Tensor g = arena->grads();
    for (int64_t i = 0; i < g.numel(); ++i) g.data()[i] = 1e-3f;
  }
};

void rate(benchmark::State& state, double bytes) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes * double(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

// Arg: parameters. Reads every gradient once.
void BM_GradientNorm(benchmark::State& state) {
  Arena a(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(a.arena->grad_norm());
  rate(state, 4.0 * double(a.arena->size()));
}

// Arg: parameters. Reads parameters, gradients and both moments; writes the parameters and
// moments.
void BM_AdamWStep(benchmark::State& state) {
  Arena a(state.range(0));
  kiln::nn::AdamW adamw(*a.arena, kiln::nn::AdamWOptions{});
  for (auto _ : state) {
    state.PauseTiming();
    a.fill_grads();
    state.ResumeTiming();
    adamw.step(1e-4f, 0.5f);
  }
  rate(state, 28.0 * double(a.arena->size()));
}

}  // namespace

BENCHMARK(BM_GradientNorm)
    ->Arg(28862268)
    ->Arg(802816)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AdamWStep)->Arg(28862268)->Arg(802816)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
