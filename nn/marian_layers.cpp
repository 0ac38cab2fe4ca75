// Marian's attention and post-norm layers: only compositions of ops, with shape comments.
#include "nn/marian_layers.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace kiln::nn {

using ops::WeightLayout;

Activation parse_activation(const std::string& name) {
  if (name == "swish" || name == "silu") return Activation::kSwish;
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new") return Activation::kGeluNew;
  if (name == "relu") return Activation::kRelu;
  KILN_CHECK(false, "activation_function: expected swish, silu, gelu, gelu_new or relu, got \"",
             name, "\"");
  return Activation::kSwish;
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kSwish:
      return "swish";
    case Activation::kGelu:
      return "gelu";
    case Activation::kGeluNew:
      return "gelu_new";
    case Activation::kRelu:
      return "relu";
  }
  return "swish";
}

Tensor activate(const Tensor& x, Activation a) {
  switch (a) {
    case Activation::kSwish:
      return ops::silu(x);
    case Activation::kGelu:
      return ops::gelu(x, ops::GeluForm::kErf);  // HF "gelu" is exact
    case Activation::kGeluNew:
      return ops::gelu(x, ops::GeluForm::kTanh);
    case Activation::kRelu:
      return ops::relu(x);
  }
  return x;
}

Tensor sinusoidal_positions(int64_t n_positions, int64_t d) {
  KILN_CHECK(n_positions > 0 && d > 0 && d % 2 == 0,
             "sinusoidal_positions: expected n_positions > 0 and an even d > 0, got ", n_positions,
             " and ", d);
  Tensor table = Tensor::empty({n_positions, d});
  const int64_t half = d / 2;
  for (int64_t p = 0; p < n_positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      // In double, as HF builds it with numpy before casting to float32.
      const double angle = static_cast<double>(p) / std::pow(10000.0, 2.0 * i / double(d));
      table.data()[p * d + i] = static_cast<float>(std::sin(angle));
      table.data()[p * d + half + i] = static_cast<float>(std::cos(angle));
    }
  return table;
}

MarianAttention::MarianAttention(const MarianLayerConfig& c)
    : n_head_(c.n_head), attention_dropout_(c.attention_dropout) {
  KILN_CHECK(c.n_head > 0 && c.d_model % c.n_head == 0,
             "MarianAttention: expected n_head to divide d_model, got n_head ", c.n_head,
             " and d_model ", c.d_model);
  const int64_t d = c.d_model;
  // HF's registration order, so named_parameters() lists them as its state dict does.
  k_proj = register_module("k_proj", std::make_shared<Linear>(d, d, WeightLayout::kOutIn));
  v_proj = register_module("v_proj", std::make_shared<Linear>(d, d, WeightLayout::kOutIn));
  q_proj = register_module("q_proj", std::make_shared<Linear>(d, d, WeightLayout::kOutIn));
  out_proj = register_module("out_proj", std::make_shared<Linear>(d, d, WeightLayout::kOutIn));
}

Tensor MarianAttention::heads(const Tensor& t) const {
  const int64_t B = t.dim(0), T = t.dim(1), d = t.dim(2);
  return ops::permute(ops::reshape(t, {B, T, n_head_, d / n_head_}), {0, 2, 1, 3});
}

Tensor MarianAttention::project_keys(const Tensor& memory) const {
  return heads(k_proj->forward(memory));
}
Tensor MarianAttention::project_values(const Tensor& memory) const {
  return heads(v_proj->forward(memory));
}
Tensor MarianAttention::project_queries(const Tensor& x) const {
  return heads(q_proj->forward(x));
}

Tensor MarianAttention::merge_and_project(const Tensor& y) const {
  const int64_t B = y.dim(0), H = y.dim(1), T = y.dim(2), hd = y.dim(3);
  return out_proj->forward(ops::reshape(ops::permute(y, {0, 2, 1, 3}), {B, T, H * hd}));
}

