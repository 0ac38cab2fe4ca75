// Corpus -> documents -> pretraining examples -> BERT losses, for training and evaluation.
#include "train/bert_task.h"

#include <algorithm>

#include "autograd/tape.h"
#include "base/error.h"
#include "data/bert_documents.h"
#include "data/bert_examples.h"
#include "data/corpus.h"
#include "data/wordpiece_trainer.h"
#include "train/registry.h"

namespace kiln {
namespace {

// Separate random streams derived from run.seed (the model uses 1, the GPT task 2).
inline constexpr uint64_t kTrainExamplesStream = 4;
inline constexpr uint64_t kHeldOutExamplesStream = 5;
inline constexpr uint64_t kTrainBatchStream = 6;
inline constexpr uint64_t kEvalMaskStream = 7;

std::vector<Document> read_documents(const std::vector<std::string>& paths) {
  std::vector<Document> docs;
  for (const std::string& path : paths) {
    std::vector<Document> more = split_documents(read_text_file(path));
    docs.insert(docs.end(), std::make_move_iterator(more.begin()),
                std::make_move_iterator(more.end()));
  }
  return docs;
}

BertSpecialTokens special_tokens(const WordPieceTokenizer& t, int vocab_size) {
  BertSpecialTokens s{t.pad_id(), t.cls_id(), t.sep_id(), t.mask_id(), vocab_size, {}};
  s.is_continuation.resize(static_cast<std::size_t>(vocab_size), false);
  for (int id = 0; id < t.vocab_size(); ++id)
    s.is_continuation[static_cast<std::size_t>(id)] = t.is_continuation(id);
  return s;
}

Tensor as_tensor(const std::vector<int32_t>& v, const Shape& shape) {
  return Tensor::from_ints(shape, v);
}

}  // namespace

WordPieceTokenizer make_wordpiece(const Config& config, const std::vector<std::string>& texts) {
  const DataConfig& d = config.data;
  if (!d.vocab_file.empty())
    return WordPieceTokenizer::from_vocab_file(d.vocab_file, d.lowercase)
        .with_max_word_chars(d.max_word_chars);
  return train_wordpiece(texts, d.tokenizer_vocab_size, d.lowercase, WordPieceScore::kFrequency,
                         d.max_word_chars);
}

BertTask::BertTask(const Config& config, const std::optional<std::string>& serialized_tokenizer)
    : config_(config) {
  const DataConfig& d = config.data;
  std::vector<Document> train_docs = read_documents(d.train_files), held_out_docs;
  if (d.val_files.empty()) {
    DocumentSplit split = split_held_out(std::move(train_docs), d.val_fraction);
    train_docs = std::move(split.train);
    held_out_docs = std::move(split.held_out);
  } else {
    held_out_docs = read_documents(d.val_files);
  }
  if (serialized_tokenizer) {
    tokenizer_ = WordPieceTokenizer::from_serialized(*serialized_tokenizer);
  } else {
    std::vector<std::string> sentences;
    for (const Document& doc : train_docs)
      sentences.insert(sentences.end(), doc.begin(), doc.end());
    tokenizer_ = make_wordpiece(config, sentences);
  }
  nn::BertConfig model_config = bert_config_for(config, *tokenizer_);
  BertSpecialTokens special =
      special_tokens(*tokenizer_, static_cast<int>(model_config.vocab_size));
  auto encode = [&](std::string_view s) { return tokenizer_->encode(s); };

  BertExampleOptions options;
  options.max_seq_len = config.train.seq_len;
  options.short_seq_prob = d.short_seq_prob;
  options.max_predictions_per_seq = d.max_predictions_per_seq;
  options.masked_lm_prob = d.masked_lm_prob;
  options.whole_word_masking = d.whole_word_masking;
  options.dupe_factor = d.dupe_factor;
  const uint64_t seed = config.run.seed;
  options.seed = derive_seed(seed, kTrainExamplesStream);
  const TokenizedDocuments train_tokens = tokenize_documents(train_docs, encode);
  BertInstances train = create_bert_instances(train_tokens, special, options);
  KILN_CHECK(
      !train.empty(),
      "data.train_files: expected documents that give at least one pretraining example, got none");
  batches_.emplace(std::move(train), special, options, config.train.batch_size,
                   derive_seed(seed, kTrainBatchStream));
  options.seed = derive_seed(seed, kHeldOutExamplesStream);
  // Training pairs A with random next segments from the whole training corpus, so the held-out
  // pairs do too by default: the last chapters of the KJV are all epistles and Revelation, and
  // random segments from them alone test a narrower skill than the one trained
  // (docs/config.md, data.held_out_random_next).
  const TokenizedDocuments no_documents;
  BertInstances held_out =
      create_bert_instances(tokenize_documents(held_out_docs, encode), special, options,
                            d.held_out_random_next == "corpus" ? train_tokens : no_documents);
  KILN_CHECK(!held_out.empty(),
             "data: expected held-out documents that give at least one example, got none");
  eval_set_.emplace(std::move(held_out), special, options, config.train.batch_size,
                    config.eval.batches * config.train.batch_size,
                    derive_seed(seed, kEvalMaskStream));
  model_ = std::move(build_model(config, Tokenizer(*tokenizer_), seed).bert);
}

int64_t BertTask::tokens_per_micro_batch() const {
  return int64_t{config_.train.batch_size} * config_.train.seq_len;
}

double BertTask::epochs_after(int64_t steps) const {
  const double examples = double(steps) * config_.train.grad_accum * config_.train.batch_size;
  return examples / double(batches_->instances().size());
}

nn::BertLosses BertTask::loss_of(const BertBatch& b, uint64_t dropout_seed) const {
  const Shape shape{b.batch_size, b.seq_len};
  return model_->pretraining_loss(as_tensor(b.input_ids, shape), as_tensor(b.token_type_ids, shape),
                                  as_tensor(b.attention_mask, shape),
                                  as_tensor(b.mlm_labels, shape),
                                  as_tensor(b.nsp_labels, {b.batch_size}), dropout_seed);
}

TrainLoss BertTask::train_loss(int64_t step, int micro, uint64_t dropout_seed, Shard shard) {
  model_->train(true);
  batches_->fill(static_cast<uint64_t>(step) * config_.train.grad_accum + micro, scratch_);
  nn::BertLosses l = loss_of(shard.count == 1 ? scratch_
                                              : rows_of(scratch_, shard.begin(scratch_.batch_size),
                                                        shard.end(scratch_.batch_size)),
                             dropout_seed);
  return {l.loss,
          {{"mlm_loss", l.mlm_loss.item()},
           {"nsp_loss", l.nsp_loss.item()},
           {"mlm_acc", l.mlm_count ? double(l.mlm_correct) / double(l.mlm_count) : 0.0},
           {"nsp_acc", double(l.nsp_correct) / double(l.batch_size)}}};
}

Metrics BertTask::evaluate() {
  NoGradGuard no_grad;
  model_->train(false);
  // Example-weighted for NSP, position-weighted for MLM, as over one big batch.
  double mlm_loss = 0, nsp_loss = 0;
  int64_t mlm_correct = 0, mlm_count = 0, nsp_correct = 0, examples = 0, random_next = 0;
  for (int i = 0; i < eval_set_->num_batches(); ++i) {
    eval_set_->fill(i, scratch_);
    for (int32_t label : scratch_.nsp_labels) random_next += label;
    nn::BertLosses l = loss_of(scratch_, 0);
    mlm_loss += l.mlm_loss.item() * double(l.mlm_count);
    nsp_loss += l.nsp_loss.item() * double(l.batch_size);
    mlm_correct += l.mlm_correct, mlm_count += l.mlm_count;
    nsp_correct += l.nsp_correct, examples += l.batch_size;
  }
  model_->train(true);
  const double mlm = mlm_count ? mlm_loss / double(mlm_count) : 0.0,
               nsp = nsp_loss / double(examples);
  return {{"val_loss", mlm + nsp},
          {"mlm_loss", mlm},
          {"nsp_loss", nsp},
          {"mlm_acc", mlm_count ? double(mlm_correct) / double(mlm_count) : 0.0},
          {"nsp_acc", double(nsp_correct) / double(examples)},
          // Always answering the more frequent label: the floor nsp_acc must clear. It is above
          // 0.5 because a one-sentence chunk can only be paired with a random next segment.
          {"nsp_majority_acc",
           double(std::max(random_next, examples - random_next)) / double(examples)}};
}

}  // namespace kiln
