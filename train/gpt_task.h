// The GPT task: a text corpus (character or GPT-2 BPE tokens), next-token batches and a
// GPT-2-shaped model.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "data/gpt_batches.h"
#include "data/tokenizer.h"
#include "nn/gpt.h"
#include "train/config.h"
#include "train/task.h"

namespace kiln {

class GptTask : public Task {
 public:
  // Loads and tokenises the corpus (through the token cache), builds the tokenizer unless
  // `tokenizer` (from a checkpoint) is given, and builds the model from run.seed.
  GptTask(const Config& config, const std::optional<std::string>& serialized_tokenizer);

  nn::Module& model() override { return *model_; }
  TrainLoss train_loss(int64_t step, int micro, uint64_t dropout_seed, Shard shard) override;
  int64_t tokens_per_micro_batch() const override;
  double epochs_after(int64_t steps) const override;
  Metrics evaluate() override;
  // val_loss and perplexity: the mean next-token loss over ALL non-overlapping seq_len windows
  // of the validation split (eval.batches does not apply).
  Metrics evaluate_all() override;
  std::string serialized_tokenizer() const override { return tokenizer_->serialize(); }

  // Mean next-token loss over ALL non-overlapping seq_len windows of `tokens`.
  double mean_loss_over_windows(const std::vector<int32_t>& tokens);

 private:
  Config config_;
  std::optional<Tokenizer> tokenizer_;
  std::vector<int32_t> val_tokens_;
  std::optional<GptBatches> batches_;
  std::optional<GptEvalBatches> eval_batches_;
  std::unique_ptr<nn::Gpt> model_;
  GptBatch scratch_;
};

// The tokenizer a config describes (data.tokenizer): built from the corpus (char), read from
// data.vocab_file (+ data.merges_file for BPE), or trained on `corpus` with
// data.tokenizer_vocab_size entries.
Tokenizer make_tokenizer(const Config& config, const Corpus& corpus);

// Token ids as an int32 tensor [B, T].
Tensor ids_tensor(const std::vector<int32_t>& ids, int batch_size, int seq_len);

}  // namespace kiln
