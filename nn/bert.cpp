// The BERT models: the shared BertModel (embeddings, the encoder stack, the pooler), the two
// pre-training heads with the MLM head run only at labelled positions, and the sequence
// classifier. Only compositions of ops.
#include "nn/bert.h"

#include <string>

#include "base/error.h"
#include "base/hash.h"
#include "nn/bert_layer.h"

namespace kiln::nn {

using ops::WeightLayout;

namespace {

BertConfig validated(BertConfig c) {
  if (c.d_ff == 0) c.d_ff = 4 * c.d_model;
  KILN_CHECK(c.vocab_size > 0 && c.n_layer > 0 && c.n_head > 0 && c.d_model > 0 && c.d_ff > 0 &&
                 c.max_position > 0 && c.type_vocab_size > 0,
             "Bert: expected positive vocab_size, n_layer, n_head, d_model, d_ff, max_position "
             "and type_vocab_size, got ",
             c.vocab_size, ", ", c.n_layer, ", ", c.n_head, ", ", c.d_model, ", ", c.d_ff, ", ",
             c.max_position, ", ", c.type_vocab_size);
  KILN_CHECK(c.d_model % c.n_head == 0, "Bert: expected n_head to divide d_model, got n_head ",
             c.n_head, " and d_model ", c.d_model);
  KILN_CHECK(c.dropout >= 0 && c.dropout < 1 && c.attention_dropout >= 0 && c.attention_dropout < 1,
             "Bert: expected dropout and attention_dropout in [0, 1), got ", c.dropout, " and ",
             c.attention_dropout);
  KILN_CHECK(c.pad_token_id >= -1 && c.pad_token_id < c.vocab_size,
             "Bert: expected pad_token_id in [-1, vocab_size = ", c.vocab_size, "), got ",
             c.pad_token_id);
  return c;
}

// "int32 [2, 3]" or "an undefined tensor", for error messages.
std::string describe(const Tensor& t) {
  return t.defined() ? std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape())
                     : std::string("an undefined tensor");
}

void check_input_ids(const Tensor& ids, const char* where) {
  KILN_CHECK(ids.defined() && ids.rank() == 2 && ids.dtype() == DType::kI32, where,
             ": expected int32 input_ids [B, T], got ", describe(ids));
}

// Checks that `t` is an int32 tensor of `shape`, naming the argument.
void check_ints(const Tensor& t, const Shape& shape, const char* where, const char* name) {
  KILN_CHECK(t.defined() && t.dtype() == DType::kI32 && t.shape() == shape, where, ": expected ",
             name, " as int32 ", shape_str(shape), ", got ", describe(t));
}

// Index of the largest of x[0, n) (the first one on ties).
int64_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j)
    if (x[j] > x[best]) best = j;
  return best;
}

// HF BERT initialisation of a whole model. Each tensor's initial values depend on (seed, FNV-1a
// of its full name), not on construction order or the standard library. Every matrix (Linear
// weight or embedding) is N(0, 0.02); biases stay 0 and layer-norm scales 1; the pad row of the
// word embedding is 0.
void init_bert_weights(const Module& model, const BertModel& bert, const BertConfig& c,
                       uint64_t seed) {
  for (const auto& [name, t] : model.named_parameters())
    if (t.rank() == 2) init_normal(t, 0.02f, derive_seed(seed, fnv1a_64(name)));
  if (c.pad_token_id >= 0)
    init_constant(bert.word_embeddings().rows_view(c.pad_token_id, c.pad_token_id + 1), 0.0f);
}

}  // namespace

