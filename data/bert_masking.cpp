// BertMasker: choosing masked positions and their replacements, deterministically from a seed.
#include "data/bert_masking.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "base/error.h"
#include "data/bert_draws.h"

namespace kiln {
namespace {

constexpr double kMaskProb = 0.8;         // chosen positions that become [MASK]
constexpr double kKeepShareOfRest = 0.5;  // of the other 20%: half keep, half get a random id

}  // namespace

BertMasker::BertMasker(BertSpecialTokens special, const BertExampleOptions& options)
    : special_(std::move(special)),
      max_predictions_(options.max_predictions_per_seq),
      masked_lm_prob_(options.masked_lm_prob),
      whole_word_masking_(options.whole_word_masking) {
  check_bert_options(options, special_);
}

int BertMasker::num_to_predict(int n_tokens) const {
  // nearbyint in the default rounding mode rounds half to even, as Python 3's round() does.
  const double rounded = std::nearbyint(static_cast<double>(n_tokens) * masked_lm_prob_);
  return std::min(max_predictions_, std::max(1, static_cast<int>(rounded)));
}

int BertMasker::mask(const BertInstanceView& instance, uint64_t seed, int32_t* input_ids,
                     int32_t* mlm_labels) const {
  const std::span<const int32_t> tokens = instance.tokens;
  const int n = instance.size();
  // First position of every candidate word. Thread-local so that batch filling allocates
  // nothing in the steady state and stays safe to call from several threads.
  thread_local std::vector<int> word_starts;
  word_starts.clear();
  for (int i = 0; i < n; ++i) {
    input_ids[i] = tokens[i];
    mlm_labels[i] = kMlmIgnoreLabel;
    if (is_special(tokens[i])) continue;
    // A "##" piece continues the word before it, unless that is [CLS] or [SEP]: the original
    // would glue the first piece of B onto the last word of A, across the separator.
    const bool joins_previous = i > 0 && !is_special(tokens[i - 1]) && continues_word(tokens[i]);
    if (!joins_previous) word_starts.push_back(i);
  }

  const int limit = num_to_predict(n);
  int predicted = 0;
  Draws draws(seed);
  const auto words = static_cast<int64_t>(word_starts.size());
  // A Fisher-Yates shuffle done lazily: step k draws the k-th word of a uniformly random order,
  // so the loop stops as soon as enough positions are chosen instead of shuffling them all.
  for (int64_t k = 0; k < words && predicted < limit; ++k) {
    std::swap(word_starts[k], word_starts[draws.randint(k, words - 1)]);
    const int start = word_starts[k];
    int end = start + 1;
    while (end < n && !is_special(tokens[end]) && continues_word(tokens[end])) ++end;
    if (predicted + (end - start) > limit) continue;  // the whole word would not fit: skip it
    for (int p = start; p < end; ++p) {
      mlm_labels[p] = tokens[p];
      if (draws.uniform() < kMaskProb) {
        input_ids[p] = special_.mask;
      } else if (draws.uniform() >= kKeepShareOfRest) {
        // The original draws a random word of the vocabulary, special tokens included.
        input_ids[p] = static_cast<int32_t>(draws.randint(0, special_.vocab_size - 1));
      }
    }
    predicted += end - start;
  }
  return predicted;
}

BertMaskedInstance BertMasker::mask(const BertInstanceView& instance, uint64_t seed) const {
  BertMaskedInstance out;
  out.input_ids.resize(instance.tokens.size());
  out.mlm_labels.resize(instance.tokens.size());
  out.num_predictions = mask(instance, seed, out.input_ids.data(), out.mlm_labels.data());
  return out;
}

}  // namespace kiln
