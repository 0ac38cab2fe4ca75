// Import from and export to Hugging Face model folders, and the forward pass on HDF5 inputs.
// kiln's parameter names and shapes are already HF's, so both directions are name-for-name
// copies; the work here is key spellings HF has used over time, and checks (config.json is
// train/hf_config.cpp).
#include "train/hf_import.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/rng.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "io/atomic_write.h"
#include "io/hdf5_file.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "nn/bert.h"
#include "nn/gpt.h"
#include "nn/parameter_arena.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/hdf5_tensor.h"
#include "train/hf_config.h"
#include "train/registry.h"

namespace kiln {
namespace {
namespace fs = std::filesystem;
using json::Value;

Tokenizer read_tokenizer(const std::string& dir, const Config& config) {
  if (config.model.arch == Arch::kMarian) {
    // Marian's own tokenizers are SentencePiece models, which kiln does not implement.
    const bool bpe =
        fs::exists(path_in(dir, "vocab.json")) && fs::exists(path_in(dir, "merges.txt"));
    KILN_CHECK(
        bpe || !(fs::exists(path_in(dir, "source.spm")) || fs::exists(path_in(dir, "target.spm"))),
        dir,
        ": expected a byte-level BPE tokenizer (vocab.json + merges.txt), got "
        "SentencePiece files only (source.spm/target.spm), which kiln cannot read");
  }
  if (config.model.arch == Arch::kGpt || config.model.arch == Arch::kMarian)
    return Tokenizer(
        BpeTokenizer::from_files(path_in(dir, "vocab.json"), path_in(dir, "merges.txt")));
  return Tokenizer(
      WordPieceTokenizer::from_vocab_file(path_in(dir, "vocab.txt"), config.data.lowercase));
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

// MarianMTModel's keys: the shared embedding's three tied aliases, and the sinusoidal position
// tables (computed, not parameters).
MappedKey map_marian_key(const std::string& key) {
  if (key == "model.encoder.embed_tokens.weight" || key == "model.decoder.embed_tokens.weight" ||
      key == "lm_head.weight")
    return {KeyKind::kTiedCopy, "model.shared.weight"};
  if (key == "model.encoder.embed_positions.weight" ||
      key == "model.decoder.embed_positions.weight")
    return {KeyKind::kBuffer, ""};
  return {KeyKind::kParameter, key};
}

// BertForPreTraining's keys, or with `classifier` BertForSequenceClassification's (whose
// cls.* keys, having no parameters to go to, are unexpected).
MappedKey map_bert_key(std::string key, bool classifier) {
  // TensorFlow-era checkpoints call layer-norm parameters gamma and beta.
  if (key.ends_with("LayerNorm.gamma")) key.replace(key.size() - 5, 5, "weight");
  if (key.ends_with("LayerNorm.beta")) key.replace(key.size() - 4, 4, "bias");
  if (!classifier && key == "cls.predictions.decoder.weight")
    return {KeyKind::kTiedCopy, "bert.embeddings.word_embeddings.weight"};
  if (!classifier && key == "cls.predictions.decoder.bias")
    return {KeyKind::kTiedCopy, "cls.predictions.bias"};
  if (key.starts_with("cls.") || key.starts_with("classifier.")) return {KeyKind::kParameter, key};
  const std::string bare = key.starts_with("bert.") ? key.substr(5) : key;
  if (bare == "embeddings.position_ids" || bare == "embeddings.token_type_ids")
    return {KeyKind::kBuffer, ""};
  return {KeyKind::kParameter, "bert." + bare};
}

// A weight with a NaN or infinity is damaged: refuse the file, naming the tensor.
void check_finite(const std::string& path, const std::string& name,
                  const std::vector<float>& values) {
  for (std::size_t i = 0; i < values.size(); ++i)
    KILN_CHECK(std::isfinite(values[i]), path, ": tensor '", name,
               "': expected finite values, got ", values[i], " at element ", i);
}

std::string shape_of(const std::vector<int64_t>& shape) {
  return shape_str(Shape(shape.begin(), shape.end()));
}

// Copies every tensor of `reader` into the parameter it names in the model of `arch`; returns
// what it did.
HfImportSummary copy_tensors(const SafetensorsReader& reader, const nn::ParameterArena& arena,
                             Arch arch) {
  const bool gpt = arch == Arch::kGpt, marian = arch == Arch::kMarian;
  const char* model_name = gpt                   ? "GPT-2"
                           : marian              ? "MarianMTModel"
                           : arch == Arch::kBert ? "BERT"
                                                 : "BertForSequenceClassification";
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
    MappedKey m = gpt      ? map_gpt_key(e.name)
                  : marian ? map_marian_key(e.name)
                           : map_bert_key(e.name, arch == Arch::kBertClassifier);
    if (m.kind == KeyKind::kBuffer) {
      summary.skipped.push_back(e.name);
      continue;
    }
    if (m.kind == KeyKind::kTiedCopy) {
      tied.emplace_back(&e, m.name);  // after the originals, whatever the file order
      continue;
    }
    auto it = params.find(m.name);
    KILN_CHECK(it != params.end(), reader.path(), ": expected only ", model_name,
               " parameters and buffers, got the unexpected key '", e.name, "'");
    auto [previous, inserted] = source_of.emplace(m.name, e.name);
    KILN_CHECK(inserted, reader.path(), ": expected one tensor for '", m.name, "', got both '",
               previous->second, "' and '", e.name, "'");
    check_shape(e, it->second);
    std::vector<float> values = reader.read_floats(e.name);
    check_finite(reader.path(), e.name, values);
    std::memcpy(it->second.data(), values.data(), values.size() * sizeof(float));
    ++summary.tensors_copied;
  }
  // A tied copy must equal its original; when the original is absent it stands in for it.
  for (const auto& [e, original] : tied) {
    const Tensor& t = params.at(original);
    check_shape(*e, t);
    std::vector<float> values = reader.read_floats(e->name);
    check_finite(reader.path(), e->name, values);
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
  // Only task heads may be missing (a BertModel has no cls.*, a BertForMaskedLM no pooler): they
  // start from the seed. A missing body weight means a damaged or mislabelled file.
  for (const auto& [name, t] : arena.named_parameters()) {
    if (source_of.count(name) > 0) continue;
    // HF's Marian final_logits_bias is a buffer of zeros, which kiln's initialisation is.
    const bool head = name.starts_with("cls.") || name.starts_with("classifier.") ||
                      name.starts_with("bert.pooler.") || name == "final_logits_bias";
    KILN_CHECK(head, reader.path(), ": expected a tensor for '", name, "' (", model_name,
               " has no default for it), got none");
    summary.initialised.push_back(name);
  }
  return summary;
}

void write_text(const std::string& path, const std::string& text) {
  io::atomic_write(path, text);
}

// ---- forward inputs -----------------------------------------------------------------------

// Dataset `name` as int32 [B, T] with every value in [low, high).
Tensor read_ids(const Hdf5File& file, const std::string& name, const Shape* like, int64_t low,
                int64_t high) {
  Tensor t = read_tensor(file, name);
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
  KILN_CHECK(fs::is_regular_file(config_path), dir,
             ": expected a Hugging Face model folder with config.json, got none");
  const Value hf = json::parse(read_text_file(config_path), config_path);
  const Config config = kiln_config(hf, dir, config_path, seed);
  const Tokenizer tokenizer = read_tokenizer(dir, config);

  Model model = build_model(config, tokenizer, seed);
  if (model.marian) {  // kiln finds pad and eos by their tokens: config.json must agree
    const nn::MarianConfig& k = model.marian->config();
    for (const auto& [key, id] : {std::pair<const char*, int64_t>{"pad_token_id", k.pad_token_id},
                                  {"eos_token_id", k.eos_token_id}})
      KILN_CHECK(hf.at(key).as_int() == id, config_path, ": ", key, ": expected ", id,
                 " (the id of that token in vocab.json), got ", hf.at(key).describe());
  }
  nn::ParameterArena arena(model.module());
  SafetensorsReader reader(path_in(dir, "model.safetensors"));
  HfImportSummary summary = copy_tensors(reader, arena, config.model.arch);
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
  // Restoring into a model built from the config checks every name and shape first.
  const LoadedModel loaded = load_model(checkpoint_path);
  const Config& config = loaded.config;
  const Tokenizer& tokenizer = loaded.tokenizer;
  const Model& model = loaded.model;
  KILN_CHECK(tokenizer.kind() == "bpe" || tokenizer.kind() == "wordpiece",
             "export-hf: expected a bpe or wordpiece tokenizer, got ", tokenizer.kind());

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
    if (model.marian) {
      tokenizer_config.set("eos_token",
                           Value::string(bpe->token(int32_t(model.marian->config().eos_token_id))));
      tokenizer_config.set("pad_token",
                           Value::string(bpe->token(int32_t(model.marian->config().pad_token_id))));
    }
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
  const LoadedModel loaded = load_model(checkpoint_path);  // in evaluation mode
  const Model& model = loaded.model;
  NoGradGuard no_grad;

  const Hdf5File in(input_path, Hdf5File::Mode::kRead);
  const Tensor ids = read_ids(in, "/input_ids", nullptr, 0, model.vocab_size());
  Hdf5File out(output_path, Hdf5File::Mode::kCreate);
  if (model.marian) {
    const Tensor mask =
        in.has("/attention_mask") ? read_ids(in, "/attention_mask", &ids.shape(), 0, 2) : Tensor();
    const Tensor decoder_ids = read_ids(in, "/decoder_input_ids", nullptr, 0, model.vocab_size());
    KILN_CHECK(decoder_ids.dim(0) == ids.dim(0), input_path, ": /decoder_input_ids: expected ",
               ids.dim(0), " rows (as /input_ids), got ", decoder_ids.dim(0));
    const Tensor encoder = model.marian->encode(ids, mask);
    write_tensor(out, "/logits", model.marian->decode(decoder_ids, encoder, mask));  // [B, T, V]
    write_tensor(out, "/encoder_last_hidden_state", encoder);                        // [B, S, d]
  } else if (model.gpt) {
    write_tensor(out, "/logits", model.gpt->forward(ids));  // [B, T, V]
  } else {
    const int64_t types = model.bert ? model.bert->config().type_vocab_size
                                     : model.classifier->config().type_vocab_size;
    const Tensor token_types = in.has("/token_type_ids")
                                   ? read_ids(in, "/token_type_ids", &ids.shape(), 0, types)
                                   : Tensor();
    const Tensor mask =
        in.has("/attention_mask") ? read_ids(in, "/attention_mask", &ids.shape(), 0, 2) : Tensor();
    if (model.classifier) {
      const nn::BertOutput o = model.classifier->encode(ids, token_types, mask);
      write_tensor(out, "/logits", model.classifier->classify(o.pooled));  // [B, num_labels]
      write_tensor(out, "/last_hidden_state", o.last_hidden_state);        // [B, T, d]
      write_tensor(out, "/pooled", o.pooled);                              // [B, d]
    } else {
      const nn::BertOutput o = model.bert->forward(ids, token_types, mask);
      write_tensor(out, "/logits", model.bert->mlm_logits_all(o.last_hidden_state));  // [B, T, V]
      write_tensor(out, "/last_hidden_state", o.last_hidden_state);                   // [B, T, d]
      write_tensor(out, "/pooled", o.pooled);                                         // [B, d]
      write_tensor(out, "/nsp_logits", model.bert->nsp_logits(o.pooled));             // [B, 2]
    }
  }
  out.close();
}

}  // namespace kiln
