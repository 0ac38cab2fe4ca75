// Tests for ops::cross_entropy: loss and gradient against a double-precision reference,
// ignore_index handling, stability with large logits, determinism and target validation.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "base/rng.h"
#include "tests/autograd/gradcheck.h"

namespace kiln {
namespace {

using testing::random_tensor;

using testing::ScopedThreads;

// Plain double-precision reference: the loss, and its gradient for a seed of 1.
struct Reference {
  double loss = 0;
  std::vector<double> grad;
};

// With label smoothing eps the row loss is (1 - eps) * (lse - x[t]) + eps * mean_j (lse - x[j]),
// and its gradient softmax - ((1 - eps) * onehot + eps / C).
Reference reference(const Tensor& logits, const Tensor& targets, int32_t ignore = -100,
                    double eps = 0.0) {
  const int64_t c = logits.dim(-1), rows = targets.numel();
  Reference ref;
  ref.grad.assign(logits.numel(), 0.0);
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) count += targets.ints()[r] != ignore;
  for (int64_t r = 0; r < rows; ++r) {
    int32_t t = targets.ints()[r];
    if (t == ignore) continue;
    const float* x = logits.data() + r * c;
    double m = x[0], sum = 0;
    for (int64_t j = 0; j < c; ++j) m = std::max(m, static_cast<double>(x[j]));
    for (int64_t j = 0; j < c; ++j) sum += std::exp(x[j] - m);
    double lse = m + std::log(sum);
    double uniform = 0;  // sum over classes of -log p_j
    for (int64_t j = 0; j < c; ++j) uniform += lse - x[j];
    ref.loss += ((1 - eps) * (lse - x[t]) + eps * uniform / c) / count;
    for (int64_t j = 0; j < c; ++j)
      ref.grad[r * c + j] =
          (std::exp(x[j] - lse) - (1 - eps) * (j == t ? 1.0 : 0.0) - eps / c) / count;
  }
  return ref;
}

// Targets in [0, classes), with every `ignore_every`-th position set to kIgnoreIndex.
Tensor random_targets(const Shape& shape, int32_t classes, uint64_t seed, int ignore_every = 0) {
  Tensor t = Tensor::empty(shape, DType::kI32);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.ints()[i] = ignore_every && i % ignore_every == 1
                      ? ops::kIgnoreIndex
                      : static_cast<int32_t>(random_uniform(seed, i) * static_cast<float>(classes));
  return t;
}

// Runs forward and backward (seed 1) and checks both against the reference.
void expect_matches_reference(const Tensor& logits, const Tensor& targets, double tol,
                              int32_t ignore = ops::kIgnoreIndex, float eps = 0.0f) {
  logits.reset_grad();
  Tensor loss = ops::cross_entropy(logits, targets, ignore, eps);
  Reference ref = reference(logits, targets, ignore, eps);
  ASSERT_EQ(loss.rank(), 0);
  EXPECT_NEAR(loss.item(), ref.loss, tol * (1 + std::fabs(ref.loss)));
  backward(loss);
  std::vector<float> grad = logits.grad().to_floats();
  for (std::size_t i = 0; i < grad.size(); ++i)
    ASSERT_NEAR(grad[i], ref.grad[i], tol) << "element " << i;
  logits.reset_grad();
}

TEST(CrossEntropyOpTest, ForwardAndGradientMatchReference) {
  Tensor logits = random_tensor({3, 4, 11}, 1, -3.0f, 3.0f).set_requires_grad(true);
  expect_matches_reference(logits, random_targets({3, 4}, 11, 2), 1e-6);
  // A 1000-class vocabulary over 40 rows: the vectorised lanes, their tail and two threads.
  ScopedThreads threads(2);
  Tensor wide = random_tensor({40, 1003}, 3, -8.0f, 8.0f).set_requires_grad(true);
  expect_matches_reference(wide, random_targets({40}, 1003, 4), 1e-6);
}

TEST(CrossEntropyOpTest, IgnoredPositionsAreLeftOutOfTheMean) {
  Tensor logits = random_tensor({2, 5, 7}, 5, -2.0f, 2.0f).set_requires_grad(true);
  Tensor targets = random_targets({2, 5}, 7, 6, /*ignore_every=*/3);
  expect_matches_reference(logits, targets, 1e-6);
  // Ignored rows contribute nothing: changing their logits changes neither loss nor gradient.
  float before = ops::cross_entropy(logits, targets).item();
  logits.data()[1 * 7 + 2] += 5.0f;  // row 1 is ignored
  EXPECT_EQ(ops::cross_entropy(logits, targets).item(), before);
  // A custom ignore_index (say a padding id) is just another value.
  Tensor pad_targets = Tensor::from_ints({2, 5}, {0, 3, 0, 6, 1, 0, 0, 2, 5, 4});
  expect_matches_reference(logits, pad_targets, 1e-6, /*ignore=*/0);
}

TEST(CrossEntropyOpTest, LabelSmoothingMatchesReference) {
  for (float eps : {0.1f, 0.5f}) {
    Tensor logits = random_tensor({3, 4, 11}, 21, -3.0f, 3.0f).set_requires_grad(true);
    expect_matches_reference(logits, random_targets({3, 4}, 11, 22, /*ignore_every=*/3), 1e-6,
                             ops::kIgnoreIndex, eps);
    ScopedThreads threads(2);
    Tensor wide = random_tensor({40, 1003}, 23, -8.0f, 8.0f).set_requires_grad(true);
    expect_matches_reference(wide, random_targets({40}, 1003, 24), 1e-6, ops::kIgnoreIndex, eps);
  }
  // Two classes, logits (0, 0), target 0, eps 0.1: -log p = ln 2 for both classes, so the loss
  // is 0.9 ln 2 + 0.1 ln 2 = ln 2; the gradient is p - q = 0.5 - (0.9 + 0.05) = -0.45 at the
  // target and 0.5 - 0.05 = 0.45 at the other class.
  Tensor even = Tensor::from_floats({1, 2}, {0.0f, 0.0f}).set_requires_grad(true);
  Tensor loss = ops::cross_entropy(even, Tensor::from_ints({1}, {0}), ops::kIgnoreIndex, 0.1f);
  EXPECT_NEAR(loss.item(), std::log(2.0), 1e-7);
  backward(loss);
  EXPECT_NEAR(even.grad().data()[0], -0.45f, 1e-7);
  EXPECT_NEAR(even.grad().data()[1], 0.45f, 1e-7);
  even.reset_grad();
}

TEST(CrossEntropyOpTest, LabelSmoothingBackwardMatchesFiniteDifference) {
  Tensor logits = random_tensor({2, 3, 13}, 25, -2.0f, 2.0f).set_requires_grad(true);
  Tensor targets = random_targets({2, 3}, 13, 26, /*ignore_every=*/4);
  EXPECT_GRADIENTS_MATCH(
      [targets](const std::vector<Tensor>& v) {
        return ops::cross_entropy(v[0], targets, ops::kIgnoreIndex, 0.1f);
      },
      {logits});
}

TEST(CrossEntropyOpTest, AllIgnoredGivesZeroLossAndGradient) {
  Tensor logits = random_tensor({3, 4}, 7).set_requires_grad(true);
  Tensor targets = Tensor::from_ints({3}, {-100, -100, -100});
  Tensor loss = ops::cross_entropy(logits, targets);
  EXPECT_EQ(loss.item(), 0.0f);
  backward(loss);
  Tensor grad = logits.grad();
  if (grad.defined()) {
    EXPECT_EQ(grad.to_floats(), std::vector<float>(12, 0.0f));
  }
  logits.reset_grad();
}

TEST(CrossEntropyOpTest, BackwardMatchesFiniteDifference) {
  struct Case {
    Shape logits;
    int ignore_every;
  };
  for (const Case& c : std::vector<Case>{{{5, 7}, 0}, {{2, 3, 13}, 4}, {{4, 1}, 0}, {{6, 9}, 2}}) {
    Tensor logits = random_tensor(c.logits, 8, -2.0f, 2.0f).set_requires_grad(true);
    Shape lead(c.logits.begin(), c.logits.end() - 1);
    Tensor targets = random_targets(lead, static_cast<int32_t>(c.logits.back()), 9, c.ignore_every);
    EXPECT_GRADIENTS_MATCH(
        [targets](const std::vector<Tensor>& v) { return ops::cross_entropy(v[0], targets); },
        {logits});
  }
}

TEST(CrossEntropyOpTest, LargeLogitsAreStable) {
  // Logits in the hundreds: exp would overflow without the max taken out first.
  Tensor big = random_tensor({6, 9}, 10, 300.0f, 400.0f).set_requires_grad(true);
  expect_matches_reference(big, random_targets({6}, 9, 11), 1e-5);
  // Extreme gaps: a confident right answer costs ~0, a confident wrong one ~1000.
  Tensor logits = Tensor::from_floats({2, 3}, {1000.0f, 0.0f, -1000.0f, 1000.0f, 0.0f, -1000.0f})
                      .set_requires_grad(true);
  Tensor loss = ops::cross_entropy(logits, Tensor::from_ints({2}, {0, 1}));
  EXPECT_NEAR(loss.item(), (0.0 + 1000.0) / 2, 1e-3);
  backward(loss);
  std::vector<float> expected = {0.0f, 0.0f, 0.0f, 0.5f, -0.5f, 0.0f};
  EXPECT_LT(testing::max_abs_diff(logits.grad().to_floats(), expected), 1e-6f);
  logits.reset_grad();
}

TEST(CrossEntropyOpTest, ResultIsIdenticalAcrossThreadCounts) {
  Tensor logits = random_tensor({64, 515}, 12, -4.0f, 4.0f).set_requires_grad(true);
  Tensor targets = random_targets({64}, 515, 13, /*ignore_every=*/5);
  std::vector<float> losses;
  std::vector<std::vector<float>> grads;
  for (int threads : {1, 2}) {
    ScopedThreads scoped(threads);
    Tensor loss = ops::cross_entropy(logits, targets);
    backward(loss);
    losses.push_back(loss.item());
    grads.push_back(logits.grad().to_floats());
    logits.reset_grad();
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(grads[0], grads[1]);
}

TEST(CrossEntropyOpTest, BadInputsThrow) {
  Tensor logits = random_tensor({2, 3, 5}, 14);
  auto message = [](const Tensor& l, const Tensor& t) -> std::string {
    try {
      ops::cross_entropy(l, t);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  std::string range = message(logits, Tensor::from_ints({2, 3}, {0, 1, 2, 3, 4, 5}));
  for (std::string part :
       {"cross_entropy", "[0, 5)", "ignore_index -100", "got 5", "position [1, 2]", "[2, 3]"})
    EXPECT_NE(range.find(part), std::string::npos) << range;
  std::string negative = message(logits, Tensor::from_ints({2, 3}, {0, -1, 2, 3, 4, 0}));
  EXPECT_NE(negative.find("got -1 at position [0, 1]"), std::string::npos) << negative;
  std::string shape = message(logits, Tensor::from_ints({3, 2}, {0, 1, 2, 3, 4, 0}));
  EXPECT_NE(shape.find("targets of shape [2, 3] for logits [2, 3, 5], got [3, 2]"),
            std::string::npos)
      << shape;
  std::string dtype = message(logits, Tensor::zeros({2, 3}));
  EXPECT_NE(dtype.find("expected int32 targets, got float32"), std::string::npos) << dtype;
  std::string smoothing;
  try {
    ops::cross_entropy(logits, Tensor::from_ints({2, 3}, {0, 1, 2, 3, 4, 0}), ops::kIgnoreIndex,
                       1.0f);
  } catch (const Error& e) {
    smoothing = e.what();
  }
  EXPECT_NE(smoothing.find("cross_entropy: expected label_smoothing in [0, 1), got 1"),
            std::string::npos)
      << smoothing;
  std::string scalar = message(Tensor::scalar(1.0f), Tensor::from_ints({}, {0}));
  EXPECT_NE(scalar.find("[..., C]"), std::string::npos) << scalar;
}

}  // namespace
}  // namespace kiln
