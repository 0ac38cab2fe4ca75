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

// LayerNorm(dropout(dense(h)) + residual): HF's BertSelfOutput and BertOutput.
class BertResidualOutput : public Module {
 public:
  BertResidualOutput(int64_t in, const BertConfig& c);
  // h: [B, T, in], residual: [B, T, d] -> [B, T, d]
  Tensor forward(const Tensor& h, const Tensor& residual, SeedStream& seeds) const;
  // The same for h = GELU_erf(up(x)), BertOutput after BertIntermediate: the GELU is applied
  // inside dense's op (Linear::forward_gelu_of). x: [B, T, d] -> [B, T, d]
  Tensor forward_gelu_of(const Linear& up, const Tensor& x, const Tensor& residual,
                         SeedStream& seeds) const;

  std::shared_ptr<Linear> dense;
  std::shared_ptr<LayerNorm> layer_norm;  // registered as "LayerNorm", HF's name

 private:
  // LayerNorm(residual + dropout(project(r))), project(r) giving dense's output plus r.
  template <typename Project>
  Tensor finish(const Tensor& residual, Project project, SeedStream& seeds) const;

  float dropout_;
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

// HF BertIntermediate: x -> GELU_erf(dense(x)). Only its weights live here: the layer's output
// applies dense and the GELU inside its own op, so the [B, T, d_ff] activation is not kept
// from forward to backward.
class BertIntermediate : public Module {
 public:
  explicit BertIntermediate(const BertConfig& c);

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