BertModel::BertModel(const BertConfig& config) : config_(config) {
  const BertConfig& c = config_;
  const int64_t d = c.d_model;
  auto embeddings = register_module("embeddings", std::make_shared<Container>());
  word_ = embeddings->add("word_embeddings", std::make_shared<Embedding>(c.vocab_size, d));
  position_ =
      embeddings->add("position_embeddings", std::make_shared<Embedding>(c.max_position, d));
  token_type_ =
      embeddings->add("token_type_embeddings", std::make_shared<Embedding>(c.type_vocab_size, d));
  embeddings_ln_ = embeddings->add("LayerNorm", std::make_shared<LayerNorm>(d, c.layer_norm_eps));
  auto layer = register_module("encoder", std::make_shared<Container>())
                   ->add("layer", std::make_shared<Container>());
  for (int64_t i = 0; i < c.n_layer; ++i)
    layers_.push_back(layer->add(std::to_string(i), std::make_shared<BertLayer>(c)));
  pooler_ = register_module("pooler", std::make_shared<Container>())
                ->add("dense", std::make_shared<Linear>(d, d, WeightLayout::kOutIn));
}

BertOutput BertModel::forward(const Tensor& input_ids, const Tensor& token_type_ids,
                              const Tensor& attention_mask, SeedStream& seeds,
                              const char* where) const {
  check_input_ids(input_ids, where);
  const int64_t B = input_ids.dim(0), T = input_ids.dim(1), d = config_.d_model;
  KILN_CHECK(T >= 1 && T <= config_.max_position, where,
             ": expected 1 to max_position = ", config_.max_position, " positions, got ", T);
  Tensor types = token_type_ids.defined() ? token_type_ids : Tensor::zeros({B, T}, DType::kI32);
  check_ints(types, {B, T}, where, "token_type_ids");
  if (attention_mask.defined()) check_ints(attention_mask, {B, T}, where, "attention_mask");

  // HF's order of the sums: (word + token_type) + position.
  Tensor x = ops::add(word_->forward(input_ids), token_type_->forward(types));  // [B, T, d]
  x = ops::add(x, ops::slice_rows(position_->weight, 0, T));                    // [B, T, d]
  x = ops::dropout(embeddings_ln_->forward(x), config_.dropout, seeds.next(), is_training());
  for (const auto& layer : layers_) x = layer->forward(x, attention_mask, seeds);  // [B, T, d]

  // hidden[:, 0] as a row gather from [B * T, d] (its backward scatter-adds into those rows).
  std::vector<int32_t> first(static_cast<std::size_t>(B));
  for (int64_t b = 0; b < B; ++b) first[b] = static_cast<int32_t>(b * T);
  Tensor cls_rows = ops::embedding(ops::reshape(x, {B * T, d}), Tensor::from_ints({B}, first));
  return {x, ops::tanh(pooler_->forward(cls_rows))};  // [B, T, d], [B, d]
}

Bert::Bert(const BertConfig& config, uint64_t seed) : config_(validated(config)) {
  const BertConfig& c = config_;
  const int64_t d = c.d_model;
  bert_ = register_module("bert", std::make_shared<BertModel>(c));

  // cls.predictions.decoder.weight is the word embedding itself, so it is not registered again.
  auto cls = register_module("cls", std::make_shared<Container>());
  auto predictions = cls->add("predictions", std::make_shared<Container>());
  mlm_bias_ = predictions->add_parameter("bias", Tensor::zeros({c.vocab_size}));
  auto transform = predictions->add("transform", std::make_shared<Container>());
  transform_ = transform->add("dense", std::make_shared<Linear>(d, d, WeightLayout::kOutIn));
  transform_ln_ = transform->add("LayerNorm", std::make_shared<LayerNorm>(d, c.layer_norm_eps));
  seq_relationship_ =
      cls->add("seq_relationship", std::make_shared<Linear>(d, 2, WeightLayout::kOutIn));
  init_bert_weights(*this, *bert_, c, seed);
}

BertOutput Bert::forward(const Tensor& input_ids, const Tensor& token_type_ids,
                         const Tensor& attention_mask, uint64_t dropout_seed) const {
  SeedStream seeds(dropout_seed);
  return bert_->forward(input_ids, token_type_ids, attention_mask, seeds, "Bert::forward");
}

Tensor Bert::mlm_transform(const Tensor& h) const {
  Tensor t = ops::gelu(transform_->forward(h), ops::GeluForm::kErf);  // [..., d]
  return transform_ln_->forward(t);                                   // [..., d]
}

