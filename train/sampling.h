// Text generation from a GPT: greedy, temperature, top-k, top-p (nucleus) and repetition
// penalty, a stop string, and a fixed seed. By default decoding keeps a key/value cache, so
// each new token costs one position; without it every token re-runs the whole window.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "nn/gpt.h"

namespace kiln {

// The most tokens one generation may add (check_sampling_options refuses more).
inline constexpr int kMaxNewTokens = 1 << 20;

struct SamplingOptions {
  int max_new_tokens = 200;
  float temperature = 1.0f;         // 0 means greedy
  int top_k = 0;                    // 0 means no limit
  float top_p = 1.0f;               // 1 means no limit
  float repetition_penalty = 1.0f;  // 1 means none; > 1 discourages tokens already present
  // Generation ends once the generated text (the prompt not included) ends with `stop`; the
  // token that completes it is kept, so the text includes the stop string. "" means none.
  std::string stop;
  bool use_cache = true;  // false re-runs the window for every token (the reference path)
  uint64_t seed = 1337;
};

// Errors (naming the option) unless every option is in range; generate() calls it first.
void check_sampling_options(const SamplingOptions& options);

// Picks the next token from `logits` (one row of vocab_size values). Draw `draw` of a run
// uses random_uniform(seed, draw), so the same seed always gives the same text.
int32_t sample_token(const float* logits, int64_t vocab_size, const SamplingOptions& options,
                     uint64_t draw);

// The CTRL rule as Hugging Face applies it: the logit of every token that occurs in `ids`
// (each once, however often it occurs) is divided by `penalty` when positive and multiplied by
// it when negative, so penalty > 1 always makes a seen token less likely.
void apply_repetition_penalty(float* logits, int64_t vocab_size, std::span<const int32_t> ids,
                              float penalty);

// Token ids -> text, for the stop string.
using Decoder = std::function<std::string(std::span<const int32_t>)>;

struct Generation {
  std::vector<int32_t> ids;  // the prompt followed by the new tokens
  int new_tokens = 0;
  bool stopped = false;       // ended on the stop string (not on max_new_tokens)
  double seconds = 0;         // wall time of the whole generation, prompt included
  double prompt_seconds = 0;  // of which the first forward pass (the prompt prefill)
  double tokens_per_second() const { return seconds > 0 ? new_tokens / seconds : 0.0; }
};

// Appends up to max_new_tokens tokens to `prompt_ids`, calling on_token(id) after each.
// `decode` is needed only with a stop string. Once max_seq_len tokens are cached, every
// further token re-runs the last max_seq_len tokens (GPT-2's absolute positions shift, so no
// cached key stays valid): both paths then see the same window and give the same tokens.
// Expects an evaluation-mode model (the uncached path applies dropout in training mode).
Generation generate(const nn::Gpt& model, std::vector<int32_t> prompt_ids,
                    const SamplingOptions& options,
                    const std::function<void(int32_t)>& on_token = {}, const Decoder& decode = {});

}  // namespace kiln
