// Decoding a MarianMTModel: greedy and beam search over a batch of sources, with the decoder's
// KV cache (or, as a test oracle, re-running the decoder over the whole prefix at each step).
#pragma once

#include <cstdint>
#include <vector>

#include "nn/marian.h"

namespace kiln::nn {

struct DecodeOptions {
  int64_t max_new_tokens = 128;  // tokens generated per source at most, eos included
  int64_t beam = 1;              // beam_search's K (greedy_decode ignores it)
  float length_penalty = 1.0f;   // HF's: a finished hypothesis scores sum log p / length^this
  bool use_cache = true;         // false: recompute the decoder over the prefix at every step
};

// The generated tokens of each source: after the decoder start token (pad), up to and without
// the eos token (or max_new_tokens tokens when no eos came). Pad is never generated (its logit
// is -inf, as in HF's Marian generation).
using Translations = std::vector<std::vector<int32_t>>;

// input_ids, attention_mask (1 = token, 0 = padding; undefined = all 1): int32 [B, S]. At each
// step every unfinished source takes its most probable next token (the first on ties); stops
// when every source has produced eos or max_new_tokens tokens. The model must be in
// evaluation mode.
Translations greedy_decode(const MarianMTModel& model, const Tensor& input_ids,
                           const Tensor& attention_mask, const DecodeOptions& options);

// Beam search as HF generate(num_beams = K, early_stopping = True): each source keeps K
// running beams; at each step the 2K best (beam, token) continuations by summed log-probability
// are walked in order: an eos among the first K finishes a hypothesis scored sum / length^
// length_penalty (length = tokens before eos), the others extend the beams until K run. A
// source is done when it has K finished hypotheses; at max_new_tokens its running beams are
// scored as finished. Returns each source's best finished hypothesis. beam = 1 gives exactly
// greedy_decode's tokens.
Translations beam_search(const MarianMTModel& model, const Tensor& input_ids,
                         const Tensor& attention_mask, const DecodeOptions& options);

}  // namespace kiln::nn
