// The translation task (model.arch marian): sentence pairs from a reference<TAB>source<TAB>
// target file, one byte-level BPE for both languages, token-budget batches, a label-smoothed
// MarianMTModel loss, and held-out val_loss, BLEU and chrF.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/bpe.h"
#include "data/translation_pairs.h"
#include "nn/marian.h"
#include "nn/marian_decode.h"
#include "train/config.h"
#include "train/task.h"

namespace kiln {

// A Marian vocabulary's special tokens: pad (also the decoder start) and eos.
struct MarianSpecialIds {
  int32_t pad = 0;
  int32_t eos = 0;
};
inline constexpr std::string_view kMarianPad = "<pad>";
// pad is the token "<pad>", eos "<|endoftext|>" (kiln's BPE) or "</s>" (Marian's spelling);
// errors say which is missing.
MarianSpecialIds marian_special_ids(const BpeTokenizer& tokenizer);

// The shared tokenizer of a marian config: data.vocab_file + data.merges_file, or a BPE of
// data.tokenizer_vocab_size ids trained on `texts` (both sides), whose last two ids are
// <|endoftext|> (eos) and <pad>.
BpeTokenizer make_marian_tokenizer(const Config& config, const std::vector<std::string>& texts);

// The BLEU and chrF of a model's translations of `sources` (eos-terminated ids) against the
// `references` (plain text): greedy when options.beam is 1, else beam search. Sources are
// decoded in batches of similar length; hypotheses come back in the order given.
struct TranslationScores {
  double bleu = 0;
  double chrf = 0;
  std::vector<std::string> hypotheses;
};
TranslationScores score_translations(const nn::MarianMTModel& model, const BpeTokenizer& tokenizer,
                                     const std::vector<std::vector<int32_t>>& sources,
                                     const std::vector<std::string>& references,
                                     const nn::DecodeOptions& options);

// Translates `texts` (plain source sentences): each is encoded, cut to max_source_len - 1
// tokens and ended with eos. Returns one decoded line per text.
std::vector<std::string> translate_texts(const nn::MarianMTModel& model,
                                         const BpeTokenizer& tokenizer,
                                         const std::vector<std::string>& texts,
                                         int64_t max_source_len, const nn::DecodeOptions& options);

class TranslateTask : public Task {
 public:
  // Reads data.train_files, splits off the held-out chapters (evaluation uses the pairs of
  // data.val_files instead when there are any), builds (or takes) the tokenizer,
  // prepares the pairs under model.max_seq_len and builds the model from run.seed.
  TranslateTask(const Config& config, const std::optional<std::string>& serialized_tokenizer);

  nn::Module& model() override { return *model_; }
  TrainLoss train_loss(int64_t step, int micro, uint64_t dropout_seed, Shard shard) override;
  int64_t tokens_per_micro_batch() const override { return tokens_per_batch_; }
  double epochs_after(int64_t steps) const override;
  // val_loss (the training loss, label smoothing included, over every held-out pair, token
  // weighted), and bleu and chrf of greedy translations of the first eval.bleu_sentences
  // held-out pairs.
  Metrics evaluate() override;
  // val_loss, and bleu and chrf over ALL held-out pairs with beam eval.beam.
  Metrics evaluate_all() override;
  std::string serialized_tokenizer() const override;
  std::string data_summary() const override { return summary_; }

  const PairBatches& train_batches() const { return *train_; }
  const nn::MarianMTModel& marian() const { return *model_; }

 private:
  double held_out_loss();
  Metrics scores(int64_t sentences, int64_t beam);

  Config config_;
  std::optional<BpeTokenizer> tokenizer_;
  MarianSpecialIds ids_;
  std::optional<PairBatches> train_;
  std::vector<TokenPair> held_out_;            // prepared (always truncated, never dropped)
  std::vector<std::string> held_out_targets_;  // their English text, the BLEU references
  std::unique_ptr<nn::MarianMTModel> model_;
  int64_t tokens_per_batch_ = 0;
  std::string summary_;
};

}  // namespace kiln
