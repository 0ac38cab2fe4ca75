// Tests for kiln::gemm (both backends, batching, run-to-run identity) and the matmul and
// linear ops: forwards against double-precision loops, gradients against central differences.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "autograd/backend/dnnl.h"
#include "autograd/gemm.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "tests/autograd/gradcheck.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

using testing::random_tensor;

// Element (i, j) of op(X) for a row-major X with leading dimension ld.
float op_at(const float* x, int64_t ld, bool trans, int64_t i, int64_t j) {
  return trans ? x[j * ld + i] : x[i * ld + j];
}

// Plain loop, double accumulation: C = alpha * op(A) op(B) + beta * C.
void reference_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p)
        s += static_cast<double>(op_at(a, lda, ta, i, p)) * op_at(b, ldb, tb, p, j);
      c[i * ldc + j] = static_cast<float>(alpha * s + (beta == 0.0f ? 0.0 : beta * c[i * ldc + j]));
    }
}

// The matmul op's semantics as a loop over batches (b rank 2 is shared).
std::vector<float> reference_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const int64_t m = ta ? a.dim(-1) : a.dim(-2), k = ta ? a.dim(-2) : a.dim(-1);
  const int64_t n = tb ? b.dim(-2) : b.dim(-1), batch = a.numel() / (m * k);
  std::vector<float> c(batch * m * n);
  for (int64_t i = 0; i < batch; ++i)
    reference_gemm(ta, tb, m, n, k, 1.0f, a.data() + i * m * k, ta ? m : k,
                   b.data() + (b.rank() == 2 ? 0 : i * k * n), tb ? k : n, 0.0f,
                   c.data() + i * m * n, n);
  return c;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-4 + 1e-4 * std::fabs(want[i])) << what << " element " << i;
}

// ---- kiln::gemm ------------------------------------------------------------------------

TEST(GemmTest, BackendsMatchReferenceForAllTransposes) {
  // Odd sizes, padded leading dims, alpha != 1; beta = 0 must ignore NaNs in C, beta = 1 adds.
  const int64_t m = 13, n = 7, k = 11, pad = 3;
  for (GemmBackend backend : {GemmBackend::kAuto, GemmBackend::kDnnl, GemmBackend::kBlas}) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      Tensor a = random_tensor({ta ? k : m, lda}, 1), b = random_tensor({tb ? n : k, ldb}, 2);
      Tensor c0 = random_tensor({m, ldc}, 3);
      for (float beta : {0.0f, 1.0f}) {
        std::vector<float> want = c0.to_floats(), got = c0.to_floats();
        if (beta == 0.0f)
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) got[i * ldc + j] = std::nanf("");
        reference_gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
        gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, beta, got.data(), ldc, backend);
        // The padding columns of C must be untouched, so compare the whole buffer.
        expect_close(got, want,
                     "backend " + std::to_string(static_cast<int>(backend)) + " trans " +
                         std::to_string(t) + " beta " + std::to_string(beta));
      }
    }
  }
}

TEST(GemmTest, OpenBlasOverTheTeamMatchesReference) {
  // Large enough to be split into row blocks of C over the team; rows not a multiple of it.
  const int64_t m = 301, n = 256, k = 64, pad = 5;
  ASSERT_TRUE(gemm_uses_team(m, n, k) || num_threads() == 1);
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    Tensor a = random_tensor({ta ? k : m, lda}, 4), b = random_tensor({tb ? n : k, ldb}, 5);
    Tensor c0 = random_tensor({m, ldc}, 6);
    std::vector<float> want = c0.to_floats(), got = c0.to_floats();
    reference_gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 1.0f, want.data(), ldc);
    gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 1.0f, got.data(), ldc,
         GemmBackend::kBlas);
    expect_close(got, want, "trans " + std::to_string(t));
  }
}

TEST(GemmTest, EmptyInnerDimensionScalesC) {
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 1.0f, c.data(), 3);
  EXPECT_EQ(c, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, c.data(), 3);
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
}

