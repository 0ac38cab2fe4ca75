// The BERT encoder layer: only compositions of ops, with shape comments on each step.
#include "nn/bert_layer.h"

#include "base/error.h"

namespace kiln::nn {

using ops::WeightLayout;

BertSelfAttention::BertSelfAttention(const BertConfig& c)
    : n_head_(c.n_head), attention_dropout_(c.attention_dropout) {
  const int64_t d = c.d_model;
  query = register_module("query", std::make_shared<Linear>(d, d, WeightLayout::kOutIn));
  key = register_module("key", std::make_shared<Linear>(d, d, WeightLayout::kOutIn));
  value = register_module("value", std::make_shared<Linear>(d, d, WeightLayout::kOutIn));
}

Tensor BertSelfAttention::forward(const Tensor& x, const Tensor& attention_mask,
                                  SeedStream& seeds) const {
  ops::AttentionOptions options;
  // The fused op masks padded keys with -inf where HF adds finfo.min: the same weights (zero).
  options.key_padding_mask = attention_mask;
  options.dropout = is_training() ? attention_dropout_ : 0.0f;
  options.seed = seeds.next();
  // The heads are read from the projections and written side by side, no copies.
  return ops::attention_heads(query->forward(x), key->forward(x), value->forward(x), n_head_,
                              options);  // [B, T, d]
}

BertResidualOutput::BertResidualOutput(int64_t in, const BertConfig& c) : dropout_(c.dropout) {
  dense = register_module("dense", std::make_shared<Linear>(in, c.d_model, WeightLayout::kOutIn));
  layer_norm =
      register_module("LayerNorm", std::make_shared<LayerNorm>(c.d_model, c.layer_norm_eps));
}

template <typename Project>
Tensor BertResidualOutput::finish(const Tensor& residual, Project project,
                                  SeedStream& seeds) const {
  Tensor y = add_projection(residual, project, dropout_, seeds.next(), is_training());
  return layer_norm->forward(y);  // [B, T, d]
}

Tensor BertResidualOutput::forward(const Tensor& h, const Tensor& residual,
                                   SeedStream& seeds) const {
  return finish(
      residual, [&](const Tensor& r) { return dense->forward(h, r); }, seeds);
}

Tensor BertResidualOutput::forward_gelu_of(const Linear& up, const Tensor& x,
                                           const Tensor& residual, SeedStream& seeds) const {
  // HF's "gelu" is the exact erf form.
  return finish(
      residual,
      [&](const Tensor& r) { return dense->forward_gelu_of(up, x, r, ops::GeluForm::kErf); },
      seeds);
}

BertAttention::BertAttention(const BertConfig& c) {
  self = register_module("self", std::make_shared<BertSelfAttention>(c));
  output = register_module("output", std::make_shared<BertResidualOutput>(c.d_model, c));
}

Tensor BertAttention::forward(const Tensor& x, const Tensor& attention_mask,
                              SeedStream& seeds) const {
  return output->forward(self->forward(x, attention_mask, seeds), x, seeds);
}

BertIntermediate::BertIntermediate(const BertConfig& c) {
  dense =
      register_module("dense", std::make_shared<Linear>(c.d_model, c.d_ff, WeightLayout::kOutIn));
}

BertLayer::BertLayer(const BertConfig& c) {
  KILN_CHECK(c.d_ff > 0, "BertLayer: expected a resolved d_ff > 0, got ", c.d_ff);
  attention = register_module("attention", std::make_shared<BertAttention>(c));
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(c));
  output = register_module("output", std::make_shared<BertResidualOutput>(c.d_ff, c));
}

Tensor BertLayer::forward(const Tensor& x, const Tensor& attention_mask, SeedStream& seeds) const {
  Tensor a = attention->forward(x, attention_mask, seeds);            // [B, T, d]
  return output->forward_gelu_of(*intermediate->dense, a, a, seeds);  // [B, T, d]
}

}  // namespace kiln::nn
