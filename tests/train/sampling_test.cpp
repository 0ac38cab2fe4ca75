// Sampling rules (greedy, top-k, top-p, repetition penalty) on hand-made logits, and
// generate(): cached and uncached paths agree, stop strings stop, seeds reproduce.
#include "train/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace kiln {
namespace {

std::unique_ptr<nn::Gpt> tiny_model(uint64_t seed, int64_t max_seq_len = 8) {
  nn::GptConfig c;
  c.vocab_size = 13;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 16;
  c.max_seq_len = max_seq_len;
  auto model = std::make_unique<nn::Gpt>(c, seed);
  model->train(false);
  return model;
}

// Letters for ids: token i is 'a' + i.
std::string letters(std::span<const int32_t> ids) {
  std::string text;
  for (int32_t id : ids) text += static_cast<char>('a' + id);
  return text;
}

TEST(SamplingTest, TemperatureZeroIsGreedy) {
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f};
  SamplingOptions greedy;
  greedy.temperature = 0.0f;
  for (uint64_t draw = 0; draw < 20; ++draw)
    EXPECT_EQ(sample_token(logits.data(), 4, greedy, draw), 1);
}

TEST(SamplingTest, TopKOneEqualsGreedy) {
  const std::vector<float> logits = {0.3f, 1.0f, 0.9f, 0.95f, -2.0f};
  SamplingOptions options;
  options.top_k = 1;
  for (uint64_t draw = 0; draw < 50; ++draw)
    EXPECT_EQ(sample_token(logits.data(), 5, options, draw), 1);
}

TEST(SamplingTest, SmallTopPPicksTheTopToken) {
  const std::vector<float> logits = {0.3f, 1.0f, 0.9f, 0.95f, -2.0f};
  SamplingOptions options;
  options.top_p = 0.01f;
  for (uint64_t draw = 0; draw < 50; ++draw)
    EXPECT_EQ(sample_token(logits.data(), 5, options, draw), 1);
}

TEST(SamplingTest, SamplingCoversMoreThanTheTopToken) {
  const std::vector<float> logits = {0.3f, 1.0f, 0.9f, 0.95f, -2.0f};
  SamplingOptions options;
  std::vector<int> counts(5);
  for (uint64_t draw = 0; draw < 200; ++draw)
    ++counts[sample_token(logits.data(), 5, options, draw)];
  EXPECT_GT(counts[2], 0);
  EXPECT_GT(counts[3], 0);
  EXPECT_GT(counts[1], counts[4]);
}

TEST(SamplingTest, LastBitChangesToAFlatDistributionKeepTheDraws) {
  // A near-uniform 50k-token distribution, as from an untrained GPT-2-sized head, and the same
  // logits moved by about 1e-7: far less than the cached and full forward passes may differ by
  // in relative terms, but more than the gaps between neighbouring logits, so a sort reorders.
  const int64_t vocab = 50000;
  std::vector<float> logits(vocab), moved(vocab);
  for (int64_t i = 0; i < vocab; ++i) {
    logits[i] = 1e-3f * std::sin(0.37f * static_cast<float>(i));
    moved[i] = logits[i] + 1e-7f * std::cos(3.1f * static_cast<float>(i));
  }
  // No top-k or top-p cut here: a cut through a flat distribution can itself move with the
  // last bits, which no walk order prevents.
  SamplingOptions options;
  for (uint64_t draw = 0; draw < 200; ++draw)
    EXPECT_EQ(sample_token(logits.data(), vocab, options, draw),
              sample_token(moved.data(), vocab, options, draw))
        << "draw " << draw;
}

TEST(SamplingTest, RepetitionPenaltyChangesTheArgmax) {
  // Positive logits are divided: 2.0 / 1.25 = 1.6 falls below the unseen 1.9.
  std::vector<float> logits = {2.0f, 1.9f, -1.0f, 0.5f};
  apply_repetition_penalty(logits.data(), 4, std::vector<int32_t>{0, 0, 2, 0}, 1.25f);
  EXPECT_FLOAT_EQ(logits[0], 1.6f);    // penalised once, though it occurs three times
  EXPECT_FLOAT_EQ(logits[1], 1.9f);    // unseen: unchanged
  EXPECT_FLOAT_EQ(logits[2], -1.25f);  // negative logits are multiplied
  EXPECT_FLOAT_EQ(logits[3], 0.5f);
  SamplingOptions greedy;
  greedy.temperature = 0.0f;
  EXPECT_EQ(sample_token(logits.data(), 4, greedy, 0), 1);

  // Among negative logits a seen token also loses: -0.5 * 2 = -1 < -0.6.
  std::vector<float> negative = {-0.5f, -0.6f};
  apply_repetition_penalty(negative.data(), 2, std::vector<int32_t>{0}, 2.0f);
  EXPECT_EQ(sample_token(negative.data(), 2, greedy, 0), 1);

  EXPECT_THROW(apply_repetition_penalty(negative.data(), 2, std::vector<int32_t>{2}, 2.0f), Error);
  EXPECT_THROW(apply_repetition_penalty(negative.data(), 2, std::vector<int32_t>{0}, 0.0f), Error);
}

