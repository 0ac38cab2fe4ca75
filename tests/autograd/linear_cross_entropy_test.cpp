// Tests for ops::linear_cross_entropy: loss, gradients and predictions against a plain
// double-precision loop over the whole logits matrix, for blocks of every size, with a bias,
// ignored rows and label smoothing; finite differences; and its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "base/error.h"
#include "base/rng.h"
#include "tests/autograd/gradcheck.h"

namespace kiln {
namespace {

using testing::random_tensor;
using testing::ScopedThreads;

struct Reference {
  double loss = 0;
  std::vector<double> dx, dw, db;  // for a seed of 1
  std::vector<int32_t> argmax;
};

// z = x W^T + b in double, then each kept row's (1 - eps) (lse - z_t) + eps mean_j (lse - z_j)
// over the kept rows, and the gradients through dz = (softmax - q) / count.
Reference reference(const Tensor& x, const Tensor& w, const Tensor& b,
                    const std::vector<int32_t>& targets, double eps) {
  const int64_t c = w.dim(0), d = w.dim(1), rows = static_cast<int64_t>(targets.size());
  Reference ref;
  ref.dx.assign(rows * d, 0.0);
  ref.dw.assign(c * d, 0.0);
  ref.db.assign(c, 0.0);
  int64_t count = 0;
  for (int32_t t : targets) count += t != ops::kIgnoreIndex;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> z(c);
    for (int64_t j = 0; j < c; ++j) {
      z[j] = b.defined() ? b.data()[j] : 0.0;
      for (int64_t k = 0; k < d; ++k) z[j] += double(x.data()[r * d + k]) * w.data()[j * d + k];
    }
    int32_t best = 0;
    for (int64_t j = 1; j < c; ++j)
      if (z[j] > z[best]) best = static_cast<int32_t>(j);
    ref.argmax.push_back(best);
    const int32_t t = targets[r];
    if (t == ops::kIgnoreIndex) continue;
    double sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += std::exp(z[j] - z[best]);
    const double lse = z[best] + std::log(sum);
    double uniform = 0;
    for (int64_t j = 0; j < c; ++j) uniform += (lse - z[j]) / c;
    ref.loss += ((1 - eps) * (lse - z[t]) + eps * uniform) / count;
    for (int64_t j = 0; j < c; ++j) {
      const double dz = (std::exp(z[j] - lse) - (j == t ? 1 - eps : 0.0) - eps / c) / count;
      ref.db[j] += dz;
      for (int64_t k = 0; k < d; ++k) {
        ref.dx[r * d + k] += dz * w.data()[j * d + k];
        ref.dw[j * d + k] += dz * x.data()[r * d + k];
      }
    }
  }
  return ref;
}

std::vector<int32_t> random_targets(int64_t rows, int32_t classes, uint64_t seed,
                                    int ignore_every) {
  std::vector<int32_t> t(rows);
  for (int64_t i = 0; i < rows; ++i)
    t[i] = ignore_every && i % ignore_every == 1
               ? ops::kIgnoreIndex
               : static_cast<int32_t>(random_uniform(seed, i) * static_cast<float>(classes));
  return t;
}

void expect_near_all(const Tensor& got, const std::vector<double>& want, double tol,
                     const char* what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got.data()[i], want[i], tol) << what << " element " << i;
}

struct Case {
  int64_t rows, d, classes;
  bool bias;
  int ignore_every;
  float eps;
  int64_t chunk_rows;  // 0: the op's own choice
};

TEST(LinearCrossEntropyOpTest, MatchesPlainLoopForEveryBlockSize) {
  ScopedThreads threads(2);
  for (const Case& k : std::vector<Case>{{7, 5, 11, false, 0, 0.0f, 0},
                                         {7, 5, 11, true, 3, 0.0f, 1},
                                         {7, 5, 11, true, 3, 0.1f, 3},
                                         {40, 16, 1003, true, 4, 0.1f, 0},
                                         {40, 16, 1003, false, 0, 0.0f, 7},
                                         {9, 8, 20, true, 2, 0.5f, 9}}) {
    SCOPED_TRACE(::testing::Message() << "rows " << k.rows << " classes " << k.classes << " chunk "
                                      << k.chunk_rows << " eps " << k.eps);
    Tensor x = random_tensor({k.rows, k.d}, 1, -1.0f, 1.0f).set_requires_grad(true);
    Tensor w = random_tensor({k.classes, k.d}, 2, -1.0f, 1.0f).set_requires_grad(true);
    Tensor b = k.bias ? random_tensor({k.classes}, 3).set_requires_grad(true) : Tensor();
    std::vector<int32_t> t = random_targets(k.rows, int32_t(k.classes), 4, k.ignore_every);
    std::vector<int32_t> predictions;
    Tensor loss = ops::linear_cross_entropy(
        x, w, b, Tensor::from_ints({k.rows}, t),
        {.label_smoothing = k.eps, .chunk_rows = k.chunk_rows, .predictions = &predictions});
    Reference ref = reference(x, w, b, t, k.eps);
    EXPECT_NEAR(loss.item(), ref.loss, 1e-5 * (1 + std::fabs(ref.loss)));
    EXPECT_EQ(predictions, ref.argmax);
    backward(loss);
    expect_near_all(x.grad(), ref.dx, 1e-5, "dx");
    expect_near_all(w.grad(), ref.dw, 1e-5, "dW");
    if (k.bias) expect_near_all(b.grad(), ref.db, 1e-5, "db");
    for (const Tensor& p : {x, w, b})
      if (p.defined()) p.reset_grad();
  }
}

