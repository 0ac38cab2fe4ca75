// The model registry: the one place that maps model.arch to a model class, a task and a
// checkpoint loader. A new family is an Arch value, a member of Model, and a case in each
// function of registry.cpp.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "data/tokenizer.h"
#include "nn/bert.h"
#include "nn/gpt.h"
#include "nn/marian.h"
#include "nn/parameter_arena.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/task.h"

namespace kiln {

// The GPT shape a config asks for, given the tokenizer's vocabulary size ("auto").
nn::GptConfig gpt_config_for(const Config& config, int tokenizer_vocab_size);
// The BERT encoder shape of a bert or bert-classifier config.
nn::BertConfig bert_config_for(const Config& config, const WordPieceTokenizer& tokenizer);

// The MarianMTModel shape of a marian config, with pad and eos from its BPE tokenizer.
nn::MarianConfig marian_config_for(const Config& config, const BpeTokenizer& tokenizer);

// One model of the family config.model.arch names: exactly one member is set.
struct Model {
  Arch arch = Arch::kGpt;
  std::unique_ptr<nn::Gpt> gpt;                                   // gpt
  std::unique_ptr<nn::Bert> bert;                                 // bert (pretraining)
  std::unique_ptr<nn::BertForSequenceClassification> classifier;  // bert-classifier
  std::unique_ptr<nn::MarianMTModel> marian;                      // marian

  nn::Module& module() const;
  int64_t vocab_size() const;
  // Throws "<what>: expected <one of names>, got model.arch <arch>" unless the arch is allowed.
  void require(std::initializer_list<Arch> allowed, const std::string& what) const;
  // bert or bert-classifier: the encoder's last hidden state [B, T, d] and pooled [B, d].
  nn::BertOutput encode(const Tensor& input_ids, const Tensor& token_type_ids = Tensor(),
                        const Tensor& attention_mask = Tensor()) const;
};

// The model a config describes, initialised from derive_seed(run_seed, 1): every task and
// import uses this stream, so a model's missing heads start as a fresh run's would.
Model build_model(const Config& config, const Tokenizer& tokenizer, uint64_t run_seed);

// A checkpoint's model, tokenizer and config, restored name for name, in evaluation mode.
struct LoadedModel {
  std::string path;
  CheckpointState state;
  Config config;
  Tokenizer tokenizer;
  Model model;
  std::unique_ptr<nn::ParameterArena> arena;  // owns the weights' storage
};
LoadedModel load_model(const std::string& checkpoint_path);

// The training task of config.model.arch, with the tokenizer from a checkpoint when resuming
// or fine-tuning.
std::unique_ptr<Task> make_task(const Config& config,
                                const std::optional<std::string>& serialized_tokenizer);

}  // namespace kiln
