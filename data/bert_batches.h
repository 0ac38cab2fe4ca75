// Padded, freshly masked BERT pretraining batches: BertBatches for training (a pure function of
// (seed, step), so a resumed run needs no replay) and BertEvalSet (fixed examples and masks).
#pragma once

#include <cstdint>
#include <string>

#include "data/bert_examples.h"
#include "data/bert_masking.h"

namespace kiln {

// B rows padded to T = max_seq_len, in the layout of Hugging Face's BertForPreTraining inputs.
struct BertBatch {
  int batch_size = 0;
  int seq_len = 0;
  std::vector<int32_t> input_ids;       // (B, T) masked tokens, then pad
  std::vector<int32_t> token_type_ids;  // (B, T) 0 for [CLS] A [SEP] (and padding), 1 for B [SEP]
  std::vector<int32_t> attention_mask;  // (B, T) 1 for tokens, 0 for padding
  std::vector<int32_t> mlm_labels;      // (B, T) original id where predicted, else kMlmIgnoreLabel
  std::vector<int32_t> nsp_labels;      // (B) 0 when B follows A in the text, 1 when random
};

// Rows [begin, end) of `batch`, as a batch of their own.
BertBatch rows_of(const BertBatch& batch, int begin, int end);

// Training batches: row r of batch `step` is instance
// random_bits(derive_seed(seed, step), r) % size(), masked with seed
// derive_seed(derive_seed(seed, step), r), so an instance seen twice gets two different masks.
class BertBatches {
 public:
  // `options` gives max_seq_len and the masking flags; `split` names the data in errors.
  BertBatches(BertInstances instances, BertSpecialTokens special, const BertExampleOptions& options,
              int batch_size, uint64_t seed, std::string split = "train");

  // Which instance row `row` of batch `step` holds.
  size_t instance_index(uint64_t step, int row) const;
  // Refills `out` (reusing its buffers) with batch `step`.
  void fill(uint64_t step, BertBatch& out) const;
  BertBatch batch(uint64_t step) const;

  int batch_size() const { return batch_size_; }
  int seq_len() const { return seq_len_; }
  const BertInstances& instances() const { return instances_; }

 private:
  BertInstances instances_;
  BertMasker masker_;
  int batch_size_;
  int seq_len_;
  uint64_t seed_;
};

// A fixed evaluation set: example j is instance floor(j * size() / num_examples) (spread over
// the whole split; instances repeat, with other masks, when there are fewer than num_examples)
// masked with seed derive_seed(seed, j). Every call, run and resume sees the same batches.
class BertEvalSet {
 public:
  BertEvalSet(BertInstances instances, BertSpecialTokens special, const BertExampleOptions& options,
              int batch_size, int num_examples, uint64_t seed, std::string split = "validation");

  int num_examples() const { return num_examples_; }
  // ceil(num_examples / batch_size).
  int num_batches() const;
  // Batch `index` holds examples [index * B, min((index + 1) * B, num_examples)): the last batch
  // is shorter when B does not divide num_examples, so every example counts exactly once.
  void fill(int index, BertBatch& out) const;
  BertBatch batch(int index) const;

 private:
  BertInstances instances_;
  BertMasker masker_;
  int batch_size_;
  int seq_len_;
  int num_examples_;
  uint64_t seed_;
};

}  // namespace kiln