TEST(GemmTest, DispatchFollowsMeasuredRules) {
  // oneDNN for everything but the smallest products and, where OpenBLAS has a kernel for the
  // CPU, weight gradients (TN) with a power-of-two width; on AVX-512 CPUs only the tall ones
  // over a long sum, plus small products 32 wide (see the numbers in gemm.cpp).
  for (bool blas_suits : {true, false})
    for (bool avx512 : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "blas_suits " << blas_suits << " avx512 " << avx512);
      const GemmBackend tall_pow2_weight_gradient =
          blas_suits ? GemmBackend::kBlas : GemmBackend::kDnnl;
      const GemmBackend short_pow2_weight_gradient =
          blas_suits && !avx512 ? GemmBackend::kBlas : GemmBackend::kDnnl;
      const auto choose = [&](bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
        return choose_gemm_backend(ta, tb, m, n, k, blas_suits, avx512);
      };
      EXPECT_EQ(choose(false, false, 8, 8, 8), GemmBackend::kBlas);
      EXPECT_EQ(choose(false, true, 256, 256, 64), GemmBackend::kDnnl);
      EXPECT_EQ(choose(false, false, 2048, 768, 768), GemmBackend::kDnnl);
      EXPECT_EQ(choose(true, false, 1024, 256, 2048), tall_pow2_weight_gradient);
      EXPECT_EQ(choose(true, false, 30522, 256, 304), tall_pow2_weight_gradient);
      EXPECT_EQ(choose(true, false, 512, 2048, 1024), short_pow2_weight_gradient);
      EXPECT_EQ(choose(true, false, 30522, 512, 152), short_pow2_weight_gradient);
      EXPECT_EQ(choose(true, false, 3072, 768, 1024), GemmBackend::kDnnl);
      EXPECT_EQ(choose(false, false, 2048, 256, 1024), GemmBackend::kDnnl);
      // Attention's narrow heads (D = 32): NN and TN on OpenBLAS where measured, NT on oneDNN.
      const GemmBackend narrow = blas_suits && avx512 ? GemmBackend::kBlas : GemmBackend::kDnnl;
      EXPECT_EQ(choose(false, false, 64, 32, 64), narrow);
      EXPECT_EQ(choose(true, false, 64, 32, 64), narrow);
      EXPECT_EQ(choose(false, true, 64, 64, 32), GemmBackend::kDnnl);
      EXPECT_EQ(choose(false, false, 256, 32, 256), GemmBackend::kDnnl);
      EXPECT_EQ(choose(false, false, 64, 64, 64), GemmBackend::kDnnl);
    }
  // The team only for big products called from outside a parallel region.
  int saved = num_threads();
  set_num_threads(2);
  EXPECT_TRUE(gemm_uses_team(2048, 768, 768));
  EXPECT_FALSE(gemm_uses_team(64, 64, 64));
  bool inside = true;
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    inside = gemm_uses_team(2048, 768, 768);
  }
  EXPECT_FALSE(inside);
  set_num_threads(1);
  EXPECT_FALSE(gemm_uses_team(2048, 768, 768));
  set_num_threads(saved);
}

