// config.json <-> kiln Config: the model keys of GPT-2 and BERT configs, the keys kiln only
// accepts at the value it implements, and the placeholders that make an imported config valid.
#include "train/hf_config.h"

#include <charconv>
#include <filesystem>
#include <optional>
#include <vector>

#include "base/error.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "train/config_limits.h"
#include "train/registry.h"

namespace kiln {
namespace {
namespace fs = std::filesystem;
using json::Value;

// Shortest decimal that reads back as exactly `x` (YAML and JSON both accept it).
std::string number_text(double x) {
  char buffer[32];
  return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, x).ptr);
}

// `s` as a YAML double-quoted scalar.
std::string yaml_quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// ---- config.json -> kiln Config -----------------------------------------------------------

// An optional config.json number, or `fallback` when the key is absent or null.
double number_or(const Value& config, const char* key, double fallback) {
  const Value* v = config.find(key);
  return v == nullptr || v->is_null() ? fallback : v->as_number();
}

// A config.json key that changes the computation: kiln implements only `expected`.
void require_if_present(const Value& config, const char* key, const Value& expected,
                        const std::string& path) {
  const Value* v = config.find(key);
  KILN_CHECK(v == nullptr || *v == expected, path, ": ", key, ": expected ", json::write(expected),
             " (what kiln implements), got ", v ? json::write(*v) : "");
}

// tokenizer_config.json's do_lower_case, or BertTokenizer's default (true) without one.
bool read_lowercase(const std::string& dir) {
  const std::string path = path_in(dir, "tokenizer_config.json");
  if (!fs::exists(path)) return true;
  const Value v = json::parse(read_text_file(path), path);
  const Value* lower = v.find("do_lower_case");
  return lower == nullptr || lower->as_bool();
}

// The model keys of config.json, whichever architecture named them.
struct HfShape {
  bool gpt = true;
  int64_t vocab = 0, d_model = 0, n_layer = 0, n_head = 0, d_ff = 0, positions = 0;
  double eps = 0, dropout = 0;
  bool classifier = false;          // a BertForSequenceClassification
  std::vector<std::string> labels;  // its class names, in id order
};

HfShape gpt2_shape(const Value& hf, const std::string& path) {
  HfShape s;
  s.d_model = hf.at("n_embd").as_int();
  s.n_layer = hf.at("n_layer").as_int();
  s.n_head = hf.at("n_head").as_int();
  s.positions = hf.at("n_positions").as_int();
  const Value* inner = hf.find("n_inner");
  // 4 * n_embd in range only: a huge n_embd must reach parse_config's check of d_model, not
  // overflow here.
  const bool sane_width = s.d_model > 0 && s.d_model <= (int64_t{1} << 32);
  s.d_ff = inner == nullptr || inner->is_null() ? (sane_width ? 4 * s.d_model : s.d_model)
                                                : inner->as_int();
  s.eps = number_or(hf, "layer_norm_epsilon", 1e-5);
  s.dropout = number_or(hf, "resid_pdrop", 0.1);  // kiln has one rate for all three
  const Value* act = hf.find("activation_function");
  KILN_CHECK(
      act == nullptr || act->as_string() == "gelu_new" || act->as_string() == "gelu_pytorch_tanh",
      path,
      ": activation_function: expected \"gelu_new\" or \"gelu_pytorch_tanh\" (GELU, tanh form), "
      "got ",
      act ? act->describe() : "");
  require_if_present(hf, "scale_attn_weights", Value::boolean(true), path);
  require_if_present(hf, "scale_attn_by_inverse_layer_idx", Value::boolean(false), path);
  require_if_present(hf, "add_cross_attention", Value::boolean(false), path);
  return s;
}

// Whether config.json describes a BertForSequenceClassification. `architectures` decides
// when present: older transformers wrote the default id2label into every config, so an
// id2label alone only counts in a config without it.
bool is_classifier(const Value& hf) {
  const Value* architectures = hf.find("architectures");
  if (architectures == nullptr || architectures->is_null()) {
    const Value* id2label = hf.find("id2label");
    return id2label != nullptr && !id2label->is_null() && !id2label->as_object().empty();
  }
  for (const Value& a : architectures->as_array())
    if (a.as_string() == "BertForSequenceClassification") return true;
  return false;
}

