// MarianMTModel: embeddings, the encoder and decoder stacks, the tied head, and the cached
// decoding path. Only compositions of ops, with shape comments on each step.
//
// final_logits_bias is a trainable parameter here, where HF registers a buffer of zeros that
// its optimisers never touch: a parameter is checkpointed, exported and imported by name like
// every other tensor, and an imported non-zero bias (converted Marian models have one) is kept.
// It starts at zero, so the first step is HF's; after that it learns like any output bias.
#include "nn/marian.h"

#include <cmath>
#include <string>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/hash.h"

namespace kiln::nn {

using ops::WeightLayout;

namespace {

MarianConfig validated(MarianConfig c) {
  if (c.encoder_ffn_dim == 0) c.encoder_ffn_dim = 4 * c.d_model;
  if (c.decoder_ffn_dim == 0) c.decoder_ffn_dim = 4 * c.d_model;
  KILN_CHECK(c.vocab_size > 0 && c.d_model > 0 && c.encoder_layers > 0 && c.decoder_layers > 0 &&
                 c.encoder_attention_heads > 0 && c.decoder_attention_heads > 0 &&
                 c.max_position_embeddings > 0,
             "MarianMTModel: expected positive vocab_size, d_model, encoder_layers, "
             "decoder_layers, encoder_attention_heads, decoder_attention_heads and "
             "max_position_embeddings, got ",
             c.vocab_size, ", ", c.d_model, ", ", c.encoder_layers, ", ", c.decoder_layers, ", ",
             c.encoder_attention_heads, ", ", c.decoder_attention_heads, ", ",
             c.max_position_embeddings);
  KILN_CHECK(c.d_model % 2 == 0,
             "MarianMTModel: expected an even d_model (sinusoidal "
             "positions), got ",
             c.d_model);
  KILN_CHECK(c.dropout >= 0 && c.dropout < 1 && c.attention_dropout >= 0 &&
                 c.attention_dropout < 1 && c.activation_dropout >= 0 && c.activation_dropout < 1,
             "MarianMTModel: expected dropout, attention_dropout and activation_dropout in [0, 1), "
             "got ",
             c.dropout, ", ", c.attention_dropout, " and ", c.activation_dropout);
  KILN_CHECK(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size && c.eos_token_id >= 0 &&
                 c.eos_token_id < c.vocab_size,
             "MarianMTModel: expected pad_token_id and eos_token_id in [0, vocab_size = ",
             c.vocab_size, "), got ", c.pad_token_id, " and ", c.eos_token_id);
  return c;
}

MarianLayerConfig layer_config(const MarianConfig& c, int64_t n_head, int64_t d_ff) {
  MarianLayerConfig l;
  l.d_model = c.d_model;
  l.n_head = n_head;
  l.d_ff = d_ff;
  l.activation = c.activation;
  l.dropout = c.dropout;
  l.attention_dropout = c.attention_dropout;
  l.activation_dropout = c.activation_dropout;
  l.layer_norm_eps = c.layer_norm_eps;
  return l;
}

std::string describe(const Tensor& t) {
  return t.defined() ? std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape())
                     : std::string("an undefined tensor");
}

void check_ids(const Tensor& ids, const char* where, const char* name) {
  KILN_CHECK(ids.defined() && ids.rank() == 2 && ids.dtype() == DType::kI32 && ids.dim(1) > 0,
             where, ": expected ", name, " as int32 [B, T] with T > 0, got ", describe(ids));
}

void check_mask(const Tensor& mask, const Tensor& ids, const char* where) {
  if (!mask.defined()) return;
  KILN_CHECK(mask.shape() == ids.shape(), where, ": expected attention_mask of shape ",
             shape_str(ids.shape()), " (input_ids'), got ", describe(mask));
}

}  // namespace

