// Import from and export to Hugging Face model folders, and the forward pass on HDF5 inputs.
// kiln's parameter names and shapes are already HF's, so both directions are name-for-name
// copies; the work here is config.json, key spellings HF has used over time, and checks.
#include "train/hf_import.h"

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/rng.h"
#include "data/corpus.h"
#include "data/json.h"
#include "data/safetensors.h"
#include "data/tokenizer.h"
#include "nn/bert.h"
#include "nn/gpt.h"
#include "nn/parameter_arena.h"
#include "train/bert_task.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/gpt_task.h"
#include "train/hdf5_file.h"

namespace kiln {
namespace {
namespace fs = std::filesystem;
using json::Value;

// The tasks build their model from derive_seed(run.seed, 1); so does import, so an imported
// checkpoint's missing heads are what a fresh run with that seed would start from.
constexpr uint64_t kModelInitStream = 1;

std::string path_in(const std::string& dir, const char* file) {
  return (fs::path(dir) / file).string();
}

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
};

HfShape gpt2_shape(const Value& hf, const std::string& path) {
  HfShape s;
  s.d_model = hf.at("n_embd").as_int();
  s.n_layer = hf.at("n_layer").as_int();
  s.n_head = hf.at("n_head").as_int();
  s.positions = hf.at("n_positions").as_int();
  const Value* inner = hf.find("n_inner");
  s.d_ff = inner == nullptr || inner->is_null() ? 4 * s.d_model : inner->as_int();
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
  return s;
}

// The kiln config of an imported model. data.* only matters when training resumes from the
// checkpoint, so train_files names the source as a placeholder; train.* are placeholders too.
Config kiln_config(const Value& hf, const std::string& dir, const std::string& config_path,
                   uint64_t seed) {
  const std::string type = hf.at("model_type").as_string();
  KILN_CHECK(type == "gpt2" || type == "bert", config_path,
             ": model_type: expected \"gpt2\" or \"bert\", got ", json::quote(type));
  require_if_present(hf, "tie_word_embeddings", Value::boolean(true), config_path);
  HfShape s = type == "gpt2" ? gpt2_shape(hf, config_path) : bert_shape(hf, config_path);
  s.vocab = hf.at("vocab_size").as_int();

  const fs::path source = fs::absolute(dir).lexically_normal();
  std::string name = source.filename().string();
  if (name.empty()) name = source.parent_path().filename().string();  // "dir/" has no filename
  auto n = [](int64_t v) { return std::to_string(v); };
  std::string yaml =
      "run: {name: " + yaml_quoted("imported-" + name) + ", seed: " + std::to_string(seed) + "}\n";
  yaml += "data: {train_files: [" + yaml_quoted("hf-import:" + source.string()) +
          "], tokenizer: " + (s.gpt ? "bpe" : "wordpiece") +
          ", lowercase: " + (s.gpt || read_lowercase(dir) ? "true" : "false") + "}\n";
  yaml += std::string("model: {arch: ") + (s.gpt ? "gpt" : "bert") + ", vocab_size: " + n(s.vocab) +
          ", n_layer: " + n(s.n_layer) + ", n_head: " + n(s.n_head) + ", d_model: " + n(s.d_model) +
          ", d_ff: " + n(s.d_ff) + ", max_seq_len: " + n(s.positions) +
          ", dropout: " + number_text(s.dropout) + ", layer_norm_eps: " + number_text(s.eps) +
          "}\n";
  yaml += "train: {batch_size: 8, seq_len: " + n(s.positions) +
          ", max_steps: 1000, optimizer: {lr: 5.0e-5}}\n";
  // parse_config validates the values (positive sizes, heads dividing the width, ...).
  return parse_config(yaml, config_path + " (as a kiln config)");
}

Tokenizer read_tokenizer(const std::string& dir, const Config& config) {
  if (config.model.arch == "gpt")
    return Tokenizer(
        BpeTokenizer::from_files(path_in(dir, "vocab.json"), path_in(dir, "merges.txt")));
  return Tokenizer(
      WordPieceTokenizer::from_vocab_file(path_in(dir, "vocab.txt"), config.data.lowercase));
}

// ---- the model of a config ----------------------------------------------------------------

struct Model {
  std::unique_ptr<nn::Gpt> gpt;
  std::unique_ptr<nn::Bert> bert;
  nn::Module& module() const { return gpt ? static_cast<nn::Module&>(*gpt) : *bert; }
};

Model build_model(const Config& config, const Tokenizer& tokenizer, uint64_t seed) {
  Model m;
  if (config.model.arch == "gpt") {
    m.gpt = std::make_unique<nn::Gpt>(gpt_config_for(config, tokenizer.vocab_size()), seed);
  } else {
    const WordPieceTokenizer* wordpiece = tokenizer.as<WordPieceTokenizer>();
    KILN_CHECK(wordpiece != nullptr, "bert: expected a wordpiece tokenizer, got ",
               tokenizer.kind());
    m.bert = std::make_unique<nn::Bert>(bert_config_for(config, *wordpiece), seed);
  }
  return m;
}

// ---- safetensors keys -> kiln parameters --------------------------------------------------

enum class KeyKind { kParameter, kBuffer, kTiedCopy };
struct MappedKey {
  KeyKind kind;
  std::string name;  // the kiln parameter (for a tied copy: the one it copies)
};

MappedKey map_gpt_key(const std::string& key) {
  static const std::regex buffer(R"(h\.[0-9]+\.attn\.(bias|masked_bias))");
  if (key == "lm_head.weight") return {KeyKind::kTiedCopy, "transformer.wte.weight"};
  const std::string bare = key.starts_with("transformer.") ? key.substr(12) : key;
  if (std::regex_match(bare, buffer)) return {KeyKind::kBuffer, ""};  // the causal mask
  return {KeyKind::kParameter, "transformer." + bare};
}

MappedKey map_bert_key(std::string key) {
  // TensorFlow-era checkpoints call layer-norm parameters gamma and beta.
  if (key.ends_with("LayerNorm.gamma")) key.replace(key.size() - 5, 5, "weight");
  if (key.ends_with("LayerNorm.beta")) key.replace(key.size() - 4, 4, "bias");
  if (key == "cls.predictions.decoder.weight")
    return {KeyKind::kTiedCopy, "bert.embeddings.word_embeddings.weight"};
  if (key == "cls.predictions.decoder.bias") return {KeyKind::kTiedCopy, "cls.predictions.bias"};
  if (key.starts_with("cls.")) return {KeyKind::kParameter, key};
  const std::string bare = key.starts_with("bert.") ? key.substr(5) : key;
  if (bare == "embeddings.position_ids" || bare == "embeddings.token_type_ids")
    return {KeyKind::kBuffer, ""};
  return {KeyKind::kParameter, "bert." + bare};
}

std::string shape_of(const std::vector<int64_t>& shape) {
  return shape_str(Shape(shape.begin(), shape.end()));
}

// Copies every tensor of `reader` into the parameter it names; returns what it did.
HfImportSummary copy_tensors(const SafetensorsReader& reader, const nn::ParameterArena& arena,
                             bool gpt) {
  std::map<std::string, Tensor> params(arena.named_parameters().begin(),
                                       arena.named_parameters().end());
  std::map<std::string, std::string> source_of;  // kiln name -> the file key it came from
  HfImportSummary summary;
  auto check_shape = [&](const SafetensorsEntry& e, const Tensor& t) {
    KILN_CHECK(Shape(e.shape.begin(), e.shape.end()) == t.shape(), reader.path(), ": tensor '",
               e.name, "': expected shape ", shape_str(t.shape()), " (from config.json), got ",
               shape_of(e.shape));
  };
  std::vector<std::pair<const SafetensorsEntry*, std::string>> tied;
  for (const SafetensorsEntry& e : reader.entries()) {
    MappedKey m = gpt ? map_gpt_key(e.name) : map_bert_key(e.name);
    if (m.kind == KeyKind::kBuffer) {
      summary.skipped.push_back(e.name);
      continue;
    }
    if (m.kind == KeyKind::kTiedCopy) {
      tied.emplace_back(&e, m.name);  // after the originals, whatever the file order
      continue;
    }
    auto it = params.find(m.name);
    KILN_CHECK(it != params.end(), reader.path(), ": expected only ", gpt ? "GPT-2" : "BERT",
               " parameters and buffers, got the unexpected key '", e.name, "'");
    auto [previous, inserted] = source_of.emplace(m.name, e.name);
    KILN_CHECK(inserted, reader.path(), ": expected one tensor for '", m.name, "', got both '",
               previous->second, "' and '", e.name, "'");
    check_shape(e, it->second);
    std::vector<float> values = reader.read_floats(e.name);
    std::memcpy(it->second.data(), values.data(), values.size() * sizeof(float));
    ++summary.tensors_copied;
  }
  // A tied copy must equal its original; when the original is absent it stands in for it.
  for (const auto& [e, original] : tied) {
    const Tensor& t = params.at(original);
    check_shape(*e, t);
    std::vector<float> values = reader.read_floats(e->name);
    if (source_of.count(original) > 0) {
      KILN_CHECK(std::memcmp(values.data(), t.data(), values.size() * sizeof(float)) == 0,
                 reader.path(), ": tensor '", e->name, "': expected a copy of '",
                 source_of[original], "' (tied weights), got different values");
      summary.skipped.push_back(e->name);
    } else {
      std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
      source_of[original] = e->name;
      ++summary.tensors_copied;
    }
  }
  for (const auto& [name, t] : arena.named_parameters())
    if (source_of.count(name) == 0) summary.initialised.push_back(name);
  return summary;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  KILN_CHECK(out, path, ": expected to write ", text.size(), " bytes, got an I/O error");
}

// ---- kiln Config -> config.json -----------------------------------------------------------

// HF's config.json for the model; keys sorted, as PretrainedConfig.to_json_string writes them.
Value hf_config(const Config& config, const Tokenizer& tokenizer) {
  const ModelConfig& m = config.model;
  const Value dropout = Value::number(m.dropout);
  Value c = Value::object();
  if (m.arch == "gpt") {
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
  const nn::BertConfig b = bert_config_for(config, *tokenizer.as<WordPieceTokenizer>());
  c.set("architectures", Value::array({Value::string("BertForPreTraining")}));
  c.set("attention_probs_dropout_prob", dropout);
  c.set("hidden_act", Value::string("gelu"));
  c.set("hidden_dropout_prob", dropout);
  c.set("hidden_size", Value::integer(b.d_model));
  c.set("initializer_range", Value::number(0.02));
  c.set("intermediate_size", Value::integer(b.d_ff == 0 ? 4 * b.d_model : b.d_ff));
  c.set("layer_norm_eps", Value::number(m.layer_norm_eps));
  c.set("max_position_embeddings", Value::integer(b.max_position));
  c.set("model_type", Value::string("bert"));
  c.set("num_attention_heads", Value::integer(b.n_head));
  c.set("num_hidden_layers", Value::integer(b.n_layer));
  c.set("pad_token_id", Value::integer(b.pad_token_id));
  c.set("position_embedding_type", Value::string("absolute"));
  c.set("tie_word_embeddings", Value::boolean(true));
  c.set("torch_dtype", Value::string("float32"));
  c.set("type_vocab_size", Value::integer(b.type_vocab_size));
  c.set("vocab_size", Value::integer(b.vocab_size));
  return c;
}

// ---- forward inputs -----------------------------------------------------------------------

// Dataset `name` as int32 [B, T] with every value in [low, high).
Tensor read_ids(const Hdf5File& file, const std::string& name, const Shape* like, int64_t low,
                int64_t high) {
  Tensor t = file.read_tensor(name);
  KILN_CHECK(t.dtype() == DType::kI32 && t.rank() == 2 && (like == nullptr || t.shape() == *like),
             file.path(), ": ", name, ": expected integers of shape ",
             like ? shape_str(*like) : std::string("[batch, seq]"), ", got ", dtype_name(t.dtype()),
             " ", shape_str(t.shape()));
  const int32_t* v = t.ints();
  for (int64_t i = 0; i < t.numel(); ++i)
    KILN_CHECK(v[i] >= low && v[i] < high, file.path(), ": ", name, ": expected values in [", low,
               ", ", high, "), got ", v[i], " at [", i / t.dim(1), ", ", i % t.dim(1), "]");
  return t;
}

}  // namespace

HfImportSummary import_hf(const std::string& dir, const std::string& out_path, uint64_t seed) {
  const std::string config_path = path_in(dir, "config.json");
  const Value hf = json::parse(read_text_file(config_path), config_path);
  const Config config = kiln_config(hf, dir, config_path, seed);
  const bool gpt = config.model.arch == "gpt";
  const Tokenizer tokenizer = read_tokenizer(dir, config);

  Model model = build_model(config, tokenizer, derive_seed(seed, kModelInitStream));
  nn::ParameterArena arena(model.module());
  SafetensorsReader reader(path_in(dir, "model.safetensors"));
  HfImportSummary summary = copy_tensors(reader, arena, gpt);
  summary.arch = config.model.arch;

  const fs::path parent = fs::path(out_path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  CheckpointState state;
  state.config_yaml = to_yaml(config);
  state.tokenizer = tokenizer.serialize();
  save_checkpoint(out_path, arena, nullptr, state);
  return summary;
}

void export_hf(const std::string& checkpoint_path, const std::string& out_dir) {
  const Checkpoint checkpoint = load_checkpoint(checkpoint_path);
  const Config config = parse_config(checkpoint.state.config_yaml, checkpoint_path + ":/config");
  const Tokenizer tokenizer = Tokenizer::from_serialized(checkpoint.state.tokenizer);
  KILN_CHECK(tokenizer.kind() == "bpe" || tokenizer.kind() == "wordpiece",
             "export-hf: expected a bpe or wordpiece tokenizer, got ", tokenizer.kind());
  // Restoring into a model built from the config checks every name and shape first.
  Model model = build_model(config, tokenizer, 0);
  nn::ParameterArena arena(model.module());
  restore_checkpoint(checkpoint, arena, nullptr);

  fs::create_directories(out_dir);
  write_text(path_in(out_dir, "config.json"), json::write(hf_config(config, tokenizer), 2) + "\n");
  std::vector<SafetensorsTensor> tensors;
  std::vector<std::string> bytes;                        // kept alive until written
  const auto named = model.module().named_parameters();  // HF's module order; tied: once
  bytes.reserve(named.size());
  for (const auto& [name, t] : named) {
    bytes.push_back(encode_floats(t.to_floats(), "F32"));
    tensors.push_back(
        {name, "F32", std::vector<int64_t>(t.shape().begin(), t.shape().end()), bytes.back()});
  }
  // transformers refuses safetensors files without this metadata.
  write_safetensors(path_in(out_dir, "model.safetensors"), tensors, {{"format", "pt"}});

  Value tokenizer_config = Value::object();
  if (const BpeTokenizer* bpe = tokenizer.as<BpeTokenizer>()) {
    write_text(path_in(out_dir, "vocab.json"), bpe->to_vocab_json());
    write_text(path_in(out_dir, "merges.txt"), bpe->to_merges_txt());
    tokenizer_config.set("model_max_length", Value::integer(config.model.max_seq_len));
    tokenizer_config.set("tokenizer_class", Value::string("GPT2Tokenizer"));
  } else {
    const WordPieceTokenizer* wordpiece = tokenizer.as<WordPieceTokenizer>();
    std::string vocab;
    for (const std::string& token : wordpiece->tokens()) vocab += token + "\n";
    write_text(path_in(out_dir, "vocab.txt"), vocab);
    tokenizer_config.set("do_lower_case", Value::boolean(wordpiece->lowercase()));
    tokenizer_config.set("model_max_length", Value::integer(config.model.max_seq_len));
    tokenizer_config.set("tokenizer_class", Value::string("BertTokenizer"));
  }
  write_text(path_in(out_dir, "tokenizer_config.json"), json::write(tokenizer_config, 2) + "\n");
}

void run_forward(const std::string& checkpoint_path, const std::string& input_path,
                 const std::string& output_path) {
  const Checkpoint checkpoint = load_checkpoint(checkpoint_path);
  const Config config = parse_config(checkpoint.state.config_yaml, checkpoint_path + ":/config");
  const Tokenizer tokenizer = Tokenizer::from_serialized(checkpoint.state.tokenizer);
  Model model = build_model(config, tokenizer, 0);
  nn::ParameterArena arena(model.module());
  restore_checkpoint(checkpoint, arena, nullptr);
  model.module().train(false);
  NoGradGuard no_grad;

  const Hdf5File in(input_path, Hdf5File::Mode::kRead);
  const int64_t vocab =
      model.gpt ? model.gpt->config().vocab_size : model.bert->config().vocab_size;
  const Tensor ids = read_ids(in, "/input_ids", nullptr, 0, vocab);
  Hdf5File out(output_path, Hdf5File::Mode::kCreate);
  if (model.gpt) {
    out.write_tensor("/logits", model.gpt->forward(ids));  // [B, T, V]
  } else {
    const int64_t types = model.bert->config().type_vocab_size;
    const Tensor token_types = in.has("/token_type_ids")
                                   ? read_ids(in, "/token_type_ids", &ids.shape(), 0, types)
                                   : Tensor();
    const Tensor mask =
        in.has("/attention_mask") ? read_ids(in, "/attention_mask", &ids.shape(), 0, 2) : Tensor();
    const nn::BertOutput o = model.bert->forward(ids, token_types, mask);
    out.write_tensor("/logits", model.bert->mlm_logits_all(o.last_hidden_state));  // [B, T, V]
    out.write_tensor("/last_hidden_state", o.last_hidden_state);                   // [B, T, d]
    out.write_tensor("/pooled", o.pooled);                                         // [B, d]
    out.write_tensor("/nsp_logits", model.bert->nsp_logits(o.pooled));             // [B, 2]
  }
  out.close();
}

}  // namespace kiln