TEST(GenerateTest, CachedAndUncachedGiveTheSameTokens) {
  auto owner = tiny_model(5);
  const nn::Gpt& model = *owner;
  // 3 + 20 tokens cross the 8-position window, so the cached path also re-runs full windows.
  const std::vector<int32_t> prompt = {1, 2, 3};
  for (float temperature : {0.0f, 1.0f}) {
    SamplingOptions options;
    options.max_new_tokens = 20;
    options.temperature = temperature;
    options.top_k = 8;
    options.top_p = 0.95f;
    options.repetition_penalty = 1.3f;
    options.seed = 11;
    Generation cached = generate(model, prompt, options);
    options.use_cache = false;
    Generation uncached = generate(model, prompt, options);
    EXPECT_EQ(cached.ids, uncached.ids) << "temperature " << temperature;
    EXPECT_EQ(cached.ids.size(), 23u);
    EXPECT_EQ(cached.new_tokens, 20);
    EXPECT_FALSE(cached.stopped);
  }
}

TEST(GenerateTest, PromptLongerThanTheWindowUsesItsLastWindow) {
  auto owner = tiny_model(5);
  const nn::Gpt& model = *owner;
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  SamplingOptions options;
  options.max_new_tokens = 4;
  Generation cached = generate(model, prompt, options);
  options.use_cache = false;
  EXPECT_EQ(cached.ids, generate(model, prompt, options).ids);
}

TEST(GenerateTest, SameSeedSameTokensDifferentSeedDifferentTokens) {
  // A random-init model is close to uniform over its 13 tokens: plenty of randomness.
  auto owner = tiny_model(7, 32);
  const nn::Gpt& model = *owner;
  SamplingOptions options;
  options.max_new_tokens = 24;
  options.seed = 1;
  const std::vector<int32_t> prompt = {4};
  std::vector<int32_t> a = generate(model, prompt, options).ids;
  EXPECT_EQ(a, generate(model, prompt, options).ids);
  options.seed = 2;
  EXPECT_NE(a, generate(model, prompt, options).ids);
}

TEST(GenerateTest, StopStringEndsGenerationAndIsIncluded) {
  auto owner = tiny_model(7, 32);
  const nn::Gpt& model = *owner;
  SamplingOptions options;
  options.max_new_tokens = 12;
  options.seed = 3;
  const std::vector<int32_t> prompt = {4, 5};
  Generation free_run = generate(model, prompt, options);
  const std::string text = letters(std::span<const int32_t>(free_run.ids).subspan(2));
  // Stop on the first occurrence of the text of new tokens 3 and 4.
  options.stop = text.substr(3, 2);
  const std::size_t end = text.find(options.stop) + options.stop.size();
  std::vector<int32_t> seen;
  Generation stopped = generate(
      model, prompt, options, [&](int32_t id) { seen.push_back(id); }, letters);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_EQ(stopped.new_tokens, static_cast<int>(end));
  EXPECT_EQ(letters(std::span<const int32_t>(stopped.ids).subspan(2)), text.substr(0, end));
  EXPECT_EQ(seen.size(), end);  // on_token saw the token that completed the stop string

  // A stop string found only across the prompt boundary does not count: "f" + new text.
  options.stop = "f" + text.substr(0, 1);
  Generation across = generate(model, prompt, options, {}, letters);
  EXPECT_EQ(across.stopped, text.find(options.stop) != std::string::npos);
}

TEST(GenerateTest, ReportsSpeedAndChecksOptions) {
  auto owner = tiny_model(5);
  const nn::Gpt& model = *owner;
  SamplingOptions options;
  options.max_new_tokens = 5;
  Generation result = generate(model, {1}, options);
  EXPECT_EQ(result.new_tokens, 5);
  EXPECT_EQ(result.ids.size(), 6u);  // the prompt, then the new tokens
  // The timings are consistent (never compared with the clock): the prefill is part of the
  // whole, and the rate is new tokens over the whole time, 0 rather than inf without a time.
  EXPECT_TRUE(std::isfinite(result.seconds));
  EXPECT_LE(0.0, result.prompt_seconds);
  EXPECT_LE(result.prompt_seconds, result.seconds);
  EXPECT_EQ(result.tokens_per_second(), result.seconds > 0 ? 5 / result.seconds : 0.0);
  Generation untimed;
  untimed.new_tokens = 5;
  EXPECT_EQ(untimed.tokens_per_second(), 0.0);
  untimed.seconds = 0.5;
  EXPECT_EQ(untimed.tokens_per_second(), 10.0);
  options.max_new_tokens = 0;  // no forward pass at all: no prefill time, no tokens
  const Generation none = generate(model, {1}, options);
  EXPECT_EQ(none.new_tokens, 0);
  EXPECT_EQ(none.prompt_seconds, 0.0);
  EXPECT_EQ(none.tokens_per_second(), 0.0);
  options.max_new_tokens = 5;

  EXPECT_THROW(generate(model, {}, options), Error);
  options.stop = "x";
  EXPECT_THROW(generate(model, {1}, options), Error);  // a stop string needs a decoder
  options.stop.clear();
  options.repetition_penalty = 0.0f;
  EXPECT_THROW(generate(model, {1}, options), Error);
  options.repetition_penalty = 1.0f;
  options.top_p = 0.0f;
  EXPECT_THROW(generate(model, {1}, options), Error);
}

}  // namespace
}  // namespace kiln
