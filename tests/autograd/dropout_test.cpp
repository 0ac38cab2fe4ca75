// Tests for ops::dropout: the seeded mask, its scaling, identity cases and the backward.
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

TEST(DropoutOpTest, ForwardMatchesReference) {
  const float p = 0.3f;
  Tensor x = random_tensor({3, 37}, 1);
  Tensor y = ops::dropout(x, p, /*seed=*/7);
  ASSERT_EQ(y.shape(), x.shape());
  int kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    bool keep = random_uniform(7, i) >= p;
    kept += keep;
    EXPECT_FLOAT_EQ(y.data()[i], keep ? x.data()[i] / (1.0f - p) : 0.0f) << "element " << i;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, x.numel());
}

TEST(DropoutOpTest, MaskDependsOnlyOnSeedAndIndex) {
  Tensor x = Tensor::full({100003}, 1.0f);  // big enough to run on two threads
  std::vector<float> one_thread, two_threads;
  {
    ScopedThreads threads(1);
    one_thread = ops::dropout(x, 0.5f, 42).to_floats();
  }
  {
    ScopedThreads threads(2);
    two_threads = ops::dropout(x, 0.5f, 42).to_floats();
  }
  EXPECT_EQ(one_thread, two_threads);
  EXPECT_EQ(ops::dropout(x, 0.5f, 42).to_floats(), one_thread);
  std::vector<float> other_seed = ops::dropout(x, 0.5f, 43).to_floats();
  int64_t differ = 0;
  for (std::size_t i = 0; i < other_seed.size(); ++i) differ += other_seed[i] != one_thread[i];
  EXPECT_GT(differ, 40000);  // independent masks disagree on about half the elements
}

TEST(DropoutOpTest, KeptFractionIsNearOneMinusP) {
  Tensor x = Tensor::full({200000}, 1.0f);
  for (float p : {0.1f, 0.25f, 0.9f}) {
    std::vector<float> y = ops::dropout(x, p, 3).to_floats();
    int64_t kept = 0;
    double total = 0;
    for (float v : y) {
      kept += v != 0.0f;
      total += v;
    }
    EXPECT_NEAR(static_cast<double>(kept) / y.size(), 1.0 - p, 0.01) << "p " << p;
    EXPECT_NEAR(total / y.size(), 1.0, 0.03) << "p " << p;  // inverted dropout keeps the mean
  }
}

TEST(DropoutOpTest, IdentityWhenNotTrainingOrPIsZero) {
  Tensor x = random_tensor({4, 5}, 4).set_requires_grad(true);
  std::size_t before = tape_size();
  EXPECT_TRUE(ops::dropout(x, 0.5f, 1, /*training=*/false).same(x));
  EXPECT_TRUE(ops::dropout(x, 0.0f, 1).same(x));
  EXPECT_EQ(tape_size(), before);
}

TEST(DropoutOpTest, BackwardMatchesFiniteDifference) {
  for (auto [shape, p] :
       std::vector<std::pair<Shape, float>>{{{5, 7}, 0.2f}, {{3, 4, 9}, 0.5f}, {{13}, 0.7f}}) {
    Tensor x = random_tensor(shape, 5).set_requires_grad(true);
    float prob = p;
    EXPECT_GRADIENTS_MATCH(
        [prob](const std::vector<Tensor>& v) { return ops::dropout(v[0], prob, 99); }, {x});
  }
}

TEST(DropoutOpTest, BadProbabilityThrows) {
  Tensor x = random_tensor({3}, 6);
  for (float p : {1.0f, -0.1f, NAN}) {
    try {
      ops::dropout(x, p, 1, /*training=*/false);  // rejected even when inactive
      ADD_FAILURE() << "expected kiln::Error for p " << p;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("dropout: expected p in [0, 1), got"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(ops::dropout(Tensor::from_ints({2}, {1, 2}), 0.5f, 1), Error);
}

}  // namespace
}  // namespace kiln