// A classifier's label names in id order: id2label {"0": name, ...} (any key order), or
// without one PretrainedConfig's default names LABEL_0 ... of num_labels (default 2) labels.
std::vector<std::string> classifier_labels(const Value& hf, const std::string& path) {
  const Value* problem = hf.find("problem_type");
  KILN_CHECK(problem == nullptr || problem->is_null() ||
                 *problem == Value::string("single_label_classification"),
             path,
             ": problem_type: expected \"single_label_classification\" (what kiln "
             "implements), got ",
             problem ? json::write(*problem) : "");
  const Value* id2label = hf.find("id2label");
  std::vector<std::string> labels;
  if (id2label == nullptr || id2label->is_null()) {
    const Value* count = hf.find("num_labels");
    const int64_t n = count == nullptr || count->is_null() ? 2 : count->as_int();
    // Checked before the names are made: a hostile num_labels must not fill memory.
    KILN_CHECK(n >= 0 && n <= kMaxLabels, path, ": num_labels: expected an integer in [0, ",
               kMaxLabels, "], got ", n);
    for (int64_t i = 0; i < n; ++i) labels.push_back("LABEL_" + std::to_string(i));
    return labels;
  }
  const json::Value::Object& members = id2label->as_object();
  labels.resize(members.size());
  std::vector<bool> seen(members.size(), false);
  for (const auto& [key, name] : members) {
    size_t id = 0;
    const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), id);
    const bool valid =
        error == std::errc() && end == key.data() + key.size() && id < members.size() && !seen[id];
    KILN_CHECK(valid, path, ": id2label: expected each of the keys \"0\" to \"", members.size() - 1,
               "\" once, got ", json::quote(key));
    seen[id] = true;
    labels[id] = name.as_string();
  }
  return labels;
}

HfShape bert_shape(const Value& hf, const std::string& path) {
  HfShape s;
  s.gpt = false;
  s.d_model = hf.at("hidden_size").as_int();
  s.n_layer = hf.at("num_hidden_layers").as_int();
  s.n_head = hf.at("num_attention_heads").as_int();
  s.d_ff = hf.at("intermediate_size").as_int();
  s.positions = hf.at("max_position_embeddings").as_int();
  s.eps = number_or(hf, "layer_norm_eps", 1e-12);
  s.dropout = number_or(hf, "hidden_dropout_prob", 0.1);
  const Value* types = hf.find("type_vocab_size");
  KILN_CHECK(types == nullptr || types->as_int() == 2, path,
             ": type_vocab_size: expected 2 (segments A and B), got ", types->describe());
  require_if_present(hf, "hidden_act", Value::string("gelu"), path);
  require_if_present(hf, "position_embedding_type", Value::string("absolute"), path);
  require_if_present(hf, "is_decoder", Value::boolean(false), path);
  s.classifier = is_classifier(hf);
  if (s.classifier) s.labels = classifier_labels(hf, path);
  return s;
}

