// Translation pairs: the TSV reader and its errors, the Bible's chapter positions and the 59
// held-out chapters, truncation and dropping, teacher forcing, and length-grouped batches that
// respect the token budget, cover every pair once an epoch and are a pure function of
// (seed, step).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/rng.h"
#include "data/translation_pairs.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"

namespace kiln {
namespace {

using TranslationPairsTest = ScratchDirTest;

TEST_F(TranslationPairsTest, ReadsTabSeparatedLines) {
  const std::string path = write(
      "pairs.tsv", "Genesis 1:1\tEN el principio\tIn the beginning\r\nJohn 3:16\tPorque\tFor\n");
  const auto pairs = read_translation_pairs(path);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].reference, "Genesis 1:1");
  EXPECT_EQ(pairs[0].source, "EN el principio");
  EXPECT_EQ(pairs[0].target, "In the beginning");  // the \r of a CRLF line is dropped
  EXPECT_EQ(pairs[1].target, "For");
}

TEST_F(TranslationPairsTest, MalformedLinesNameFileAndLine) {
  const std::string two = write("two.tsv", "Genesis 1:1\ta\tb\nGenesis 1:2\tonly two\n");
  std::string msg = error_of([&] { read_translation_pairs(two); });
  EXPECT_NE(
      msg.find(two + ":2: expected 3 tab-separated fields (reference, source, target), got 2"),
      std::string::npos)
      << msg;
  const std::string empty = write("empty.tsv", "Genesis 1:1\t\tb\n");
  msg = error_of([&] { read_translation_pairs(empty); });
  EXPECT_NE(msg.find(empty + ":1: expected non-empty reference, source and target, got an empty "
                             "source"),
            std::string::npos)
      << msg;
  msg = error_of([&] { read_translation_pairs((dir_ / "missing.tsv").string()); });
  EXPECT_NE(msg.find("missing.tsv: cannot open"), std::string::npos) << msg;
}

TEST(BibleChaptersTest, PositionsAndHeldOutChapters) {
  EXPECT_EQ(bible_chapter_position("Genesis 1:1"), 1);
  EXPECT_EQ(bible_chapter_position("Genesis 50:26"), 50);
  EXPECT_EQ(bible_chapter_position("Exodus 1:1"), 51);
  EXPECT_EQ(bible_chapter_position("Malachi 4:6"), 929);  // the Old Testament's last
  EXPECT_EQ(bible_chapter_position("Matthew 1:1"), 930);
  EXPECT_EQ(bible_chapter_position("Song of Solomon 1:1"), 1 + 50 + 40 + 27 + 36 + 34 + 24 + 21 +
                                                               4 + 31 + 24 + 22 + 25 + 29 + 36 +
                                                               10 + 13 + 10 + 42 + 150 + 31 + 12);
  EXPECT_EQ(bible_chapter_position("Revelation of John 22:21"), 1189);
  EXPECT_TRUE(is_held_out_verse("Genesis 20:3"));
  EXPECT_FALSE(is_held_out_verse("Genesis 21:3"));
  EXPECT_TRUE(is_held_out_verse("Exodus 10:1"));  // position 60
  // 1189 chapters: positions 20, 40, ..., 1180 are held out.
  int held_out = 0;
  for (int p = 1; p <= 1189; ++p) held_out += p % 20 == 0;
  EXPECT_EQ(held_out, 59);
  EXPECT_NE(error_of([] {
              bible_chapter_position("Gen 1:1");
            }).find("expected a book name as diatheke prints it"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { bible_chapter_position("Jude 2:1"); }).find("expected chapter 1 to 1 of Jude"),
      std::string::npos);
  EXPECT_NE(error_of([] { bible_chapter_position("Genesis"); }).find("\"Book C:V\""),
            std::string::npos);
}

TEST(PreparePairsTest, AppendsEosAndTruncatesOrDropsLongPairs) {
  const std::vector<TokenPair> raw = {
      {{5, 6}, {7}}, {{5, 6, 7, 8, 9}, {7, 8}}, {{5}, {6, 7, 8, 9}}};
  PairLimits limits;
  limits.pad_id = 0, limits.eos_id = 1, limits.max_seq_len = 4;
  PreparedPairs t = prepare_pairs(raw, limits);
  ASSERT_EQ(t.pairs.size(), 3u);
  EXPECT_EQ(t.truncated, 2);
  EXPECT_EQ(t.dropped, 0);
  EXPECT_EQ(t.pairs[0].source, (std::vector<int32_t>{5, 6, 1}));
  EXPECT_EQ(t.pairs[0].target, (std::vector<int32_t>{7, 1}));
  EXPECT_EQ(t.pairs[1].source, (std::vector<int32_t>{5, 6, 7, 1}));  // cut before the eos
  EXPECT_EQ(t.pairs[2].target, (std::vector<int32_t>{6, 7, 8, 1}));
  limits.long_pairs = LongPairPolicy::kDrop;
  PreparedPairs d = prepare_pairs(raw, limits);
  ASSERT_EQ(d.pairs.size(), 1u);
  EXPECT_EQ(d.dropped, 2);
  EXPECT_EQ(d.truncated, 0);
}

