// Text generation from a GPT: temperature, top-k and top-p (nucleus) sampling with a fixed
// seed. Each new token re-runs the model over the last max_seq_len tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nn/gpt.h"

namespace kiln {

struct SamplingOptions {
  int max_new_tokens = 200;
  float temperature = 1.0f;  // 0 means greedy
  int top_k = 0;             // 0 means no limit
  float top_p = 1.0f;        // 1 means no limit
  uint64_t seed = 1337;
};

// Picks the next token from `logits` (one row of vocab_size values). Draw `draw` of a run
// uses random_uniform(seed, draw), so the same seed always gives the same text.
int32_t sample_token(const float* logits, int64_t vocab_size, const SamplingOptions& options,
                     uint64_t draw);

// Appends up to max_new_tokens tokens to `prompt_ids`; calls on_token(id) after each.
std::vector<int32_t> generate(const nn::Gpt& model, std::vector<int32_t> prompt_ids,
                              const SamplingOptions& options,
                              const std::function<void(int32_t)>& on_token = {});

}  // namespace kiln
