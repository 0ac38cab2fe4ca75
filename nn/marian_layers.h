// The pieces of Hugging Face's MarianMTModel: its attention (separate q, k, v, out projections,
// used for self- and cross-attention), the post-norm encoder and decoder layers, the fixed
// sinusoidal position table, and the feed-forward activation named as in HF configs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nn/layers.h"

namespace kiln::nn {

// HF's activation_function values that Marian checkpoints use.
enum class Activation { kSwish, kGelu, kGeluNew, kRelu };
// "swish" (also "silu"), "gelu" (erf), "gelu_new" (tanh form), "relu"; errors name the rest.
Activation parse_activation(const std::string& name);
const char* activation_name(Activation a);
// x: [...] -> x.shape
Tensor activate(const Tensor& x, Activation a);

// Marian's sinusoidal positions: [n_positions, d] with row p = [sin(p w_0), ..., sin(p w_{d/2-1}),
// cos(p w_0), ..., cos(p w_{d/2-1})], w_i = 10000^(-2i/d) (sines first, then cosines; d even).
Tensor sinusoidal_positions(int64_t n_positions, int64_t d);

// Sizes shared by the layers of one stack (encoder or decoder).
struct MarianLayerConfig {
  int64_t d_model = 0;
  int64_t n_head = 0;
  int64_t d_ff = 0;
  Activation activation = Activation::kSwish;
  float dropout = 0.0f;             // HF dropout: sub-layer outputs
  float attention_dropout = 0.0f;   // on the attention weights
  float activation_dropout = 0.0f;  // after the activation
  float layer_norm_eps = 1e-5f;
};

// HF MarianAttention: k_proj, v_proj, q_proj, out_proj ([d, d] + [d] each, nn.Linear layout).
class MarianAttention : public Module {
 public:
  explicit MarianAttention(const MarianLayerConfig& c);
  // x: [B, Tq, d], memory: [B, Tk, d] (x itself for self-attention), key_mask: [B, Tk] (0 =
  // padding) or undefined -> [B, Tq, d] (out_proj applied, no output dropout).
  Tensor forward(const Tensor& x, const Tensor& memory, const Tensor& key_mask, bool causal,
                 SeedStream& seeds) const;
  // memory: [B, Tk, d] -> keys and values as heads [B, H, Tk, hd] (for caches).
  Tensor project_keys(const Tensor& memory) const;
  Tensor project_values(const Tensor& memory) const;
  // x: [B, Tq, d] -> queries as heads [B, H, Tq, hd].
  Tensor project_queries(const Tensor& x) const;
  // heads: [B, H, Tq, hd] -> out_proj of the merged heads [B, Tq, d].
  Tensor merge_and_project(const Tensor& heads) const;
  int64_t n_head() const { return n_head_; }

  std::shared_ptr<Linear> k_proj, v_proj, q_proj, out_proj;

 private:
  Tensor heads(const Tensor& t) const;  // [B, T, d] -> [B, H, T, hd]
  int64_t n_head_;
  float attention_dropout_;
};

// HF MarianEncoderLayer (post-norm): h = LN(x + SA(x)); y = LN(h + fc2(act(fc1(h)))).
class MarianEncoderLayer : public Module {
 public:
  explicit MarianEncoderLayer(const MarianLayerConfig& c);
  // x: [B, S, d], mask: [B, S] (0 = padding) -> [B, S, d]. Draws four seeds.
  Tensor forward(const Tensor& x, const Tensor& mask, SeedStream& seeds) const;

  std::shared_ptr<MarianAttention> self_attn;
  std::shared_ptr<LayerNorm> self_attn_layer_norm;
  std::shared_ptr<Linear> fc1, fc2;
  std::shared_ptr<LayerNorm> final_layer_norm;

 private:
  Tensor feed_forward(const Tensor& h, SeedStream& seeds) const;
  MarianLayerConfig config_;
};

// HF MarianDecoderLayer (post-norm): h = LN(x + causal SA(x)); h = LN(h + CA(h, encoder));
// y = LN(h + fc2(act(fc1(h)))).
class MarianDecoderLayer : public Module {
 public:
  explicit MarianDecoderLayer(const MarianLayerConfig& c);
  // x: [B, T, d], encoder: [B, S, d], source_mask: [B, S] (0 = padding) -> [B, T, d].
  Tensor forward(const Tensor& x, const Tensor& encoder, const Tensor& source_mask,
                 SeedStream& seeds) const;
  // Decoding (no dropout, nothing recorded): x: [B, T, d] at positions [length, length + T).
  // Appends this layer's new self-attention keys and values to rows [length, length + T) of
  // k_cache, v_cache [B, H, capacity, hd]; cross_k, cross_v: [B, H, S, hd], computed once per
  // source by encoder_attn->project_keys / project_values -> [B, T, d].
  Tensor forward_cached(const Tensor& x, const Tensor& k_cache, const Tensor& v_cache,
                        int64_t length, const Tensor& cross_k, const Tensor& cross_v,
                        const Tensor& source_mask) const;

  std::shared_ptr<MarianAttention> self_attn;
  std::shared_ptr<LayerNorm> self_attn_layer_norm;
  std::shared_ptr<MarianAttention> encoder_attn;
  std::shared_ptr<LayerNorm> encoder_attn_layer_norm;
  std::shared_ptr<Linear> fc1, fc2;
  std::shared_ptr<LayerNorm> final_layer_norm;

 private:
  Tensor feed_forward(const Tensor& h, SeedStream& seeds) const;
  MarianLayerConfig config_;
};

}  // namespace kiln::nn
