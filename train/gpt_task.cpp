// Corpus -> tokens -> batches -> GPT loss, for training and evaluation.
#include "train/gpt_task.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "autograd/tape.h"
#include "base/error.h"
#include "data/bpe_trainer.h"
#include "data/corpus.h"
#include "data/token_cache.h"
#include "train/registry.h"

namespace kiln {
namespace fs = std::filesystem;

// A random stream derived from run.seed (the model's is 1: train/registry.cpp).
inline constexpr uint64_t kTrainBatchStream = 2;

Tokenizer make_tokenizer(const Config& config, const Corpus& corpus) {
  const DataConfig& d = config.data;
  if (d.tokenizer == "char") return Tokenizer(CharTokenizer::from_corpus(corpus));
  if (d.tokenizer == "bpe") {
    if (!d.vocab_file.empty())
      return Tokenizer(BpeTokenizer::from_files(d.vocab_file, d.merges_file));
    return Tokenizer(train_bpe({corpus.text(Split::kTrain)}, d.tokenizer_vocab_size));
  }
  throw Error("data.tokenizer: expected \"char\" or \"bpe\" for model.arch gpt, got \"" +
              d.tokenizer + "\"");
}

Tensor ids_tensor(const std::vector<int32_t>& ids, int batch_size, int seq_len) {
  Tensor t = Tensor::empty({batch_size, seq_len}, DType::kI32);
  std::memcpy(t.ints(), ids.data(),
              sizeof(int32_t) * static_cast<std::size_t>(batch_size) * seq_len);
  return t;
}

GptTask::GptTask(const Config& config, const std::optional<std::string>& serialized_tokenizer)
    : config_(config) {
  const DataConfig& d = config.data;
  Corpus corpus = d.val_files.empty() ? Corpus::from_files(d.train_files, d.val_fraction)
                                      : Corpus::from_files(d.train_files, d.val_files);
  tokenizer_ = serialized_tokenizer ? Tokenizer::from_serialized(*serialized_tokenizer)
                                    : make_tokenizer(config, corpus);
  uint64_t key = token_cache_fingerprint(corpus.fingerprint(), tokenizer_->fingerprint());
  auto cached = [&](const char* file, Split split) {
    return load_or_build((fs::path(d.cache_dir) / file).string(), key,
                         [&] { return tokenizer_->encode_split(corpus, split); });
  };
  std::vector<int32_t> train_tokens = cached("train.tok", Split::kTrain);
  val_tokens_ = cached("validation.tok", Split::kValidation);
  const TrainConfig& t = config.train;
  batches_.emplace(std::move(train_tokens), t.batch_size, t.seq_len,
                   derive_seed(config.run.seed, kTrainBatchStream), "train");
  eval_batches_.emplace(val_tokens_, t.batch_size, t.seq_len, std::max(config.eval.batches, 1),
                        "validation");
  model_ = std::move(build_model(config, *tokenizer_, config.run.seed).gpt);
}

int64_t GptTask::tokens_per_micro_batch() const {
  return int64_t{config_.train.batch_size} * config_.train.seq_len;
}

double GptTask::epochs_after(int64_t steps) const {
  const double tokens = double(steps) * config_.train.grad_accum * double(tokens_per_micro_batch());
  return tokens / double(batches_->tokens().size());
}

TrainLoss GptTask::train_loss(int64_t step, int micro, uint64_t dropout_seed, Shard shard) {
  model_->train(true);
  batches_->fill(static_cast<uint64_t>(step) * config_.train.grad_accum + micro, scratch_);
  const int T = scratch_.seq_len, begin = shard.begin(scratch_.batch_size),
            rows = shard.end(scratch_.batch_size) - begin;
  auto part = [&](const std::vector<int32_t>& ids) {
    return Tensor::from_ints({rows, T},
                             std::vector<int32_t>(ids.begin() + std::ptrdiff_t(begin) * T,
                                                  ids.begin() + std::ptrdiff_t(begin + rows) * T));
  };
  return {model_->loss(part(scratch_.inputs), part(scratch_.targets), dropout_seed), {}};
}

Metrics GptTask::evaluate() {
  NoGradGuard no_grad;
  model_->train(false);
  double total = 0;
  for (int i = 0; i < eval_batches_->num_batches(); ++i) {
    eval_batches_->fill(i, scratch_);
    total += model_
                 ->loss(ids_tensor(scratch_.inputs, scratch_.batch_size, scratch_.seq_len),
                        ids_tensor(scratch_.targets, scratch_.batch_size, scratch_.seq_len))
                 .item();
  }
  model_->train(true);
  return {{"val_loss", total / eval_batches_->num_batches()}};
}

Metrics GptTask::evaluate_all() {
  const double loss = mean_loss_over_windows(val_tokens_);
  return {{"val_loss", loss}, {"perplexity", std::exp(loss)}};
}

double GptTask::mean_loss_over_windows(const std::vector<int32_t>& tokens) {
  NoGradGuard no_grad;
  model_->train(false);
  const int T = config_.train.seq_len, B = config_.train.batch_size;
  GptEvalBatches windows(tokens, B, T, 1, "evaluation data");
  const int64_t count = windows.window_count();
  std::vector<int32_t> inputs(static_cast<std::size_t>(B) * T), targets(inputs.size());
  double total = 0;  // sum of per-window mean losses; every window has T targets
  for (int64_t first = 0; first < count; first += B) {
    int rows = static_cast<int>(std::min<int64_t>(B, count - first));
    for (int r = 0; r < rows; ++r)
      windows.window(first + r, &inputs[std::size_t(r) * T], &targets[std::size_t(r) * T]);
    total += model_->loss(ids_tensor(inputs, rows, T), ids_tensor(targets, rows, T)).item() * rows;
  }
  return total / double(count);
}

}  // namespace kiln
