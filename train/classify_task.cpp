// Labelled text -> encoded examples -> classifier loss, for training and evaluation; and
// loading a trained classifier for `kiln classify`.
#include "train/classify_task.h"

#include <algorithm>
#include <cmath>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/rng.h"
#include "train/bert_task.h"

namespace kiln {
namespace {

// Random streams derived from run.seed (the model uses 1, so the encoder starts as a
// pretraining model of the same seed would; BERT pretraining uses 4 to 7).
inline constexpr uint64_t kHeldOutSplitStream = 8;
inline constexpr uint64_t kTrainBatchStream = 9;

}  // namespace

std::vector<int32_t> classification_input(const WordPieceTokenizer& tokenizer,
                                          std::string_view text, int seq_len,
                                          std::string_view where) {
  KILN_CHECK(seq_len >= 3, "classification_input: expected seq_len >= 3, got ", seq_len);
  std::vector<int32_t> ids = {tokenizer.cls_id()};
  std::vector<int32_t> pieces = tokenizer.encode(text, where);
  const size_t keep = std::min(pieces.size(), static_cast<size_t>(seq_len - 2));
  ids.insert(ids.end(), pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(keep));
  ids.push_back(tokenizer.sep_id());
  return ids;
}

ClassifyTask::ClassifyTask(const Config& config,
                           const std::optional<std::string>& serialized_tokenizer)
    : config_(config) {
  const DataConfig& d = config.data;
  const uint64_t seed = config.run.seed;
  std::vector<LabelledText> train = read_labelled(d.train_files, d.format, d.labels), held_out;
  if (d.val_files.empty()) {
    LabelledSplit split =
        split_labelled(std::move(train), d.val_fraction, derive_seed(seed, kHeldOutSplitStream));
    train = std::move(split.train);
    held_out = std::move(split.held_out);
  } else {
    held_out = read_labelled(d.val_files, d.format, d.labels);
  }
  KILN_CHECK(!train.empty(), "data.train_files: expected labelled examples for training, got none");
  KILN_CHECK(!held_out.empty(),
             "data: expected held-out labelled examples (data.val_files, or a larger "
             "data.val_fraction), got none");
  if (serialized_tokenizer) {
    tokenizer_ = WordPieceTokenizer::from_serialized(*serialized_tokenizer);
  } else {
    std::vector<std::string> texts;
    for (const LabelledText& e : train) texts.push_back(e.text);
    tokenizer_ = make_wordpiece(config, texts);
  }
  auto encode = [&](const std::vector<LabelledText>& from, std::vector<Encoded>& to) {
    for (const LabelledText& e : from)
      to.push_back(
          {classification_input(*tokenizer_, e.text, config.train.seq_len, e.source), e.label});
  };
  encode(train, train_);
  encode(held_out, held_out_);

  std::vector<int64_t> counts(d.labels.size(), 0);
  for (const Encoded& e : train_) ++counts[static_cast<size_t>(e.label)];
  majority_label_ =
      static_cast<int32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  model_ = std::move(build_model(config, Tokenizer(*tokenizer_), seed).classifier);
}

int64_t ClassifyTask::tokens_per_micro_batch() const {
  return int64_t{config_.train.batch_size} * config_.train.seq_len;
}

double ClassifyTask::epochs_after(int64_t steps) const {
  const double examples = double(steps) * config_.train.grad_accum * config_.train.batch_size;
  return examples / double(train_.size());
}

nn::BertClassifierLoss ClassifyTask::loss_of(const std::vector<const Encoded*>& rows,
                                             uint64_t dropout_seed) const {
  const int64_t B = static_cast<int64_t>(rows.size());
  size_t T = 0;
  for (const Encoded* e : rows) T = std::max(T, e->ids.size());
  std::vector<int32_t> ids(static_cast<size_t>(B) * T, tokenizer_->pad_id()), mask(ids.size(), 0),
      labels;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::copy(rows[r]->ids.begin(), rows[r]->ids.end(), ids.begin() + r * T);
    std::fill_n(mask.begin() + r * T, rows[r]->ids.size(), 1);
    labels.push_back(rows[r]->label);
  }
  const Shape shape{B, static_cast<int64_t>(T)};
  return model_->loss(Tensor::from_ints(shape, ids), Tensor(), Tensor::from_ints(shape, mask),
                      Tensor::from_ints({B}, labels), dropout_seed);
}

