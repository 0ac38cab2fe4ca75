// Tests for ops::layer_norm: forward against a double-precision loop, gradients against
// central differences, accumulation into existing gradients, and its error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "base/error.h"
#include "tests/autograd/gradcheck.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

using testing::random_tensor;

// Plain loop: per row, y = gamma * (x - mean) / sqrt(biased variance + eps) + beta.
std::vector<float> reference_layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                        float eps) {
  const int64_t c = x.dim(-1), rows = x.numel() / c;
  const float *px = x.data(), *g = gamma.data(), *b = beta.data();
  std::vector<float> y(x.numel());
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = px + r * c;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < c; ++j) mean += row[j];
    mean /= c;
    for (int64_t j = 0; j < c; ++j) var += (row[j] - mean) * (row[j] - mean);
    var /= c;
    double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t j = 0; j < c; ++j)
      y[r * c + j] = static_cast<float>((row[j] - mean) * inv * g[j] + b[j]);
  }
  return y;
}

// Rows with a non-zero mean and a spread well above 1, so normalisation really does work.
Tensor shifted_input(const Shape& shape, uint64_t seed) {
  Tensor x = random_tensor(shape, seed, -3.0f, 3.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] += 2.0f;
  return x;
}

TEST(LayerNormOpTest, ForwardMatchesReferenceLoop) {
  // Several shapes in sequence (each builds its own cached primitive) and several eps.
  const std::vector<Shape> shapes = {{3, 5}, {2, 3, 7}, {4, 33}, {3, 5}, {64}};
  for (const Shape& shape : shapes) {
    for (float eps : {1e-5f, 1e-2f, 0.5f}) {
      const int64_t c = shape.back();
      Tensor x = shifted_input(shape, 1);
      Tensor gamma = random_tensor({c}, 2, -1.5f, 1.5f), beta = random_tensor({c}, 3);
      std::vector<float> expected = reference_layer_norm(x, gamma, beta, eps);
      Tensor y = ops::layer_norm(x, gamma, beta, eps);
      ASSERT_EQ(y.shape(), shape);
      std::vector<float> got = y.to_floats();
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], expected[i], 2e-5 + 2e-5 * std::fabs(expected[i]))
            << "shape " << shape_str(shape) << " eps " << eps << " element " << i;
    }
  }
}

TEST(LayerNormOpTest, TrainingAndInferenceForwardsAgree) {
  // Recording selects the forward_training primitive (which keeps statistics); no-grad mode
  // the inference one. Both must give the same output.
  Tensor x = shifted_input({5, 33}, 4);
  Tensor gamma = random_tensor({33}, 5).set_requires_grad(true), beta = random_tensor({33}, 6);
  Tensor trained = ops::layer_norm(x, gamma, beta, 1e-5f);
  EXPECT_EQ(tape_size(), 1u);
  clear_tape();
  Tensor inferred;
  {
    NoGradGuard no_grad;
    inferred = ops::layer_norm(x, gamma, beta, 1e-5f);
  }
  EXPECT_EQ(tape_size(), 0u);
  EXPECT_LE(testing::max_abs_diff(trained.to_floats(), inferred.to_floats()), 1e-6f);
}

TEST(LayerNormOpTest, BackwardMatchesFiniteDifference) {
  auto fn = [](const std::vector<Tensor>& in) {
    return ops::layer_norm(in[0], in[1], in[2], 1e-5f);
  };
  for (const Shape& shape : std::vector<Shape>{{3, 5}, {2, 3, 7}, {4, 33}}) {
    const int64_t c = shape.back();
    std::vector<Tensor> inputs = {shifted_input(shape, 7).set_requires_grad(true),
                                  random_tensor({c}, 8, -1.5f, 1.5f).set_requires_grad(true),
                                  random_tensor({c}, 9).set_requires_grad(true)};
    SCOPED_TRACE(shape_str(shape));
    EXPECT_GRADIENTS_MATCH(fn, inputs);
  }
}

TEST(LayerNormOpTest, BackwardMatchesFiniteDifferenceForParametersOnly) {
  // x needs no gradient: oneDNN still produces dx, which must simply be dropped.
  auto fn = [](const std::vector<Tensor>& in) {
    return ops::layer_norm(in[0], in[1], in[2], 1e-3f);
  };
  std::vector<Tensor> inputs = {shifted_input({6, 9}, 10),
                                random_tensor({9}, 11).set_requires_grad(true),
                                random_tensor({9}, 12).set_requires_grad(true)};
  EXPECT_GRADIENTS_MATCH(fn, inputs);
}

TEST(LayerNormOpTest, BackwardAddsIntoExistingGradient) {
  Tensor x = shifted_input({3, 11}, 13).set_requires_grad(true);
  Tensor gamma = random_tensor({11}, 14).set_requires_grad(true);
  Tensor beta = random_tensor({11}, 15).set_requires_grad(true);
  Tensor seed = random_tensor({3, 11}, 16);
  backward(ops::layer_norm(x, gamma, beta, 1e-5f), seed);
  std::vector<float> dx = x.grad().to_floats(), dbeta = beta.grad().to_floats();
  // dbeta is the column sum of the seed: check one real value, not just consistency.
  double col0 = 0;
  for (int r = 0; r < 3; ++r) col0 += seed.data()[r * 11];
  EXPECT_NEAR(dbeta[0], col0, 1e-5);

  // A second backward into the same buffers must add, not overwrite.
  backward(ops::layer_norm(x, gamma, beta, 1e-5f), seed);
  std::vector<float> dx2 = x.grad().to_floats(), dbeta2 = beta.grad().to_floats();
  for (std::size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx2[i], 2 * dx[i], 1e-5) << i;
  for (std::size_t i = 0; i < dbeta.size(); ++i) EXPECT_NEAR(dbeta2[i], 2 * dbeta[i], 1e-5) << i;
}