Tensor MarianAttention::forward(const Tensor& x, const Tensor& memory, const Tensor& key_mask,
                                bool causal, SeedStream& seeds) const {
  ops::AttentionOptions options;
  options.causal = causal;
  // HF adds finfo.min to padded keys' scores where the op uses -inf: the same (zero) weights.
  options.key_padding_mask = key_mask;
  options.dropout = is_training() ? attention_dropout_ : 0.0f;
  options.seed = seeds.next();
  // HF scales q by hd^-0.5 before the product: the op's default scale. The heads are read
  // from the projections and written side by side, no copies.
  Tensor y = ops::attention_heads(q_proj->forward(x), k_proj->forward(memory),
                                  v_proj->forward(memory), n_head_, options);  // [B, Tq, d]
  return out_proj->forward(y);                                                 // [B, Tq, d]
}

namespace {

// h: [B, T, d] -> LN(h + dropout(fc2(dropout(act(fc1(h)))))), HF's feed-forward half of a layer.
Tensor feed_forward_block(const Tensor& h, const Linear& fc1, const Linear& fc2,
                          const LayerNorm& norm, const MarianLayerConfig& c, bool training,
                          SeedStream& seeds) {
  Tensor f = activate(fc1.forward(h), c.activation);                  // [B, T, d_ff]
  f = ops::dropout(f, c.activation_dropout, seeds.next(), training);  // [B, T, d_ff]
  Tensor y = add_projection(
      h, [&](const Tensor& r) { return fc2.forward(f, r); }, c.dropout, seeds.next(),
      training);           // [B, T, d]
  return norm.forward(y);  // [B, T, d]
}

void check_layer_config(const MarianLayerConfig& c, const char* where) {
  KILN_CHECK(c.d_model > 0 && c.d_ff > 0, where, ": expected positive d_model and d_ff, got ",
             c.d_model, " and ", c.d_ff);
}

}  // namespace

MarianEncoderLayer::MarianEncoderLayer(const MarianLayerConfig& c) : config_(c) {
  check_layer_config(c, "MarianEncoderLayer");
  const int64_t d = c.d_model;
  self_attn = register_module("self_attn", std::make_shared<MarianAttention>(c));
  self_attn_layer_norm =
      register_module("self_attn_layer_norm", std::make_shared<LayerNorm>(d, c.layer_norm_eps));
  fc1 = register_module("fc1", std::make_shared<Linear>(d, c.d_ff, WeightLayout::kOutIn));
  fc2 = register_module("fc2", std::make_shared<Linear>(c.d_ff, d, WeightLayout::kOutIn));
  final_layer_norm =
      register_module("final_layer_norm", std::make_shared<LayerNorm>(d, c.layer_norm_eps));
}

Tensor MarianEncoderLayer::feed_forward(const Tensor& h, SeedStream& seeds) const {
  return feed_forward_block(h, *fc1, *fc2, *final_layer_norm, config_, is_training(), seeds);
}

Tensor MarianEncoderLayer::forward(const Tensor& x, const Tensor& mask, SeedStream& seeds) const {
  Tensor a = self_attn->forward(x, x, mask, /*causal=*/false, seeds);  // [B, S, d]
  a = ops::dropout(a, config_.dropout, seeds.next(), is_training());   // [B, S, d]
  Tensor h = self_attn_layer_norm->forward(ops::add(x, a));            // [B, S, d]
  return feed_forward(h, seeds);                                       // [B, S, d]
}

MarianDecoderLayer::MarianDecoderLayer(const MarianLayerConfig& c) : config_(c) {
  check_layer_config(c, "MarianDecoderLayer");
  const int64_t d = c.d_model;
  self_attn = register_module("self_attn", std::make_shared<MarianAttention>(c));
  self_attn_layer_norm =
      register_module("self_attn_layer_norm", std::make_shared<LayerNorm>(d, c.layer_norm_eps));
  encoder_attn = register_module("encoder_attn", std::make_shared<MarianAttention>(c));
  encoder_attn_layer_norm =
      register_module("encoder_attn_layer_norm", std::make_shared<LayerNorm>(d, c.layer_norm_eps));
  fc1 = register_module("fc1", std::make_shared<Linear>(d, c.d_ff, WeightLayout::kOutIn));
  fc2 = register_module("fc2", std::make_shared<Linear>(c.d_ff, d, WeightLayout::kOutIn));
  final_layer_norm =
      register_module("final_layer_norm", std::make_shared<LayerNorm>(d, c.layer_norm_eps));
}

