// BertBatches and BertEvalSet: row layout and padding, determinism by (seed, step), fresh masks
// for a repeated instance, and the fixed evaluation set.
#include "data/bert_batches.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"
#include "base/rng.h"
#include "data/bert_examples.h"
#include "tests/data/bert_toy_corpus.h"

namespace kiln {
namespace {

using namespace bert_test;

TEST(BertBatchesTest, BatchRowsArePaddedAndLabelled) {
  const ToyCorpus corpus = make_toy_corpus(60, 11);
  const BertExampleOptions options = toy_options(48);
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  const BertBatches batches(instances, corpus.special, options, 16, 99);
  const BertBatch batch = batches.batch(3);
  constexpr int kT = 48;
  ASSERT_EQ(batch.batch_size, 16);
  ASSERT_EQ(batch.seq_len, kT);
  ASSERT_EQ(batch.input_ids.size(), 16u * kT);
  ASSERT_EQ(batch.nsp_labels.size(), 16u);
  for (int r = 0; r < 16; ++r) {
    const size_t index = batches.instance_index(3, r);
    EXPECT_EQ(index, random_bits(derive_seed(99, 3), r) % instances.size());
    const BertInstanceView instance = instances[index];
    const int n = instance.size();
    EXPECT_EQ(batch.nsp_labels[r], instance.is_random_next ? 1 : 0);
    int predicted = 0;
    for (int t = 0; t < kT; ++t) {
      const size_t at = static_cast<size_t>(r) * kT + t;
      if (t < n) {
        EXPECT_EQ(batch.attention_mask[at], 1);
        EXPECT_EQ(batch.token_type_ids[at], t < instance.b_start ? 0 : 1);
        const int32_t label = batch.mlm_labels[at];
        EXPECT_EQ(label == kMlmIgnoreLabel ? batch.input_ids[at] : label, instance.tokens[t]);
        predicted += label != kMlmIgnoreLabel;
      } else {
        EXPECT_EQ(batch.input_ids[at], kPad);
        EXPECT_EQ(batch.attention_mask[at], 0);
        EXPECT_EQ(batch.token_type_ids[at], 0);
        EXPECT_EQ(batch.mlm_labels[at], kMlmIgnoreLabel);
      }
    }
    EXPECT_EQ(predicted, BertMasker(corpus.special, options).num_to_predict(n));
  }
}

TEST(BertBatchesTest, SameSeedAndStepGiveTheSameBatch) {
  const ToyCorpus corpus = make_toy_corpus(30, 12);
  const BertExampleOptions options = toy_options(32);
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  const BertBatches first(instances, corpus.special, options, 8, 5);
  const BertBatches second(instances, corpus.special, options, 8, 5);
  const BertBatch late = second.batch(500);  // order of requests does not matter
  BertBatch reused = first.batch(9);
  first.fill(10, reused);
  const BertBatch a = first.batch(10);
  const BertBatch b = second.batch(10);
  EXPECT_EQ(a.input_ids, b.input_ids);
  EXPECT_EQ(a.mlm_labels, b.mlm_labels);
  EXPECT_EQ(a.token_type_ids, b.token_type_ids);
  EXPECT_EQ(a.nsp_labels, b.nsp_labels);
  EXPECT_EQ(reused.input_ids, a.input_ids);
  EXPECT_EQ(reused.mlm_labels, a.mlm_labels);
  EXPECT_EQ(late.input_ids, first.batch(500).input_ids);
  EXPECT_NE(first.batch(11).input_ids, a.input_ids);
  EXPECT_NE(BertBatches(instances, corpus.special, options, 8, 6).batch(10).input_ids, a.input_ids);
}

TEST(BertBatchesTest, DifferentStepsMaskTheSameInstanceDifferently) {
  const ToyCorpus corpus = make_toy_corpus(4, 13);
  BertExampleOptions options = toy_options(64);
  options.short_seq_prob = 0;
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  const BertBatches batches(instances, corpus.special, options, 4, 21);
  constexpr int kT = 64;
  // The first time each instance is seen, and its labels then.
  std::vector<std::vector<int32_t>> first_labels(instances.size());
  int repeats = 0, same = 0;
  for (uint64_t step = 0; step < 50; ++step) {
    const BertBatch batch = batches.batch(step);
    for (int r = 0; r < 4; ++r) {
      const size_t index = batches.instance_index(step, r);
      if (instances[index].size() < 40) continue;  // short ones can repeat a mask by chance
      const auto row = batch.mlm_labels.begin() + r * kT;
      const std::vector<int32_t> labels(row, row + kT);
      if (first_labels[index].empty()) {
        first_labels[index] = labels;
      } else {
        ++repeats;
        same += labels == first_labels[index];
      }
    }
  }
  EXPECT_GT(repeats, 20);
  EXPECT_EQ(same, 0);
}

TEST(BertBatchesTest, EvalSetIsIdenticalAcrossCalls) {
  const ToyCorpus corpus = make_toy_corpus(30, 14);
  const BertExampleOptions options = toy_options(32);
  const BertInstances instances = create_bert_instances(corpus.documents, corpus.special, options);
  const BertEvalSet eval(instances, corpus.special, options, 8, 50, 3);
  const BertEvalSet again(instances, corpus.special, options, 8, 50, 3);
  ASSERT_EQ(eval.num_examples(), 50);
  ASSERT_EQ(eval.num_batches(), 7);
  EXPECT_EQ(eval.batch(6).batch_size, 2);  // 50 = 6 * 8 + 2
  EXPECT_EQ(eval.batch(6).input_ids.size(), 2u * 32);
  for (int index = 0; index < eval.num_batches(); ++index) {
    const BertBatch a = eval.batch(index);
    BertBatch b = again.batch(eval.num_batches() - 1 - index);
    again.fill(index, b);
    EXPECT_EQ(a.input_ids, b.input_ids) << index;
    EXPECT_EQ(a.mlm_labels, b.mlm_labels) << index;
    EXPECT_EQ(a.token_type_ids, b.token_type_ids) << index;
    EXPECT_EQ(a.attention_mask, b.attention_mask) << index;
    EXPECT_EQ(a.nsp_labels, b.nsp_labels) << index;
  }
  // Example j is instance floor(j * n / 50), so the first row holds instance 0.
  const BertBatch first = eval.batch(0);
  const BertInstanceView instance = instances[0];
  for (int t = 0; t < instance.size(); ++t) {
    const int32_t label = first.mlm_labels[t];
    EXPECT_EQ(label == kMlmIgnoreLabel ? first.input_ids[t] : label, instance.tokens[t]);
  }
  EXPECT_THROW(eval.batch(7), Error);
}

}  // namespace
}  // namespace kiln