TEST(GemmTest, LinearFormMatchesReferenceOnBothPaths) {
  // C = A op(B) + bias + R with each of bias and R present or not, B stored either way, at a
  // size below the fusion threshold and one above it (fused where the CPU has AVX-512), and
  // oneDNN's fused matmul called directly so that every CPU runs it. C starts as NaN: every
  // path must overwrite it.
  testing::ScopedThreads threads(2);
  struct Size {
    int64_t m, n, k;
  };
  for (Size z : {Size{13, 7, 11}, Size{130, 96, 96}})
    for (bool tb : {false, true})
      for (int extras = 0; extras < 4; ++extras) {
        const bool with_bias = extras & 1, with_residual = extras & 2;
        SCOPED_TRACE(::testing::Message()
                     << z.m << "x" << z.n << "x" << z.k << " trans_b " << tb << " bias "
                     << with_bias << " residual " << with_residual);
        Tensor a = random_tensor({z.m, z.k}, 40),
               b = random_tensor(tb ? Shape{z.n, z.k} : Shape{z.k, z.n}, 41);
        Tensor bias = random_tensor({z.n}, 42), r = random_tensor({z.m, z.n}, 43);
        std::vector<float> want(z.m * z.n);
        reference_gemm(false, tb, z.m, z.n, z.k, 1.0f, a.data(), z.k, b.data(), tb ? z.k : z.n,
                       0.0f, want.data(), z.n);
        for (int64_t i = 0; i < z.m; ++i)
          for (int64_t j = 0; j < z.n; ++j)
            want[i * z.n + j] += (with_bias ? bias.data()[j] : 0.0f) +
                                 (with_residual ? r.data()[i * z.n + j] : 0.0f);
        const float* bias_p = with_bias ? bias.data() : nullptr;
        const float* r_p = with_residual ? r.data() : nullptr;
        std::vector<float> got(z.m * z.n, std::nanf(""));
        gemm_linear(tb, z.m, z.n, z.k, a.data(), b.data(), bias_p, r_p, got.data());
        expect_close(got, want, "gemm_linear");
        std::fill(got.begin(), got.end(), std::nanf(""));
        backend::dnnl_matmul_f32(tb, z.m, z.n, z.k, a.data(), b.data(), bias_p, r_p, got.data());
        expect_close(got, want, "dnnl_matmul_f32");
      }
}

TEST(GemmTest, LinearFusionFollowsMeasuredRule) {
  // Fused only for weights stored [out, in] on AVX-512 CPUs, and only for products big enough
  // for the team (see the numbers in gemm.cpp).
  EXPECT_TRUE(fuse_linear_epilogue(true, 1024, 512, 512, true));
  EXPECT_TRUE(fuse_linear_epilogue(true, 152, 512, 512, true));
  EXPECT_FALSE(fuse_linear_epilogue(true, 1024, 512, 512, false));
  EXPECT_FALSE(fuse_linear_epilogue(false, 2048, 1152, 384, true));
  EXPECT_FALSE(fuse_linear_epilogue(true, 16, 64, 64, true));
}

TEST(GemmTest, SmallProductLeavesThreadSettingUnchanged) {
  // A small oneDNN product runs with the OpenMP setting lowered to 1 for the call only.
  int saved = num_threads();
  set_num_threads(2);
  std::vector<float> a(64 * 64, 0.5f), b(64 * 64, 0.25f), c(64 * 64);
  gemm(false, false, 64, 64, 64, 1.0f, a.data(), 64, b.data(), 64, 0.0f, c.data(), 64);
  EXPECT_EQ(omp_get_max_threads(), 2);
  EXPECT_FLOAT_EQ(c[0], 64 * 0.5f * 0.25f);
  set_num_threads(saved);
}

TEST(GemmTest, RepeatedRunsAreBitIdenticalAtFixedThreadCount) {
  // Large enough that oneDNN splits the work (including along K) over the team.
  const int64_t m = 192, n = 160, k = 1000;
  Tensor a = random_tensor({m, k}, 4), b = random_tensor({k, n}, 5);
  for (int threads : {1, 2}) {
    int saved = num_threads();
    set_num_threads(threads);
    std::vector<float> first(m * n), again(m * n);
    gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, first.data(), n);
    for (int rep = 0; rep < 3; ++rep) {
      gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, again.data(), n);
      EXPECT_EQ(std::memcmp(first.data(), again.data(), first.size() * sizeof(float)), 0)
          << threads << " threads, repeat " << rep;
    }
    // A linear layer's form, B stored [N, K] (fused on AVX-512 CPUs), with a bias and residual.
    Tensor bt = random_tensor({n, k}, 6), bias = random_tensor({n}, 7),
           r = random_tensor({m, n}, 8);
    gemm_linear(true, m, n, k, a.data(), bt.data(), bias.data(), r.data(), first.data());
    for (int rep = 0; rep < 3; ++rep) {
      gemm_linear(true, m, n, k, a.data(), bt.data(), bias.data(), r.data(), again.data());
      EXPECT_EQ(std::memcmp(first.data(), again.data(), first.size() * sizeof(float)), 0)
          << threads << " threads, linear form, repeat " << rep;
    }
    set_num_threads(saved);
  }
}

