// The GPT-2 block and model: only compositions of ops, with shape comments on each step.
#include "nn/gpt.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/hash.h"

namespace kiln::nn {

using ops::WeightLayout;

// Causal self-attention with one fused QKV projection (GPT-2's c_attn).
class GptAttention : public Module {
 public:
  explicit GptAttention(const GptConfig& c) : n_head_(c.n_head), dropout_(c.dropout) {
    c_attn = register_module(
        "c_attn", std::make_shared<Linear>(c.d_model, 3 * c.d_model, WeightLayout::kInOut));
    c_proj = register_module("c_proj",
                             std::make_shared<Linear>(c.d_model, c.d_model, WeightLayout::kInOut));
  }
  // x: [B, T, d] -> residual + attention(x), [B, T, d]
  Tensor forward(const Tensor& x, const Tensor& residual, SeedStream& seeds) const {
    ops::AttentionOptions options;
    options.causal = true;
    options.dropout = is_training() ? dropout_ : 0.0f;
    options.seed = seeds.next();
    // The heads are read from c_attn's [B, T, 3d] output and written side by side, no copies.
    Tensor y = ops::attention_packed(c_attn->forward(x), n_head_, options);  // [B, T, d]
    return add_projection(
        residual, [&](const Tensor& r) { return c_proj->forward(y, r); }, dropout_, seeds.next(),
        is_training());
  }

  // x: [B, T, d] at positions [length, length + T) -> [B, T, d], without dropout. Writes the
  // new keys and values into rows [length, length + T) of k_cache, v_cache [B, H, S, hd], then
  // attends over rows [0, length + T): causal with Tq < Tk lets query t see keys <= length + t.
  // Returns residual + attention(x).
  Tensor forward_cached(const Tensor& x, const Tensor& residual, const Tensor& k_cache,
                        const Tensor& v_cache, int64_t length) const {
    const int64_t B = x.dim(0), T = x.dim(1), d = x.dim(2), H = n_head_, hd = d / H;
    const int64_t S = k_cache.dim(2), n = length + T;
    Tensor qkv = c_attn->forward(x);            // [B, T, 3d]
    Tensor q = Tensor::empty({B * H * T, hd});  // [B, H, T, hd]
    Tensor y = Tensor::empty({B, T, d});        // the heads' outputs side by side
    const float* src = qkv.data();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h) {
          const float* row = src + (b * T + t) * 3 * d + h * hd;  // this head's q, then k, v
          const int64_t slot = (b * H + h) * S + length + t;      // its cache row
          std::copy(row, row + hd, q.data() + ((b * H + h) * T + t) * hd);
          std::copy(row + d, row + d + hd, k_cache.data() + slot * hd);
          std::copy(row + 2 * d, row + 2 * d + hd, v_cache.data() + slot * hd);
        }
    // One attention call per (sequence, head) over views of its slab: the cached rows of a
    // [B, H, S, hd] buffer are not contiguous across heads, and copying them out would cost as
    // much memory traffic as the attention itself on every token.
    ops::AttentionOptions options;
    options.causal = true;
    const Tensor k_rows = k_cache.view({B * H * S, hd}), v_rows = v_cache.view({B * H * S, hd});
    for (int64_t bh = 0; bh < B * H; ++bh) {
      Tensor out = ops::attention(q.rows_view(bh * T, (bh + 1) * T).view({1, 1, T, hd}),
                                  k_rows.rows_view(bh * S, bh * S + n).view({1, 1, n, hd}),
                                  v_rows.rows_view(bh * S, bh * S + n).view({1, 1, n, hd}),
                                  options);  // [1, 1, T, hd]
      const int64_t b = bh / H, h = bh % H;
      for (int64_t t = 0; t < T; ++t)
        std::copy(out.data() + t * hd, out.data() + (t + 1) * hd,
                  y.data() + (b * T + t) * d + h * hd);
    }
    return c_proj->forward(y, residual);
  }

  std::shared_ptr<Linear> c_attn, c_proj;

 private:
  int64_t n_head_;
  float dropout_;
};

