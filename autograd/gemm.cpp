// GEMM dispatch between oneDNN's sgemm and single-threaded OpenBLAS, a linear layer's forward
// (its bias and residual in oneDNN's matmul or in C before the product), and the batched loop.
// bench/gemm_choice_bench.cpp measures the shape classes behind the rules below.
#include "autograd/gemm.h"

#include <cpuid.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/backend/blas.h"
#include "autograd/backend/dnnl.h"
#include "autograd/kernels.h"
#include "autograd/profile.h"
#include "autograd/threads.h"
#include "base/error.h"

namespace kiln {
namespace {

// Measured GFLOP/s (2 Zen3 cores, oneDNN 2.6.3, OpenBLAS 0.3.21; ../shared/bench/ANCHORS.md
// section 2 on an idle machine, and gemm_choice_bench, best of 3 at min_time 0.2 on the shared
// machine):
//   projections, M = 2048, N, K in {384 .. 3072}, NN / NT / TN, team of 2:
//     oneDNN 143-161, OpenBLAS 119-154; oneDNN ahead on every shape, most on d = 384.
//     On 1 thread oneDNN 67-83 vs OpenBLAS 61-76 (quietest run; ahead on all 12 shapes).
//   per-head 256x256x64 NT, 256x64x256 NN / TN, 1 thread: oneDNN 73 / 71 / 64 (best 70 / 75 /
//     81) vs OpenBLAS 66 / 68 / 61; 48 heads split over the team: oneDNN 125 vs OpenBLAS 83-86.
//   small squares, 1 thread: 8^3 OpenBLAS 3.7-7.0 vs oneDNN 2.1-2.8 (call overhead: ~0.15 vs
//     ~0.4 us); 16^3 a tie (8-21 both); from 32^3 on oneDNN (64^3: 64-82 vs 49-57).
//   small squares, oneDNN over the team: no gain below 96^3, and while another process holds the
//     second core 48^3..256^3 collapsed to 0.1-5 GFLOP/s (the team waits for the scheduler);
//     when idle, 96^3 reached 97 and 128^3 116 vs 83 and 86 on one thread.
//   weight gradients (TN, C = X^T dY), team of 2, oneDNN vs OpenBLAS split into row blocks of C:
//     C 2^k wide: 1024x256x2048 61 vs 132, 256x1024x2048 112 vs 150, 30522x256x304 67 vs 106,
//     512x2048x1024 89 vs 134, 2048x512x1024 89 vs 116, 256x256x2048 64 vs 71.
//     Other widths are mixed (384x1152x2048 89 vs 140, but 3072x768x1024 117 vs 95 and
//     50257x768x1024 134 vs 101), so only the power-of-two widths switch.
//   On a CPU OpenBLAS does not recognise (2 cores of a 2023 Xeon with AVX-512, which OpenBLAS
//     0.3.21 runs with its generic "Prescott" kernel) those weight gradients ran at 60-63
//     against oneDNN's 245-310; with OPENBLAS_CORETYPE=SkylakeX they reach 211-298 against
//     oneDNN's 227-309, each ahead on some shapes.
//   On 2 cores of a Xeon with AVX-512 and AMX (family 6 model 167, OpenBLAS's SkylakeX kernel,
//     gemm_choice_bench with the benchmarked models' shapes added, 2026-12-07), the same TN
//     products with C 2^k wide: oneDNN ahead on those under 1024 tall, 128x512x768 250 vs 197,
//     128x128x768 243 vs 190, 256x256x2048 257 vs 212, 256x1024x2048 252 vs 213, 512x2048x1024
//     271 vs 235, 512x512x1024 260 vs 238, 512x128x768 253 vs 225, and on 30522x512x152 (a short
//     sum: BERT's MLM head at 152 masked rows) 246-257 vs 201-235; OpenBLAS ahead on the tall
//     ones over a long sum, 2048x512x1024 237-243 vs 263-283, 30522x256x304 203-204 vs
//     215-221, 1024x256x2048 a tie (233-241 vs 236-243).
//   Attention's per-head products at gpt-char's head width D = 32, one thread (BM_HeadGemm, same
//     Xeon): 64x32x64 NN 1.79 us on OpenBLAS vs 2.21 on oneDNN, TN 1.67 vs 2.25; NT 64x64x32
//     2.65 on oneDNN vs 3.35. attention_bench at gpt-char's shape: 0.76-0.87 -> 0.72-0.74 ms.
//   The other widths on that Xeon (gemm_choice_bench's weight_gradients, 2026-12-07), OpenBLAS
//     vs oneDNN: ahead on OpenBLAS where a side is 384 wide (gpt-mini: 1536x384x2048 352-356 vs
//     288-292, 8192x384x2048 322-326 vs 255-274, 384x1536x2048 321-356 vs 286-314), behind where
//     it is 768 (gpt2-124m: 3072x768x1024 354-368 vs 390-396, 768x2304x1024 372-374 vs 387-390),
//     a tie on 50257x768x1024: no rule by width that is not one model's, so they stay on oneDNN.
// Hence: oneDNN everywhere except the very smallest products and, where OpenBLAS has a kernel
// for the CPU, TN products with C 2^k wide (on AVX-512 CPUs only those at least 1024 tall with
// K >= 256) and, on AVX-512 CPUs, small products at most 32 wide without B transposed; one
// thread below ~100^3.

// Below this many multiply-adds OpenBLAS's lower call overhead wins (8^3 vs 16^3 above).
constexpr int64_t kBlasMacs = 16 * 16 * 16;
// Up to this many multiply-adds a product at most 32 wide runs faster on OpenBLAS (64x32x64).
constexpr int64_t kNarrowBlasMacs = int64_t{1} << 17;
// Below this many multiply-adds waking the team costs more than it can save (about 100^3).
constexpr int64_t kSequentialMacs = int64_t{1} << 20;
// Above this a single GEMM scales well over the team (256^3: 1.8x on 2 threads), so a batch
// of them that does not split evenly over the threads runs one threaded GEMM after another.
constexpr int64_t kLargeMacs = int64_t{256} * 256 * 256;

// Row blocks thinner than this waste OpenBLAS's register tiles.
constexpr int64_t kMinRowsPerThread = 32;

// oneDNN sizes its team from omp_get_max_threads() at each call; lowering that for one call
// keeps a small product on the calling thread. Restored on exit, including by an exception.
class OneThreadScope {
 public:
  OneThreadScope() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneThreadScope() { omp_set_num_threads(previous_); }
  OneThreadScope(const OneThreadScope&) = delete;
  OneThreadScope& operator=(const OneThreadScope&) = delete;

 private:
  int previous_;
};

// C = beta * C for a product with K == 0 (oneDNN rejects the lda that goes with it).
void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f)
      std::fill_n(row, n, 0.0f);  // beta == 0 ignores C, NaNs included
    else
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
}

// Process-wide, so that GEMMs a parallel region runs on the team's threads follow it too.
std::atomic<MatmulPrecision> current_precision{MatmulPrecision::kF32};

// Runs a oneDNN product over the team when gemm_uses_team() says so or inside a parallel region
// (where oneDNN is sequential anyway), else on the calling thread alone.
template <typename Product>
void on_team_or_alone(int64_t m, int64_t n, int64_t k, Product&& product) {
  if (gemm_uses_team(m, n, k) || omp_in_parallel()) return product();
  OneThreadScope one_thread;
  product();
}

// float -> bfloat16 bits, rounded to nearest even; NaN stays a (quiet) NaN. Branch-free, so
// the packing loop vectorises.
inline uint16_t to_bf16(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>((u & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : rounded);
}

// dst [rows, cols] dense = bf16(alpha * src) for src [rows, cols] with leading dimension ld:
// one pass, vectorised (the transposes stay as they are; oneDNN reads them by their strides).
void pack_bf16(const float* src, int64_t ld, int64_t rows, int64_t cols, float alpha,
               uint16_t* dst) {
  const auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* s = src + r * ld;
      uint16_t* d = dst + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) d[c] = to_bf16(alpha * s[c]);
    }
  };
  if (omp_in_parallel())
    body(0, rows);
  else
    parallel_for(rows, min_rows_per_thread(cols), body);
}

