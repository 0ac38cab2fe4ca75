// Tests for kiln::gemm's bf16 precision: on a CPU with bf16 it must equal a double-precision
// loop over the operands rounded to bfloat16 (float32 accumulation), for every transpose, beta
// 0 and 1, alpha != 1 and padded leading dimensions; elsewhere, and whenever KILN_CPU_NO_BF16
// is set, asking for it is refused with one line.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/gemm.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "tests/autograd/gradcheck.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

using testing::random_tensor;

// Round to nearest even, as the hardware's conversion does.
double bf16(float x) {
  uint32_t u = std::bit_cast<uint32_t>(x);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return std::bit_cast<float>(u & 0xFFFF0000u);
}

float op_at(const float* x, int64_t ld, bool trans, int64_t i, int64_t j) {
  return trans ? x[j * ld + i] : x[i * ld + j];
}

TEST(Bf16GemmTest, MatchesLoopOverRoundedOperands) {
  if (!cpu_supports_bf16()) GTEST_SKIP() << "this CPU has no bf16; the refusal is tested below";
  const int64_t m = 37, n = 29, k = 70, pad = 3;
  for (int threads : {1, 2}) {
    testing::ScopedThreads scoped(threads);
    MatmulPrecisionScope bf16_scope(MatmulPrecision::kBf16);
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      Tensor a = random_tensor({ta ? k : m, lda}, 1), b = random_tensor({tb ? n : k, ldb}, 2);
      Tensor c0 = random_tensor({m, ldc}, 3);
      for (float beta : {0.0f, 1.0f}) {
        std::vector<float> got = c0.to_floats();
        const float alpha = 0.5f;  // a power of two: alpha * a rounds like a
        gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            const float before = c0.data()[i * ldc + j];
            if (j >= n) {  // padding: untouched
              ASSERT_EQ(got[i * ldc + j], before);
              continue;
            }
            double s = 0;
            for (int64_t p = 0; p < k; ++p)
              s += bf16(op_at(a.data(), lda, ta, i, p)) * bf16(op_at(b.data(), ldb, tb, p, j));
            const double want = alpha * s + beta * before;
            ASSERT_NEAR(got[i * ldc + j], want, 1e-5 * (1 + std::fabs(want)))
                << "trans " << t << " beta " << beta << " at " << i << ", " << j;
          }
      }
    }
  }
  EXPECT_EQ(matmul_precision(), MatmulPrecision::kF32);  // the scope restored it
}

TEST(Bf16GemmTest, DiffersFromFloat32WhereRoundingMatters) {
  // 1 + 2^-10 is not a bfloat16 (7 mantissa bits): it rounds to 1, so the bf16 product is 1.
  if (!cpu_supports_bf16()) GTEST_SKIP() << "this CPU has no bf16";
  const float a = 1.0f + 1.0f / 1024, b = 1.0f;
  float c = 0;
  gemm(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
  EXPECT_EQ(c, a);
  MatmulPrecisionScope bf16_scope(MatmulPrecision::kBf16);
  gemm(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
  EXPECT_EQ(c, 1.0f);
}

TEST(Bf16GemmTest, RefusedWithOneLineWithoutCpuSupport) {
  ::setenv("KILN_CPU_NO_BF16", "1", 1);
  EXPECT_FALSE(cpu_supports_bf16());
  const std::string message = error_of([] { set_matmul_precision(MatmulPrecision::kBf16); });
  ::unsetenv("KILN_CPU_NO_BF16");
  EXPECT_NE(message.find("bf16 precision: expected a CPU with AVX512_BF16 or AMX-BF16"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(matmul_precision(), MatmulPrecision::kF32);
  set_matmul_precision(MatmulPrecision::kF32);  // fp32 is always allowed
}

}  // namespace
}  // namespace kiln
