// GptBatches and GptEvalBatches: determinism by (seed, step), shifted targets, exact offsets,
// window coverage, the fixed evaluation batches and the errors.
#include "data/gpt_batches.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/rng.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

// tokens[i] == i, so every token names its own position.
std::vector<int32_t> iota_tokens(int n) {
  std::vector<int32_t> tokens(n);
  std::iota(tokens.begin(), tokens.end(), 0);
  return tokens;
}

TEST(GptBatchesTest, RowsStartAtTheDocumentedOffsets) {
  constexpr int kB = 4, kT = 8, kN = 1000;
  constexpr uint64_t kSeed = 1234;
  const GptBatches batches(iota_tokens(kN), kB, kT, kSeed);
  const GptBatch batch = batches.batch(7);
  EXPECT_EQ(batch.batch_size, kB);
  EXPECT_EQ(batch.seq_len, kT);
  ASSERT_EQ(batch.inputs.size(), static_cast<size_t>(kB * kT));
  ASSERT_EQ(batch.targets.size(), static_cast<size_t>(kB * kT));
  for (int r = 0; r < kB; ++r) {
    const auto offset = static_cast<int32_t>(random_bits(derive_seed(kSeed, 7), r) % (kN - kT));
    EXPECT_EQ(batches.row_offset(7, r), offset);
    for (int t = 0; t < kT; ++t) {
      EXPECT_EQ(batch.inputs[r * kT + t], offset + t);
      EXPECT_EQ(batch.targets[r * kT + t], offset + t + 1);
    }
  }
}

TEST(GptBatchesTest, SameSeedAndStepGiveTheSameBatch) {
  const GptBatches first(iota_tokens(500), 3, 16, 42);
  const GptBatches second(iota_tokens(500), 3, 16, 42);
  // Order of requests does not matter: a batch depends on (seed, step) only.
  const GptBatch late = second.batch(1000);
  EXPECT_EQ(first.batch(5).inputs, second.batch(5).inputs);
  EXPECT_EQ(first.batch(1000).inputs, late.inputs);
  EXPECT_EQ(first.batch(1000).targets, late.targets);
  EXPECT_NE(first.batch(5).inputs, first.batch(6).inputs);
  EXPECT_NE(first.batch(5).inputs, GptBatches(iota_tokens(500), 3, 16, 43).batch(5).inputs);
}

TEST(GptBatchesTest, TargetsAreInputsShiftedByOne) {
  std::vector<int32_t> tokens(300);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i * i % 97);
  const GptBatches batches(tokens, 5, 10, 9);
  GptBatch batch;
  for (uint64_t step = 0; step < 20; ++step) {
    batches.fill(step, batch);
    for (int r = 0; r < 5; ++r) {
      const int64_t offset = batches.row_offset(step, r);
      for (int t = 0; t < 10; ++t) {
        EXPECT_EQ(batch.inputs[r * 10 + t], tokens[offset + t]);
        EXPECT_EQ(batch.targets[r * 10 + t], tokens[offset + t + 1]);
      }
    }
  }
}

TEST(GptBatchesTest, FillReusesBuffers) {
  const GptBatches batches(iota_tokens(100), 2, 4, 1);
  GptBatch batch;
  batches.fill(0, batch);
  const int32_t* inputs = batch.inputs.data();
  batches.fill(1, batch);
  EXPECT_EQ(batch.inputs.data(), inputs);
  EXPECT_EQ(batch.inputs, batches.batch(1).inputs);
}

