// Sentence pairs for translation: the corpora/es-en.tsv reader, the held-out chapters,
// Marian-style teacher forcing (eos-terminated source and labels, decoder input shifted right
// behind pad), and length-grouped batches under a token budget that are a pure function of
// (seed, step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

// One line of a "reference<TAB>source<TAB>target" file.
struct TranslationPair {
  std::string reference;  // "Genesis 1:1"
  std::string source;
  std::string target;
};

// Reads every line of `path`; errors name the file and line of a malformed one (not exactly
// three tab-separated fields, or an empty field).
std::vector<TranslationPair> read_translation_pairs(const std::string& path);

// The 1-based position of a reference's chapter in the Bible (Genesis 1 = 1, ..., Revelation
// 22 = 1189), for "Book C:V" with the book names that diatheke prints. Errors name the rest.
int bible_chapter_position(const std::string& reference);
// The held-out verses: every verse of the chapters whose position is a multiple of 20.
bool is_held_out_verse(const std::string& reference);

// One pair as token ids, before eos, padding or truncation.
struct TokenPair {
  std::vector<int32_t> source;
  std::vector<int32_t> target;
};

enum class LongPairPolicy { kTruncate, kDrop };

struct PairLimits {
  int32_t pad_id = 0;  // also the decoder start token, as in Marian
  int32_t eos_id = 0;
  int64_t max_seq_len = 0;  // longest source and longest labels, eos included
  LongPairPolicy long_pairs = LongPairPolicy::kTruncate;
};

// Pairs ready for teacher forcing: source = tokens + eos, labels = tokens + eos (each at most
// max_seq_len: truncated before the eos, or the pair dropped).
struct PreparedPairs {
  std::vector<TokenPair> pairs;  // .target holds the labels
  int64_t truncated = 0;         // pairs with a side cut to max_seq_len
  int64_t dropped = 0;           // pairs left out for being too long
};
PreparedPairs prepare_pairs(const std::vector<TokenPair>& pairs, const PairLimits& limits);

// A padded batch, row-major. decoder_input_ids is the labels shifted right behind pad (Marian's
// decoder_start_token_id); padding in labels is -100 (ignored by the loss).
struct PairBatch {
  int64_t rows = 0;
  int64_t source_len = 0;                  // S: the longest source of the batch
  int64_t target_len = 0;                  // T: the longest labels of the batch
  std::vector<int32_t> input_ids;          // [rows, S], pad after the source
  std::vector<int32_t> attention_mask;     // [rows, S], 1 = token, 0 = padding
  std::vector<int32_t> decoder_input_ids;  // [rows, T]: pad, y_1, ..., y_{n-1}, then pad
  std::vector<int32_t> labels;             // [rows, T]: y_1, ..., y_n (= eos), then -100
  std::vector<int64_t> pair_indices;       // which prepared pairs, in row order
  int64_t source_tokens = 0;               // non-padding source tokens
  int64_t target_tokens = 0;               // labels other than -100
};

// Builds the batch of the given pairs in the given order.
PairBatch make_pair_batch(const std::vector<TokenPair>& pairs, const std::vector<int64_t>& indices,
                          int32_t pad_id);

// Training batches. Each epoch the pairs are sorted by their longer side (ties in a random
// order drawn from the epoch's seed) and cut into runs whose rows x longer side stays within
// batch_tokens (a pair longer than that alone is a batch of one), so padding stays small; the
// runs are then visited in a random order. Batch `step` is a pure function of (seed, step):
// epoch = step / batches_per_epoch(), and its sorting and order come from derive_seed(seed,
// epoch). The number of batches is the same every epoch (the cut depends on lengths only).
class PairBatches {
 public:
  PairBatches(std::vector<TokenPair> pairs, int64_t batch_tokens, int32_t pad_id, uint64_t seed);

  int64_t batches_per_epoch() const { return static_cast<int64_t>(cuts_.size()) - 1; }
  // The batch of training step `step` (0-based).
  PairBatch batch(uint64_t step) const;
  // Every pair once, in length order, cut as above: for evaluation (no randomness).
  std::vector<PairBatch> in_order() const;
  const std::vector<TokenPair>& pairs() const { return pairs_; }

 private:
  // The epoch's pair order (sorted by length, random ties) and batch order.
  void compute_epoch(uint64_t epoch) const;

  std::vector<TokenPair> pairs_;
  int64_t batch_tokens_;
  int32_t pad_id_;
  uint64_t seed_;
  std::vector<int64_t> cuts_;  // batch b is sorted positions [cuts_[b], cuts_[b + 1])
  // A cache of the last epoch used (a pure function of seed and epoch, not state).
  mutable uint64_t cached_epoch_ = UINT64_MAX;
  mutable std::vector<int64_t> epoch_order_, epoch_batches_;
};

}  // namespace kiln