TEST(GemmTest, BatchedMatchesLoopAndSumsIntoSharedOutput) {
  const int64_t batch = 6, m = 9, n = 5, k = 7;
  Tensor a = random_tensor({batch, m, k}, 6), b = random_tensor({batch, k, n}, 7);
  std::vector<float> got(batch * m * n), want(batch * m * n);
  gemm_batched(batch, false, false, m, n, k, 1.0f, a.data(), k, m * k, b.data(), n, k * n, 0.0f,
               got.data(), n, m * n);
  for (int64_t i = 0; i < batch; ++i)
    reference_gemm(false, false, m, n, k, 1.0f, a.data() + i * m * k, k, b.data() + i * k * n, n,
                   0.0f, want.data() + i * m * n, n);
  expect_close(got, want, "per-matrix outputs");

  // stride_c == 0 with beta == 1: C accumulates every product (a shared weight's gradient).
  std::vector<float> sum(m * n, 1.0f), sum_want(m * n, 1.0f);
  gemm_batched(batch, false, false, m, n, k, 1.0f, a.data(), k, m * k, b.data(), n, k * n, 1.0f,
               sum.data(), n, 0);
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t j = 0; j < m * n; ++j) sum_want[j] += want[i * m * n + j];
  expect_close(sum, sum_want, "shared output");
}

// ---- ops::matmul ------------------------------------------------------------------------

struct MatmulCase {
  Shape a, b;  // as stored (already transposed where the flags say so)
  bool ta, tb;
};

std::vector<MatmulCase> matmul_cases() {
  std::vector<MatmulCase> cases = {{{5, 7}, {7, 3}, false, false},
                                   {{3, 1, 4}, {4, 1}, false, false},  // 1s everywhere
                                   {{1, 1}, {1, 6}, false, false}};
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    Shape a = ta ? Shape{2, 3, 4, 5} : Shape{2, 3, 5, 4};  // M = 5, K = 4
    Shape b = tb ? Shape{2, 3, 6, 4} : Shape{2, 3, 4, 6};  // N = 6
    Shape shared = tb ? Shape{6, 4} : Shape{4, 6};
    cases.push_back({a, b, ta, tb});
    cases.push_back({a, shared, ta, tb});
  }
  return cases;
}

std::string describe(const MatmulCase& c) {
  return shape_str(c.a) + " x " + shape_str(c.b) + " ta=" + std::to_string(c.ta) +
         " tb=" + std::to_string(c.tb);
}

TEST(MatmulOpTest, ForwardMatchesReferenceLoop) {
  for (const MatmulCase& c : matmul_cases()) {
    Tensor a = random_tensor(c.a, 8), b = random_tensor(c.b, 9);
    Tensor y = ops::matmul(a, b, c.ta, c.tb);
    Shape want_shape = c.a;
    want_shape[want_shape.size() - 2] = c.ta ? c.a.back() : c.a[c.a.size() - 2];
    want_shape.back() = c.tb ? c.b[c.b.size() - 2] : c.b.back();
    EXPECT_EQ(y.shape(), want_shape) << describe(c);
    expect_close(y.to_floats(), reference_matmul(a, b, c.ta, c.tb), describe(c));
  }
}

TEST(MatmulOpTest, BackwardMatchesFiniteDifference) {
  for (const MatmulCase& c : matmul_cases()) {
    Tensor a = random_tensor(c.a, 10).set_requires_grad(true);
    Tensor b = random_tensor(c.b, 11).set_requires_grad(true);
    auto fn = [&](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1], c.ta, c.tb); };
    SCOPED_TRACE(describe(c));
    EXPECT_GRADIENTS_MATCH(fn, (std::vector<Tensor>{a, b}));
  }
}

