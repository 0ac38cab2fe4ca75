// BERT as Hugging Face's BertModel (word + position + token-type embeddings, post-LN encoder
// layers of nn/bert_layer.h, a tanh pooler over [CLS]) and the two models built on it:
// BertForPreTraining (masked-LM head tied to the word embeddings, next-sentence head) and
// BertForSequenceClassification. Parameter names and shapes are HF's (nn.Linear [out, in]).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers.h"

namespace kiln::nn {

struct BertConfig {
  int64_t vocab_size = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t d_model = 0;
  int64_t d_ff = 0;  // 0 means 4 * d_model
  int64_t max_position = 512;
  int64_t type_vocab_size = 2;
  float dropout = 0.0f;            // HF hidden_dropout_prob: embeddings and sub-layer outputs
  float attention_dropout = 0.0f;  // HF attention_probs_dropout_prob: on attention weights
  float layer_norm_eps = 1e-12f;
  int64_t pad_token_id = 0;  // its word-embedding row starts at zero (HF padding_idx); -1: none
};

struct BertOutput {
  Tensor last_hidden_state;  // [B, T, d]
  Tensor pooled;             // [B, d] tanh(dense(hidden[:, 0]))
};

// The pre-training losses of one batch and the counts that metrics need.
struct BertLosses {
  Tensor loss;              // [] mlm_loss + nsp_loss: call backward() on this
  Tensor mlm_loss;          // [] mean CE over the labelled positions (0 when there are none)
  Tensor nsp_loss;          // [] mean CE over the batch
  int64_t mlm_correct = 0;  // labelled positions whose argmax is the label
  int64_t mlm_count = 0;    // labelled positions (labels != -100)
  int64_t nsp_correct = 0;
  int64_t batch_size = 0;
};

class BertLayer;

// HF BertModel, registered by its owner as "bert": embeddings, encoder and pooler. Its tensors
// start at zero (layer-norm scales at one); the owning model initialises them by full name.
class BertModel : public Module {
 public:
  // `config` must be validated (d_ff resolved).
  explicit BertModel(const BertConfig& config);

  // input_ids, token_type_ids (undefined = all 0), attention_mask (1 = token, 0 = padding;
  // undefined = all 1): int32 [B, T], T <= max_position -> hidden [B, T, d], pooled [B, d].
  // Draws its dropout seeds from `seeds`; `where` names the caller in errors.
  BertOutput forward(const Tensor& input_ids, const Tensor& token_type_ids,
                     const Tensor& attention_mask, SeedStream& seeds, const char* where) const;

  // bert.embeddings.word_embeddings.weight [V, d] (the MLM decoder is tied to it).
  const Tensor& word_embeddings() const { return word_->weight; }

 private:
  BertConfig config_;
  std::shared_ptr<Embedding> word_, position_, token_type_;
  std::shared_ptr<LayerNorm> embeddings_ln_;
  std::vector<std::shared_ptr<BertLayer>> layers_;
  std::shared_ptr<Linear> pooler_;
};

class Bert : public Module {
 public:
  // Builds the model with HF BERT initialisation: N(0, 0.02) for every weight matrix and
  // embedding (the pad row zeroed), zero biases, unit layer-norm scales.
  Bert(const BertConfig& config, uint64_t seed);

  // input_ids, token_type_ids (undefined = all 0), attention_mask (1 = token, 0 = padding;
  // undefined = all 1): int32 [B, T], T <= max_position -> hidden [B, T, d], pooled [B, d].
  // `dropout_seed` makes every dropout mask of this pass reproducible.
  BertOutput forward(const Tensor& input_ids, const Tensor& token_type_ids = Tensor(),
                     const Tensor& attention_mask = Tensor(), uint64_t dropout_seed = 0) const;