TrainLoss ClassifyTask::train_loss(int64_t step, int micro, uint64_t dropout_seed, Shard shard) {
  model_->train(true);
  const uint64_t batch = static_cast<uint64_t>(step) * config_.train.grad_accum + micro;
  const uint64_t batch_seed = derive_seed(derive_seed(config_.run.seed, kTrainBatchStream), batch);
  std::vector<const Encoded*> rows;
  const int B = config_.train.batch_size;
  for (int r = shard.begin(B); r < shard.end(B); ++r)
    rows.push_back(&train_[random_bits(batch_seed, static_cast<uint64_t>(r)) % train_.size()]);
  nn::BertClassifierLoss l = loss_of(rows, dropout_seed);
  return {l.loss, {{"acc", double(l.correct) / double(rows.size())}}};
}

Metrics ClassifyTask::evaluate() {
  NoGradGuard no_grad;
  model_->train(false);
  const std::vector<std::string>& labels = config_.data.labels;
  const int64_t L = static_cast<int64_t>(labels.size());
  std::vector<int64_t> count(labels.size(), 0), correct(labels.size(), 0);
  double loss_sum = 0;
  const size_t batch_size = static_cast<size_t>(config_.train.batch_size);
  for (size_t start = 0; start < held_out_.size(); start += batch_size) {
    std::vector<const Encoded*> rows;
    for (size_t i = start; i < std::min(start + batch_size, held_out_.size()); ++i)
      rows.push_back(&held_out_[i]);
    nn::BertClassifierLoss l = loss_of(rows, 0);
    loss_sum += l.loss.item() * double(rows.size());  // the batch mean, weighted by its rows
    for (size_t r = 0; r < rows.size(); ++r) {
      const float* logits = l.logits.data() + static_cast<int64_t>(r) * L;
      const size_t label = static_cast<size_t>(rows[r]->label);
      ++count[label];
      correct[label] += std::max_element(logits, logits + L) - logits == rows[r]->label;
    }
  }
  model_->train(true);
  const double n = double(held_out_.size());
  int64_t all_correct = 0;
  for (int64_t c : correct) all_correct += c;
  Metrics m = {{"val_loss", loss_sum / n},
               {"accuracy", double(all_correct) / n},
               {"majority_acc", double(count[static_cast<size_t>(majority_label_)]) / n}};
  for (size_t i = 0; i < labels.size(); ++i) {
    m.emplace_back("count_" + labels[i], double(count[i]));
    m.emplace_back("correct_" + labels[i], double(correct[i]));
  }
  return m;
}

std::vector<double> classify_text(const LoadedModel& classifier, std::string_view text) {
  classifier.model.require({Arch::kBertClassifier}, classifier.path);
  const WordPieceTokenizer* wordpiece = classifier.tokenizer.as<WordPieceTokenizer>();
  KILN_CHECK(wordpiece != nullptr, classifier.path, ":/tokenizer: expected WordPiece, got ",
             classifier.tokenizer.kind());
  std::vector<int32_t> ids =
      classification_input(*wordpiece, text, classifier.config.train.seq_len, "text");
  NoGradGuard no_grad;
  Tensor logits = classifier.model.classifier->forward(
      Tensor::from_ints({1, static_cast<int64_t>(ids.size())}, ids));
  std::vector<float> z = logits.to_floats();  // [1, L]
  const double top = *std::max_element(z.begin(), z.end());
  std::vector<double> p;
  double sum = 0;
  for (float v : z) sum += p.emplace_back(std::exp(double(v) - top));
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace kiln