TEST(MatmulOpTest, BackwardAccumulatesIntoExistingGradient) {
  // Backward GEMMs run with beta = 1: a second use of the same input adds to its gradient.
  Tensor a = random_tensor({4, 3}, 12).set_requires_grad(true);
  Tensor b = random_tensor({3, 5}, 13);
  backward(ops::sum_all(ops::matmul(a, b)));
  std::vector<float> once = a.grad().to_floats();
  backward(ops::sum_all(ops::matmul(a, b)));
  std::vector<float> twice = a.grad().to_floats();
  for (std::size_t i = 0; i < once.size(); ++i) {
    double row_sum = 0;  // d(sum(a b)) / d a[r, p] = sum_j b[p, j]
    for (int64_t j = 0; j < 5; ++j) row_sum += b.data()[(i % 3) * 5 + j];
    EXPECT_NEAR(once[i], row_sum, 1e-5);
    EXPECT_NEAR(twice[i], 2 * row_sum, 1e-5);
  }
  EXPECT_FALSE(b.grad().defined());
}

TEST(MatmulOpTest, RejectsBadShapesWithHelpfulMessage) {
  Tensor a = Tensor::zeros({2, 3, 4}), b = Tensor::zeros({5, 6});
  std::string msg = error_of([&] { ops::matmul(a, b); });
  EXPECT_NE(msg.find("matmul: expected matching inner dims"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3, 4] and [5, 6]"), std::string::npos) << msg;

  msg = error_of([&] { ops::matmul(a, Tensor::zeros({3, 4, 2})); });
  EXPECT_NE(msg.find("leading dims"), std::string::npos) << msg;
  msg = error_of([&] { ops::matmul(Tensor::zeros({4}), b); });
  EXPECT_NE(msg.find("rank >= 2"), std::string::npos) << msg;
  msg = error_of([&] { ops::matmul(Tensor::zeros({2, 2}, DType::kI32), Tensor::zeros({2, 2})); });
  EXPECT_NE(msg.find("float32"), std::string::npos) << msg;
}

// ---- ops::linear ------------------------------------------------------------------------

// y[r, o] = sum_i x[r, i] * W(o, i) + bias[o], W stored [out, in] or [in, out].
std::vector<float> reference_linear(const Tensor& x, const Tensor& w, const Tensor& bias,
                                    ops::WeightLayout layout) {
  const bool out_in = layout == ops::WeightLayout::kOutIn;
  const int64_t in = x.dim(-1), out = out_in ? w.dim(0) : w.dim(1), rows = x.numel() / in;
  std::vector<float> y(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = bias.defined() ? bias.data()[o] : 0.0;
      for (int64_t i = 0; i < in; ++i)
        s += static_cast<double>(x.data()[r * in + i]) *
             (out_in ? w.data()[o * in + i] : w.data()[i * out + o]);
      y[r * out + o] = static_cast<float>(s);
    }
  return y;
}

struct LinearCase {
  Shape x;
  ops::WeightLayout layout;
  bool bias;
};

std::vector<LinearCase> linear_cases() {
  std::vector<LinearCase> cases;
  for (auto layout : {ops::WeightLayout::kOutIn, ops::WeightLayout::kInOut})
    for (bool bias : {true, false})
      for (const Shape& x : {Shape{5, 13}, Shape{2, 3, 13}, Shape{13}})
        cases.push_back({x, layout, bias});
  return cases;
}

std::string describe(const LinearCase& c) {
  return "x " + shape_str(c.x) +
         (c.layout == ops::WeightLayout::kOutIn ? " [out, in]" : " [in, out]") +
         (c.bias ? " with bias" : " no bias");
}

TEST(LinearOpTest, ForwardMatchesReferenceLoop) {
  const int64_t in = 13, out = 7;
  for (const LinearCase& c : linear_cases()) {
    Tensor x = random_tensor(c.x, 14);
    Tensor w =
        random_tensor(c.layout == ops::WeightLayout::kOutIn ? Shape{out, in} : Shape{in, out}, 15);
    Tensor bias = c.bias ? random_tensor({out}, 16) : Tensor();
    Tensor y = ops::linear(x, w, bias, c.layout);
    Shape want_shape = c.x;
    want_shape.back() = out;
    EXPECT_EQ(y.shape(), want_shape) << describe(c);
    expect_close(y.to_floats(), reference_linear(x, w, bias, c.layout), describe(c));
  }
}

TEST(LinearOpTest, BackwardMatchesFiniteDifference) {
  const int64_t in = 13, out = 7;
  for (const LinearCase& c : linear_cases()) {
    Tensor x = random_tensor(c.x, 17).set_requires_grad(true);
    Tensor w =
        random_tensor(c.layout == ops::WeightLayout::kOutIn ? Shape{out, in} : Shape{in, out}, 18)
            .set_requires_grad(true);
    std::vector<Tensor> inputs = {x, w};
    if (c.bias) inputs.push_back(random_tensor({out}, 19).set_requires_grad(true));
    auto fn = [&](const std::vector<Tensor>& t) {
      return ops::linear(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), c.layout);
    };
    SCOPED_TRACE(describe(c));
    EXPECT_GRADIENTS_MATCH(fn, inputs);
  }
}