Tensor MarianDecoderLayer::feed_forward(const Tensor& h, SeedStream& seeds) const {
  return feed_forward_block(h, *fc1, *fc2, *final_layer_norm, config_, is_training(), seeds);
}

Tensor MarianDecoderLayer::forward(const Tensor& x, const Tensor& encoder,
                                   const Tensor& source_mask, SeedStream& seeds) const {
  const bool training = is_training();
  // Target padding needs no mask here: it only ever follows the real tokens, which the causal
  // mask keeps from seeing it, and the loss ignores its positions.
  Tensor a = self_attn->forward(x, x, Tensor(), /*causal=*/true, seeds);    // [B, T, d]
  a = ops::dropout(a, config_.dropout, seeds.next(), training);             // [B, T, d]
  Tensor h = self_attn_layer_norm->forward(ops::add(x, a));                 // [B, T, d]
  Tensor c = encoder_attn->forward(h, encoder, source_mask, false, seeds);  // [B, T, d]
  c = ops::dropout(c, config_.dropout, seeds.next(), training);             // [B, T, d]
  h = encoder_attn_layer_norm->forward(ops::add(h, c));                     // [B, T, d]
  return feed_forward(h, seeds);                                            // [B, T, d]
}

Tensor MarianDecoderLayer::forward_cached(const Tensor& x, const Tensor& k_cache,
                                          const Tensor& v_cache, int64_t length,
                                          const Tensor& cross_k, const Tensor& cross_v,
                                          const Tensor& source_mask) const {
  const int64_t B = x.dim(0), T = x.dim(1), H = self_attn->n_head(), hd = x.dim(2) / H;
  const int64_t S = k_cache.dim(2), n = length + T;
  // The new positions' keys and values go into rows [length, length + T) of each slab.
  Tensor q = self_attn->project_queries(x);  // [B, H, T, hd]
  Tensor k = self_attn->project_keys(x), v = self_attn->project_values(x);
  for (int64_t bh = 0; bh < B * H; ++bh) {
    std::copy(k.data() + bh * T * hd, k.data() + (bh + 1) * T * hd,
              k_cache.data() + (bh * S + length) * hd);
    std::copy(v.data() + bh * T * hd, v.data() + (bh + 1) * T * hd,
              v_cache.data() + (bh * S + length) * hd);
  }
  // One attention call per (sequence, head) over views of its cached rows (as GPT does): the
  // first n rows of a [capacity, hd] slab are contiguous, the rows of all slabs are not.
  ops::AttentionOptions options;
  options.causal = true;  // with Tq < Tk, query t sees keys <= length + t
  Tensor y = Tensor::empty({B, H, T, hd});
  const Tensor k_rows = k_cache.view({B * H * S, hd}), v_rows = v_cache.view({B * H * S, hd});
  const Tensor q_rows = q.view({B * H * T, hd});
  for (int64_t bh = 0; bh < B * H; ++bh) {
    Tensor out = ops::attention(q_rows.rows_view(bh * T, (bh + 1) * T).view({1, 1, T, hd}),
                                k_rows.rows_view(bh * S, bh * S + n).view({1, 1, n, hd}),
                                v_rows.rows_view(bh * S, bh * S + n).view({1, 1, n, hd}),
                                options);  // [1, 1, T, hd]
    std::copy(out.data(), out.data() + T * hd, y.data() + bh * T * hd);
  }
  Tensor h = self_attn_layer_norm->forward(ops::add(x, self_attn->merge_and_project(y)));
  ops::AttentionOptions cross;
  cross.key_padding_mask = source_mask;
  Tensor c = ops::attention(encoder_attn->project_queries(h), cross_k, cross_v, cross);
  h = encoder_attn_layer_norm->forward(ops::add(h, encoder_attn->merge_and_project(c)));
  SeedStream unused(0);  // no dropout: feed_forward_block gets training = false
  return feed_forward_block(h, *fc1, *fc2, *final_layer_norm, config_, false, unused);
}

}  // namespace kiln::nn