TEST(PairBatchTest, TeacherForcingShiftsTheLabelsRight) {
  const std::vector<TokenPair> pairs = {{{5, 6, 1}, {7, 8, 9, 1}}, {{5, 1}, {7, 1}}};
  PairBatch b = make_pair_batch(pairs, {0, 1}, /*pad_id=*/0);
  EXPECT_EQ(b.rows, 2);
  EXPECT_EQ(b.source_len, 3);
  EXPECT_EQ(b.target_len, 4);
  EXPECT_EQ(b.input_ids, (std::vector<int32_t>{5, 6, 1, 5, 1, 0}));
  EXPECT_EQ(b.attention_mask, (std::vector<int32_t>{1, 1, 1, 1, 1, 0}));
  EXPECT_EQ(b.decoder_input_ids, (std::vector<int32_t>{0, 7, 8, 9, 0, 7, 0, 0}));
  EXPECT_EQ(b.labels, (std::vector<int32_t>{7, 8, 9, 1, 7, 1, -100, -100}));
  EXPECT_EQ(b.source_tokens, 5);
  EXPECT_EQ(b.target_tokens, 6);
}

// 500 pairs with lengths spread like sentences (2 to 60 tokens, the two sides correlated).
std::vector<TokenPair> random_pairs(uint64_t seed) {
  std::vector<TokenPair> pairs;
  for (uint64_t i = 0; i < 500; ++i) {
    const auto s = 2 + static_cast<int>(random_bits(seed, 2 * i) % 59);
    const auto t = std::max(2, s + static_cast<int>(random_bits(seed, 2 * i + 1) % 9) - 4);
    pairs.push_back(
        {std::vector<int32_t>(s, 5 + static_cast<int32_t>(i % 7)), std::vector<int32_t>(t, 6)});
  }
  return pairs;
}

TEST(PairBatchesTest, EachEpochCoversEveryPairOnceWithinTheBudget) {
  PairBatches batches(random_pairs(1), /*batch_tokens=*/400, /*pad_id=*/0, /*seed=*/9);
  const int64_t n = batches.batches_per_epoch();
  ASSERT_GT(n, 10);
  for (uint64_t epoch : {0, 1}) {
    std::multiset<int64_t> seen;
    int64_t padded = 0, real = 0;
    for (int64_t s = 0; s < n; ++s) {
      PairBatch b = batches.batch(epoch * n + s);
      seen.insert(b.pair_indices.begin(), b.pair_indices.end());
      EXPECT_TRUE(b.rows == 1 || b.rows * std::max(b.source_len, b.target_len) <= 400)
          << "step " << s << ": " << b.rows << " rows of " << b.source_len << " / " << b.target_len;
      padded += b.rows * (b.source_len + b.target_len);
      real += b.source_tokens + b.target_tokens;
    }
    EXPECT_EQ(seen.size(), 500u);
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 500u);
    // Grouping by length keeps padding small: random batches of these lengths pad ~50%.
    EXPECT_LT(double(padded - real) / double(padded), 0.1) << "epoch " << epoch;
  }
  // Every pair once in in_order() too.
  int64_t rows = 0;
  for (const PairBatch& b : batches.in_order()) rows += b.rows;
  EXPECT_EQ(rows, 500);
}

TEST(PairBatchesTest, BatchesArePureFunctionsOfSeedAndStep) {
  PairBatches a(random_pairs(2), 300, 0, 11), b(random_pairs(2), 300, 0, 11),
      other(random_pairs(2), 300, 0, 12);
  const int64_t n = a.batches_per_epoch();
  // Out of order, across epochs, on two instances: the same batches.
  for (uint64_t step : {uint64_t(3 * n + 2), uint64_t(0), uint64_t(n + 5), uint64_t(3 * n + 2)})
    EXPECT_EQ(a.batch(step).pair_indices, b.batch(step).pair_indices) << step;
  // Epochs differ in order, and so do seeds.
  std::vector<std::vector<int64_t>> first, second, seeded;
  for (int64_t s = 0; s < n; ++s) {
    first.push_back(a.batch(s).pair_indices);
    second.push_back(a.batch(n + s).pair_indices);
    seeded.push_back(other.batch(s).pair_indices);
  }
  EXPECT_NE(first, second);
  EXPECT_NE(first, seeded);
  EXPECT_NE(error_of([] { PairBatches({}, 10, 0, 1); }).find("at least one sentence pair"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln
