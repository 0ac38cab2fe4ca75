// One post-LN BERT encoder layer, split into HF's sub-modules so that the dotted names are HF's:
// attention.self.{query,key,value}, attention.output.{dense,LayerNorm}, intermediate.dense,
// output.{dense,LayerNorm}.
#pragma once

#include <memory>

#include "nn/bert.h"

namespace kiln::nn {

// Multi-head self-attention with separate q, k, v projections (HF BertSelfAttention).
class BertSelfAttention : public Module {
 public:
  // c as Bert validated it (n_head divides d_model).
  explicit BertSelfAttention(const BertConfig& c);
  // x: [B, T, d], attention_mask: int32 [B, T] (0 = padding) or undefined -> context [B, T, d]
  Tensor forward(const Tensor& x, const Tensor& attention_mask, SeedStream& seeds) const;

  std::shared_ptr<Linear> query, key, value;

 private:
  int64_t n_head_;
  float attention_dropout_;
};

// LayerNorm(dropout(dense(h)) + residual): HF's BertSelfOutput, and with gelu_of_input
// HF's BertOutput, whose input GELU (BertIntermediate's, in HF) it applies inside its GEMM.
class BertResidualOutput : public Module {
 public:
  BertResidualOutput(int64_t in, const BertConfig& c, bool gelu_of_input = false);
  // h: [B, T, in], residual: [B, T, d] -> [B, T, d]
  Tensor forward(const Tensor& h, const Tensor& residual, SeedStream& seeds) const;

  std::shared_ptr<Linear> dense;
  std::shared_ptr<LayerNorm> layer_norm;  // registered as "LayerNorm", HF's name

 private:
  float dropout_;
  bool gelu_of_input_;
};

// HF BertAttention: the self-attention and its residual output, as attention.{self,output}.
class BertAttention : public Module {
 public:
  explicit BertAttention(const BertConfig& c);
  // x: [B, T, d] -> [B, T, d]
  Tensor forward(const Tensor& x, const Tensor& attention_mask, SeedStream& seeds) const;

  std::shared_ptr<BertSelfAttention> self;
  std::shared_ptr<BertResidualOutput> output;
};

// HF BertIntermediate: x -> GELU_erf(dense(x)), less the GELU: the layer's output applies it
// inside its own GEMM, so the [B, T, d_ff] activation is not kept from forward to backward.
class BertIntermediate : public Module {
 public:
  explicit BertIntermediate(const BertConfig& c);
  // x: [B, T, d] -> dense(x) [B, T, d_ff], before the GELU
  Tensor forward(const Tensor& x) const;

  std::shared_ptr<Linear> dense;
};

// a = LN(x + attention(x)); y = LN(a + output.dense(GELU(intermediate.dense(a)))).
class BertLayer : public Module {
 public:
  // `c.d_ff` must already be resolved (non-zero).
  explicit BertLayer(const BertConfig& c);
  // x: [B, T, d], attention_mask: int32 [B, T] (1 = token, 0 = padding) or undefined
  // -> [B, T, d]. Draws three seeds: attention weights, attention output, FFN output.
  Tensor forward(const Tensor& x, const Tensor& attention_mask, SeedStream& seeds) const;

  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertResidualOutput> output;
};

}  // namespace kiln::nn