TEST(LayerNormOpTest, ParameterGradientsOverManyRowBlocksMatchReference) {
  // 1000 rows: 16 row blocks whose partial sums are added in order, the last one ragged.
  // dbeta[j] = sum_r dy[r, j] and dgamma[j] = sum_r dy[r, j] xhat[r, j], in double.
  const int64_t rows = 1000, c = 40;
  testing::ScopedThreads threads(2);
  Tensor x = shifted_input({rows, c}, 25).set_requires_grad(true);
  Tensor gamma = random_tensor({c}, 26).set_requires_grad(true);
  Tensor beta = random_tensor({c}, 27).set_requires_grad(true);
  Tensor seed = random_tensor({rows, c}, 28);
  backward(ops::layer_norm(x, gamma, beta, 1e-5f), seed);
  const float* xs = x.data();
  const float* dy = seed.data();
  std::vector<double> dgamma(c, 0.0), dbeta(c, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < c; ++j) mean += xs[r * c + j];
    mean /= c;
    for (int64_t j = 0; j < c; ++j) var += (xs[r * c + j] - mean) * (xs[r * c + j] - mean);
    const double inv = 1.0 / std::sqrt(var / c + 1e-5);
    for (int64_t j = 0; j < c; ++j) {
      dgamma[j] += dy[r * c + j] * (xs[r * c + j] - mean) * inv;
      dbeta[j] += dy[r * c + j];
    }
  }
  const std::vector<float> got_gamma = gamma.grad().to_floats(), got_beta = beta.grad().to_floats();
  for (int64_t j = 0; j < c; ++j) {
    EXPECT_NEAR(got_gamma[j], dgamma[j], 1e-3 + 1e-4 * std::fabs(dgamma[j])) << j;
    EXPECT_NEAR(got_beta[j], dbeta[j], 1e-3 + 1e-4 * std::fabs(dbeta[j])) << j;
  }
}

TEST(LayerNormOpTest, ResultsMatchOneThreadBitForBit) {
  // Rows split over the threads and gamma's and beta's gradients summed in fixed row blocks:
  // the thread count cannot change a bit. 1000 rows: several blocks, and a ragged last one.
  auto run = [](int threads) {
    testing::ScopedThreads scoped(threads);
    Tensor x = shifted_input({1000, 96}, 21).set_requires_grad(true);
    Tensor gamma = random_tensor({96}, 22).set_requires_grad(true);
    Tensor beta = random_tensor({96}, 23).set_requires_grad(true);
    Tensor y = ops::layer_norm(x, gamma, beta, 1e-5f);
    backward(y, random_tensor({1000, 96}, 24));
    std::vector<float> all = y.to_floats();
    for (const Tensor& t : {x, gamma, beta})
      for (float g : t.grad().to_floats()) all.push_back(g);
    return all;
  };
  std::vector<float> one = run(1);
  EXPECT_EQ(one, run(2));
  EXPECT_EQ(one, run(1));
}

TEST(LayerNormOpTest, NoRowsGiveEmptyOutputAndZeroParameterGradients) {
  Tensor x = Tensor::zeros({0, 5}).set_requires_grad(true);
  Tensor gamma = random_tensor({5}, 25).set_requires_grad(true);
  Tensor beta = random_tensor({5}, 26).set_requires_grad(true);
  Tensor y = ops::layer_norm(x, gamma, beta, 1e-5f);
  ASSERT_EQ(y.shape(), Shape({0, 5}));
  backward(y, Tensor::zeros({0, 5}));
  EXPECT_EQ(gamma.grad().to_floats(), std::vector<float>(5, 0.0f));
  EXPECT_EQ(beta.grad().to_floats(), std::vector<float>(5, 0.0f));
}

TEST(LayerNormOpTest, RejectsBadInputsWithHelpfulMessages) {
  Tensor x = random_tensor({2, 5}, 17), gamma = random_tensor({5}, 18),
         beta = random_tensor({5}, 19);
  std::string msg = error_of([&] { ops::layer_norm(x, random_tensor({4}, 20), beta, 1e-5f); });
  EXPECT_NE(msg.find("layer_norm: expected gamma and beta of shape [5]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got gamma [4] and beta [5]"), std::string::npos) << msg;

  msg = error_of([&] { ops::layer_norm(x, gamma, random_tensor({5, 1}, 21), 1e-5f); });
  EXPECT_NE(msg.find("beta [5, 1]"), std::string::npos) << msg;

  msg = error_of([&] {
    ops::layer_norm(Tensor::from_ints({2, 5}, std::vector<int32_t>(10, 1)), gamma, beta, 1e-5f);
  });
  EXPECT_NE(msg.find("layer_norm: expected float32"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got int32"), std::string::npos) << msg;

  msg = error_of([&] { ops::layer_norm(Tensor::scalar(1.0f), gamma, beta, 1e-5f); });
  EXPECT_NE(msg.find("layer_norm: expected x of shape [..., C]"), std::string::npos) << msg;

  msg = error_of([&] { ops::layer_norm(x, gamma, beta, -1.0f); });
  EXPECT_NE(msg.find("layer_norm: expected eps >= 0, got -1"), std::string::npos) << msg;
}

}  // namespace
}  // namespace kiln
