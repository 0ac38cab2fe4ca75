// BertInstances storage and create_bert_instances, a port of create_instances_from_document and
// truncate_seq_pair whose random draws come from counter-based streams instead of one global RNG.
#include "data/bert_examples.h"

#include <algorithm>

#include "base/error.h"
#include "base/rng.h"
#include "data/bert_draws.h"

namespace kiln {
namespace {

// [CLS], [SEP], [SEP].
constexpr int kSpecialsPerInstance = 3;

void check_id(const char* name, int32_t id, int32_t vocab_size) {
  KILN_CHECK(id >= 0 && id < vocab_size, "bert_examples: expected the ", name,
             " token id in [0, vocab_size = ", vocab_size, "), got ", id);
}

// Token ranges of segment A and B inside scratch buffers; truncation moves the ends inwards.
struct Pair {
  std::vector<int32_t> a, b;
  size_t a_begin = 0, a_end = 0, b_begin = 0, b_end = 0;

  size_t a_size() const { return a_end - a_begin; }
  size_t b_size() const { return b_end - b_begin; }
};

// truncate_seq_pair: trims the longer segment (B on a tie) one token at a time, from the front
// or the back with equal probability, so neither end of a segment is systematically favoured.
void truncate_pair(Pair& pair, size_t max_num_tokens, Draws& draws) {
  while (pair.a_size() + pair.b_size() > max_num_tokens) {
    const bool trim_a = pair.a_size() > pair.b_size();
    size_t& begin = trim_a ? pair.a_begin : pair.b_begin;
    size_t& end = trim_a ? pair.a_end : pair.b_end;
    if (draws.uniform() < 0.5) {
      ++begin;
    } else {
      --end;
    }
  }
}

// Appends sentences [first, last) of a document to `out`.
void extend(std::vector<int32_t>& out, const std::vector<std::vector<int32_t>>& sentences,
            size_t first, size_t last) {
  for (size_t s = first; s < last; ++s) {
    out.insert(out.end(), sentences[s].begin(), sentences[s].end());
  }
}

// The documents a random next segment may come from: `own` (those that also make instances)
// followed by `more`, numbered as one list.
struct RandomNextPool {
  const TokenizedDocuments& own;
  const TokenizedDocuments& more;

