// GPT: Hugging Face names and shapes, GPT-2 initialisation, determinism, and that a tiny
// model can overfit one batch.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "nn/adamw.h"
#include "nn/gpt.h"
#include "nn/parameter_arena.h"

namespace kiln::nn {
namespace {

GptConfig tiny_config() {
  GptConfig c;
  c.vocab_size = 11;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 8;
  c.max_seq_len = 6;
  return c;
}

TEST(GptTest, ParameterNamesAndShapesAreHuggingFaces) {
  Gpt model(tiny_config(), 1);
  std::vector<std::pair<std::string, Shape>> expected = {
      {"transformer.wte.weight", {11, 8}},
      {"transformer.wpe.weight", {6, 8}},
      {"transformer.h.0.ln_1.weight", {8}},
      {"transformer.h.0.ln_1.bias", {8}},
      {"transformer.h.0.attn.c_attn.weight", {8, 24}},
      {"transformer.h.0.attn.c_attn.bias", {24}},
      {"transformer.h.0.attn.c_proj.weight", {8, 8}},
      {"transformer.h.0.attn.c_proj.bias", {8}},
      {"transformer.h.0.ln_2.weight", {8}},
      {"transformer.h.0.ln_2.bias", {8}},
      {"transformer.h.0.mlp.c_fc.weight", {8, 32}},
      {"transformer.h.0.mlp.c_fc.bias", {32}},
      {"transformer.h.0.mlp.c_proj.weight", {32, 8}},
      {"transformer.h.0.mlp.c_proj.bias", {8}},
  };
  auto named = model.named_parameters();
  ASSERT_EQ(named.size(), 2 + 12 * 2 + 2u);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(named[i].first, expected[i].first);
    EXPECT_EQ(named[i].second.shape(), expected[i].second) << named[i].first;
  }
  EXPECT_EQ(named.back().first, "transformer.ln_f.bias");
}

TEST(GptTest, ParameterCountMatchesGpt2Formula) {
  // GPT-2 small: 124,439,808 parameters with 1024 positions (lm_head tied, counted once).
  GptConfig c;
  c.vocab_size = 50257, c.n_layer = 12, c.n_head = 12, c.d_model = 768, c.max_seq_len = 1024;
  const int64_t d = c.d_model;
  int64_t formula =
      c.vocab_size * d + c.max_seq_len * d + c.n_layer * (12 * d * d + 13 * d) + 2 * d;
  EXPECT_EQ(formula, 124439808);
  Gpt small(tiny_config(), 1);
  int64_t counted = 0;
  for (const Tensor& p : small.parameters()) counted += p.numel();
  const GptConfig t = tiny_config();
  EXPECT_EQ(counted, t.vocab_size * 8 + t.max_seq_len * 8 + t.n_layer * (12 * 64 + 13 * 8) + 2 * 8);
}

TEST(GptTest, InitialisationFollowsGpt2) {
  GptConfig c = tiny_config();
  c.vocab_size = 500, c.d_model = 64, c.n_head = 4, c.n_layer = 2;
  Gpt model(c, 7);
  auto std_of = [](const Tensor& t) {
    double s = 0, s2 = 0;
    for (float v : t.to_floats()) s += v, s2 += double(v) * v;
    double n = double(t.numel());
    return std::sqrt(s2 / n - (s / n) * (s / n));
  };
  EXPECT_NEAR(std_of(model.parameter("transformer.wte.weight")), 0.02, 0.002);
  EXPECT_NEAR(std_of(model.parameter("transformer.h.0.mlp.c_fc.weight")), 0.02, 0.002);
  EXPECT_NEAR(std_of(model.parameter("transformer.h.1.mlp.c_proj.weight")), 0.02 / std::sqrt(4.0),
              0.001);
  EXPECT_EQ(model.parameter("transformer.h.0.attn.c_attn.bias").to_floats(),
            std::vector<float>(192, 0.f));
  EXPECT_EQ(model.parameter("transformer.ln_f.weight").to_floats(), std::vector<float>(64, 1.f));
}

TEST(GptTest, SameSeedGivesTheSameModelAndOutput) {
  Tensor ids = Tensor::from_ints({2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  Gpt a(tiny_config(), 3), b(tiny_config(), 3), c(tiny_config(), 4);
  NoGradGuard no_grad;
  EXPECT_EQ(a.forward(ids).to_floats(), b.forward(ids).to_floats());
  EXPECT_NE(a.forward(ids).to_floats(), c.forward(ids).to_floats());
  EXPECT_EQ(a.forward(ids).shape(), (Shape{2, 5, 11}));
}

TEST(GptTest, CausalityFutureTokensDoNotChangeEarlierLogits) {
  Gpt model(tiny_config(), 3);
  NoGradGuard no_grad;
  Tensor a = model.forward(Tensor::from_ints({1, 4}, {1, 2, 3, 4}));
  Tensor b = model.forward(Tensor::from_ints({1, 4}, {1, 2, 9, 0}));
  for (int i = 0; i < 2 * 11; ++i) EXPECT_FLOAT_EQ(a.data()[i], b.data()[i]);
  EXPECT_NE(a.data()[2 * 11], b.data()[2 * 11]);
}

TEST(GptTest, TooLongSequenceIsAnError) {
  Gpt model(tiny_config(), 3);
  EXPECT_THROW(model.forward(Tensor::from_ints({1, 7}, {1, 2, 3, 4, 5, 6, 7})), Error);
}

TEST(GptTest, OverfitsOneBatch) {
  GptConfig c = tiny_config();
  c.d_model = 32, c.n_head = 4, c.max_seq_len = 8, c.dropout = 0.1f;
  Gpt model(c, 5);
  ParameterArena arena(model);
  AdamW optimizer(arena, {0.9f, 0.95f, 1e-8f, 0.0f});
  Tensor ids = Tensor::from_ints({2, 8}, {1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1});
  Tensor targets = Tensor::from_ints({2, 8}, {2, 3, 4, 5, 6, 7, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0});
  float first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    arena.zero_grads();
    Tensor loss = model.loss(ids, targets, step);
    if (step == 0) first = loss.item();
    last = loss.item();
    backward(loss);
    optimizer.step(1e-2f);
  }
  EXPECT_NEAR(first, std::log(11.0f), 0.3f);
  EXPECT_LT(last, 0.1f);
}

TEST(GptTest, TrainingIsBitIdenticalAcrossRuns) {
  auto run = [] {
    GptConfig c = tiny_config();
    c.dropout = 0.2f;
    Gpt model(c, 5);
    ParameterArena arena(model);
    AdamW optimizer(arena, {});
    Tensor ids = Tensor::from_ints({1, 6}, {1, 2, 3, 4, 5, 6});
    for (int step = 0; step < 5; ++step) {
      arena.zero_grads();
      backward(model.loss(ids, ids, step));
      optimizer.step(1e-3f);
    }
    return arena.values().to_floats();
  };
  EXPECT_EQ(run(), run());
}

}  // namespace
}  // namespace kiln::nn
