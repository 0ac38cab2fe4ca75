// Tests for ops::embedding: the row gather, its scatter-add backward and id validation.
#include <gtest/gtest.h>

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

// ids as int32 values in [0, vocab), reproducible, with repeats once n > vocab.
Tensor random_ids(const Shape& shape, int32_t vocab, uint64_t seed) {
  Tensor ids = Tensor::empty(shape, DType::kI32);
  for (int64_t i = 0; i < ids.numel(); ++i)
    ids.ints()[i] = static_cast<int32_t>(random_uniform(seed, i) * static_cast<float>(vocab));
  return ids;
}

TEST(EmbeddingOpTest, ForwardMatchesReference) {
  Tensor weight = random_tensor({7, 5}, 1);
  Tensor ids = Tensor::from_ints({2, 3}, {6, 0, 3, 3, 1, 6});
  Tensor y = ops::embedding(weight, ids);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5}));
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t c = 0; c < 5; ++c)
      EXPECT_EQ(y.data()[i * 5 + c], weight.data()[ids.ints()[i] * 5 + c]);
  // Rank-0 ids give one row.
  Tensor one = ops::embedding(weight, Tensor::from_ints({}, {4}));
  EXPECT_EQ(one.shape(), (Shape{5}));
  EXPECT_EQ(one.to_floats(), std::vector<float>(weight.data() + 20, weight.data() + 25));
}

TEST(EmbeddingOpTest, BackwardMatchesFiniteDifference) {
  struct Case {
    int64_t vocab, d;
    Shape ids;
  };
  for (const Case& c : std::vector<Case>{{6, 5, {4}}, {5, 17, {2, 3}}, {9, 8, {3, 7}}}) {
    Tensor weight = random_tensor({c.vocab, c.d}, 2).set_requires_grad(true);
    Tensor ids = random_ids(c.ids, static_cast<int32_t>(c.vocab), 3);
    EXPECT_GRADIENTS_MATCH(
        [ids](const std::vector<Tensor>& v) { return ops::embedding(v[0], ids); }, {weight});
  }
}

// Rows hit by many ids accumulate in id order, whatever the thread count.
TEST(EmbeddingOpTest, BackwardIsExactAndThreadIndependent) {
  const int64_t vocab = 13, d = 300, n = 200;
  Tensor ids = random_ids({n}, vocab, 4);
  Tensor dy = random_tensor({n, d}, 5);
  std::vector<std::vector<float>> grads;
  for (int threads : {1, 2}) {
    ScopedThreads scoped(threads);
    Tensor weight = random_tensor({vocab, d}, 6).set_requires_grad(true);
    backward(ops::embedding(weight, ids), dy);
    grads.push_back(weight.grad().to_floats());
  }
  EXPECT_EQ(grads[0], grads[1]);
  for (int64_t v = 0; v < vocab; ++v)
    for (int64_t c = 0; c < d; ++c) {
      double expected = 0;
      for (int64_t i = 0; i < n; ++i)
        if (ids.ints()[i] == v) expected += dy.data()[i * d + c];
      ASSERT_NEAR(grads[0][v * d + c], expected, 1e-4) << "row " << v << " column " << c;
    }
}

TEST(EmbeddingOpTest, BadInputsThrow) {
  Tensor weight = random_tensor({7, 4}, 7);
  auto message = [&](const Tensor& w, const Tensor& ids) -> std::string {
    try {
      ops::embedding(w, ids);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  std::string bad_id = message(weight, Tensor::from_ints({2, 3}, {0, 1, 2, 9, 4, 5}));
  for (std::string part : {"embedding", "[0, 7)", "id 9", "position [1, 0]", "[2, 3]"})
    EXPECT_NE(bad_id.find(part), std::string::npos) << bad_id;
  std::string negative = message(weight, Tensor::from_ints({3}, {0, -1, 2}));
  EXPECT_NE(negative.find("id -1 at position [1]"), std::string::npos) << negative;
  std::string float_ids = message(weight, Tensor::zeros({3}));
  EXPECT_NE(float_ids.find("embedding: expected int32 ids, got float32"), std::string::npos)
      << float_ids;
  std::string flat_weight = message(random_tensor({7}, 8), Tensor::from_ints({1}, {0}));
  EXPECT_NE(flat_weight.find("[V, D], got float32 [7]"), std::string::npos) << flat_weight;
}

}  // namespace
}  // namespace kiln
