// The peak rate of one core's multiply-add instruction for each precision: fp32 FMA (vfmadd on
// 16 lanes) against the bf16 dot product (vdpbf16ps: 32 pairs into 16 fp32 lanes), each as 12
// independent accumulator chains so that throughput, not latency, bounds it. Whether bf16 can
// pay on a CPU is decided here, before any GEMM: where the dot product's GFLOP/s is not above
// the FMA's (an Intel CPU with AVX512_BF16 but no AMX), bf16 GEMMs cannot beat fp32 ones.
#include <benchmark/benchmark.h>
#include <immintrin.h>

namespace {

constexpr int kChains = 12;

__attribute__((target("avx512f"))) void BM_Fp32Fma(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512f")) return state.SkipWithError("no AVX-512F on this CPU");
  __m512 acc[kChains];
  for (__m512& a : acc) a = _mm512_setzero_ps();
  const __m512 x = _mm512_set1_ps(1e-7f), y = _mm512_set1_ps(1.0f);
  constexpr int64_t kSteps = 1 << 16;
  for (auto _ : state) {
    for (int64_t i = 0; i < kSteps; ++i)
#pragma GCC unroll 12
      for (__m512& a : acc) a = _mm512_fmadd_ps(x, y, a);
    for (__m512& a : acc) benchmark::DoNotOptimize(a);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      double(state.iterations()) * kSteps * kChains * 32 * 1e-9, benchmark::Counter::kIsRate);
}

__attribute__((target("avx512f,avx512bf16"))) void BM_Bf16Dot(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512bf16"))
    return state.SkipWithError("no AVX512_BF16 on this CPU");
  __m512 acc[kChains];
  for (__m512& a : acc) a = _mm512_setzero_ps();
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80);  // bf16 1.0
  constexpr int64_t kSteps = 1 << 16;
  for (auto _ : state) {
    for (int64_t i = 0; i < kSteps; ++i)
#pragma GCC unroll 12
      for (__m512& a : acc) a = _mm512_dpbf16_ps(a, x, x);
    for (__m512& a : acc) benchmark::DoNotOptimize(a);
  }
  // 32 products and 32 additions into 16 lanes an instruction.
  state.counters["GFLOP/s"] = benchmark::Counter(
      double(state.iterations()) * kSteps * kChains * 64 * 1e-9, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_Fp32Fma)->UseRealTime();
BENCHMARK(BM_Bf16Dot)->UseRealTime();
BENCHMARK_MAIN();
