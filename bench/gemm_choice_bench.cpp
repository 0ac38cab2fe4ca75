// Measures oneDNN's sgemm against OpenBLAS on the GEMM shapes a Transformer step runs, on one
// thread and across kiln's team, and a linear layer's forward with its bias pre-filled or fused:
// the evidence behind the dispatch rules in autograd/gemm.cpp.
// Run briefly on a quiet machine: gemm_choice_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "autograd/backend/blas.h"
#include "autograd/backend/dnnl.h"
#include "autograd/gemm.h"
#include "autograd/threads.h"

namespace {

using kiln::GemmBackend;

enum Op : int64_t { kNN, kNT, kTN };  // transposes of (A, B); NT = dX, TN = dW in backward

// Operands for one problem, filled with small values so no denormals or overflow appear.
struct Problem {
  int64_t m, n, k;
  bool ta, tb;
  std::vector<float> a, b, c;

  Problem(int64_t m_, int64_t n_, int64_t k_, int64_t op)
      : m(m_), n(n_), k(k_), ta(op == kTN), tb(op == kNT), a(m_ * k_), b(k_ * n_), c(m_ * n_) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) * 0.01f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) * 0.01f;
  }
  int64_t lda() const { return ta ? m : k; }
  int64_t ldb() const { return tb ? k : n; }

  // Rows [m0, m1) of C on the calling thread with `backend`.
  void rows(GemmBackend backend, int64_t m0, int64_t m1) {
    // The raw backends, not kiln::gemm: these numbers are what its rules are built on.
    auto call = backend == GemmBackend::kDnnl ? kiln::backend::dnnl_gemm : kiln::backend::blas_gemm;
    const float* a0 = ta ? a.data() + m0 : a.data() + m0 * lda();
    call(ta, tb, m1 - m0, n, k, 1.0f, a0, lda(), b.data(), ldb(), 0.0f, c.data() + m0 * n, n);
  }
};

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOPS"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// One GEMM per iteration. team == false: one thread. team == true: oneDNN threads itself over
// the OpenMP team; OpenBLAS (pinned to one thread) gets one block of M rows per team thread.
template <GemmBackend kBackend, bool kTeam>
void BM_Gemm(benchmark::State& state) {
  Problem p(state.range(0), state.range(1), state.range(2), state.range(3));
  int team = kiln::num_threads();
  if (!kTeam) kiln::set_num_threads(1);
  for (auto _ : state) {
    if (kBackend == GemmBackend::kDnnl || !kTeam) {
      p.rows(kBackend, 0, p.m);
    } else {
      kiln::parallel_for(p.m, 1, [&](int64_t m0, int64_t m1) { p.rows(kBackend, m0, m1); });
    }
    benchmark::DoNotOptimize(p.c.data());
  }
  kiln::set_num_threads(team);
  set_flops(state, 2.0 * p.m * p.n * p.k);
}

// Per-head attention GEMMs as kiln runs them: a batch of `heads` independent products split
// over the team, each thread calling the backend sequentially (inside the parallel region).
template <GemmBackend kBackend>
void BM_Heads(benchmark::State& state) {
  int64_t heads = state.range(4);
  std::vector<Problem> ps;
  for (int64_t h = 0; h < heads; ++h)
    ps.emplace_back(state.range(0), state.range(1), state.range(2), state.range(3));
  for (auto _ : state) {
    kiln::parallel_for(heads, 1, [&](int64_t h0, int64_t h1) {
      for (int64_t h = h0; h < h1; ++h) ps[h].rows(kBackend, 0, ps[h].m);
    });
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * heads * ps[0].m * ps[0].n * ps[0].k);
}

// A linear layer's forward, C = A op(B) + bias (+ R when state.range(4)), over the team with the
// operands pushed out of L2 before each call, as in a training step: kFused runs oneDNN's matmul
// with the bias and residual in its epilogue, otherwise C is first filled with bias + R and
// sgemm adds the product (beta 1). The evidence behind fuse_linear_epilogue.
template <bool kFused>
void BM_LinearForward(benchmark::State& state) {
  Problem p(state.range(0), state.range(1), state.range(2), state.range(3));
  const bool with_residual = state.range(4) != 0;
  std::vector<float> bias(p.n, 0.01f), residual(with_residual ? p.m * p.n : 0, 0.02f);
  std::vector<float> evict(std::size_t{16} << 20);  // 64 MB
  for (auto _ : state) {
    state.PauseTiming();
    for (std::size_t i = 0; i < evict.size(); i += 16) evict[i] += 1.0f;
    state.ResumeTiming();
    const float* r = with_residual ? residual.data() : nullptr;
    if (kFused) {
      kiln::backend::dnnl_matmul_f32(p.tb, p.m, p.n, p.k, p.a.data(), p.b.data(), bias.data(), r,
                                     p.c.data());
    } else {
      kiln::parallel_for(p.m, 64, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i)
          for (int64_t j = 0; j < p.n; ++j)
            p.c[i * p.n + j] = bias[j] + (r ? r[i * p.n + j] : 0.0f);
      });
      kiln::backend::dnnl_gemm(false, p.tb, p.m, p.n, p.k, 1.0f, p.a.data(), p.k, p.b.data(),
                               p.ldb(), 1.0f, p.c.data(), p.n);
    }
    benchmark::DoNotOptimize(p.c.data());
  }
  set_flops(state, 2.0 * p.m * p.n * p.k);
}