// Position-wise MLP: d -> d_ff -> d with GELU in the tanh form, as GPT-2.
class GptMlp : public Module {
 public:
  explicit GptMlp(const GptConfig& c) : dropout_(c.dropout) {
    c_fc =
        register_module("c_fc", std::make_shared<Linear>(c.d_model, c.d_ff, WeightLayout::kInOut));
    c_proj = register_module("c_proj",
                             std::make_shared<Linear>(c.d_ff, c.d_model, WeightLayout::kInOut));
  }
  // x: [B, T, d] -> residual + mlp(x), [B, T, d]
  Tensor forward(const Tensor& x, const Tensor& residual, SeedStream& seeds) const {
    return add_projection(
        residual, [&](const Tensor& r) { return project(x, r); }, dropout_, seeds.next(),
        is_training());
  }
  // x: [B, T, d] -> residual + mlp(x) (residual may be undefined), without dropout.
  Tensor project(const Tensor& x, const Tensor& residual) const {
    // GELU fused into c_proj: its [B, T, d_ff] output is recomputed in backward, not kept.
    return c_proj->forward_gelu_of(*c_fc, x, residual);
  }

  std::shared_ptr<Linear> c_fc, c_proj;

 private:
  float dropout_;
};

// Pre-LN block: x + attn(ln_1(x)), then + mlp(ln_2(.)).
class GptBlock : public Module {
 public:
  explicit GptBlock(const GptConfig& c) {
    ln_1 = register_module("ln_1", std::make_shared<LayerNorm>(c.d_model, c.layer_norm_eps));
    attn = register_module("attn", std::make_shared<GptAttention>(c));
    ln_2 = register_module("ln_2", std::make_shared<LayerNorm>(c.d_model, c.layer_norm_eps));
    mlp = register_module("mlp", std::make_shared<GptMlp>(c));
  }
  // x: [B, T, d] -> [B, T, d]
  Tensor forward(const Tensor& x, SeedStream& seeds) const {
    Tensor h = attn->forward(ln_1->forward(x), x, seeds);
    return mlp->forward(ln_2->forward(h), h, seeds);
  }
  // x: [B, T, d] at positions [length, length + T) -> [B, T, d], appending to this layer's
  // cache (see GptAttention::forward_cached). No dropout.
  Tensor forward_cached(const Tensor& x, const Tensor& k_cache, const Tensor& v_cache,
                        int64_t length) const {
    Tensor h = attn->forward_cached(ln_1->forward(x), x, k_cache, v_cache, length);
    return mlp->project(ln_2->forward(h), h);
  }

  std::shared_ptr<LayerNorm> ln_1, ln_2;
  std::shared_ptr<GptAttention> attn;
  std::shared_ptr<GptMlp> mlp;
};

namespace {

GptConfig validated(GptConfig c) {
  if (c.d_ff == 0) c.d_ff = 4 * c.d_model;
  KILN_CHECK(
      c.vocab_size > 0 && c.n_layer > 0 && c.n_head > 0 && c.d_model > 0 && c.max_seq_len > 0,
      "Gpt: expected positive vocab_size, n_layer, n_head, d_model and max_seq_len, got ",
      c.vocab_size, ", ", c.n_layer, ", ", c.n_head, ", ", c.d_model, ", ", c.max_seq_len);
  KILN_CHECK(c.d_model % c.n_head == 0, "Gpt: expected n_head to divide d_model, got n_head ",
             c.n_head, " and d_model ", c.d_model);
  KILN_CHECK(c.dropout >= 0 && c.dropout < 1, "Gpt: expected dropout in [0, 1), got ", c.dropout);
  return c;
}

}  // namespace

Gpt::Gpt(const GptConfig& config, uint64_t seed) : config_(validated(config)) {
  const GptConfig& c = config_;
  auto transformer = register_module("transformer", std::make_shared<Container>());
  wte_ = transformer->add("wte", std::make_shared<Embedding>(c.vocab_size, c.d_model));
  wpe_ = transformer->add("wpe", std::make_shared<Embedding>(c.max_seq_len, c.d_model));
  auto h = transformer->add("h", std::make_shared<Container>());
  for (int64_t i = 0; i < c.n_layer; ++i)
    blocks_.push_back(h->add(std::to_string(i), std::make_shared<GptBlock>(c)));
  ln_f_ = transformer->add("ln_f", std::make_shared<LayerNorm>(c.d_model, c.layer_norm_eps));

  // Each tensor's initial values depend on (seed, its name), not on construction order.
  const float residual_std = 0.02f / std::sqrt(2.0f * float(c.n_layer));
  for (const auto& [name, t] : named_parameters()) {
    uint64_t stream = fnv1a_64(name);  // the same in every standard library
    bool is_matrix = t.rank() == 2;
    bool is_residual_projection = name.ends_with("c_proj.weight");
    if (is_matrix)
      init_normal(t, is_residual_projection ? residual_std : 0.02f, derive_seed(seed, stream));
  }
}