// MarianConfig's keys as a kiln model section (after "model: {"). HF's defaults where a key
// may be absent (MarianConfig: scale_embedding false, swish ... gelu, 1024 positions).
std::string marian_model_yaml(const Value& hf, const std::string& path) {
  auto n = [](int64_t v) { return std::to_string(v); };
  const int64_t d_model = hf.at("d_model").as_int();
  const int64_t heads = hf.at("encoder_attention_heads").as_int();
  const int64_t ffn = hf.at("encoder_ffn_dim").as_int();
  KILN_CHECK(number_or(hf, "decoder_attention_heads", double(heads)) == double(heads), path,
             ": decoder_attention_heads: expected encoder_attention_heads (", heads,
             ", kiln has one model.n_head), got ", hf.at("decoder_attention_heads").describe());
  KILN_CHECK(number_or(hf, "decoder_ffn_dim", double(ffn)) == double(ffn), path,
             ": decoder_ffn_dim: expected encoder_ffn_dim (", ffn,
             ", kiln has one model.d_ff), got ", hf.at("decoder_ffn_dim").describe());
  const Value* act = hf.find("activation_function");
  std::string activation = act == nullptr || act->is_null() ? "gelu" : act->as_string();
  if (activation == "silu") activation = "swish";  // the same function under two names
  KILN_CHECK(activation == "swish" || activation == "gelu" || activation == "gelu_new" ||
                 activation == "relu",
             path, ": activation_function: expected \"swish\", \"silu\", \"gelu\", ",
             "\"gelu_new\" or \"relu\", got ", json::quote(activation));
  const int64_t pad = hf.at("pad_token_id").as_int();
  const Value* start = hf.find("decoder_start_token_id");
  KILN_CHECK(start == nullptr || start->is_null() || start->as_int() == pad, path,
             ": decoder_start_token_id: expected pad_token_id (", pad,
             ", as every Marian model), got ", start ? start->describe() : "");
  require_if_present(hf, "share_encoder_decoder_embeddings", Value::boolean(true), path);
  require_if_present(hf, "normalize_embedding", Value::boolean(false), path);
  require_if_present(hf, "static_position_embeddings", Value::boolean(true), path);
  const Value* scale = hf.find("scale_embedding");
  const bool scaled = scale != nullptr && !scale->is_null() && scale->as_bool();
  return "arch: marian, vocab_size: " + n(hf.at("vocab_size").as_int()) +
         ", n_layer: " + n(hf.at("encoder_layers").as_int()) +
         ", decoder_layers: " + n(hf.at("decoder_layers").as_int()) + ", n_head: " + n(heads) +
         ", d_model: " + n(d_model) + ", d_ff: " + n(ffn) + ", max_seq_len: " +
         n(static_cast<int64_t>(number_or(hf, "max_position_embeddings", 1024))) +
         ", dropout: " + number_text(number_or(hf, "dropout", 0.1)) +
         ", activation: " + activation + ", scale_embedding: " + (scaled ? "true" : "false") +
         ", layer_norm_eps: 1.0e-5";
}

}  // namespace

