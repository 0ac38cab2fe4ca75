// Gpt::forward_cached: fed one token at a time or in chunks, it gives the full forward's
// logits; it fills the cache exactly, rejects overflow, and ignores dropout and the tape.
#include <gtest/gtest.h>

#include <vector>

#include "autograd/tape.h"
#include "base/error.h"
#include "nn/gpt.h"

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

// B sequences of T tokens, a deterministic pattern in [0, vocab).
Tensor pattern_ids(int64_t B, int64_t T, int64_t vocab) {
  std::vector<int32_t> ids(static_cast<std::size_t>(B * T));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7 + 3) % vocab);
  return Tensor::from_ints({B, T}, ids);
}

// Columns [begin, begin + n) of ids [B, T] -> [B, n].
Tensor columns(const Tensor& ids, int64_t begin, int64_t n) {
  const int64_t B = ids.dim(0), T = ids.dim(1);
  std::vector<int32_t> out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = begin; t < begin + n; ++t) out.push_back(ids.ints()[b * T + t]);
  return Tensor::from_ints({B, n}, out);
}

// Feeds `ids` to forward_cached in chunks of the given sizes; expects each chunk's logits to
// equal the matching rows of forward(ids) within 1e-5.
void expect_chunks_match_forward(const Gpt& model, const Tensor& ids,
                                 const std::vector<int64_t>& chunks) {
  const int64_t B = ids.dim(0), T = ids.dim(1), V = model.config().vocab_size;
  Tensor full = model.forward(ids);  // [B, T, V]
  KvCache cache = model.make_kv_cache(B);
  int64_t begin = 0;
  for (int64_t n : chunks) {
    Tensor logits = model.forward_cached(columns(ids, begin, n), cache);  // [B, n, V]
    ASSERT_EQ(logits.shape(), (Shape{B, n, V}));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < n; ++t)
        for (int64_t v = 0; v < V; ++v)
          ASSERT_NEAR(logits.data()[(b * n + t) * V + v], full.data()[(b * T + begin + t) * V + v],
                      1e-5f)
              << "sequence " << b << ", position " << begin + t << ", token " << v;
    begin += n;
    EXPECT_EQ(cache.length(), begin);
  }
}

TEST(GptCacheTest, OneTokenAtATimeMatchesFullForward) {
  Gpt model(tiny_config(), 3);
  model.train(false);
  NoGradGuard no_grad;
  expect_chunks_match_forward(model, pattern_ids(2, 6, 11), {1, 1, 1, 1, 1, 1});
}

TEST(GptCacheTest, ChunksMatchFullForward) {
  Gpt model(tiny_config(), 3);
  model.train(false);
  NoGradGuard no_grad;
  expect_chunks_match_forward(model, pattern_ids(2, 6, 11), {6});
  expect_chunks_match_forward(model, pattern_ids(2, 6, 11), {2, 3, 1});
  expect_chunks_match_forward(model, pattern_ids(1, 5, 11), {4, 1});
}

TEST(GptCacheTest, ChunksAcrossAttentionTilesMatchFullForward) {
  // The attention op works in 64-row tiles; chunks that start inside and past the first tile
  // exercise its causal offset (query t sees keys <= length + t) at every tile boundary.
  GptConfig c = tiny_config();
  c.max_seq_len = 150, c.vocab_size = 23;
  Gpt model(c, 4);
  model.train(false);
  NoGradGuard no_grad;
  expect_chunks_match_forward(model, pattern_ids(1, 150, 23), {70, 1, 60, 19});
}

TEST(GptCacheTest, FullCacheRejectsMoreAndRefillsAfterClear) {
  Gpt model(tiny_config(), 3);
  model.train(false);
  NoGradGuard no_grad;
  Tensor ids = pattern_ids(1, 7, 11);  // one token more than the window
  KvCache cache = model.make_kv_cache(1);
  model.forward_cached(columns(ids, 0, 6), cache);
  EXPECT_TRUE(cache.full());
  EXPECT_THROW(model.forward_cached(columns(ids, 6, 1), cache), Error);
  EXPECT_EQ(cache.length(), 6);  // a rejected call leaves the cache as it was
  // Crossing the window: positions shift, so the last window runs again from position 0.
  cache.clear();
  Tensor window = columns(ids, 1, 6);
  Tensor cached = model.forward_cached(window, cache);
  Tensor full = model.forward(window);
  ASSERT_EQ(cached.shape(), full.shape());
  for (int64_t i = 0; i < full.numel(); ++i) EXPECT_NEAR(cached.data()[i], full.data()[i], 1e-5f);
}

TEST(GptCacheTest, IsAlwaysEvaluationAndRecordsNothing) {
  GptConfig c = tiny_config();
  c.dropout = 0.5f;
  Gpt model(c, 3);
  Tensor ids = pattern_ids(1, 4, 11);
  KvCache cache = model.make_kv_cache(1);
  clear_tape();
  Tensor cached = model.forward_cached(ids, cache);  // training mode, grad mode on
  EXPECT_EQ(tape_size(), 0u);
  EXPECT_FALSE(cached.requires_grad());
  model.train(false);
  NoGradGuard no_grad;
  Tensor eval = model.forward(ids);
  for (int64_t i = 0; i < eval.numel(); ++i) EXPECT_NEAR(cached.data()[i], eval.data()[i], 1e-5f);
}

TEST(GptCacheTest, MismatchedBatchOrIdsAreErrors) {
  Gpt model(tiny_config(), 3);
  KvCache cache = model.make_kv_cache(2);
  EXPECT_THROW(model.forward_cached(pattern_ids(1, 2, 11), cache), Error);
  EXPECT_THROW(model.forward_cached(Tensor::zeros({2, 2}), cache), Error);  // float ids
  Gpt other(GptConfig{11, 3, 2, 8, 0, 6}, 3);
  EXPECT_THROW(other.forward_cached(pattern_ids(2, 2, 11), cache), Error);  // 3 layers vs 2
  EXPECT_EQ(cache.length(), 0);
}

}  // namespace
}  // namespace kiln::nn
