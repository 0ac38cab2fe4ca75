// BertMasker: create_masked_lm_predictions of google-research/bert, applied afresh each time an
// instance is used (dynamic masking) with draws from a seed given per use.
#pragma once

#include <cstdint>
#include <vector>

#include "data/bert_examples.h"

namespace kiln {

// Label of a position that is not predicted; the same as autograd's kIgnoreIndex and Hugging
// Face's labels convention (kept separate because data/ does not include autograd/).
inline constexpr int32_t kMlmIgnoreLabel = -100;

// One masked instance, unpadded: what BertMasker::mask writes, as vectors (mostly for tests).
struct BertMaskedInstance {
  std::vector<int32_t> input_ids;   // the instance's tokens with the chosen positions replaced
  std::vector<int32_t> mlm_labels;  // original id where predicted, kMlmIgnoreLabel elsewhere
  int num_predictions = 0;
};

class BertMasker {
 public:
  // Checks the options and ids (check_bert_options).
  BertMasker(BertSpecialTokens special, const BertExampleOptions& options);

  // min(max_predictions_per_seq, max(1, round(n_tokens * masked_lm_prob))), rounding half to
  // even like Python's round(); n_tokens counts [CLS] and [SEP] too, as the original does.
  int num_to_predict(int n_tokens) const;

  // Masks `instance` with draws from `seed` alone. Candidates are all positions but [CLS] and
  // [SEP]; with whole-word masking a continuation piece joins the word before it. Words are taken
  // in a random order while they fit in num_to_predict (a word that would overflow it is skipped,
  // as in the original); each chosen position becomes [MASK] (80%), stays (10%) or becomes a
  // uniform id in [0, vocab_size) (10%). Writes instance.size() ids to `input_ids` and labels to
  // `mlm_labels`; returns the number of predicted positions. Allocates nothing once warm.
  int mask(const BertInstanceView& instance, uint64_t seed, int32_t* input_ids,
           int32_t* mlm_labels) const;
  BertMaskedInstance mask(const BertInstanceView& instance, uint64_t seed) const;

  const BertSpecialTokens& special() const { return special_; }

 private:
  bool is_special(int32_t id) const { return id == special_.cls || id == special_.sep; }
  bool continues_word(int32_t id) const {
    return whole_word_masking_ && special_.is_continuation[static_cast<size_t>(id)];
  }

  BertSpecialTokens special_;
  int max_predictions_;
  double masked_lm_prob_;
  bool whole_word_masking_;
};

}  // namespace kiln