TEST(GeluLinearOpTest, EqualsGeluThenLinearBitForBit) {
  // The same arithmetic in the same order, only the activation's lifetime differs.
  const int64_t in = 13, out = 7;
  testing::ScopedThreads threads(2);
  for (const LinearCase& c : linear_cases())
    for (ops::GeluForm form : {ops::GeluForm::kTanh, ops::GeluForm::kErf}) {
      SCOPED_TRACE(describe(c) + (form == ops::GeluForm::kErf ? " erf" : " tanh"));
      Tensor h = random_tensor(c.x, 20, -3.0f, 3.0f).set_requires_grad(true);
      Tensor w =
          random_tensor(c.layout == ops::WeightLayout::kOutIn ? Shape{out, in} : Shape{in, out}, 21)
              .set_requires_grad(true);
      Tensor b = c.bias ? random_tensor({out}, 22).set_requires_grad(true) : Tensor();
      std::vector<std::vector<float>> grads[2];
      std::vector<float> values[2];
      for (int fused = 0; fused < 2; ++fused) {
        Tensor y = fused ? ops::gelu_linear(h, w, b, c.layout, Tensor(), form)
                         : ops::linear(ops::gelu(h, form), w, b, c.layout);
        values[fused] = y.to_floats();
        backward(y, random_tensor(y.shape(), 26));
        for (const Tensor& t : {h, w, b})
          if (t.defined()) {
            grads[fused].push_back(t.grad().to_floats());
            t.reset_grad();
          }
      }
      EXPECT_EQ(values[0], values[1]);
      EXPECT_EQ(grads[0], grads[1]);
    }
}

TEST(GeluLinearOpTest, AddsToTheGradientOfAnInputUsedAgainLater) {
  // h also feeds a later op, whose backward runs first: gelu_linear then adds its part of h's
  // gradient (no bias of h), bit for bit as gelu's backward adds it.
  testing::ScopedThreads threads(2);
  Tensor h = random_tensor({4, 33, 13}, 50, -3.0f, 3.0f).set_requires_grad(true);
  Tensor w = random_tensor({13, 7}, 51).set_requires_grad(true);
  std::vector<float> grads[2];
  for (int fused = 0; fused < 2; ++fused) {
    Tensor y = fused ? ops::gelu_linear(h, w, Tensor(), ops::WeightLayout::kInOut)
                     : ops::linear(ops::gelu(h, ops::GeluForm::kTanh), w, Tensor(),
                                   ops::WeightLayout::kInOut);
    Tensor loss = ops::add(ops::sum_all(ops::mul(y, random_tensor(y.shape(), 52))),
                           ops::sum_all(ops::mul(h, h)));
    backward(loss);
    grads[fused] = h.grad().to_floats();
    h.reset_grad(), w.reset_grad();
  }
  EXPECT_EQ(grads[0], grads[1]);
}

TEST(GeluLinearOpTest, BackwardMatchesFiniteDifference) {
  Tensor h = random_tensor({2, 3, 5}, 23, -2.0f, 2.0f).set_requires_grad(true);
  Tensor w = random_tensor({5, 4}, 24).set_requires_grad(true);
  Tensor b = random_tensor({4}, 25).set_requires_grad(true);
  for (ops::GeluForm form : {ops::GeluForm::kTanh, ops::GeluForm::kErf}) {
    SCOPED_TRACE(form == ops::GeluForm::kErf ? "erf" : "tanh");
    EXPECT_GRADIENTS_MATCH(
        [form](const std::vector<Tensor>& t) {
          return ops::gelu_linear(t[0], t[1], t[2], ops::WeightLayout::kInOut, Tensor(), form);
        },
        {h, w, b});
  }
}