TEST(GptBatchesTest, OffsetsReachEveryValidStart) {
  // n = T + 3 leaves exactly three starts: 0, 1 and 2.
  const GptBatches batches(iota_tokens(11), 8, 8, 5);
  std::set<int64_t> seen;
  for (uint64_t step = 0; step < 50; ++step) {
    for (int r = 0; r < 8; ++r) seen.insert(batches.row_offset(step, r));
  }
  EXPECT_EQ(seen, (std::set<int64_t>{0, 1, 2}));
  // The shortest allowed split has one start.
  EXPECT_EQ(GptBatches(iota_tokens(9), 2, 8, 5).batch(3).inputs,
            (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(GptBatchesTest, ShortSplitAndBadShapesAreErrors) {
  EXPECT_EQ(error_of([] { GptBatches(iota_tokens(8), 2, 8, 0); }),
            "gpt_batches: corpus split 'train' has 8 tokens; expected at least seq_len + 1 = 9");
  EXPECT_EQ(error_of([] { GptEvalBatches(iota_tokens(3), 1, 8, 1); }),
            "gpt_batches: corpus split 'validation' has 3 tokens; expected at least seq_len + 1 "
            "= 9");
  EXPECT_EQ(error_of([] { GptBatches(iota_tokens(100), 0, 8, 0); }),
            "gpt_batches: expected batch_size > 0, got 0");
  EXPECT_EQ(error_of([] { GptBatches(iota_tokens(100), 2, -1, 0); }),
            "gpt_batches: expected seq_len > 0, got -1");
  EXPECT_EQ(error_of([] { GptEvalBatches(iota_tokens(100), 2, 8, 0); }),
            "gpt_batches: expected num_batches > 0 for split 'validation', got 0");
}

TEST(GptEvalBatchesTest, WindowsCoverTheSplitExactly) {
  constexpr int kT = 6;
  for (const int n : {5 * kT + 1, 5 * kT + 3, kT + 1}) {
    const GptEvalBatches eval(iota_tokens(n), 1, kT, 1);
    const int64_t count = (n - 1) / kT;
    ASSERT_EQ(eval.window_count(), count) << "n = " << n;
    std::vector<int32_t> inputs(count * kT), targets(count * kT);
    for (int64_t k = 0; k < count; ++k) {
      eval.window(k, inputs.data() + k * kT, targets.data() + k * kT);
    }
    // Inputs are tokens [0, count * T), targets the same shifted by one: no gap, no overlap.
    std::vector<int32_t> expected(count * kT);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(inputs, expected) << "n = " << n;
    std::iota(expected.begin(), expected.end(), 1);
    EXPECT_EQ(targets, expected) << "n = " << n;
  }
  // With n = 5T + 1 the last target is the last token.
  EXPECT_EQ(GptEvalBatches(iota_tokens(31), 1, kT, 1).window_count() * kT + 1, 31);
  std::vector<int32_t> scratch(kT);
  EXPECT_EQ(error_of([&] {
              GptEvalBatches(iota_tokens(31), 1, kT, 1).window(5, scratch.data(), scratch.data());
            }),
            "gpt_batches: expected a window index in [0, 5), got 5");
}

TEST(GptEvalBatchesTest, BatchesAreFixedAndSpreadOverTheSplit) {
  constexpr int kT = 4;
  // 100 windows, 5 batches of 4 rows: row j takes window 5 j.
  const GptEvalBatches eval(iota_tokens(100 * kT + 1), 4, kT, 5);
  EXPECT_EQ(eval.num_batches(), 5);
  for (int index = 0; index < 5; ++index) {
    const GptBatch batch = eval.batch(index);
    ASSERT_EQ(batch.inputs.size(), 16u);
    for (int r = 0; r < 4; ++r) {
      const int window = 5 * (index * 4 + r);
      EXPECT_EQ(batch.inputs[r * kT], window * kT) << "batch " << index << " row " << r;
      EXPECT_EQ(batch.targets[r * kT + kT - 1], window * kT + kT);
    }
    EXPECT_EQ(batch.inputs, eval.batch(index).inputs);
  }
  EXPECT_EQ(error_of([&] { eval.batch(5); }),
            "gpt_batches: expected an eval batch index in [0, 5), got 5");
}

TEST(GptEvalBatchesTest, SmallSplitRepeatsWindowsInOrder) {
  // 3 windows for 3 batches of 2 rows: windows 0, 0, 1, 1, 2, 2.
  const GptEvalBatches eval(iota_tokens(3 * 2 + 1), 2, 2, 3);
  EXPECT_EQ(eval.batch(0).inputs, (std::vector<int32_t>{0, 1, 0, 1}));
  EXPECT_EQ(eval.batch(1).inputs, (std::vector<int32_t>{2, 3, 2, 3}));
  EXPECT_EQ(eval.batch(2).inputs, (std::vector<int32_t>{4, 5, 4, 5}));
  EXPECT_EQ(eval.batch(2).targets, (std::vector<int32_t>{5, 6, 5, 6}));
}

}  // namespace
}  // namespace kiln
