// Sentence pairs -> shared BPE -> token-budget batches -> MarianMTModel loss, and held-out
// val_loss, BLEU and chrF.
#include "train/translate_task.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/rng.h"
#include "data/bleu.h"
#include "data/bpe_trainer.h"
#include "data/chrf.h"
#include "train/registry.h"

namespace kiln {
namespace {

// The training batches' random stream from run.seed (the model's is 1: train/registry.cpp).
inline constexpr uint64_t kTrainBatchStream = 2;
// Sentences decoded together; beam search runs beam times as many rows.
inline constexpr std::size_t kDecodeBatch = 48;

Tensor ints(const std::vector<int32_t>& v, int64_t rows, int64_t cols) {
  return Tensor::from_ints({rows, cols}, v);
}

}  // namespace

MarianSpecialIds marian_special_ids(const BpeTokenizer& tokenizer) {
  std::optional<int32_t> pad = tokenizer.token_id(kMarianPad);
  std::optional<int32_t> eos = tokenizer.token_id(kEndOfText);
  if (!eos) eos = tokenizer.token_id("</s>");
  KILN_CHECK(pad && eos, "marian tokenizer: expected the tokens \"<pad>\" and \"", kEndOfText,
             "\" (or \"</s>\"), got ", pad ? "no eos" : "no <pad>");
  return {*pad, *eos};
}

BpeTokenizer make_marian_tokenizer(const Config& config, const std::vector<std::string>& texts) {
  const DataConfig& d = config.data;
  if (!d.vocab_file.empty()) {
    BpeTokenizer t = BpeTokenizer::from_files(d.vocab_file, d.merges_file);
    marian_special_ids(t);
    return t;
  }
  std::vector<std::string_view> views(texts.begin(), texts.end());
  const BpeTokenizer trained = train_bpe(views, d.tokenizer_vocab_size - 1);
  // Pad goes after <|endoftext|>: no merge can make it, so no text encodes to it.
  std::vector<std::string> tokens;
  for (int32_t id = 0; id < trained.vocab_size(); ++id) tokens.push_back(trained.token_bytes(id));
  KILN_CHECK(std::find(tokens.begin(), tokens.end(), kMarianPad) == tokens.end(),
             "marian tokenizer: expected no learned token \"<pad>\", got one");
  tokens.emplace_back(kMarianPad);
  std::vector<std::pair<int32_t, int32_t>> merges;
  for (const BpeTokenizer::Merge& m : trained.merges()) merges.emplace_back(m.left, m.right);
  return BpeTokenizer::from_tokens(std::move(tokens), merges);
}

TranslationScores score_translations(const nn::MarianMTModel& model, const BpeTokenizer& tokenizer,
                                     const std::vector<std::vector<int32_t>>& sources,
                                     const std::vector<std::string>& references,
                                     const nn::DecodeOptions& options) {
  KILN_CHECK(sources.size() == references.size(), "score_translations: expected one reference ",
             "per source, got ", references.size(), " for ", sources.size());
  const int32_t pad = static_cast<int32_t>(model.config().pad_token_id);
  // Similar lengths together keep the padding (and the wasted decoder work) small.
  std::vector<int64_t> order(sources.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return sources[a].size() < sources[b].size(); });
  std::vector<TokenPair> pairs(sources.size());
  for (std::size_t i = 0; i < sources.size(); ++i) pairs[i].source = sources[i];
  TranslationScores out;
  out.hypotheses.resize(sources.size());
  for (std::size_t first = 0; first < order.size(); first += kDecodeBatch) {
    std::vector<int64_t> rows(order.begin() + first,
                              order.begin() + std::min(order.size(), first + kDecodeBatch));
    for (int64_t r : rows) pairs[r].target = {pad};  // make_pair_batch needs a target
    const PairBatch b = make_pair_batch(pairs, rows, pad);
    const Tensor src = ints(b.input_ids, b.rows, b.source_len);
    const Tensor mask = ints(b.attention_mask, b.rows, b.source_len);
    const nn::Translations t = options.beam > 1 ? nn::beam_search(model, src, mask, options)
                                                : nn::greedy_decode(model, src, mask, options);
    for (std::size_t i = 0; i < rows.size(); ++i) out.hypotheses[rows[i]] = tokenizer.decode(t[i]);
  }
  out.bleu = corpus_bleu(out.hypotheses, {references}).score;
  out.chrf = corpus_chrf(out.hypotheses, {references});
  return out;
}

