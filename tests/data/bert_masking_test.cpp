// BertMasker: the number of predictions, never on [CLS]/[SEP], the 80/10/10 replacements and
// whole-word masking.
#include "data/bert_masking.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/rng.h"
#include "data/bert_examples.h"
#include "tests/data/bert_toy_corpus.h"

namespace kiln {
namespace {

using namespace bert_test;

TEST(BertMaskingTest, NumToPredictRoundsLikePython) {
  const BertMasker masker(make_toy_corpus(2, 7).special, BertExampleOptions{});
  // Python 3: round(0.75) = 1, round(1.5) = 2, round(4.5) = 4, round(7.5) = 8, round(19.2) = 19.
  EXPECT_EQ(masker.num_to_predict(3), 1);  // max(1, round(0.45))
  EXPECT_EQ(masker.num_to_predict(5), 1);
  EXPECT_EQ(masker.num_to_predict(10), 2);
  EXPECT_EQ(masker.num_to_predict(30), 4);
  EXPECT_EQ(masker.num_to_predict(50), 8);
  EXPECT_EQ(masker.num_to_predict(128), 19);
  EXPECT_EQ(masker.num_to_predict(200), 20);  // capped by max_predictions_per_seq
}

TEST(BertMaskingTest, MaskCountMatchesTheFormulaAndSkipsSpecialTokens) {
  const ToyCorpus corpus = make_toy_corpus(60, 8);
  const BertExampleOptions options = toy_options(64);
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  const BertMasker masker(corpus.special, options);
  for (size_t k = 0; k < instances.size(); ++k) {
    const BertInstanceView instance = instances[k];
    const BertMaskedInstance masked = masker.mask(instance, 1000 + k);
    const int n = instance.size();
    const int expected =
        std::min(options.max_predictions_per_seq,
                 std::max(1, static_cast<int>(std::nearbyint(n * options.masked_lm_prob))));
    ASSERT_EQ(masked.num_predictions, expected) << k;
    int labelled = 0;
    for (int t = 0; t < n; ++t) {
      const int32_t token = instance.tokens[t];
      if (masked.mlm_labels[t] == kMlmIgnoreLabel) {
        ASSERT_EQ(masked.input_ids[t], token) << k << " " << t;
        continue;
      }
      ASSERT_NE(token, kCls) << k;
      ASSERT_NE(token, kSep) << k;
      ASSERT_EQ(masked.mlm_labels[t], token) << k << " " << t;
      ++labelled;
    }
    ASSERT_EQ(labelled, expected) << k;
  }
}

TEST(BertMaskingTest, ReplacementsAreEightyTenTen) {
  const ToyCorpus corpus = make_toy_corpus(60, 9);
  const BertExampleOptions options = toy_options(128);
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  const BertMasker masker(corpus.special, options);
  int masked = 0, kept = 0, replaced = 0;
  for (uint64_t use = 0; use < 20; ++use) {
    for (size_t k = 0; k < instances.size(); ++k) {
      const BertMaskedInstance out = masker.mask(instances[k], derive_seed(use, k));
      for (size_t t = 0; t < out.input_ids.size(); ++t) {
        if (out.mlm_labels[t] == kMlmIgnoreLabel) continue;
        if (out.input_ids[t] == kMask) {
          ++masked;
        } else if (out.input_ids[t] == out.mlm_labels[t]) {
          ++kept;
        } else {
          ++replaced;
          ASSERT_GE(out.input_ids[t], 0);
          ASSERT_LT(out.input_ids[t], corpus.special.vocab_size);
        }
      }
    }
  }
  const double total = masked + kept + replaced;
  ASSERT_GT(total, 20000);
  EXPECT_NEAR(masked / total, 0.8, 0.015);
  EXPECT_NEAR(kept / total, 0.1, 0.01);
  EXPECT_NEAR(replaced / total, 0.1, 0.01);
}

TEST(BertMaskingTest, WholeWordMaskingMasksEveryPieceOfAWord) {
  const ToyCorpus corpus = make_toy_corpus(60, 10);
  BertExampleOptions options = toy_options(64);
  options.whole_word_masking = true;
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  const BertMasker masker(corpus.special, options);
  const auto& piece = corpus.special.is_continuation;
  int multi_piece_words = 0;
  for (size_t k = 0; k < instances.size(); ++k) {
    const BertInstanceView instance = instances[k];
    const BertMaskedInstance masked = masker.mask(instance, 77 + k);
    const int n = instance.size();
    EXPECT_LE(masked.num_predictions, masker.num_to_predict(n)) << k;
    EXPECT_GE(masked.num_predictions, 1) << k;
    for (int t = 1; t < n; ++t) {
      const int32_t token = instance.tokens[t];
      // A piece that continues a word (not right after [CLS] or [SEP]) shares its word's fate.
      if (token == kSep || !piece[token] || instance.tokens[t - 1] == kCls ||
          instance.tokens[t - 1] == kSep) {
        continue;
      }
      const bool predicted = masked.mlm_labels[t] != kMlmIgnoreLabel;
      ASSERT_EQ(predicted, masked.mlm_labels[t - 1] != kMlmIgnoreLabel) << k << " " << t;
      multi_piece_words += predicted;
    }
  }
  EXPECT_GT(multi_piece_words, 100);
}

}  // namespace
}  // namespace kiln