// The bf16 path: both operands packed (alpha folded into A) into this thread's scratch in
// their stored layout, then one oneDNN matmul accumulating in float32.
void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc) {
  thread_local std::vector<uint16_t> a16, b16;
  a16.resize(static_cast<std::size_t>(m * k));
  b16.resize(static_cast<std::size_t>(k * n));
  // Stored shapes: A is [K, M] when transposed, B is [N, K].
  pack_bf16(a, lda, trans_a ? k : m, trans_a ? m : k, alpha, a16.data());
  pack_bf16(b, ldb, trans_b ? n : k, trans_b ? k : n, 1.0f, b16.data());
  on_team_or_alone(m, n, k, [&] {
    backend::dnnl_matmul_bf16(trans_a, trans_b, m, n, k, a16.data(), b16.data(), beta, c, ldc);
  });
}

}  // namespace

bool cpu_supports_bf16() {
  // Tests set KILN_CPU_NO_BF16 to see the refusal on any CPU.
  if (const char* off = std::getenv("KILN_CPU_NO_BF16"); off && *off && std::string(off) != "0")
    return false;
  // CPUID leaf 7: subleaf 1 EAX bit 5 is AVX512_BF16, subleaf 0 EDX bit 22 is AMX-BF16.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool avx512_bf16 = false, amx_bf16 = false;
  if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) avx512_bf16 = (eax >> 5) & 1u;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) amx_bf16 = (edx >> 22) & 1u;
  return (avx512_bf16 && __builtin_cpu_supports("avx512f")) || amx_bf16;
}

void set_matmul_precision(MatmulPrecision precision) {
  KILN_CHECK(precision == MatmulPrecision::kF32 || cpu_supports_bf16(),
             "bf16 precision: ", kBf16CpuRequirement);
  current_precision = precision;
}

MatmulPrecision matmul_precision() {
  return current_precision.load();
}

GemmBackend choose_gemm_backend(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                                bool blas_suits_cpu, bool avx512) {
  if (m * n * k < kBlasMacs) return GemmBackend::kBlas;
  if (blas_suits_cpu && avx512 && !trans_b && n <= 32 && m * n * k <= kNarrowBlasMacs)
    return GemmBackend::kBlas;
  const bool power_of_two_width = n >= 128 && (n & (n - 1)) == 0;
  if (!blas_suits_cpu || !trans_a || trans_b || !power_of_two_width) return GemmBackend::kDnnl;
  // With AVX-512, OpenBLAS keeps only the tall products over a long sum.
  if (avx512 && (m < 1024 || k < 256)) return GemmBackend::kDnnl;
  return GemmBackend::kBlas;
}

GemmBackend choose_gemm_backend(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return choose_gemm_backend(trans_a, trans_b, m, n, k, backend::blas_kernel_suits_cpu(), avx512);
}

bool gemm_uses_team(int64_t m, int64_t n, int64_t k) {
  return num_threads() > 1 && !omp_in_parallel() && m * n * k >= kSequentialMacs;
}

namespace {

void run_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
              int64_t ldc, GemmBackend backend) {
  KILN_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: expected non-negative sizes, got M=", m, " N=", n,
             " K=", k);
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_c(m, n, beta, c, ldc);
  if (current_precision.load(std::memory_order_relaxed) == MatmulPrecision::kBf16 &&
      backend == GemmBackend::kAuto && (beta == 0.0f || beta == 1.0f))
    return gemm_bf16(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (backend == GemmBackend::kAuto) backend = choose_gemm_backend(trans_a, trans_b, m, n, k);
  if (backend == GemmBackend::kBlas) {
    if (!gemm_uses_team(m, n, k))
      return backend::blas_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    // Row blocks of C, one single-threaded OpenBLAS call each: OpenBLAS's own pool would be a
    // second set of threads competing with the team.
    return parallel_for(m, kMinRowsPerThread, [&](int64_t begin, int64_t end) {
      const float* a_rows = trans_a ? a + begin : a + begin * lda;
      backend::blas_gemm(trans_a, trans_b, end - begin, n, k, alpha, a_rows, lda, b, ldb, beta,
                         c + begin * ldc, ldc);
    });
  }
  on_team_or_alone(m, n, k, [&] {
    backend::dnnl_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  });
}

// Runs product(), profiled under "gemm" by its shape. Only from the step's thread (the profile's
// store is not shared between threads).
template <typename Product>
void profiled(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, Product&& product) {
  if (!profile::enabled() || omp_in_parallel()) return product();
  const auto start = std::chrono::steady_clock::now();
  product();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string shape = std::string(trans_a ? "T" : "N") + (trans_b ? "T " : "N ") +
                            std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
  profile::add("gemm", shape, seconds, 2.0 * double(m) * double(n) * double(k));
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          GemmBackend backend) {
  profiled(trans_a, trans_b, m, n, k, [&] {
    run_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, backend);
  });
}