TEST(GeluLinearOpTest, InputBiasActsAsAddingItToTheInputFirst) {
  // gelu_linear(h, ..., h_bias) against gelu_linear(h + h_bias, ...): the same values and the
  // same gradients for h, w, b (bit for bit: the same sums in the same order), and h_bias's
  // gradient within rounding (summed in another order). Three ways h's gradient arrives: h's
  // first (written in place), after another use of h (added to), and not needed at all.
  const int64_t in = 13, out = 7;
  testing::ScopedThreads threads(2);
  for (const LinearCase& c : linear_cases())
    for (int h_use : {0, 1, 2}) {  // 0: only here, 1: also in a later op, 2: h needs no gradient
      SCOPED_TRACE(describe(c) + " h_use " + std::to_string(h_use));
      Tensor h = random_tensor(c.x, 40, -3.0f, 3.0f).set_requires_grad(h_use != 2);
      Tensor w =
          random_tensor(c.layout == ops::WeightLayout::kOutIn ? Shape{out, in} : Shape{in, out}, 41)
              .set_requires_grad(true);
      Tensor b = c.bias ? random_tensor({out}, 42).set_requires_grad(true) : Tensor();
      Tensor hb = random_tensor({in}, 43).set_requires_grad(true);
      std::vector<std::vector<float>> grads[2];
      std::vector<float> values[2], hb_grads[2];
      for (int inside = 0; inside < 2; ++inside) {
        Tensor y = inside ? ops::gelu_linear(h, w, b, c.layout, Tensor(), ops::GeluForm::kErf, hb)
                          : ops::gelu_linear(ops::add(h, hb), w, b, c.layout, Tensor(),
                                             ops::GeluForm::kErf);
        values[inside] = y.to_floats();
        Tensor loss = ops::sum_all(ops::mul(y, random_tensor(y.shape(), 44)));
        if (h_use == 1) loss = ops::add(loss, ops::sum_all(ops::mul(h, h)));
        backward(loss);
        for (const Tensor& t : {h, w, b})
          if (t.defined() && t.requires_grad()) {
            grads[inside].push_back(t.grad().to_floats());
            t.reset_grad();
          }
        hb_grads[inside] = hb.grad().to_floats();
        hb.reset_grad();
      }
      EXPECT_EQ(values[0], values[1]);
      EXPECT_EQ(grads[0], grads[1]);
      expect_close(hb_grads[1], hb_grads[0], "h_bias gradient");
    }
}

TEST(GeluLinearOpTest, InputBiasGradientMatchesFiniteDifference) {
  Tensor h = random_tensor({2, 3, 5}, 45, -2.0f, 2.0f).set_requires_grad(true);
  Tensor w = random_tensor({5, 4}, 46).set_requires_grad(true);
  Tensor b = random_tensor({4}, 47).set_requires_grad(true);
  Tensor hb = random_tensor({5}, 48).set_requires_grad(true);
  for (ops::GeluForm form : {ops::GeluForm::kTanh, ops::GeluForm::kErf}) {
    SCOPED_TRACE(form == ops::GeluForm::kErf ? "erf" : "tanh");
    EXPECT_GRADIENTS_MATCH(
        [form](const std::vector<Tensor>& t) {
          return ops::gelu_linear(t[0], t[1], t[2], ops::WeightLayout::kInOut, Tensor(), form,
                                  t[3]);
        },
        {h, w, b, hb});
  }
  const std::string msg = error_of([&] {
    ops::gelu_linear(h, w, b, ops::WeightLayout::kInOut, Tensor(), ops::GeluForm::kTanh,
                     Tensor::zeros({4}));
  });
  EXPECT_NE(msg.find("gelu_linear: expected a float32 h_bias [5], got float32 [4]"),
            std::string::npos)
      << msg;
}

