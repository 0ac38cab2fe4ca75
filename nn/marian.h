// The encoder-decoder Transformer as Hugging Face's MarianMTModel: shared token embeddings
// (encoder, decoder and output head), fixed sinusoidal positions, post-norm layers from
// nn/marian_layers.h, and final_logits_bias. Parameter names and shapes are HF's.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/kv_cache.h"
#include "nn/marian_layers.h"

namespace kiln::nn {

// HF MarianConfig's fields that shape the model (HF names in comments where ours differ).
struct MarianConfig {
  int64_t vocab_size = 0;
  int64_t d_model = 0;
  int64_t encoder_layers = 0;
  int64_t decoder_layers = 0;
  int64_t encoder_attention_heads = 0;
  int64_t decoder_attention_heads = 0;
  int64_t encoder_ffn_dim = 0;  // 0 means 4 * d_model
  int64_t decoder_ffn_dim = 0;  // 0 means 4 * d_model
  int64_t max_position_embeddings = 512;
  Activation activation = Activation::kSwish;  // activation_function
  bool scale_embedding = true;                 // multiply embeddings by sqrt(d_model)
  float dropout = 0.1f;
  float attention_dropout = 0.0f;
  float activation_dropout = 0.0f;
  float init_std = 0.02f;
  float layer_norm_eps = 1e-5f;
  int32_t pad_token_id = 0;  // also decoder_start_token_id, as in every Marian model
  int32_t eos_token_id = 0;
};

// The decoding state of a batch of sources: the decoder's self-attention cache (a position per
// step) and each decoder layer's cross-attention keys and values (computed once per source).
struct MarianDecoderCache {
  KvCache self;                          // decoder_layers x [N, H, capacity, hd]
  std::vector<Tensor> cross_k, cross_v;  // decoder_layers x [N, H, S, hd]
  Tensor source_mask;                    // [N, S], 0 = padding
};

class MarianMTModel : public Module {
 public:
  // Builds the model with HF Marian initialisation: N(0, init_std) for every linear weight and
  // the shared embedding (the pad row zeroed), zero biases and final_logits_bias, unit
  // layer-norm scales. Values depend on (seed, parameter name) only.
  MarianMTModel(const MarianConfig& config, uint64_t seed);

  // input_ids, attention_mask (1 = token, 0 = padding; undefined = all 1): int32 [B, S]
  // -> encoder_last_hidden_state [B, S, d].
  Tensor encode(const Tensor& input_ids, const Tensor& attention_mask,
                uint64_t dropout_seed = 0) const;
  // decoder_input_ids: int32 [B, T], encoder: [B, S, d], attention_mask: the source's [B, S]
  // -> logits [B, T, V] (tied head + final_logits_bias).
  Tensor decode(const Tensor& decoder_input_ids, const Tensor& encoder,
                const Tensor& attention_mask, uint64_t dropout_seed = 0) const;
  // encode then decode, the dropout seeds of both derived from dropout_seed -> [B, T, V].
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask,
                 const Tensor& decoder_input_ids, uint64_t dropout_seed = 0) const;
  // Teacher-forced loss: mean over labels != -100 (int32 [B, T]) of the label-smoothed
  // cross-entropy (1 - eps) * nll + eps * mean over the vocabulary of -log p -> [].
  Tensor loss(const Tensor& input_ids, const Tensor& attention_mask,
              const Tensor& decoder_input_ids, const Tensor& labels, float label_smoothing,
              uint64_t dropout_seed = 0) const;

  // Decoding, always in evaluation mode and off the tape: runs the encoder over the sources
  // and returns an empty self-attention cache of `capacity` positions with the cross-attention
  // keys and values filled in.
  MarianDecoderCache start_decoding(const Tensor& input_ids, const Tensor& attention_mask,
                                    int64_t capacity) const;
  // decoder_input_ids: int32 [N, T_new], the positions after cache.self.length() -> logits
  // [N, T_new, V], equal up to rounding to decode() over the whole prefix. Appends to the cache.
  Tensor decode_cached(const Tensor& decoder_input_ids, MarianDecoderCache& cache) const;

  const MarianConfig& config() const { return config_; }
  // model.shared.weight [V, d]: the encoder's, decoder's and head's embedding.
  const Tensor& shared_embedding() const { return shared_->weight; }
  // final_logits_bias [1, V]: a trainable parameter here (a zero buffer in HF; see marian.cpp).
  const Tensor& final_logits_bias() const { return final_logits_bias_; }

 private:
  // ids: int32 [B, T] at positions [start, start + T) -> embedded and positioned [B, T, d].
  Tensor embed(const Tensor& ids, int64_t start) const;
  // hidden: [B, T, d] -> [B, T, V].
  Tensor head(const Tensor& hidden) const;

  MarianConfig config_;
  std::shared_ptr<Embedding> shared_;
  std::vector<std::shared_ptr<MarianEncoderLayer>> encoder_layers_;
  std::vector<std::shared_ptr<MarianDecoderLayer>> decoder_layers_;
  Tensor final_logits_bias_;
  Tensor positions_;  // [max_position_embeddings, d], fixed (not a parameter, as in HF)
};

}  // namespace kiln::nn
