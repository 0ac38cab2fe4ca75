// The GPT task: a text corpus (character or GPT-2 BPE tokens), next-token batches and a
// GPT-2-shaped model.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "data/gpt_batches.h"
#include "data/tokenizer.h"
#include "nn/gpt.h"
#include "nn/parameter_arena.h"
#include "train/config.h"
#include "train/task.h"

namespace kiln {

// The model shape a config asks for, given the tokenizer's vocabulary size ("auto").
nn::GptConfig gpt_config_for(const Config& config, int tokenizer_vocab_size);

class GptTask : public Task {
 public:
  // Loads and tokenises the corpus (through the token cache), builds the tokenizer unless
  // `tokenizer` (from a checkpoint) is given, and builds the model from run.seed.
  GptTask(const Config& config, const std::optional<std::string>& serialized_tokenizer);

  nn::Module& model() override { return *model_; }
  TrainLoss train_loss(int64_t step, int micro, uint64_t dropout_seed) override;
  int64_t tokens_per_micro_batch() const override;
  double epochs_after(int64_t steps) const override;
  Metrics evaluate() override;
  std::string serialized_tokenizer() const override { return tokenizer_->serialize(); }

  // Mean next-token loss over ALL non-overlapping seq_len windows of `tokens` (kiln eval).
  double mean_loss_over_windows(const std::vector<int32_t>& tokens);
  const std::vector<int32_t>& validation_tokens() const { return val_tokens_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  Config config_;
  std::optional<Tokenizer> tokenizer_;
  std::vector<int32_t> val_tokens_;
  std::optional<GptBatches> batches_;
  std::optional<GptEvalBatches> eval_batches_;
  std::unique_ptr<nn::Gpt> model_;
  GptBatch scratch_;
};

// A GPT and its tokenizer restored from a checkpoint (for sample and forward: no corpus).
struct LoadedGpt {
  Config config;
  std::optional<Tokenizer> tokenizer;
  std::unique_ptr<nn::Gpt> model;
  std::unique_ptr<nn::ParameterArena> arena;  // owns the weights' storage
};
LoadedGpt load_gpt(const std::string& checkpoint_path);

// The tokenizer a config describes (data.tokenizer): built from the corpus (char), read from
// data.vocab_file (+ data.merges_file for BPE), or trained on `corpus` with
// data.tokenizer_vocab_size entries.
Tokenizer make_tokenizer(const Config& config, const Corpus& corpus);

// Token ids as an int32 tensor [B, T].
Tensor ids_tensor(const std::vector<int32_t>& ids, int batch_size, int seq_len);

}  // namespace kiln