// BERT's projections (B transposed, weights [out, in]) and GPT-2's (Conv1D, [in, out]), with
// the residual where the models add one.
void linear_forwards(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "op", "residual"});
  const int64_t shapes[][5] = {
      {1024, 512, 512, kNT, 0},  {1024, 512, 512, kNT, 1},  {1024, 2048, 512, kNT, 0},
      {1024, 512, 2048, kNT, 1}, {2048, 1152, 384, kNN, 0}, {2048, 384, 384, kNN, 1},
      {2048, 1536, 384, kNN, 0}, {2048, 384, 1536, kNN, 1},
  };
  for (const auto& s : shapes) b->Args({s[0], s[1], s[2], s[3], s[4]});
}

// Transformer projections, M = batch * seq = 2048 (d = 384 and d = 768 models).
void projections(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "op"});
  const int64_t shapes[][4] = {
      {2048, 1152, 384, kNN}, {2048, 1536, 384, kNN}, {2048, 384, 1536, kNN},
      {2048, 384, 1536, kNT}, {2048, 384, 1152, kNT}, {384, 1536, 2048, kTN},
      {2048, 2304, 768, kNN}, {2048, 3072, 768, kNN}, {2048, 768, 3072, kNN},
      {2048, 768, 3072, kNT}, {768, 3072, 2048, kTN}, {768, 2304, 2048, kTN},
  };
  for (const auto& s : shapes) b->Args({s[0], s[1], s[2], s[3]});
}

// Weight gradients (TN, C = X^T dY or dY^T X) of the benchmarked models whose C is not a power of
// two wide, tall ones first: GPT-2's MLP output projection and LM head at d 384 (gpt-mini) and
// 768 (gpt2-124m, 1024 rows), then the short ones.
void weight_gradients(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "op"});
  const int64_t shapes[][3] = {
      {1536, 384, 2048}, {8192, 384, 2048}, {3072, 768, 1024}, {50257, 768, 1024},
      {384, 1536, 2048}, {384, 1152, 2048}, {768, 3072, 1024}, {768, 2304, 1024},
  };
  for (const auto& s : shapes) b->Args({s[0], s[1], s[2], kTN});
}

// Small squares: where waking the team stops paying for itself.
void small(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "op"});
  for (int64_t s : {8, 16, 32, 48, 64, 96, 128, 192, 256}) b->Args({s, s, s, kNN});
}

// One attention head at T = 256, head_dim = 64: scores Q K^T (NT), P V (NN), and backward's
// dV = P^T dO (TN); single-threaded.
void head(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "op"});
  b->Args({256, 256, 64, kNT})->Args({256, 64, 256, kNN})->Args({256, 64, 256, kTN});
}

void heads(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "op", "heads"});
  b->Args({256, 256, 64, kNT, 48})->Args({256, 64, 256, kNN, 48});
}

// Named wrappers so the report reads "BlasOneThread/M:2048/..." rather than template syntax.
void BlasOneThread(benchmark::State& s) {
  BM_Gemm<GemmBackend::kBlas, false>(s);
}
void DnnlOneThread(benchmark::State& s) {
  BM_Gemm<GemmBackend::kDnnl, false>(s);
}
void BlasTeam(benchmark::State& s) {
  BM_Gemm<GemmBackend::kBlas, true>(s);
}
void DnnlTeam(benchmark::State& s) {
  BM_Gemm<GemmBackend::kDnnl, true>(s);
}
void PrefilledLinear(benchmark::State& s) {
  BM_LinearForward<false>(s);
}
void FusedLinear(benchmark::State& s) {
  BM_LinearForward<true>(s);
}
void BlasHeads(benchmark::State& s) {
  BM_Heads<GemmBackend::kBlas>(s);
}
void DnnlHeads(benchmark::State& s) {
  BM_Heads<GemmBackend::kDnnl>(s);
}

BENCHMARK(BlasOneThread)->Apply(projections)->UseRealTime();
BENCHMARK(DnnlOneThread)->Apply(projections)->UseRealTime();
BENCHMARK(BlasTeam)->Apply(projections)->UseRealTime();
BENCHMARK(DnnlTeam)->Apply(projections)->UseRealTime();
BENCHMARK(BlasTeam)->Apply(weight_gradients)->UseRealTime();
BENCHMARK(DnnlTeam)->Apply(weight_gradients)->UseRealTime();
BENCHMARK(BlasOneThread)->Apply(head)->UseRealTime();
BENCHMARK(DnnlOneThread)->Apply(head)->UseRealTime();
BENCHMARK(BlasHeads)->Apply(heads)->UseRealTime();
BENCHMARK(DnnlHeads)->Apply(heads)->UseRealTime();
BENCHMARK(BlasOneThread)->Apply(small)->UseRealTime();
BENCHMARK(DnnlOneThread)->Apply(small)->UseRealTime();
BENCHMARK(DnnlTeam)->Apply(small)->UseRealTime();
BENCHMARK(PrefilledLinear)->Apply(linear_forwards)->UseRealTime();
BENCHMARK(FusedLinear)->Apply(linear_forwards)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