std::vector<std::string> translate_texts(const nn::MarianMTModel& model,
                                         const BpeTokenizer& tokenizer,
                                         const std::vector<std::string>& texts,
                                         int64_t max_source_len, const nn::DecodeOptions& options) {
  const int32_t eos = static_cast<int32_t>(model.config().eos_token_id);
  std::vector<std::vector<int32_t>> sources;
  for (const std::string& text : texts) {
    std::vector<int32_t> ids = tokenizer.encode(text);
    if (static_cast<int64_t>(ids.size()) > max_source_len - 1) ids.resize(max_source_len - 1);
    ids.push_back(eos);
    sources.push_back(std::move(ids));
  }
  return score_translations(model, tokenizer, sources, std::vector<std::string>(texts.size()),
                            options)
      .hypotheses;
}

TranslateTask::TranslateTask(const Config& config,
                             const std::optional<std::string>& serialized_tokenizer)
    : config_(config) {
  std::vector<TranslationPair> train_text, held_out_text;
  for (const std::string& file : config.data.train_files)
    for (TranslationPair& p : read_translation_pairs(file))
      (is_held_out_verse(p.reference) ? held_out_text : train_text).push_back(std::move(p));
  // `kiln eval --data FILE` (or data.val_files) scores other pairs than the held-out chapters.
  if (!config.data.val_files.empty()) {
    held_out_text.clear();
    for (const std::string& file : config.data.val_files)
      for (TranslationPair& p : read_translation_pairs(file)) held_out_text.push_back(std::move(p));
  }
  KILN_CHECK(!train_text.empty() && !held_out_text.empty(), "data.train_files: expected training ",
             "and held-out pairs, got ", train_text.size(), " and ", held_out_text.size());
  if (serialized_tokenizer) {
    const Tokenizer t = Tokenizer::from_serialized(*serialized_tokenizer);
    KILN_CHECK(t.as<BpeTokenizer>(), "model.arch marian: expected a bpe tokenizer, got ", t.kind());
    tokenizer_ = *t.as<BpeTokenizer>();
  } else {
    std::vector<std::string> texts;
    for (const TranslationPair& p : train_text) {
      texts.push_back(p.source);
      texts.push_back(p.target);
    }
    tokenizer_ = make_marian_tokenizer(config, texts);
  }
  ids_ = marian_special_ids(*tokenizer_);
  auto encode = [&](const std::vector<TranslationPair>& text) {
    std::vector<TokenPair> pairs;
    for (const TranslationPair& p : text)
      pairs.push_back({tokenizer_->encode(p.source), tokenizer_->encode(p.target)});
    return pairs;
  };
  PairLimits limits{
      ids_.pad, ids_.eos, config.model.max_seq_len,
      config.data.long_pairs == "drop" ? LongPairPolicy::kDrop : LongPairPolicy::kTruncate};
  PreparedPairs train = prepare_pairs(encode(train_text), limits);
  // Every held-out verse is scored, so long ones are cut rather than left out.
  limits.long_pairs = LongPairPolicy::kTruncate;
  PreparedPairs held_out = prepare_pairs(encode(held_out_text), limits);
  held_out_ = std::move(held_out.pairs);
  for (const TranslationPair& p : held_out_text) held_out_targets_.push_back(p.target);
  summary_ = fmt::format(
      "data: {} training pairs ({} truncated, {} dropped at model.max_seq_len {}), {} held-out "
      "({} truncated); tokenizer: {} ids, pad {}, eos {}",
      train.pairs.size(), train.truncated, train.dropped, config.model.max_seq_len,
      held_out_.size(), held_out.truncated, tokenizer_->vocab_size(), ids_.pad, ids_.eos);
  int64_t tokens = 0;
  for (const TokenPair& p : train.pairs) tokens += int64_t(p.source.size() + p.target.size());
  train_.emplace(std::move(train.pairs), config.train.batch_tokens, ids_.pad,
                 derive_seed(config.run.seed, kTrainBatchStream));
  tokens_per_batch_ = tokens / std::max<int64_t>(1, train_->batches_per_epoch());
  model_ = std::move(build_model(config, Tokenizer(*tokenizer_), config.run.seed).marian);
}