TEST(LinearCrossEntropyOpTest, PredictionIsTheFirstIndexOfTheLargestLogit) {
  // x = [1] and a [V, 1] weight make the logits the weight itself. 150 classes: two full
  // 64-wide blocks and a tail. Ties go to the first index, across blocks and within one; -0.0
  // and +0.0 tie as std::max_element has them.
  const int64_t classes = 150;
  auto predict = [&](const std::vector<float>& logits) {
    std::vector<int32_t> predictions;
    ops::linear_cross_entropy(Tensor::from_floats({1, 1}, {1.0f}),
                              Tensor::from_floats({classes, 1}, logits), Tensor(),
                              Tensor::from_ints({1}, {0}), {.predictions = &predictions});
    return predictions.at(0);
  };
  std::vector<float> logits(classes, -1.0f);
  logits[149] = 2.0f;  // in the tail
  EXPECT_EQ(predict(logits), 149);
  logits[130] = 2.0f, logits[70] = 2.0f;  // ties in two blocks
  EXPECT_EQ(predict(logits), 70);
  logits[65] = 2.0f;  // a tie earlier in the same block
  EXPECT_EQ(predict(logits), 65);
  std::vector<float> zeros(classes, -3.0f);
  zeros[10] = -0.0f, zeros[5] = 0.0f, zeros[3] = -0.0f;
  EXPECT_EQ(predict(zeros), 3);
}

TEST(LinearCrossEntropyOpTest, AgreesWithLinearThenCrossEntropy) {
  // The unfused pair on [2, 3, d] inputs: the same loss, and gradients within rounding.
  Tensor x = random_tensor({2, 3, 6}, 5).set_requires_grad(true);
  Tensor w = random_tensor({13, 6}, 6).set_requires_grad(true);
  Tensor targets = Tensor::from_ints({2, 3}, {0, 12, -100, 5, 5, 1});
  Tensor fused = ops::linear_cross_entropy(x, w, Tensor(), targets, {.chunk_rows = 2});
  backward(fused);
  std::vector<float> dx = x.grad().to_floats(), dw = w.grad().to_floats();
  x.reset_grad(), w.reset_grad();
  Tensor plain =
      ops::cross_entropy(ops::linear(x, w, Tensor(), ops::WeightLayout::kOutIn), targets);
  backward(plain);
  EXPECT_NEAR(fused.item(), plain.item(), 1e-6);
  EXPECT_LT(testing::max_abs_diff(dx, x.grad().to_floats()), 1e-6f);
  EXPECT_LT(testing::max_abs_diff(dw, w.grad().to_floats()), 1e-6f);
  x.reset_grad(), w.reset_grad();
}

TEST(LinearCrossEntropyOpTest, BackwardMatchesFiniteDifference) {
  // The checker seeds the loss with a random weight, so this also covers scaling by the seed.
  Tensor x = random_tensor({5, 4}, 7).set_requires_grad(true);
  Tensor w = random_tensor({9, 4}, 8).set_requires_grad(true);
  Tensor b = random_tensor({9}, 9).set_requires_grad(true);
  Tensor targets = Tensor::from_ints({5}, random_targets(5, 9, 10, 3));
  for (float eps : {0.0f, 0.1f})
    EXPECT_GRADIENTS_MATCH(
        [&](const std::vector<Tensor>& v) {
          return ops::linear_cross_entropy(v[0], v[1], v[2], targets,
                                           {.label_smoothing = eps, .chunk_rows = 2});
        },
        {x, w, b});
}