TEST(LinearOpTest, ResidualIsAddedToTheOutputAndGetsDy) {
  // Forward against the reference loop plus the residual; every gradient, the residual's
  // included, against finite differences; for linear and gelu_linear, with and without bias.
  const int64_t in = 13, out = 7;
  for (const LinearCase& c : linear_cases()) {
    SCOPED_TRACE(describe(c));
    Tensor x = random_tensor(c.x, 30);
    Tensor w =
        random_tensor(c.layout == ops::WeightLayout::kOutIn ? Shape{out, in} : Shape{in, out}, 31);
    Tensor bias = c.bias ? random_tensor({out}, 32) : Tensor();
    Shape out_shape = c.x;
    out_shape.back() = out;
    Tensor residual = random_tensor(out_shape, 33);
    std::vector<float> want = reference_linear(x, w, bias, c.layout);
    const std::vector<float> r = residual.to_floats();
    for (std::size_t i = 0; i < want.size(); ++i) want[i] += r[i];
    expect_close(ops::linear(x, w, bias, c.layout, residual).to_floats(), want, describe(c));

    std::vector<Tensor> inputs = {x.set_requires_grad(true), w.set_requires_grad(true),
                                  residual.set_requires_grad(true)};
    if (c.bias) inputs.push_back(bias.set_requires_grad(true));
    for (bool gelu : {false, true}) {
      auto fn = [&](const std::vector<Tensor>& t) {
        const Tensor b = t.size() > 3 ? t[3] : Tensor();
        return gelu ? ops::gelu_linear(t[0], t[1], b, c.layout, t[2])
                    : ops::linear(t[0], t[1], b, c.layout, t[2]);
      };
      EXPECT_GRADIENTS_MATCH(fn, inputs);
    }
  }
}

TEST(LinearOpTest, ResidualOfTheWrongShapeIsRefused) {
  Tensor x = Tensor::zeros({4, 13}), w = Tensor::zeros({7, 13});
  const std::string msg = error_of([&] {
    ops::linear(x, w, Tensor(), ops::WeightLayout::kOutIn, Tensor::zeros({4, 8}));
  });
  EXPECT_NE(msg.find("linear: expected a float32 residual [4, 7], got float32 [4, 8]"),
            std::string::npos)
      << msg;
}

TEST(LinearOpTest, BiasGradientIsIdenticalAcrossThreadCountsAndMatchesDoubleSums) {
  // Column sums are parallel over columns only, so each column's order never changes. 2,100
  // columns: each thread's range spans more than one 1,024-column chunk.
  const int64_t rows = 300, cols = 2100;
  Tensor x = random_tensor({rows, 13}, 20), w = random_tensor({cols, 13}, 21);
  Tensor bias = random_tensor({cols}, 22).set_requires_grad(true);
  Tensor dy = random_tensor({rows, cols}, 23);  // the seed: d(sum y * dy)/dy = dy
  std::vector<std::vector<float>> grads;
  int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    backward(ops::sum_all(ops::mul(ops::linear(x, w, bias, ops::WeightLayout::kOutIn), dy)));
    grads.push_back(bias.grad().to_floats());
    bias.reset_grad();
  }
  set_num_threads(saved);
  EXPECT_EQ(grads[0], grads[1]);
  for (int64_t c = 0; c < cols; ++c) {
    double want = 0;
    for (int64_t r = 0; r < rows; ++r) want += dy.data()[r * cols + c];
    ASSERT_NEAR(grads[0][c], want, 1e-4) << "column " << c;
  }
}

TEST(LinearOpTest, RejectsBadShapesWithHelpfulMessage) {
  Tensor x = Tensor::zeros({4, 13});
  std::string msg = error_of([&] {
    ops::linear(x, Tensor::zeros({13, 7}), Tensor(), ops::WeightLayout::kOutIn);
  });
  EXPECT_NE(msg.find("linear: expected weight [out, in] with in = 13"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got [13, 7]"), std::string::npos) << msg;
  msg = error_of([&] {
    ops::linear(x, Tensor::zeros({13, 7}), Tensor::zeros({8}), ops::WeightLayout::kInOut);
  });
  EXPECT_NE(msg.find("linear: expected bias [7], got [8]"), std::string::npos) << msg;
}

}  // namespace
}  // namespace kiln