std::string path_in(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

// The kiln config of an imported model. data.* only matters when training resumes from the
// checkpoint, so train_files names the source as a placeholder; train.* are placeholders too.
// A classifier's data.labels are real (they name its outputs); data.format then defaults to
// jsonl, the format its training data would have.
Config kiln_config(const Value& hf, const std::string& dir, const std::string& config_path,
                   uint64_t seed) {
  const std::string type = hf.at("model_type").as_string();
  KILN_CHECK(type == "gpt2" || type == "bert" || type == "marian", config_path,
             ": model_type: expected \"gpt2\", \"bert\" or \"marian\", got ", json::quote(type));
  require_if_present(hf, "tie_word_embeddings", Value::boolean(true), config_path);
  const fs::path source = fs::absolute(dir).lexically_normal();
  std::string name = source.filename().string();
  if (name.empty()) name = source.parent_path().filename().string();  // "dir/" has no filename
  if (type == "marian") {
    // Token-budget batches: no train.batch_size or seq_len.
    const std::string yaml = "run: {name: " + yaml_quoted("imported-" + name) +
                             ", seed: " + std::to_string(seed) + "}\ndata: {train_files: [" +
                             yaml_quoted("hf-import:" + source.string()) +
                             "], tokenizer: bpe}\nmodel: {" + marian_model_yaml(hf, config_path) +
                             "}\ntrain: {max_steps: 1000, optimizer: {lr: 5.0e-5}}\n";
    return parse_config(yaml, config_path + " (as a kiln config)");
  }
  HfShape s = type == "gpt2" ? gpt2_shape(hf, config_path) : bert_shape(hf, config_path);
  s.vocab = hf.at("vocab_size").as_int();
  auto n = [](int64_t v) { return std::to_string(v); };
  std::string labels;
  for (const std::string& label : s.labels)
    labels += (labels.empty() ? "" : ", ") + yaml_quoted(label);
  const char* arch = arch_name(s.gpt          ? Arch::kGpt
                               : s.classifier ? Arch::kBertClassifier
                                              : Arch::kBert);
  std::string yaml =
      "run: {name: " + yaml_quoted("imported-" + name) + ", seed: " + std::to_string(seed) + "}\n";
  yaml += "data: {train_files: [" + yaml_quoted("hf-import:" + source.string()) + "], " +
          (s.classifier ? "labels: [" + labels + "], " : "") +
          "tokenizer: " + (s.gpt ? "bpe" : "wordpiece") +
          ", lowercase: " + (s.gpt || read_lowercase(dir) ? "true" : "false") + "}\n";
  yaml += std::string("model: {arch: ") + arch + ", vocab_size: " + n(s.vocab) +
          ", n_layer: " + n(s.n_layer) + ", n_head: " + n(s.n_head) + ", d_model: " + n(s.d_model) +
          ", d_ff: " + n(s.d_ff) + ", max_seq_len: " + n(s.positions) +
          ", dropout: " + number_text(s.dropout) + ", layer_norm_eps: " + number_text(s.eps) +
          "}\n";
  yaml += "train: {batch_size: 8, seq_len: " + n(s.positions) +
          ", max_steps: 1000, optimizer: {lr: 5.0e-5}}\n";
  // parse_config validates the values (positive sizes, heads dividing the width, ...).
  return parse_config(yaml, config_path + " (as a kiln config)");
}

// ---- kiln Config -> config.json -----------------------------------------------------------

// HF's config.json for the model; keys sorted, as PretrainedConfig.to_json_string writes them.
Value hf_config(const Config& config, const Tokenizer& tokenizer) {
  const ModelConfig& m = config.model;
  const Value dropout = Value::number(m.dropout);
  Value c = Value::object();
  if (m.arch == Arch::kMarian) {
    const nn::MarianConfig k = marian_config_for(config, *tokenizer.as<BpeTokenizer>());
    const Value zero = Value::number(0.0);
    c.set("activation_dropout", zero);
    c.set("activation_function", Value::string(nn::activation_name(k.activation)));
    c.set("architectures", Value::array({Value::string("MarianMTModel")}));
    c.set("attention_dropout", zero);
    c.set("bos_token_id", Value::integer(k.eos_token_id));
    c.set("d_model", Value::integer(k.d_model));
    c.set("decoder_attention_heads", Value::integer(k.decoder_attention_heads));
    c.set("decoder_ffn_dim", Value::integer(k.decoder_ffn_dim));
    c.set("decoder_layerdrop", zero);
    c.set("decoder_layers", Value::integer(k.decoder_layers));
    c.set("decoder_start_token_id", Value::integer(k.pad_token_id));
    c.set("decoder_vocab_size", Value::integer(k.vocab_size));
    c.set("dropout", dropout);
    c.set("encoder_attention_heads", Value::integer(k.encoder_attention_heads));
    c.set("encoder_ffn_dim", Value::integer(k.encoder_ffn_dim));
    c.set("encoder_layerdrop", zero);
    c.set("encoder_layers", Value::integer(k.encoder_layers));
    c.set("eos_token_id", Value::integer(k.eos_token_id));
    c.set("forced_eos_token_id", Value::integer(k.eos_token_id));
    c.set("init_std", Value::number(k.init_std));
    c.set("is_encoder_decoder", Value::boolean(true));
    c.set("max_length", Value::integer(k.max_position_embeddings));
    c.set("max_position_embeddings", Value::integer(k.max_position_embeddings));
    c.set("model_type", Value::string("marian"));
    c.set("num_beams", Value::integer(config.eval.beam));
    c.set("num_hidden_layers", Value::integer(k.encoder_layers));
    c.set("pad_token_id", Value::integer(k.pad_token_id));
    c.set("scale_embedding", Value::boolean(k.scale_embedding));
    c.set("share_encoder_decoder_embeddings", Value::boolean(true));
    c.set("tie_word_embeddings", Value::boolean(true));
    c.set("torch_dtype", Value::string("float32"));
    c.set("use_cache", Value::boolean(true));
    c.set("vocab_size", Value::integer(k.vocab_size));
    return c;
  }
  if (m.arch == Arch::kGpt) {
    const nn::GptConfig g = gpt_config_for(config, tokenizer.vocab_size());
    std::optional<int32_t> eos = tokenizer.as<BpeTokenizer>()->token_id(kEndOfText);
    const Value eos_id = eos ? Value::integer(*eos) : Value();
    c.set("activation_function", Value::string("gelu_new"));
    c.set("architectures", Value::array({Value::string("GPT2LMHeadModel")}));
    c.set("attn_pdrop", dropout);
    c.set("bos_token_id", eos_id);
    c.set("embd_pdrop", dropout);
    c.set("eos_token_id", eos_id);
    c.set("initializer_range", Value::number(0.02));
    c.set("layer_norm_epsilon", Value::number(m.layer_norm_eps));
    c.set("model_type", Value::string("gpt2"));
    c.set("n_ctx", Value::integer(g.max_seq_len));
    c.set("n_embd", Value::integer(g.d_model));
    c.set("n_head", Value::integer(g.n_head));
    c.set("n_inner", Value::integer(g.d_ff == 0 ? 4 * g.d_model : g.d_ff));
    c.set("n_layer", Value::integer(g.n_layer));
    c.set("n_positions", Value::integer(g.max_seq_len));
    c.set("resid_pdrop", dropout);
    c.set("tie_word_embeddings", Value::boolean(true));
    c.set("torch_dtype", Value::string("float32"));
    c.set("vocab_size", Value::integer(g.vocab_size));
    return c;
  }
  const bool classifier = m.arch == Arch::kBertClassifier;
  const WordPieceTokenizer& wordpiece = *tokenizer.as<WordPieceTokenizer>();
  const nn::BertConfig b = bert_config_for(config, wordpiece);
  // A classifier's class names, in id order (HF would sort label2id by name; order is moot).
  Value id2label = Value::object(), label2id = Value::object();
  for (size_t i = 0; i < config.data.labels.size(); ++i) {
    id2label.set(std::to_string(i), Value::string(config.data.labels[i]));
    label2id.set(config.data.labels[i], Value::integer(static_cast<int64_t>(i)));
  }
  c.set("architectures", Value::array({Value::string(classifier ? "BertForSequenceClassification"
                                                                : "BertForPreTraining")}));
  c.set("attention_probs_dropout_prob", dropout);
  c.set("hidden_act", Value::string("gelu"));
  c.set("hidden_dropout_prob", dropout);
  c.set("hidden_size", Value::integer(b.d_model));
  if (classifier) c.set("id2label", id2label);
  c.set("initializer_range", Value::number(0.02));
  c.set("intermediate_size", Value::integer(b.d_ff == 0 ? 4 * b.d_model : b.d_ff));
  if (classifier) c.set("label2id", label2id);
  c.set("layer_norm_eps", Value::number(m.layer_norm_eps));
  c.set("max_position_embeddings", Value::integer(b.max_position));
  c.set("model_type", Value::string("bert"));
  c.set("num_attention_heads", Value::integer(b.n_head));
  c.set("num_hidden_layers", Value::integer(b.n_layer));
  c.set("pad_token_id", Value::integer(b.pad_token_id));
  c.set("position_embedding_type", Value::string("absolute"));
  // kiln's classifier loss is cross-entropy over the labels, what HF calls this.
  if (classifier) c.set("problem_type", Value::string("single_label_classification"));
  c.set("tie_word_embeddings", Value::boolean(true));
  c.set("torch_dtype", Value::string("float32"));
  c.set("type_vocab_size", Value::integer(b.type_vocab_size));
  c.set("vocab_size", Value::integer(b.vocab_size));
  return c;
}

}  // namespace kiln