MarianMTModel::MarianMTModel(const MarianConfig& config, uint64_t seed)
    : config_(validated(config)) {
  const MarianConfig& c = config_;
  auto model = register_module("model", std::make_shared<Container>());
  shared_ = model->add("shared", std::make_shared<Embedding>(c.vocab_size, c.d_model));
  auto encoder = model->add("encoder", std::make_shared<Container>());
  auto encoder_layers = encoder->add("layers", std::make_shared<Container>());
  const MarianLayerConfig enc = layer_config(c, c.encoder_attention_heads, c.encoder_ffn_dim);
  for (int64_t i = 0; i < c.encoder_layers; ++i)
    encoder_layers_.push_back(
        encoder_layers->add(std::to_string(i), std::make_shared<MarianEncoderLayer>(enc)));
  auto decoder = model->add("decoder", std::make_shared<Container>());
  auto decoder_layers = decoder->add("layers", std::make_shared<Container>());
  const MarianLayerConfig dec = layer_config(c, c.decoder_attention_heads, c.decoder_ffn_dim);
  for (int64_t i = 0; i < c.decoder_layers; ++i)
    decoder_layers_.push_back(
        decoder_layers->add(std::to_string(i), std::make_shared<MarianDecoderLayer>(dec)));
  final_logits_bias_ = register_parameter("final_logits_bias", Tensor::zeros({1, c.vocab_size}));
  positions_ = sinusoidal_positions(c.max_position_embeddings, c.d_model);

  // HF's _init_weights: every Linear weight and the embedding N(0, init_std), the pad row 0.
  for (const auto& [name, t] : named_parameters())
    if (t.rank() == 2 && name != "final_logits_bias")
      init_normal(t, c.init_std, derive_seed(seed, fnv1a_64(name)));
  init_constant(shared_->weight.rows_view(c.pad_token_id, c.pad_token_id + 1), 0.0f);
}

Tensor MarianMTModel::embed(const Tensor& ids, int64_t start) const {
  const int64_t T = ids.dim(1);
  KILN_CHECK(start + T <= config_.max_position_embeddings,
             "MarianMTModel: expected at most max_position_embeddings = ",
             config_.max_position_embeddings, " positions, got ", start + T);
  Tensor x = shared_->forward(ids);  // [B, T, d]
  if (config_.scale_embedding) x = ops::scale(x, std::sqrt(static_cast<float>(config_.d_model)));
  return ops::add(x, ops::slice_rows(positions_, start, start + T));  // [B, T, d]
}

Tensor MarianMTModel::head(const Tensor& hidden) const {
  Tensor logits = ops::linear(hidden, shared_->weight, Tensor(), WeightLayout::kOutIn);
  return ops::add(logits, final_logits_bias_);  // [B, T, V] + [1, V]
}

Tensor MarianMTModel::encode(const Tensor& input_ids, const Tensor& attention_mask,
                             uint64_t dropout_seed) const {
  check_ids(input_ids, "MarianMTModel::encode", "input_ids");
  check_mask(attention_mask, input_ids, "MarianMTModel::encode");
  SeedStream seeds(dropout_seed);
  Tensor x = embed(input_ids, 0);                                     // [B, S, d]
  x = ops::dropout(x, config_.dropout, seeds.next(), is_training());  // [B, S, d]
  for (const auto& layer : encoder_layers_) x = layer->forward(x, attention_mask, seeds);
  return x;  // [B, S, d]
}

Tensor MarianMTModel::decode(const Tensor& decoder_input_ids, const Tensor& encoder,
                             const Tensor& attention_mask, uint64_t dropout_seed) const {
  check_ids(decoder_input_ids, "MarianMTModel::decode", "decoder_input_ids");
  KILN_CHECK(encoder.defined() && encoder.rank() == 3 &&
                 encoder.dim(0) == decoder_input_ids.dim(0) && encoder.dim(2) == config_.d_model,
             "MarianMTModel::decode: expected encoder output [", decoder_input_ids.dim(0), ", S, ",
             config_.d_model, "], got ", describe(encoder));
  SeedStream seeds(dropout_seed);
  Tensor x = embed(decoder_input_ids, 0);                             // [B, T, d]
  x = ops::dropout(x, config_.dropout, seeds.next(), is_training());  // [B, T, d]
  for (const auto& layer : decoder_layers_) x = layer->forward(x, encoder, attention_mask, seeds);
  return head(x);  // [B, T, V]
}