  // hidden: [B, T, d], positions: int32 [n] flat indices into B * T -> MLM logits [n, V].
  Tensor mlm_logits(const Tensor& hidden, const Tensor& positions) const;
  // hidden: [B, T, d] -> MLM logits at every position [B, T, V] (HF's prediction_logits).
  Tensor mlm_logits_all(const Tensor& hidden) const;
  // pooled: [B, d] -> next-sentence logits [B, 2] (HF's seq_relationship_logits).
  Tensor nsp_logits(const Tensor& pooled) const;

  // HF's BertForPreTraining loss: mean MLM CE over positions whose mlm_labels (int32 [B, T]) is
  // not -100, plus mean NSP CE against nsp_labels (int32 [B], 1 = B is random in HF). Only the
  // labelled positions go through the MLM head; the value equals CE over all positions.
  BertLosses pretraining_loss(const Tensor& input_ids, const Tensor& token_type_ids,
                              const Tensor& attention_mask, const Tensor& mlm_labels,
                              const Tensor& nsp_labels, uint64_t dropout_seed = 0) const;

  const BertConfig& config() const { return config_; }

 private:
  // h: [..., d] -> [..., V]: transform dense, GELU, LayerNorm, tied decoder + bias.
  Tensor mlm_head(const Tensor& h) const;
  // The head's dense + GELU + LayerNorm, before the decoder: [..., d] -> [..., d].
  Tensor mlm_transform(const Tensor& h) const;
  // hidden [B, T, d] at flat positions (int32 [n]) -> [n, d].
  Tensor masked_rows(const Tensor& hidden, const Tensor& positions) const;

  BertConfig config_;
  std::shared_ptr<BertModel> bert_;
  std::shared_ptr<Linear> transform_, seq_relationship_;
  std::shared_ptr<LayerNorm> transform_ln_;
  Tensor mlm_bias_;  // cls.predictions.bias [V]
};

// The loss of one classification batch and the counts that metrics need.
struct BertClassifierLoss {
  Tensor loss;          // [] mean CE over the batch: call backward() on this
  Tensor logits;        // [B, num_labels]
  int64_t correct = 0;  // rows whose argmax is the label
};

// HF BertForSequenceClassification (single-label): bert.* as in BertModel, then dropout
// (config.dropout, HF's hidden_dropout_prob) on the pooled output and classifier [L, d] + [L].
class BertForSequenceClassification : public Module {
 public:
  // HF BERT initialisation as for Bert; the classifier weight N(0, 0.02), its bias zero.
  BertForSequenceClassification(const BertConfig& config, int64_t num_labels, uint64_t seed);

  // Inputs as Bert::forward -> logits [B, num_labels].
  Tensor forward(const Tensor& input_ids, const Tensor& token_type_ids = Tensor(),
                 const Tensor& attention_mask = Tensor(), uint64_t dropout_seed = 0) const;
  // Inputs as Bert::forward -> the encoder's hidden [B, T, d] and pooled [B, d] (the head's
  // input), with the encoder's dropout masks those of forward with the same seed.
  BertOutput encode(const Tensor& input_ids, const Tensor& token_type_ids = Tensor(),
                    const Tensor& attention_mask = Tensor(), uint64_t dropout_seed = 0) const;
  // pooled: [B, d] -> logits [B, num_labels]; evaluation mode only (no dropout), where
  // classify(encode(...).pooled) equals forward(...).
  Tensor classify(const Tensor& pooled) const;
  // Mean cross-entropy of the logits against labels (int32 [B], each in [0, num_labels)).
  BertClassifierLoss loss(const Tensor& input_ids, const Tensor& token_type_ids,
                          const Tensor& attention_mask, const Tensor& labels,
                          uint64_t dropout_seed = 0) const;

  const BertConfig& config() const { return config_; }
  int64_t num_labels() const { return num_labels_; }

 private:
  BertConfig config_;
  int64_t num_labels_;
  std::shared_ptr<BertModel> bert_;
  std::shared_ptr<Linear> classifier_;
};

}  // namespace kiln::nn
