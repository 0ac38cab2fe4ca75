// `kiln bench --generate`: times KV-cached greedy decoding of a batch of random prompts, and
// sets the time per token against the bytes each token must read (every weight once, the
// cache so far) and the machine's measured memory bandwidth, since decoding is memory-bound.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/gpt.h"

namespace kiln {

struct GenerateBenchResult {
  double prefill_ms = 0;           // the prompt's forward pass, batched
  double decode_ms_per_token = 0;  // median over the new tokens of one batched step
  double tokens_per_s = 0;         // batch * new tokens / total decode time
  double weight_bytes = 0;         // read per step: every parameter once
  double cache_bytes = 0;          // read per step, mean over the steps: keys and values so far
  std::vector<int32_t> first_row;  // the new tokens of sequence 0
};

// Greedy decoding of `new_tokens` tokens after prompts [batch, prompt_len] of random ids (a
// pure function of seed), one batched forward_cached step per token.
GenerateBenchResult bench_generate(const nn::Gpt& model, int64_t batch, int64_t prompt_len,
                                   int64_t new_tokens, uint64_t seed);

// The same prompt's row 0 decoded without a cache (every token re-runs the window), for
// checking that both paths give the same tokens.
std::vector<int32_t> uncached_first_row(const nn::Gpt& model, int64_t prompt_len,
                                        int64_t new_tokens, uint64_t seed);

// Read bandwidth in GB/s: the best of a few parallel sums over a buffer far larger than the
// caches, on kiln's thread team.
double measured_read_bandwidth_gbs();

}  // namespace kiln