Tensor MarianMTModel::forward(const Tensor& input_ids, const Tensor& attention_mask,
                              const Tensor& decoder_input_ids, uint64_t dropout_seed) const {
  check_ids(input_ids, "MarianMTModel::forward", "input_ids");
  check_ids(decoder_input_ids, "MarianMTModel::forward", "decoder_input_ids");
  KILN_CHECK(input_ids.dim(0) == decoder_input_ids.dim(0),
             "MarianMTModel::forward: expected as many target rows as source rows (",
             input_ids.dim(0), "), got decoder_input_ids ", describe(decoder_input_ids));
  Tensor encoder = encode(input_ids, attention_mask, derive_seed(dropout_seed, 0));
  return decode(decoder_input_ids, encoder, attention_mask, derive_seed(dropout_seed, 1));
}

Tensor MarianMTModel::loss(const Tensor& input_ids, const Tensor& attention_mask,
                           const Tensor& decoder_input_ids, const Tensor& labels,
                           float label_smoothing, uint64_t dropout_seed) const {
  KILN_CHECK(labels.defined() && labels.shape() == decoder_input_ids.shape(),
             "MarianMTModel::loss: expected labels of shape ", shape_str(decoder_input_ids.shape()),
             " (decoder_input_ids'), got ", describe(labels));
  Tensor logits = forward(input_ids, attention_mask, decoder_input_ids, dropout_seed);
  return ops::cross_entropy(logits, labels, ops::kIgnoreIndex, label_smoothing);
}

MarianDecoderCache MarianMTModel::start_decoding(const Tensor& input_ids,
                                                 const Tensor& attention_mask,
                                                 int64_t capacity) const {
  KILN_CHECK(!is_training(),
             "MarianMTModel::start_decoding: expected evaluation mode "
             "(call train(false) first), got training mode");
  KILN_CHECK(capacity > 0 && capacity <= config_.max_position_embeddings,
             "MarianMTModel::start_decoding: expected a capacity in [1, ",
             config_.max_position_embeddings, "], got ", capacity);
  NoGradGuard no_grad;
  Tensor encoder = encode(input_ids, attention_mask);  // [N, S, d]
  const MarianConfig& c = config_;
  const int64_t N = input_ids.dim(0), H = c.decoder_attention_heads;
  MarianDecoderCache cache{KvCache(c.decoder_layers, N, H, capacity, c.d_model / H), {}, {}, {}};
  for (const auto& layer : decoder_layers_) {
    cache.cross_k.push_back(layer->encoder_attn->project_keys(encoder));    // [N, H, S, hd]
    cache.cross_v.push_back(layer->encoder_attn->project_values(encoder));  // [N, H, S, hd]
  }
  cache.source_mask = attention_mask.defined() ? attention_mask.clone() : Tensor();
  return cache;
}

Tensor MarianMTModel::decode_cached(const Tensor& decoder_input_ids,
                                    MarianDecoderCache& cache) const {
  check_ids(decoder_input_ids, "MarianMTModel::decode_cached", "decoder_input_ids");
  const int64_t T = decoder_input_ids.dim(1), start = cache.self.length();
  KILN_CHECK(decoder_input_ids.dim(0) == cache.self.batch(),
             "MarianMTModel::decode_cached: expected ", cache.self.batch(),
             " rows (the cache's), got ", describe(decoder_input_ids));
  KILN_CHECK(start + T <= cache.self.capacity(), "MarianMTModel::decode_cached: expected at most ",
             cache.self.capacity() - start, " new positions, got ", T);
  NoGradGuard no_grad;
  Tensor x = embed(decoder_input_ids, start);  // [N, T, d]
  for (std::size_t l = 0; l < decoder_layers_.size(); ++l) {
    const auto i = static_cast<int64_t>(l);
    x = decoder_layers_[l]->forward_cached(x, cache.self.keys(i), cache.self.values(i), start,
                                           cache.cross_k[l], cache.cross_v[l],
                                           cache.source_mask);  // [N, T, d]
  }
  cache.self.advance(T);
  return head(x);  // [N, T, V]
}

}  // namespace kiln::nn