// gemm_choice_bench's PrefilledLinear against FusedLinear (2 cores of a Xeon with AVX-512 and
// AMX, family 6 model 167, oneDNN 2.6's brg:avx512_core matmul; ms per call, operands out of L2
// as in a step): BERT's products, B transposed, 1024x512x512 with a bias 1.84 -> 1.53, with a
// residual too 1.83 -> 1.55, 1024x2048x512 6.08 -> 5.83, 1024x512x2048 with both 6.93 -> 6.10.
// GPT-2's, B not transposed (Conv1D weights [in, out]), ran slower fused: 2048x1152x384 5.07 ->
// 5.46, 2048x384x384 1.91 -> 2.03, 2048x1536x384 6.60 -> 7.52, 2048x384x1536 6.99 -> 7.72.
// Not measured on CPUs without AVX-512, which keep the pre-filled form.
bool fuse_linear_epilogue(bool trans_b, int64_t m, int64_t n, int64_t k, bool avx512) {
  return avx512 && trans_b && m * n * k >= kSequentialMacs;
}

bool gemm_linear_fuses(bool trans_b, int64_t m, int64_t n, int64_t k) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool f32 = current_precision.load(std::memory_order_relaxed) == MatmulPrecision::kF32;
  return f32 && k > 0 && fuse_linear_epilogue(trans_b, m, n, k, avx512);
}

void gemm_linear(bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                 const float* bias, const float* residual, float* c) {
  if ((bias || residual) && gemm_linear_fuses(trans_b, m, n, k))
    return profiled(false, trans_b, m, n, k, [&] {
      on_team_or_alone(
          m, n, k, [&] { backend::dnnl_matmul_f32(trans_b, m, n, k, a, b, bias, residual, c); });
    });
  // Every row of C starts as bias + residual, then the product adds to it (beta 1).
  if (bias || residual)
    parallel_for(m, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* row = c + r * n;
        if (!residual) {
          std::memcpy(row, bias, n * sizeof(float));
        } else if (!bias) {
          std::memcpy(row, residual + r * n, n * sizeof(float));
        } else {
          const float* res = residual + r * n;
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) row[j] = res[j] + bias[j];
        }
      }
    });
  gemm(false, trans_b, m, n, k, 1.0f, a, k, b, trans_b ? k : n, (bias || residual) ? 1.0f : 0.0f, c,
       n);
}

void gemm_linear_data_gradient(bool trans_b, int64_t m, int64_t n, int64_t k, const float* dy,
                               const float* b, float beta, float* da) {
  gemm(false, !trans_b, m, k, n, 1.0f, dy, n, b, trans_b ? k : n, beta, da, k);
}

void gemm_linear_weight_gradient(bool trans_b, int64_t m, int64_t n, int64_t k, const float* x,
                                 const float* dy, float beta, float* db) {
  if (trans_b)  // dB[N,K] (+)= dY^T X
    gemm(true, false, n, k, m, 1.0f, dy, n, x, k, beta, db, k);
  else  // dB[K,N] (+)= X^T dY
    gemm(true, false, k, n, m, 1.0f, x, k, dy, n, beta, db, n);
}

void gemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float* a, int64_t lda, int64_t stride_a, const float* b,
                  int64_t ldb, int64_t stride_b, float beta, float* c, int64_t ldc,
                  int64_t stride_c) {
  auto one = [&](int64_t i) {
    gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
         c + i * stride_c, ldc);
  };
  // One matrix per thread at a time unless: C is shared (a sum over the batch, kept in order
  // and unraced), the whole batch is too small to thread, or there are fewer matrices than
  // threads, or large ones that would leave threads idle at the end.
  const int64_t macs = m * n * k, threads = num_threads();
  const bool per_thread = stride_c != 0 && batch >= threads && batch * macs >= kSequentialMacs &&
                          (macs < kLargeMacs || batch % threads == 0);
  if (!per_thread || omp_in_parallel()) {
    for (int64_t i = 0; i < batch; ++i) one(i);
    return;
  }
  parallel_for(batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) one(i);
  });
}

}  // namespace kiln
