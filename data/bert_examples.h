// BERT pretraining instances ([CLS] A [SEP] B [SEP] with a next-sentence label) made from
// tokenized documents with the semantics of create_instances_from_document in
// google-research/bert's create_pretraining_data.py, stored compactly. Masking is separate
// (data/bert_masking.h): it is drawn afresh every time an instance is used.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "data/bert_documents.h"

namespace kiln {

// Ids of the special tokens and what masking needs to know about the vocabulary.
struct BertSpecialTokens {
  int32_t pad = 0;
  int32_t cls = 0;
  int32_t sep = 0;
  int32_t mask = 0;
  int32_t vocab_size = 0;
  // Per id: true for WordPiece "##" continuation pieces. Needed (size vocab_size) only for
  // whole-word masking; may be empty otherwise.
  std::vector<bool> is_continuation;
};

// The flags of create_pretraining_data.py, plus the seed of instance creation.
struct BertExampleOptions {
  int max_seq_len = 128;  // [CLS] A [SEP] B [SEP] fits in this; batches are padded to it
  double short_seq_prob = 0.1;
  int max_predictions_per_seq = 20;
  double masked_lm_prob = 0.15;
  bool whole_word_masking = false;
  int dupe_factor = 1;  // instance creation passes over the documents, each with fresh draws
  uint64_t seed = 0;    // seeds instance creation only; batches take their own seed
};

// Throws kiln::Error naming the first option or token id out of range (e.g. max_seq_len < 5,
// which leaves no room for a non-empty A and B after truncation).
void check_bert_options(const BertExampleOptions& options, const BertSpecialTokens& special);

// One instance, viewing the storage of a BertInstances.
struct BertInstanceView {
  std::span<const int32_t> tokens;  // [CLS] A [SEP] B [SEP]
  int b_start = 0;                  // index of B's first token: segment ids are 1 from here on
  bool is_random_next = false;      // the NSP label: 1 when B comes from another document

  int size() const { return static_cast<int>(tokens.size()); }
  std::span<const int32_t> a() const { return tokens.subspan(1, b_start - 2); }
  std::span<const int32_t> b() const { return tokens.subspan(b_start, size() - 1 - b_start); }
};

// Instances back to back in one token buffer, so millions of them cost little beyond their tokens.
class BertInstances {
 public:
  // Appends [CLS] a [SEP] b [SEP]; a and b must be non-empty.
  void append(std::span<const int32_t> a, std::span<const int32_t> b, bool is_random_next,
              int32_t cls, int32_t sep);

  size_t size() const { return b_starts_.size(); }
  bool empty() const { return b_starts_.empty(); }
  BertInstanceView operator[](size_t index) const;
  // Tokens of all instances, [CLS] and [SEP] included.
  size_t token_count() const { return tokens_.size(); }

 private:
  std::vector<int32_t> tokens_;
  std::vector<int64_t> offsets_{0};  // instance k is tokens_[offsets_[k], offsets_[k + 1])
  std::vector<int32_t> b_starts_;
  std::vector<uint8_t> is_random_next_;
};

// create_instances_from_document over every document, options.dupe_factor times, in order
// (dupe, document, position). Each (dupe, document) pass draws from its own stream
// derive_seed(derive_seed(options.seed, dupe), document), so the result is a pure function of
// the documents and options. A random next segment comes from a uniformly drawn document other
// than A's among `documents` followed by `more_random_next_documents`, which only ever supply
// such segments (held-out examples may draw them from the whole corpus this way). Token ids
// must lie in [0, vocab_size); documents must be non-empty with non-empty sentences (as
// tokenize_documents makes them).
BertInstances create_bert_instances(const TokenizedDocuments& documents,
                                    const BertSpecialTokens& special,
                                    const BertExampleOptions& options,
                                    const TokenizedDocuments& more_random_next_documents = {});

}  // namespace kiln