std::string TranslateTask::serialized_tokenizer() const {
  return tokenizer_->serialize();
}

double TranslateTask::epochs_after(int64_t steps) const {
  return double(steps) * config_.train.grad_accum / double(train_->batches_per_epoch());
}

TrainLoss TranslateTask::train_loss(int64_t step, int micro, uint64_t dropout_seed, Shard shard) {
  model_->train(true);
  PairBatch b = train_->batch(static_cast<uint64_t>(step) * config_.train.grad_accum + micro);
  if (shard.count > 1) {  // this rank's pairs of the batch, padded on their own
    const int rows = static_cast<int>(b.rows);
    std::vector<int64_t> mine(b.pair_indices.begin() + shard.begin(rows),
                              b.pair_indices.begin() + shard.end(rows));
    KILN_CHECK(!mine.empty(), "train: expected at least one sentence pair per process, got none ",
               "in a batch of ", rows, " (raise train.batch_tokens or use fewer processes)");
    b = make_pair_batch(train_->pairs(), mine, ids_.pad);
  }
  Tensor loss = model_->loss(
      ints(b.input_ids, b.rows, b.source_len), ints(b.attention_mask, b.rows, b.source_len),
      ints(b.decoder_input_ids, b.rows, b.target_len), ints(b.labels, b.rows, b.target_len),
      static_cast<float>(config_.train.label_smoothing), dropout_seed);
  return {loss, {}};
}

double TranslateTask::held_out_loss() {
  NoGradGuard no_grad;
  model_->train(false);
  const PairBatches batches(held_out_, config_.train.batch_tokens, ids_.pad, 0);
  double total = 0;
  int64_t tokens = 0;
  for (const PairBatch& b : batches.in_order()) {
    const Tensor loss = model_->loss(
        ints(b.input_ids, b.rows, b.source_len), ints(b.attention_mask, b.rows, b.source_len),
        ints(b.decoder_input_ids, b.rows, b.target_len), ints(b.labels, b.rows, b.target_len),
        static_cast<float>(config_.train.label_smoothing));
    total += double(loss.item()) * double(b.target_tokens);
    tokens += b.target_tokens;
  }
  model_->train(true);
  return total / double(tokens);
}

Metrics TranslateTask::scores(int64_t sentences, int64_t beam) {
  NoGradGuard no_grad;
  model_->train(false);
  const std::size_t n = std::min<std::size_t>(sentences, held_out_.size());
  std::vector<std::vector<int32_t>> sources;
  for (std::size_t i = 0; i < n; ++i) sources.push_back(held_out_[i].source);
  const std::vector<std::string> references(held_out_targets_.begin(),
                                            held_out_targets_.begin() + n);
  nn::DecodeOptions options;
  options.beam = beam;
  options.max_new_tokens = config_.model.max_seq_len;
  const TranslationScores s =
      score_translations(*model_, *tokenizer_, sources, references, options);
  model_->train(true);
  return {{"bleu", s.bleu}, {"chrf", s.chrf}};
}

Metrics TranslateTask::evaluate() {
  Metrics m = {{"val_loss", held_out_loss()}};
  if (config_.eval.bleu_sentences > 0) {
    const Metrics s = scores(config_.eval.bleu_sentences, 1);
    m.insert(m.end(), s.begin(), s.end());
  }
  return m;
}

Metrics TranslateTask::evaluate_all() {
  Metrics m = {{"val_loss", held_out_loss()}};
  const Metrics s = scores(static_cast<int64_t>(held_out_.size()), config_.eval.beam);
  m.insert(m.end(), s.begin(), s.end());
  return m;
}

}  // namespace kiln