Tensor Bert::mlm_head(const Tensor& h) const {
  // The decoder is the word embedding [V, d] read as an nn.Linear weight [out, in].
  return ops::linear(mlm_transform(h), bert_->word_embeddings(), mlm_bias_,
                     WeightLayout::kOutIn);  // [..., V]
}

Tensor Bert::mlm_logits(const Tensor& hidden, const Tensor& positions) const {
  const int64_t d = config_.d_model;
  KILN_CHECK(hidden.rank() == 3 && hidden.dim(2) == d, "Bert::mlm_logits: expected hidden [B, T, ",
             d, "], got ", shape_str(hidden.shape()));
  KILN_CHECK(positions.dtype() == DType::kI32 && positions.rank() == 1,
             "Bert::mlm_logits: expected int32 positions [n], got ", dtype_name(positions.dtype()),
             " ", shape_str(positions.shape()));
  return mlm_head(masked_rows(hidden, positions));  // [n, V]
}

Tensor Bert::masked_rows(const Tensor& hidden, const Tensor& positions) const {
  // The gather checks each position against B * T.
  return ops::embedding(ops::reshape(hidden, {-1, config_.d_model}), positions);  // [n, d]
}

Tensor Bert::mlm_logits_all(const Tensor& hidden) const {
  KILN_CHECK(hidden.rank() == 3 && hidden.dim(2) == config_.d_model,
             "Bert::mlm_logits_all: expected hidden [B, T, ", config_.d_model, "], got ",
             shape_str(hidden.shape()));
  return mlm_head(hidden);  // [B, T, V]
}

Tensor Bert::nsp_logits(const Tensor& pooled) const {
  return seq_relationship_->forward(pooled);  // [B, 2]
}

BertLosses Bert::pretraining_loss(const Tensor& input_ids, const Tensor& token_type_ids,
                                  const Tensor& attention_mask, const Tensor& mlm_labels,
                                  const Tensor& nsp_labels, uint64_t dropout_seed) const {
  // Labels are checked before anything joins the tape.
  check_input_ids(input_ids, "Bert::pretraining_loss");
  const int64_t B = input_ids.dim(0), T = input_ids.dim(1), V = config_.vocab_size;
  check_ints(mlm_labels, {B, T}, "Bert::pretraining_loss", "mlm_labels");
  check_ints(nsp_labels, {B}, "Bert::pretraining_loss", "nsp_labels");
  for (int64_t b = 0; b < B; ++b)
    KILN_CHECK(nsp_labels.ints()[b] == 0 || nsp_labels.ints()[b] == 1,
               "Bert::pretraining_loss: expected nsp_labels 0 or 1, got ", nsp_labels.ints()[b],
               " at position ", b);

  // Most of a small BERT's time would go to the decoder GEMM [B*T, d] x [d, V], yet only ~15% of
  // positions carry a label, so the MLM head runs on those rows alone. The mean CE over them is
  // exactly HF's CE over all positions with ignore_index -100.
  std::vector<int32_t> positions, targets;
  const int32_t* label = mlm_labels.ints();
  for (int64_t i = 0; i < B * T; ++i) {
    if (label[i] == ops::kIgnoreIndex) continue;
    KILN_CHECK(label[i] >= 0 && label[i] < V, "Bert::pretraining_loss: expected mlm_labels in [0, ",
               V, ") or -100, got ", label[i], " at flat position ", i);
    positions.push_back(static_cast<int32_t>(i));
    targets.push_back(label[i]);
  }
  BertOutput out = forward(input_ids, token_type_ids, attention_mask, dropout_seed);
  BertLosses losses;
  losses.mlm_count = static_cast<int64_t>(positions.size());
  losses.batch_size = B;
  const int64_t n = losses.mlm_count;
  if (n > 0) {
    // The head and the loss in one op: the [n, V] logits never exist whole.
    Tensor rows =
        mlm_transform(masked_rows(out.last_hidden_state, Tensor::from_ints({n}, positions)));
    std::vector<int32_t> predicted;
    losses.mlm_loss =
        ops::linear_cross_entropy(rows, bert_->word_embeddings(), mlm_bias_,
                                  Tensor::from_ints({n}, targets), {.predictions = &predicted});
    for (int64_t r = 0; r < n; ++r) losses.mlm_correct += predicted[r] == targets[r];
  } else {
    losses.mlm_loss = Tensor::scalar(0.0f);  // HF would give NaN (a mean over nothing)
  }
  Tensor nsp = nsp_logits(out.pooled);  // [B, 2]
  losses.nsp_loss = ops::cross_entropy(nsp, nsp_labels);
  for (int64_t b = 0; b < B; ++b)
    losses.nsp_correct += argmax(nsp.data() + 2 * b, 2) == nsp_labels.ints()[b];
  losses.loss = ops::add(losses.mlm_loss, losses.nsp_loss);
  return losses;
}