  size_t size() const { return own.size() + more.size(); }
  const std::vector<std::vector<int32_t>>& operator[](size_t k) const {
    return k < own.size() ? own[k] : more[k - own.size()];
  }
};

// create_instances_from_document for document `index` of pool.own, appending to `out`.
void instances_from_document(const RandomNextPool& pool, size_t index,
                             const BertSpecialTokens& special, const BertExampleOptions& options,
                             Draws& draws, Pair& pair, BertInstances& out) {
  const auto& document = pool.own[index];
  const int64_t max_num_tokens = options.max_seq_len - kSpecialsPerInstance;
  // One target per document, as in the original: usually fill the sequence, since it is padded
  // to max_seq_len anyway, but sometimes train on short ones like those seen in fine-tuning.
  int64_t target_seq_length = max_num_tokens;
  if (draws.uniform() < options.short_seq_prob) {
    target_seq_length = draws.randint(2, max_num_tokens);
  }

  // The chunk is sentences [chunk_begin, i]; A and B split it at a sentence boundary so that
  // next sentence prediction sees real sentence ends rather than an arbitrary cut.
  size_t chunk_begin = 0;
  int64_t chunk_length = 0;
  for (size_t i = 0; i < document.size(); ++i) {
    chunk_length += static_cast<int64_t>(document[i].size());
    if (i + 1 < document.size() && chunk_length < target_seq_length) continue;
    const auto chunk_size = static_cast<int64_t>(i + 1 - chunk_begin);
    const int64_t a_sentences = chunk_size >= 2 ? draws.randint(1, chunk_size - 1) : 1;
    const size_t a_last = chunk_begin + static_cast<size_t>(a_sentences);
    pair.a.clear();
    pair.b.clear();
    extend(pair.a, document, chunk_begin, a_last);
    bool is_random_next = false;
    if (chunk_size == 1 || draws.uniform() < 0.5) {
      is_random_next = true;
      const int64_t target_b_length = target_seq_length - static_cast<int64_t>(pair.a.size());
      // The original retries up to 10 times for a document other than this one; drawing from
      // the n - 1 others directly has the same distribution and always succeeds. A corpus of
      // one document can only pair it with itself, as the original then does.
      size_t other = index;
      if (pool.size() >= 2) {
        other = static_cast<size_t>(draws.randint(0, static_cast<int64_t>(pool.size()) - 2));
        if (other >= index) ++other;
      }
      const auto& random_document = pool[other];
      const auto start =
          static_cast<size_t>(draws.randint(0, static_cast<int64_t>(random_document.size()) - 1));
      for (size_t s = start; s < random_document.size(); ++s) {
        extend(pair.b, random_document, s, s + 1);
        if (static_cast<int64_t>(pair.b.size()) >= target_b_length) break;
      }
      // The chunk's sentences after A went unused: "put them back" for the next chunk.
      i = a_last - 1;
    } else {
      extend(pair.b, document, a_last, i + 1);
    }
    pair.a_begin = pair.b_begin = 0;
    pair.a_end = pair.a.size();
    pair.b_end = pair.b.size();
    truncate_pair(pair, static_cast<size_t>(max_num_tokens), draws);
    out.append({pair.a.data() + pair.a_begin, pair.a_size()},
               {pair.b.data() + pair.b_begin, pair.b_size()}, is_random_next, special.cls,
               special.sep);
    chunk_begin = i + 1;
    chunk_length = 0;
  }
}

}  // namespace

void check_bert_options(const BertExampleOptions& options, const BertSpecialTokens& special) {
  // max_num_tokens >= 2 keeps both segments non-empty: truncation only trims a segment longer
  // than the other, and two segments over a budget of 2 or more cannot both be of length 1.
  KILN_CHECK(options.max_seq_len >= kSpecialsPerInstance + 2,
             "bert_examples: expected max_seq_len >= 5, got ", options.max_seq_len);
  KILN_CHECK(options.short_seq_prob >= 0 && options.short_seq_prob <= 1,
             "bert_examples: expected short_seq_prob in [0, 1], got ", options.short_seq_prob);
  KILN_CHECK(options.max_predictions_per_seq >= 1,
             "bert_examples: expected max_predictions_per_seq >= 1, got ",
             options.max_predictions_per_seq);
  KILN_CHECK(options.masked_lm_prob >= 0 && options.masked_lm_prob <= 1,
             "bert_examples: expected masked_lm_prob in [0, 1], got ", options.masked_lm_prob);
  KILN_CHECK(options.dupe_factor >= 1, "bert_examples: expected dupe_factor >= 1, got ",
             options.dupe_factor);
  KILN_CHECK(special.vocab_size > 0, "bert_examples: expected vocab_size > 0, got ",
             special.vocab_size);
  check_id("[PAD]", special.pad, special.vocab_size);
  check_id("[CLS]", special.cls, special.vocab_size);
  check_id("[SEP]", special.sep, special.vocab_size);
  check_id("[MASK]", special.mask, special.vocab_size);
  KILN_CHECK(!options.whole_word_masking ||
                 special.is_continuation.size() == static_cast<size_t>(special.vocab_size),
             "bert_examples: whole-word masking expected is_continuation for every id (",
             special.vocab_size, "), got ", special.is_continuation.size(), " entries");
}

void BertInstances::append(std::span<const int32_t> a, std::span<const int32_t> b,
                           bool is_random_next, int32_t cls, int32_t sep) {
  KILN_CHECK(!a.empty() && !b.empty(), "bert_examples: expected non-empty segments, got ", a.size(),
             " tokens in A and ", b.size(), " in B");
  tokens_.push_back(cls);
  tokens_.insert(tokens_.end(), a.begin(), a.end());
  tokens_.push_back(sep);
  tokens_.insert(tokens_.end(), b.begin(), b.end());
  tokens_.push_back(sep);
  offsets_.push_back(static_cast<int64_t>(tokens_.size()));
  b_starts_.push_back(static_cast<int32_t>(a.size() + 2));
  is_random_next_.push_back(is_random_next ? 1 : 0);
}

BertInstanceView BertInstances::operator[](size_t index) const {
  const auto begin = static_cast<size_t>(offsets_[index]);
  const auto end = static_cast<size_t>(offsets_[index + 1]);
  return {std::span<const int32_t>(tokens_).subspan(begin, end - begin), b_starts_[index],
          is_random_next_[index] != 0};
}

BertInstances create_bert_instances(const TokenizedDocuments& documents,
                                    const BertSpecialTokens& special,
                                    const BertExampleOptions& options,
                                    const TokenizedDocuments& more_random_next_documents) {
  check_bert_options(options, special);
  KILN_CHECK(!documents.empty(), "bert_examples: expected at least one document, got none");
  const RandomNextPool pool{documents, more_random_next_documents};
  for (size_t d = 0; d < pool.size(); ++d) {
    KILN_CHECK(!pool[d].empty(), "bert_examples: document ", d, " has no sentences");
    for (const auto& sentence : pool[d]) {
      KILN_CHECK(!sentence.empty(), "bert_examples: document ", d, " has an empty sentence");
      for (const int32_t id : sentence) check_id("document", id, special.vocab_size);
    }
  }
  BertInstances out;
  Pair pair;  // scratch shared by all instances
  for (int dupe = 0; dupe < options.dupe_factor; ++dupe) {
    const uint64_t dupe_seed = derive_seed(options.seed, static_cast<uint64_t>(dupe));
    for (size_t d = 0; d < documents.size(); ++d) {
      Draws draws(derive_seed(dupe_seed, d));
      instances_from_document(pool, d, special, options, draws, pair, out);
    }
  }
  return out;
}

}  // namespace kiln