Tensor Gpt::final_hidden(const Tensor& ids, uint64_t dropout_seed) const {
  KILN_CHECK(ids.rank() == 2 && ids.dtype() == DType::kI32,
             "Gpt::forward: expected int32 ids [B, T], got ", dtype_name(ids.dtype()), " ",
             shape_str(ids.shape()));
  const int64_t T = ids.dim(1);
  KILN_CHECK(T <= config_.max_seq_len,
             "Gpt::forward: expected at most max_seq_len = ", config_.max_seq_len,
             " positions, got ", T);
  SeedStream seeds(dropout_seed);
  Tensor positions = ops::slice_rows(wpe_->weight, 0, T);  // [T, d]
  Tensor x = ops::add(wte_->forward(ids), positions);      // [B, T, d]
  x = ops::dropout(x, config_.dropout, seeds.next(), is_training());
  for (const auto& block : blocks_) x = block->forward(x, seeds);  // [B, T, d]
  return ln_f_->forward(x);                                        // [B, T, d]
}

Tensor Gpt::forward(const Tensor& ids, uint64_t dropout_seed) const {
  return ops::linear(final_hidden(ids, dropout_seed), wte_->weight, Tensor(),
                     WeightLayout::kOutIn);  // [B, T, V]
}

Tensor Gpt::loss(const Tensor& ids, const Tensor& targets, uint64_t dropout_seed) const {
  // The tied head and the loss in one op: a 50k vocabulary's logits never exist whole.
  return ops::linear_cross_entropy(final_hidden(ids, dropout_seed), wte_->weight, Tensor(),
                                   targets);
}

KvCache Gpt::make_kv_cache(int64_t batch) const {
  const GptConfig& c = config_;
  return KvCache(c.n_layer, batch, c.n_head, c.max_seq_len, c.d_model / c.n_head);
}

Tensor Gpt::forward_cached(const Tensor& ids, KvCache& cache) const {
  const GptConfig& c = config_;
  KILN_CHECK(ids.rank() == 2 && ids.dtype() == DType::kI32 && ids.dim(1) >= 1,
             "Gpt::forward_cached: expected int32 ids [B, T] with T >= 1, got ",
             dtype_name(ids.dtype()), " ", shape_str(ids.shape()));
  KILN_CHECK(cache.n_layer() == c.n_layer && cache.n_head() == c.n_head &&
                 cache.head_dim() == c.d_model / c.n_head && cache.capacity() <= c.max_seq_len,
             "Gpt::forward_cached: expected a cache from this model's make_kv_cache(), got ",
             cache.n_layer(), " layers of ", cache.n_head(), " heads of ", cache.head_dim(),
             " values and capacity ", cache.capacity());
  KILN_CHECK(ids.dim(0) == cache.batch(), "Gpt::forward_cached: expected ", cache.batch(),
             " sequences (the cache's batch), got ids ", shape_str(ids.shape()));
  const int64_t T = ids.dim(1), start = cache.length();
  KILN_CHECK(start + T <= cache.capacity(), "Gpt::forward_cached: expected at most ",
             cache.capacity() - start, " new positions (", start, " of ", cache.capacity(),
             " cached), got ", T);
  NoGradGuard no_grad;
  Tensor positions = ops::slice_rows(wpe_->weight, start, start + T);  // [T, d]
  Tensor x = ops::add(wte_->forward(ids), positions);                  // [B, T, d]
  for (std::size_t l = 0; l < blocks_.size(); ++l)
    x = blocks_[l]->forward_cached(x, cache.keys(static_cast<int64_t>(l)),
                                   cache.values(static_cast<int64_t>(l)), start);  // [B, T, d]
  cache.advance(T);
  x = ln_f_->forward(x);                                                // [B, T, d]
  return ops::linear(x, wte_->weight, Tensor(), WeightLayout::kOutIn);  // [B, T, V]
}

}  // namespace kiln::nn
