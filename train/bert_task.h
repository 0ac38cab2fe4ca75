// The BERT pretraining task: documents of sentences -> WordPiece -> [CLS] A [SEP] B [SEP]
// pairs with dynamic masking -> BertForPreTraining's MLM + NSP loss.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "data/bert_batches.h"
#include "data/wordpiece.h"
#include "nn/bert.h"
#include "train/config.h"
#include "train/task.h"

namespace kiln {

// The tokenizer a config describes: a vocab.txt, or one trained on `texts`.
WordPieceTokenizer make_wordpiece(const Config& config, const std::vector<std::string>& texts);

class BertTask : public Task {
 public:
  // Reads the documents, builds or loads the tokenizer, creates the train and held-out
  // pretraining examples, and builds the model from run.seed.
  BertTask(const Config& config, const std::optional<std::string>& serialized_tokenizer);

  nn::Module& model() override { return *model_; }
  TrainLoss train_loss(int64_t step, int micro, uint64_t dropout_seed, Shard shard) override;
  int64_t tokens_per_micro_batch() const override;
  double epochs_after(int64_t steps) const override;
  // val_loss (= mlm_loss + nsp_loss), mlm_loss, nsp_loss, mlm_acc, nsp_acc and
  // nsp_majority_acc (the share of the more frequent NSP label) over the fixed held-out
  // examples (eval.batches * batch_size of them).
  Metrics evaluate() override;
  std::string serialized_tokenizer() const override { return tokenizer_->serialize(); }
  // The training batches: batch k is what train_loss(k, 0, ...) trains on when grad_accum is 1.
  const BertBatches& train_batches() const { return *batches_; }
  // The fixed held-out examples that evaluate() scores.
  const BertEvalSet& eval_set() const { return *eval_set_; }

 private:
  nn::BertLosses loss_of(const BertBatch& batch, uint64_t dropout_seed) const;

  Config config_;
  std::optional<WordPieceTokenizer> tokenizer_;
  std::optional<BertBatches> batches_;
  std::optional<BertEvalSet> eval_set_;
  std::unique_ptr<nn::Bert> model_;
  BertBatch scratch_;
};

}  // namespace kiln
