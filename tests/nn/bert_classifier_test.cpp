// BertForSequenceClassification: Hugging Face names and shapes, the encoder shared with
// BertForPreTraining (same names, same initial values), logits against a plain-loop head, a
// tiny classifier that overfits one batch, encode + classify as forward split in two (what
// `kiln forward` and `kiln embed` use), and bad labels.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "base/error.h"
#include "nn/adamw.h"
#include "nn/bert.h"
#include "nn/parameter_arena.h"
#include "tests/error_of.h"

namespace kiln::nn {
namespace {

BertConfig tiny_config() {
  BertConfig c;
  c.vocab_size = 13;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 8;
  c.max_position = 10;
  return c;
}

// Two rows: row 0 has 6 tokens, row 1 has 4 and two padding positions.
const Tensor kIds = Tensor::from_ints({2, 6}, {2, 4, 7, 5, 9, 3, 2, 8, 6, 3, 0, 0});
const Tensor kMask = Tensor::from_ints({2, 6}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});

TEST(BertClassifierTest, ParameterNamesAndShapesAreHuggingFaces) {
  BertConfig c = tiny_config();
  BertForSequenceClassification model(c, 3, 1);
  Bert pretraining(c, 1);
  std::vector<std::pair<std::string, Shape>> expected;
  for (const auto& [name, t] : pretraining.named_parameters())
    if (name.starts_with("bert.")) expected.emplace_back(name, t.shape());
  expected.emplace_back("classifier.weight", Shape{3, 8});
  expected.emplace_back("classifier.bias", Shape{3});
  std::vector<std::pair<std::string, Shape>> actual;
  for (const auto& [name, t] : model.named_parameters()) actual.emplace_back(name, t.shape());
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(model.num_labels(), 3);
}

TEST(BertClassifierTest, EncoderStartsAsBertForPreTrainingAndHeadIsFresh) {
  BertForSequenceClassification model(tiny_config(), 4, 7);
  Bert pretraining(tiny_config(), 7);
  for (const auto& [name, t] : model.named_parameters()) {
    if (name.starts_with("classifier.")) continue;
    EXPECT_EQ(t.to_floats(), pretraining.parameter(name).to_floats()) << name;
  }
  std::vector<float> bias = model.parameter("classifier.bias").to_floats();
  EXPECT_EQ(bias, std::vector<float>(4, 0.0f));
  std::vector<float> w = model.parameter("classifier.weight").to_floats();
  double sum_sq = 0;
  for (float v : w) sum_sq += double(v) * v;
  EXPECT_GT(std::sqrt(sum_sq / double(w.size())), 0.005);
  EXPECT_LT(std::sqrt(sum_sq / double(w.size())), 0.05);
}

TEST(BertClassifierTest, LogitsAreTheClassifierOfThePooledOutput) {
  BertConfig c = tiny_config();
  BertForSequenceClassification model(c, 3, 2);
  Bert pretraining(c, 2);
  for (const Tensor& t : {model.parameter("classifier.weight"), model.parameter("classifier.bias")})
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 0.1f * float(i % 7) - 0.3f;
  NoGradGuard no_grad;
  Tensor logits = model.forward(kIds, Tensor(), kMask);
  ASSERT_EQ(logits.shape(), (Shape{2, 3}));
  Tensor pooled = pretraining.forward(kIds, Tensor(), kMask).pooled;  // same encoder weights
  const float* w = model.parameter("classifier.weight").data();
  const float* b = model.parameter("classifier.bias").data();
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t l = 0; l < 3; ++l) {
      float expected = b[l];
      for (int64_t k = 0; k < 8; ++k) expected += pooled.data()[r * 8 + k] * w[l * 8 + k];
      EXPECT_NEAR(logits.data()[r * 3 + l], expected, 1e-5f) << r << ", " << l;
    }
}

TEST(BertClassifierTest, EncodeThenClassifyIsForwardInEvaluationMode) {
  BertConfig c = tiny_config();
  c.dropout = c.attention_dropout = 0.1f;
  BertForSequenceClassification model(c, 3, 3);
  Bert pretraining(c, 3);  // the same encoder weights
  NoGradGuard no_grad;
  // Training mode: the encoder draws its masks from the seed as Bert::forward does.
  BertOutput encoded = model.encode(kIds, Tensor(), kMask, 11);
  BertOutput reference = pretraining.forward(kIds, Tensor(), kMask, 11);
  EXPECT_EQ(encoded.last_hidden_state.to_floats(), reference.last_hidden_state.to_floats());
  EXPECT_EQ(encoded.pooled.to_floats(), reference.pooled.to_floats());
  EXPECT_EQ(error_of([&] { model.classify(encoded.pooled); }),
            "BertForSequenceClassification::classify: expected evaluation mode (train(false)), "
            "got training mode");

  model.train(false);
  encoded = model.encode(kIds, Tensor(), kMask);
  ASSERT_EQ(encoded.last_hidden_state.shape(), (Shape{2, 6, 8}));
  EXPECT_EQ(model.classify(encoded.pooled).to_floats(),
            model.forward(kIds, Tensor(), kMask).to_floats());
}

TEST(BertClassifierTest, OverfitsOneBatch) {
  BertConfig c = tiny_config();
  // Width 32: at width 16 the tanh pooler saturates and two rows end up with one sign pattern.
  c.d_model = 32, c.n_head = 4, c.dropout = 0.1f, c.attention_dropout = 0.1f;
  BertForSequenceClassification model(c, 3, 5);
  ParameterArena arena(model);
  AdamW optimizer(arena, {0.9f, 0.999f, 1e-8f, 0.0f});
  Tensor ids = Tensor::from_ints({3, 5}, {2, 4, 5, 3, 0, 2, 7, 8, 9, 3, 2, 11, 3, 0, 0});
  Tensor mask = Tensor::from_ints({3, 5}, {1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  Tensor labels = Tensor::from_ints({3}, {2, 0, 1});
  BertClassifierLoss first, last;
  // lr 3e-3: at 1e-2 Adam overshoots on some CPUs' rounding (seen on an AVX-512 Xeon) and the
  // run ends in a different basin; the smaller step converges the same way everywhere.
  for (int step = 0; step < 200; ++step) {
    arena.zero_grads();
    BertClassifierLoss out = model.loss(ids, Tensor(), mask, labels, uint64_t(step));
    if (step == 0) first = out;
    backward(out.loss);
    optimizer.step(3e-3f);
  }
  // Judged without dropout: the fitted model, not one random mask of it. No backward follows, so
  // nothing is recorded (a record would stay on this thread's tape for the next test).
  model.train(false);
  NoGradGuard no_grad;
  last = model.loss(ids, Tensor(), mask, labels);
  EXPECT_NEAR(first.loss.item(), std::log(3.0f), 0.1f);
  EXPECT_LT(last.loss.item(), 0.05f);
  EXPECT_EQ(last.correct, 3);
}

TEST(BertClassifierTest, BadLabelsAndSizesAreErrors) {
  BertForSequenceClassification model(tiny_config(), 3, 1);
  EXPECT_THROW(model.loss(kIds, Tensor(), kMask, Tensor::from_ints({2}, {0, 3})), Error);
  EXPECT_THROW(model.loss(kIds, Tensor(), kMask, Tensor::from_ints({3}, {0, 1, 2})), Error);
  EXPECT_EQ(tape_size(), 0u);
  EXPECT_THROW(BertForSequenceClassification(tiny_config(), 1, 1), Error);
}

}  // namespace
}  // namespace kiln::nn
