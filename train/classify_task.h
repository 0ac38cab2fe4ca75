// The sequence-classification task: labelled text (data/labelled_text.h) -> WordPiece
// [CLS] text [SEP] -> BertForSequenceClassification's mean cross-entropy; and a classifier
// restored from a checkpoint for `kiln classify`.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/labelled_text.h"
#include "data/wordpiece.h"
#include "nn/bert.h"
#include "train/config.h"
#include "train/registry.h"
#include "train/task.h"

namespace kiln {

// [CLS] + the WordPiece ids of `text` + [SEP], the text cut so that at most `seq_len` ids
// remain. Invalid UTF-8 is an error naming `where`.
std::vector<int32_t> classification_input(const WordPieceTokenizer& tokenizer,
                                          std::string_view text, int seq_len,
                                          std::string_view where);

class ClassifyTask : public Task {
 public:
  // Reads the labelled examples, holds out data.val_fraction of them (or reads data.val_files),
  // builds or loads the tokenizer, encodes everything once and builds the model from run.seed.
  ClassifyTask(const Config& config, const std::optional<std::string>& serialized_tokenizer);

  nn::Module& model() override { return *model_; }
  // Row r of micro-batch g = step * grad_accum + micro is training example
  // random_bits(derive_seed(stream, g), r) % n: a pure function of (seed, step, micro).
  TrainLoss train_loss(int64_t step, int micro, uint64_t dropout_seed, Shard shard) override;
  int64_t tokens_per_micro_batch() const override;
  double epochs_after(int64_t steps) const override;
  // Over ALL held-out examples (eval.batches does not apply): val_loss (mean CE), accuracy,
  // majority_acc (the accuracy of always answering the most frequent training label), and per
  // label count_<label> (held-out examples) and correct_<label> (of those, answered right).
  Metrics evaluate() override;
  std::string serialized_tokenizer() const override { return tokenizer_->serialize(); }

  size_t train_size() const { return train_.size(); }
  size_t held_out_size() const { return held_out_.size(); }

 private:
  struct Encoded {
    std::vector<int32_t> ids;  // [CLS] ... [SEP], at most train.seq_len
    int32_t label;
  };
  // Pads the rows to the longest one (the mask hides the padding) and runs the model.
  nn::BertClassifierLoss loss_of(const std::vector<const Encoded*>& rows,
                                 uint64_t dropout_seed) const;

  Config config_;
  std::optional<WordPieceTokenizer> tokenizer_;
  std::vector<Encoded> train_, held_out_;
  int32_t majority_label_ = 0;  // the most frequent training label (the lowest on ties)
  std::unique_ptr<nn::BertForSequenceClassification> model_;
};

// The probability of each label (config.data.labels order) for `text`, from a
// bert-classifier checkpoint (load_model); another arch is an error naming it.
std::vector<double> classify_text(const LoadedModel& classifier, std::string_view text);

}  // namespace kiln