BertForSequenceClassification::BertForSequenceClassification(const BertConfig& config,
                                                             int64_t num_labels, uint64_t seed)
    : config_(validated(config)), num_labels_(num_labels) {
  KILN_CHECK(num_labels >= 2, "BertForSequenceClassification: expected num_labels >= 2, got ",
             num_labels);
  bert_ = register_module("bert", std::make_shared<BertModel>(config_));
  classifier_ = register_module(
      "classifier", std::make_shared<Linear>(config_.d_model, num_labels, WeightLayout::kOutIn));
  init_bert_weights(*this, *bert_, config_, seed);
}

Tensor BertForSequenceClassification::forward(const Tensor& input_ids, const Tensor& token_type_ids,
                                              const Tensor& attention_mask,
                                              uint64_t dropout_seed) const {
  SeedStream seeds(dropout_seed);
  BertOutput out = bert_->forward(input_ids, token_type_ids, attention_mask, seeds,
                                  "BertForSequenceClassification::forward");
  Tensor pooled = ops::dropout(out.pooled, config_.dropout, seeds.next(), is_training());  // [B, d]
  return classifier_->forward(pooled);                                                     // [B, L]
}

BertOutput BertForSequenceClassification::encode(const Tensor& input_ids,
                                                 const Tensor& token_type_ids,
                                                 const Tensor& attention_mask,
                                                 uint64_t dropout_seed) const {
  SeedStream seeds(dropout_seed);  // forward's stream: the same encoder masks
  return bert_->forward(input_ids, token_type_ids, attention_mask, seeds,
                        "BertForSequenceClassification::encode");
}

Tensor BertForSequenceClassification::classify(const Tensor& pooled) const {
  // In training forward draws a dropout mask here; a caller of classify has no seed for it.
  KILN_CHECK(!is_training(),
             "BertForSequenceClassification::classify: expected evaluation mode (train(false)), "
             "got training mode");
  return classifier_->forward(pooled);  // [B, L]
}

BertClassifierLoss BertForSequenceClassification::loss(const Tensor& input_ids,
                                                       const Tensor& token_type_ids,
                                                       const Tensor& attention_mask,
                                                       const Tensor& labels,
                                                       uint64_t dropout_seed) const {
  const char* where = "BertForSequenceClassification::loss";
  check_input_ids(input_ids, where);
  const int64_t B = input_ids.dim(0), L = num_labels_;
  check_ints(labels, {B}, where, "labels");
  for (int64_t b = 0; b < B; ++b)
    KILN_CHECK(labels.ints()[b] >= 0 && labels.ints()[b] < L, where, ": expected labels in [0, ", L,
               "), got ", labels.ints()[b], " at position ", b);
  BertClassifierLoss out;
  out.logits = forward(input_ids, token_type_ids, attention_mask, dropout_seed);  // [B, L]
  out.loss = ops::cross_entropy(out.logits, labels);
  for (int64_t b = 0; b < B; ++b)
    out.correct += argmax(out.logits.data() + b * L, L) == labels.ints()[b];
  return out;
}

}  // namespace kiln::nn
