// build_model, load_model and make_task: from model.arch to a model, a loaded checkpoint and
// a training task.
#include "train/registry.h"

#include "base/error.h"
#include "base/rng.h"
#include "train/bert_task.h"
#include "train/classify_task.h"
#include "train/gpt_task.h"
#include "train/translate_task.h"

namespace kiln {
namespace {

// The model's random stream from run.seed (tasks draw their data from other streams).
inline constexpr uint64_t kModelInitStream = 1;

}  // namespace

nn::GptConfig gpt_config_for(const Config& config, int tokenizer_vocab_size) {
  const ModelConfig& m = config.model;
  int vocab = m.vocab_size.value_or(tokenizer_vocab_size);
  KILN_CHECK(vocab >= tokenizer_vocab_size, "model.vocab_size: expected at least the tokenizer's ",
             tokenizer_vocab_size, " tokens, got ", vocab);
  nn::GptConfig g;
  g.vocab_size = vocab;
  g.n_layer = m.n_layer;
  g.n_head = m.n_head;
  g.d_model = m.d_model;
  g.d_ff = m.d_ff;
  g.max_seq_len = m.max_seq_len;
  g.dropout = static_cast<float>(m.dropout);
  g.layer_norm_eps = static_cast<float>(m.layer_norm_eps);
  return g;
}

nn::BertConfig bert_config_for(const Config& config, const WordPieceTokenizer& tokenizer) {
  const ModelConfig& m = config.model;
  nn::BertConfig b;
  b.vocab_size = m.vocab_size.value_or(tokenizer.vocab_size());
  KILN_CHECK(b.vocab_size >= tokenizer.vocab_size(),
             "model.vocab_size: expected at least the tokenizer's ", tokenizer.vocab_size(),
             " tokens, got ", b.vocab_size);
  b.n_layer = m.n_layer;
  b.n_head = m.n_head;
  b.d_model = m.d_model;
  b.d_ff = m.d_ff;
  b.max_position = m.max_seq_len;
  b.dropout = b.attention_dropout = static_cast<float>(m.dropout);
  b.layer_norm_eps = static_cast<float>(m.layer_norm_eps);
  b.pad_token_id = tokenizer.pad_id();
  return b;
}

nn::MarianConfig marian_config_for(const Config& config, const BpeTokenizer& tokenizer) {
  const ModelConfig& m = config.model;
  nn::MarianConfig c;
  c.vocab_size = m.vocab_size.value_or(tokenizer.vocab_size());
  KILN_CHECK(c.vocab_size >= tokenizer.vocab_size(),
             "model.vocab_size: expected at least the tokenizer's ", tokenizer.vocab_size(),
             " tokens, got ", c.vocab_size);
  c.d_model = m.d_model;
  c.encoder_layers = m.n_layer;
  c.decoder_layers = m.decoder_layers;
  c.encoder_attention_heads = c.decoder_attention_heads = m.n_head;
  c.encoder_ffn_dim = c.decoder_ffn_dim = m.d_ff;
  c.max_position_embeddings = m.max_seq_len;
  c.activation = nn::parse_activation(m.activation);
  c.scale_embedding = m.scale_embedding;
  c.dropout = static_cast<float>(m.dropout);
  c.attention_dropout = c.activation_dropout = 0.0f;
  c.layer_norm_eps = static_cast<float>(m.layer_norm_eps);
  const MarianSpecialIds ids = marian_special_ids(tokenizer);
  c.pad_token_id = ids.pad;
  c.eos_token_id = ids.eos;
  return c;
}

nn::Module& Model::module() const {
  switch (arch) {
    case Arch::kGpt:
      return *gpt;
    case Arch::kBert:
      return *bert;
    case Arch::kBertClassifier:
      return *classifier;
    case Arch::kMarian:
      return *marian;
  }
  throw Error("model: unknown model.arch");
}

int64_t Model::vocab_size() const {
  switch (arch) {
    case Arch::kGpt:
      return gpt->config().vocab_size;
    case Arch::kBert:
      return bert->config().vocab_size;
    case Arch::kBertClassifier:
      return classifier->config().vocab_size;
    case Arch::kMarian:
      return marian->config().vocab_size;
  }
  throw Error("model: unknown model.arch");
}

void Model::require(std::initializer_list<Arch> allowed, const std::string& what) const {
  std::string names;
  for (Arch a : allowed) {
    if (a == arch) return;
    names += std::string(names.empty() ? "" : " or ") + arch_name(a);
  }
  throw Error(what + ": expected model.arch " + names + ", got model.arch " + arch_name(arch));
}

nn::BertOutput Model::encode(const Tensor& input_ids, const Tensor& token_type_ids,
                             const Tensor& attention_mask) const {
  require({Arch::kBert, Arch::kBertClassifier}, "encode");
  return bert ? bert->forward(input_ids, token_type_ids, attention_mask)
              : classifier->encode(input_ids, token_type_ids, attention_mask);
}

Model build_model(const Config& config, const Tokenizer& tokenizer, uint64_t run_seed) {
  const uint64_t seed = derive_seed(run_seed, kModelInitStream);
  Model m;
  m.arch = config.model.arch;
  if (m.arch == Arch::kGpt) {
    m.gpt = std::make_unique<nn::Gpt>(gpt_config_for(config, tokenizer.vocab_size()), seed);
    return m;
  }
  if (m.arch == Arch::kMarian) {
    const BpeTokenizer* bpe = tokenizer.as<BpeTokenizer>();
    KILN_CHECK(bpe != nullptr, "model.arch marian: expected a bpe tokenizer, got ",
               tokenizer.kind());
    m.marian = std::make_unique<nn::MarianMTModel>(marian_config_for(config, *bpe), seed);
    return m;
  }
  const WordPieceTokenizer* wordpiece = tokenizer.as<WordPieceTokenizer>();
  KILN_CHECK(wordpiece != nullptr, "model.arch ", arch_name(m.arch),
             ": expected a wordpiece tokenizer, got ", tokenizer.kind());
  if (m.arch == Arch::kBertClassifier)
    m.classifier = std::make_unique<nn::BertForSequenceClassification>(
        bert_config_for(config, *wordpiece), config.model.num_labels, seed);
  else
    m.bert = std::make_unique<nn::Bert>(bert_config_for(config, *wordpiece), seed);
  return m;
}

LoadedModel load_model(const std::string& checkpoint_path) {
  Checkpoint checkpoint = load_checkpoint(checkpoint_path);
  Config config = parse_config(checkpoint.state.config_yaml, checkpoint_path + ":/config");
  Tokenizer tokenizer = Tokenizer::from_serialized(checkpoint.state.tokenizer);
  Model model = build_model(config, tokenizer, 0);  // every weight is then restored
  auto arena = std::make_unique<nn::ParameterArena>(model.module());
  restore_checkpoint(checkpoint, *arena, nullptr);
  model.module().train(false);
  return {checkpoint_path,   std::move(checkpoint.state),
          std::move(config), std::move(tokenizer),
          std::move(model),  std::move(arena)};
}

std::unique_ptr<Task> make_task(const Config& config,
                                const std::optional<std::string>& serialized_tokenizer) {
  switch (config.model.arch) {
    case Arch::kGpt:
      return std::make_unique<GptTask>(config, serialized_tokenizer);
    case Arch::kBert:
      return std::make_unique<BertTask>(config, serialized_tokenizer);
    case Arch::kBertClassifier:
      return std::make_unique<ClassifyTask>(config, serialized_tokenizer);
    case Arch::kMarian:
      return std::make_unique<TranslateTask>(config, serialized_tokenizer);
  }
  throw Error("model.arch: unknown architecture");
}

}  // namespace kiln
