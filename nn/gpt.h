// GPT with the GPT-2 architecture: token + learned position embeddings, pre-LN blocks
// (causal self-attention with fused QKV, GELU-tanh MLP), final layer norm, and an output
// head tied to the token embedding. Parameter names and shapes are Hugging Face
// GPT2LMHeadModel's (transformer.h.0.attn.c_attn.weight is [d, 3d], Conv1D layout).
// forward_cached is the decoding path: it runs only new positions against a KvCache.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/kv_cache.h"
#include "nn/layers.h"

namespace kiln::nn {

struct GptConfig {
  int64_t vocab_size = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t d_model = 0;
  int64_t d_ff = 0;  // 0 means 4 * d_model
  int64_t max_seq_len = 0;
  float dropout = 0.0f;
  float layer_norm_eps = 1e-5f;
};

class GptBlock;

class Gpt : public Module {
 public:
  // Builds the model with GPT-2 initialisation: N(0, 0.02) weights, zero biases, unit
  // layer-norm scales, residual projections (c_proj) scaled by 1/sqrt(2 n_layer).
  Gpt(const GptConfig& config, uint64_t seed);

  // ids: int32 [B, T] with T <= max_seq_len -> logits [B, T, vocab_size].
  // `dropout_seed` makes every dropout mask of this pass reproducible.
  Tensor forward(const Tensor& ids, uint64_t dropout_seed = 0) const;
  // Mean next-token cross-entropy of forward(ids) against targets: int32 [B, T] -> [],
  // computed by the fused head (ops::linear_cross_entropy), without the logits.
  Tensor loss(const Tensor& ids, const Tensor& targets, uint64_t dropout_seed = 0) const;

  // An empty cache for `batch` sequences of up to max_seq_len positions.
  KvCache make_kv_cache(int64_t batch = 1) const;
  // ids: int32 [B, T_new], the positions after the cache's length() ones -> logits
  // [B, T_new, vocab_size], equal (up to rounding) to the matching rows of forward() over the
  // whole sequence. Appends the new keys and values to `cache`. Always evaluation: no dropout
  // whatever the mode, nothing recorded on the tape. Errors when the positions do not fit
  // (length() + T_new > capacity): the caller decides how to continue (clear and re-run a
  // window, as generate() does).
  Tensor forward_cached(const Tensor& ids, KvCache& cache) const;

  const GptConfig& config() const { return config_; }

 private:
  // ids -> the final layer norm's output [B, T, d], the head's input.
  Tensor final_hidden(const Tensor& ids, uint64_t dropout_seed) const;

  GptConfig config_;
  std::shared_ptr<Embedding> wte_, wpe_;
  std::vector<std::shared_ptr<GptBlock>> blocks_;
  std::shared_ptr<LayerNorm> ln_f_;
};

}  // namespace kiln::nn