TEST(LinearCrossEntropyOpTest, WeightGradientMadeInForwardIsSettledOrTakenBack) {
  // dW goes into w's gradient during forward. Whatever happens next, w's gradient must be
  // what the unfused pair would leave: seed s gives s * dW on top of what was there, a cleared
  // tape or a loss backward never reaches leaves it as it was.
  Tensor x = random_tensor({7, 5}, 31).set_requires_grad(true);
  Tensor w = random_tensor({11, 5}, 32).set_requires_grad(true);
  Tensor targets = Tensor::from_ints({7}, random_targets(7, 11, 33, 2));
  const ops::LinearCrossEntropyOptions blocks{.chunk_rows = 3};
  auto reference_dw = [&](float seed) {
    Tensor xr = x.detach(), wr = w.detach().clone().set_requires_grad(true);
    backward(ops::cross_entropy(ops::linear(xr, wr, Tensor(), ops::WeightLayout::kOutIn), targets),
             Tensor::full({}, seed));
    return wr.grad().to_floats();
  };
  const std::vector<float> before = random_tensor({11, 5}, 34).to_floats();
  auto start = [&] { w.ensure_grad(), std::copy(before.begin(), before.end(), w.grad().data()); };
  auto added = [&] {
    std::vector<float> g = w.grad().to_floats();
    for (std::size_t i = 0; i < g.size(); ++i) g[i] -= before[i];
    return g;
  };
  for (float seed : {1.0f, 0.25f, -2.0f}) {
    SCOPED_TRACE(seed);
    start();
    backward(ops::linear_cross_entropy(x, w, Tensor(), targets, blocks), Tensor::full({}, seed));
    EXPECT_LT(testing::max_abs_diff(added(), reference_dw(seed)), 1e-5f);
  }
  start();
  Tensor unused = ops::linear_cross_entropy(x, w, Tensor(), targets, blocks);
  clear_tape();
  EXPECT_LT(testing::max_abs_diff(added(), std::vector<float>(55, 0.0f)), 1e-6f);
  // Recorded, but the loss backward starts from does not depend on it.
  start();
  Tensor ignored = ops::linear_cross_entropy(x, w, Tensor(), targets, blocks);
  backward(ops::sum_all(ops::scale(x, 2.0f)));
  EXPECT_LT(testing::max_abs_diff(added(), std::vector<float>(55, 0.0f)), 1e-6f);
  x.reset_grad(), w.reset_grad();
}

TEST(LinearCrossEntropyOpTest, OnlyTheInputsThatNeedGradientsGetThem) {
  Tensor x = random_tensor({4, 3}, 11).set_requires_grad(true);
  Tensor w = random_tensor({6, 3}, 12);  // frozen
  Tensor loss = ops::linear_cross_entropy(x, w, Tensor(), Tensor::from_ints({4}, {0, 1, 2, 3}));
  backward(loss);
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  x.reset_grad();
  // Without gradients nothing is recorded, and the loss is the same.
  NoGradGuard no_grad;
  EXPECT_EQ(ops::linear_cross_entropy(x, w, Tensor(), Tensor::from_ints({4}, {0, 1, 2, 3})).item(),
            loss.item());
  EXPECT_EQ(tape_size(), 0u);
}

TEST(LinearCrossEntropyOpTest, BadInputsNameWhatWasExpected) {
  Tensor x = random_tensor({2, 3, 4}, 13);
  Tensor w = random_tensor({5, 4}, 14);
  auto message = [](const Tensor& input, const Tensor& weight, const Tensor& b, const Tensor& t) {
    try {
      ops::linear_cross_entropy(input, weight, b, t);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  Tensor good = Tensor::from_ints({2, 3}, {0, 1, 2, 3, 4, 0});
  std::string range = message(x, w, Tensor(), Tensor::from_ints({2, 3}, {0, 1, 2, 3, 4, 5}));
  EXPECT_NE(range.find("linear_cross_entropy: expected targets in [0, 5) or ignore_index -100, "
                       "got 5 at position [1, 2]"),
            std::string::npos)
      << range;
  std::string width = message(x, random_tensor({5, 3}, 15), Tensor(), good);
  EXPECT_NE(width.find("weight [V, d] with V > 0, got [2, 3, 4] and [5, 3]"), std::string::npos)
      << width;
  std::string bias = message(x, w, random_tensor({4}, 16), good);
  EXPECT_NE(bias.find("expected a float32 bias [5], got [4]"), std::string::npos) << bias;
  std::string shape = message(x, w, Tensor(), Tensor::from_ints({3, 2}, {0, 1, 2, 3, 4, 0}));
  EXPECT_NE(shape.find("int32 targets of shape [2, 3] for x [2, 3, 4], got int32 [3, 2]"),
            std::string::npos)
      << shape;
}

}  // namespace
}  // namespace kiln
