// Hugging Face import/export and `kiln forward`: tiny GPT-2, BERT and BERT classifier folders
// written here (F32 and F16, with and without prefixes, tied copies and buffers, legacy
// gamma/beta names) are imported, and forward's outputs are checked against a plain-loop
// double-precision reference written from the HF architecture, independent of kiln's model
// code. Export then import is bit-identical; every malformed input has its message checked.
#include "train/hf_import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "base/error.h"
#include "data/bpe.h"
#include "data/char_tokenizer.h"
#include "data/tokenizer.h"
#include "io/hdf5_file.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "nn/bert.h"
#include "nn/gpt.h"
#include "nn/parameter_arena.h"
#include "tests/error_of.h"
#include "tests/reference_models.h"
#include "tests/scratch_dir.h"
#include "train/checkpoint.h"
#include "train/classify_task.h"
#include "train/config.h"
#include "train/gpt_task.h"
#include "train/hdf5_tensor.h"
#include "train/registry.h"

namespace kiln {
namespace {
namespace fs = std::filesystem;

// ---- tiny models (tests/reference_models.h) in this test's sizes -----------------------------

using reference::BertOutputs;
using reference::Dims;
using reference::Param;
using reference::ParamMaker;
using reference::Params;
using reference::Vec;

// GPT: 256 bytes + 2 merges + <|endoftext|> = 259 tokens, one spare row; n_inner null = 4d.
constexpr Dims kGpt{260, 32, 16, 2, 2, 64};
// BERT: a 30-token vocab.txt; intermediate_size deliberately not 4d.
constexpr Dims kBert{30, 24, 16, 2, 2, 40};

Params gpt_params(uint32_t seed) {
  return reference::gpt_params(kGpt, seed);
}
Params bert_params(uint32_t seed) {
  return reference::bert_params(kBert, seed);
}
Vec gpt_reference(const Params& p, const std::vector<int32_t>& ids) {
  return reference::gpt_forward(p, kGpt, ids);
}
BertOutputs bert_reference(const Params& p, const std::vector<int32_t>& ids,
                           const std::vector<int32_t>& types, const std::vector<int32_t>& mask) {
  return reference::bert_forward(p, kBert, ids, types, mask);
}

// BertForSequenceClassification with kLabels classes: bert_params(seed)'s encoder (its cls.*
// heads dropped) and a classifier [kLabels, d] + [kLabels].
constexpr int kLabels = 3;
Params classifier_params(uint32_t seed) {
  Params p;
  for (const auto& [name, param] : bert_params(seed))
    if (!name.starts_with("cls.")) p[name] = param;
  ParamMaker make(seed + 1000);
  make.matrix(p, "classifier.weight", kLabels, kBert.d);
  make.bias(p, "classifier.bias", kLabels);
  return p;
}

// ---- writing HF folders --------------------------------------------------------------------

struct FolderOptions {
  std::string dtype = "F32";
  bool prefix = true;                  // "transformer." / "bert." on the base model's keys
  bool tied_copies = false;            // lm_head.weight / cls.predictions.decoder.{weight,bias}
  bool buffers = false;                // attn.bias, attn.masked_bias / embeddings.position_ids
  bool legacy_names = false;           // LayerNorm.gamma / LayerNorm.beta
  std::vector<std::string> leave_out;  // canonical-name prefixes not written ("cls.")
};

// The values as they will be stored: rounded through F16 / BF16 when that is the dtype.
void round_to_dtype(Params& p, const std::string& dtype) {
  for (auto& [name, param] : p)
    for (float& x : param.values)
      x = dtype == "F16"    ? half_to_float(float_to_half(x))
          : dtype == "BF16" ? bfloat16_to_float(float_to_bfloat16(x))
                            : x;
}

bool left_out(const std::string& name, const FolderOptions& o) {
  for (const std::string& prefix : o.leave_out)
    if (name.starts_with(prefix)) return true;
  return false;
}

// Writes `dir`/model.safetensors from `p` (already rounded to o.dtype) in the file spelling
// `key_of` gives each canonical name, plus `extra` tensors.
void write_model(const fs::path& dir, const Params& p, const FolderOptions& o,
                 const std::function<std::string(const std::string&)>& key_of,
                 std::vector<SafetensorsTensor> extra) {
  std::deque<std::string> bytes;
  std::vector<SafetensorsTensor> tensors = std::move(extra);
  for (const auto& [name, param] : p) {
    if (left_out(name, o)) continue;
    bytes.push_back(encode_floats(param.values, o.dtype));
    tensors.push_back({key_of(name), o.dtype, param.shape, bytes.back()});
  }
  write_safetensors((dir / "model.safetensors").string(), tensors, {{"format", "pt"}});
}

BpeTokenizer tiny_bpe() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, static_cast<char>(b));
  tokens.push_back("ab");
  tokens.push_back("abc");
  tokens.push_back(std::string(kEndOfText));
  return BpeTokenizer::from_tokens(tokens, {{'a', 'b'}, {256, 'c'}});
}

const std::vector<std::string>& bert_vocab() {
  static const std::vector<std::string> vocab = {
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a",    "cat",  "dog",   "sat",
      "on",    "mat",   "ran",   "to",    "house",  "##s", "##ed", "big",  "small", "red",
      "blue",  "and",   "it",    "was",   "good",   ".",   ",",    "##ly", "quick", "slow"};
  return vocab;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string gpt_config_json() {
  return R"({"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
  "attn_pdrop": 0.1, "embd_pdrop": 0.1, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
  "n_ctx": 32, "n_embd": 16, "n_head": 2, "n_inner": null, "n_layer": 2, "n_positions": 32,
  "resid_pdrop": 0.1, "scale_attn_weights": true, "vocab_size": 260})";
}

std::string bert_config_json() {
  return R"({"architectures": ["BertForPreTraining"], "attention_probs_dropout_prob": 0.1,
  "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 16,
  "intermediate_size": 40, "layer_norm_eps": 1e-12, "max_position_embeddings": 24,
  "model_type": "bert", "num_attention_heads": 2, "num_hidden_layers": 2, "pad_token_id": 0,
  "position_embedding_type": "absolute", "type_vocab_size": 2, "vocab_size": 30})";
}

// A BertForSequenceClassification's config.json: id2label in a key order other than id order,
// so that import must sort by id (labels: sports, news, arts).
std::string classifier_config_json() {
  std::string text = bert_config_json();
  const std::string from = R"("architectures": ["BertForPreTraining"],)";
  text.replace(text.find(from), from.size(),
               R"("architectures": ["BertForSequenceClassification"],
  "id2label": {"0": "sports", "2": "arts", "1": "news"},
  "label2id": {"arts": 2, "news": 1, "sports": 0},)");
  return text;
}

void write_gpt_folder(const fs::path& dir, const Params& p, const FolderOptions& o) {
  fs::create_directories(dir);
  write_file(dir / "config.json", gpt_config_json());
  const BpeTokenizer bpe = tiny_bpe();
  write_file(dir / "vocab.json", bpe.to_vocab_json());
  write_file(dir / "merges.txt", bpe.to_merges_txt());
  auto key_of = [&](const std::string& name) { return o.prefix ? name : name.substr(12); };
  std::vector<SafetensorsTensor> extra;
  static std::deque<std::string> keep;  // bytes of the extra tensors outlive this call
  if (o.tied_copies) {
    keep.push_back(encode_floats(p.at("transformer.wte.weight").values, o.dtype));
    extra.push_back({"lm_head.weight", o.dtype, {kGpt.V, kGpt.d}, keep.back()});
  }
  if (o.buffers) {
    for (int l = 0; l < kGpt.L; ++l) {
      const std::string h = key_of("transformer.h." + std::to_string(l) + ".attn.");
      std::string mask(static_cast<size_t>(kGpt.P * kGpt.P), '\0');
      for (int i = 0; i < kGpt.P; ++i)
        for (int j = 0; j <= i; ++j) mask[i * kGpt.P + j] = 1;
      keep.push_back(mask);
      extra.push_back({h + "bias", "BOOL", {1, 1, kGpt.P, kGpt.P}, keep.back()});
      keep.push_back(encode_floats({-1e4f}, "F32"));
      extra.push_back({h + "masked_bias", "F32", {}, keep.back()});
    }
  }
  write_model(dir, p, o, key_of, extra);
}

void write_bert_folder(const fs::path& dir, const Params& p, const FolderOptions& o,
                       const std::string& tokenizer_config = "") {
  fs::create_directories(dir);
  write_file(dir / "config.json", bert_config_json());
  std::string vocab;
  for (const std::string& token : bert_vocab()) vocab += token + "\n";
  write_file(dir / "vocab.txt", vocab);
  if (!tokenizer_config.empty()) write_file(dir / "tokenizer_config.json", tokenizer_config);
  auto key_of = [&](std::string name) {
    if (!o.prefix && name.starts_with("bert.")) name = name.substr(5);
    if (o.legacy_names && name.ends_with("LayerNorm.weight"))
      name.replace(name.size() - 6, 6, "gamma");
    if (o.legacy_names && name.ends_with("LayerNorm.bias"))
      name.replace(name.size() - 4, 4, "beta");
    return name;
  };
  std::vector<SafetensorsTensor> extra;
  static std::deque<std::string> keep;
  if (o.tied_copies) {
    keep.push_back(encode_floats(p.at("bert.embeddings.word_embeddings.weight").values, o.dtype));
    extra.push_back({"cls.predictions.decoder.weight", o.dtype, {kBert.V, kBert.d}, keep.back()});
    keep.push_back(encode_floats(p.at("cls.predictions.bias").values, o.dtype));
    extra.push_back({"cls.predictions.decoder.bias", o.dtype, {kBert.V}, keep.back()});
  }
  if (o.buffers) {
    std::string ids(static_cast<size_t>(kBert.P) * 8, '\0');
    for (int64_t i = 0; i < kBert.P; ++i) std::memcpy(ids.data() + 8 * i, &i, 8);
    keep.push_back(ids);
    extra.push_back({key_of("bert.embeddings.position_ids"), "I64", {1, kBert.P}, keep.back()});
  }
  write_model(dir, p, o, key_of, extra);
}

// write_bert_folder with `config_json` as config.json.
void write_classifier_folder(const fs::path& dir, const Params& p, const FolderOptions& o,
                             const std::string& config_json = classifier_config_json()) {
  write_bert_folder(dir, p, o);
  write_file(dir / "config.json", config_json);
}

// ---- the fixture ---------------------------------------------------------------------------

class HfImportTest : public ScratchDirTest {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes IN.h5 with /input_ids [B, T] (and BERT's optional inputs), runs forward, returns
  // the output file's path.
  std::string forward(const std::string& checkpoint, const std::vector<int32_t>& ids, int B,
                      const std::vector<int32_t>& types = {},
                      const std::vector<int32_t>& mask = {}) {
    const int64_t T = static_cast<int64_t>(ids.size()) / B;
    {
      Hdf5File in(path("in.h5"), Hdf5File::Mode::kCreate);
      write_tensor(in, "/input_ids", Tensor::from_ints({B, T}, ids));
      if (!types.empty()) write_tensor(in, "/token_type_ids", Tensor::from_ints({B, T}, types));
      if (!mask.empty()) write_tensor(in, "/attention_mask", Tensor::from_ints({B, T}, mask));
    }
    run_forward(checkpoint, path("in.h5"), path("out.h5"));
    return path("out.h5");
  }
};

// Every element of `got` (row `row` of size want.size() within it) within tol of `want`.
void expect_close(const Tensor& got, int64_t offset, const Vec& want, double tol,
                  const std::string& what) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(double(got.data()[offset + i]) - want[i]) /
                                std::max(1.0, std::abs(want[i])));
  EXPECT_LT(worst, tol) << what;
}

// The /model tensors of a checkpoint equal `p` (canonical names) bit for bit.
void expect_model_equals(const std::string& checkpoint, const Params& p,
                         const std::vector<std::string>& except_prefixes = {}) {
  Checkpoint c = load_checkpoint(checkpoint);
  for (const auto& [name, param] : p) {
    bool skip = false;
    for (const std::string& prefix : except_prefixes) skip = skip || name.starts_with(prefix);
    if (skip) continue;
    ASSERT_TRUE(c.model.count(name)) << name;
    const Tensor& t = c.model.at(name);
    ASSERT_EQ(t.shape(), Shape(param.shape.begin(), param.shape.end())) << name;
    EXPECT_EQ(std::memcmp(t.data(), param.values.data(), param.values.size() * 4), 0) << name;
  }
}

const std::vector<int32_t> kGptIds = {1, 256, 257, 258, 97, 259, 12,  //
                                      0, 65,  200, 31,  7,  255, 100};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// ---- GPT -------------------------------------------------------------------------------------

// A folder without config.json is named as such (it used to be reported as a corpus error).
TEST_F(HfImportTest, MissingConfigJsonNamesTheFolder) {
  fs::create_directories(dir_ / "empty");
  EXPECT_EQ(error_of([&] { import_hf(path("empty"), path("out.h5")); }),
            path("empty") + ": expected a Hugging Face model folder with config.json, got none");
}

// Only task heads may be missing from a file; a body weight that is not there is an error
// naming it, not a random initialisation, and no checkpoint is written.
TEST_F(HfImportTest, MissingBodyWeightIsRefusedByName) {
  FolderOptions o;
  o.leave_out = {"transformer.h.1.attn.c_attn.weight"};
  write_gpt_folder(dir_ / "gpt2", gpt_params(1), o);
  EXPECT_EQ(error_of([&] { import_hf(path("gpt2"), path("gpt.h5")); }),
            path("gpt2") +
                "/model.safetensors: expected a tensor for 'transformer.h.1.attn.c_attn.weight' "
                "(GPT-2 has no default for it), got none");
  EXPECT_FALSE(fs::exists(path("gpt.h5")));
}

TEST_F(HfImportTest, GptForwardMatchesReference) {
  const Params p = gpt_params(1);
  FolderOptions o;
  o.tied_copies = o.buffers = true;
  write_gpt_folder(dir_ / "gpt2", p, o);
  HfImportSummary s = import_hf(path("gpt2"), path("gpt.h5"));
  EXPECT_EQ(s.arch, Arch::kGpt);
  EXPECT_EQ(s.tensors_copied, static_cast<int64_t>(p.size()));
  EXPECT_TRUE(s.initialised.empty());
  EXPECT_EQ(
      sorted(s.skipped),
      sorted({"lm_head.weight", "transformer.h.0.attn.bias", "transformer.h.0.attn.masked_bias",
              "transformer.h.1.attn.bias", "transformer.h.1.attn.masked_bias"}));
  expect_model_equals(path("gpt.h5"), p);

  Tensor logits =
      read_tensor(Hdf5File(forward(path("gpt.h5"), kGptIds, 2), Hdf5File::Mode::kRead), "/logits");
  ASSERT_EQ(logits.shape(), (Shape{2, 7, kGpt.V}));
  for (int b = 0; b < 2; ++b) {
    std::vector<int32_t> row(kGptIds.begin() + 7 * b, kGptIds.begin() + 7 * (b + 1));
    expect_close(logits, b * 7 * kGpt.V, gpt_reference(p, row), 1e-4,
                 "batch row " + std::to_string(b));
  }
  // The checkpoint is an ordinary kiln GPT checkpoint: load_model (kiln sample) reads it.
  const LoadedModel loaded = load_model(path("gpt.h5"));
  EXPECT_EQ(loaded.model.arch, Arch::kGpt);
  EXPECT_EQ(loaded.tokenizer.kind(), "bpe");
  EXPECT_EQ(loaded.config.run.name, "imported-gpt2");
  EXPECT_EQ(loaded.config.model.max_seq_len, 32);
  EXPECT_EQ(loaded.config.train.seq_len, 32);
  EXPECT_EQ(loaded.config.model.d_ff, 64);  // n_inner null
}

TEST_F(HfImportTest, GptBareF16KeysImportExactly) {
  Params p = gpt_params(2);
  FolderOptions o;
  o.dtype = "F16";
  o.prefix = false;  // GPT2Model's keys: wte.weight, h.0.attn.c_attn.weight, ...
  round_to_dtype(p, "F16");
  write_gpt_folder(dir_ / "gpt2", p, o);
  HfImportSummary s = import_hf(path("gpt2"), path("gpt.h5"));
  EXPECT_TRUE(s.initialised.empty());  // the head is tied: nothing is missing
  EXPECT_TRUE(s.skipped.empty());
  expect_model_equals(path("gpt.h5"), p);  // half -> float is exact
  Tensor logits =
      read_tensor(Hdf5File(forward(path("gpt.h5"), kGptIds, 1), Hdf5File::Mode::kRead), "/logits");
  expect_close(logits, 0, gpt_reference(p, kGptIds), 1e-4, "F16 weights");
}

// ---- BERT ------------------------------------------------------------------------------------

const std::vector<int32_t> kBertIds = {2, 5,  7, 9,  10, 5,  11, 3, 8, 12, 3, 0,  //
                                       2, 28, 8, 12, 3,  29, 25, 3, 0, 0,  0, 0};
const std::vector<int32_t> kBertTypes = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0,  //
                                         0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0};
const std::vector<int32_t> kBertMask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,  //
                                        1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};

// Checks every BERT output of `out` against the reference for both rows of the inputs above.
void expect_bert_outputs(const std::string& out, const Params& p, bool heads) {
  Hdf5File f(out, Hdf5File::Mode::kRead);
  const int T = 12, d = kBert.d, V = kBert.V;
  Tensor logits = read_tensor(f, "/logits"), hidden = read_tensor(f, "/last_hidden_state"),
         pooled = read_tensor(f, "/pooled"), nsp = read_tensor(f, "/nsp_logits");
  ASSERT_EQ(logits.shape(), (Shape{2, T, V}));
  ASSERT_EQ(hidden.shape(), (Shape{2, T, d}));
  ASSERT_EQ(pooled.shape(), (Shape{2, d}));
  ASSERT_EQ(nsp.shape(), (Shape{2, 2}));
  for (int b = 0; b < 2; ++b) {
    auto row = [&](const std::vector<int32_t>& v) {
      return std::vector<int32_t>(v.begin() + T * b, v.begin() + T * (b + 1));
    };
    BertOutputs r = bert_reference(p, row(kBertIds), row(kBertTypes), row(kBertMask));
    const std::string what = "batch row " + std::to_string(b);
    expect_close(hidden, b * T * d, r.hidden, 1e-4, what + ": last_hidden_state");
    expect_close(logits, b * T * V, r.mlm, 1e-4, what + ": logits");
    if (!heads) continue;
    expect_close(pooled, b * d, r.pooled, 1e-4, what + ": pooled");
    expect_close(nsp, b * 2, r.nsp, 1e-4, what + ": nsp_logits");
  }
}

TEST_F(HfImportTest, BertForPreTrainingForwardMatchesReference) {
  const Params p = bert_params(3);
  FolderOptions o;
  o.tied_copies = o.buffers = true;
  write_bert_folder(dir_ / "bert", p, o);
  HfImportSummary s = import_hf(path("bert"), path("bert.h5"));
  EXPECT_EQ(s.arch, Arch::kBert);
  EXPECT_TRUE(s.initialised.empty());
  EXPECT_EQ(sorted(s.skipped),
            sorted({"bert.embeddings.position_ids", "cls.predictions.decoder.bias",
                    "cls.predictions.decoder.weight"}));
  expect_model_equals(path("bert.h5"), p);
  expect_bert_outputs(forward(path("bert.h5"), kBertIds, 2, kBertTypes, kBertMask), p, true);
}

TEST_F(HfImportTest, BertForMaskedLmLegacyNamesF16WithoutPrefix) {
  Params p = bert_params(4);
  FolderOptions o;
  o.dtype = "F16";
  o.prefix = false;
  o.legacy_names = true;
  o.leave_out = {"bert.pooler.", "cls.seq_relationship."};  // BertForMaskedLM has neither
  round_to_dtype(p, "F16");
  write_bert_folder(dir_ / "bert", p, o, R"({"do_lower_case": false})");
  HfImportSummary s = import_hf(path("bert"), path("bert.h5"));
  EXPECT_EQ(sorted(s.initialised),
            sorted({"bert.pooler.dense.weight", "bert.pooler.dense.bias",
                    "cls.seq_relationship.weight", "cls.seq_relationship.bias"}));
  expect_model_equals(path("bert.h5"), p, o.leave_out);
  // The MLM head does not depend on the pooler, so its logits still match.
  expect_bert_outputs(forward(path("bert.h5"), kBertIds, 2, kBertTypes, kBertMask), p, false);
  Checkpoint c = load_checkpoint(path("bert.h5"));
  EXPECT_EQ(Tokenizer::from_serialized(c.state.tokenizer).as<WordPieceTokenizer>()->lowercase(),
            false);
  EXPECT_NE(c.state.config_yaml.find("lowercase: false"), std::string::npos);
}

TEST_F(HfImportTest, BertModelHeadsAreInitialisedFromTheSeedAndReported) {
  const Params p = bert_params(5);
  FolderOptions o;
  o.prefix = false;
  o.leave_out = {"cls."};  // BertModel: no pre-training heads
  write_bert_folder(dir_ / "bert", p, o);
  HfImportSummary s = import_hf(path("bert"), path("a.h5"), 7);
  EXPECT_EQ(
      sorted(s.initialised),
      sorted({"cls.predictions.bias", "cls.predictions.transform.dense.weight",
              "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
              "cls.predictions.transform.LayerNorm.bias", "cls.seq_relationship.weight",
              "cls.seq_relationship.bias"}));
  import_hf(path("bert"), path("b.h5"), 7);
  import_hf(path("bert"), path("c.h5"), 8);
  Checkpoint a = load_checkpoint(path("a.h5")), b = load_checkpoint(path("b.h5")),
             c = load_checkpoint(path("c.h5"));
  const std::string dense = "cls.predictions.transform.dense.weight";
  EXPECT_EQ(a.model.at(dense).to_floats(), b.model.at(dense).to_floats());  // same seed
  EXPECT_NE(a.model.at(dense).to_floats(), c.model.at(dense).to_floats());
  EXPECT_EQ(a.model.at("cls.predictions.transform.LayerNorm.weight").to_floats(),
            std::vector<float>(kBert.d, 1.0f));  // HF init: unit scale
  EXPECT_NE(a.state.config_yaml.find("seed: 7"), std::string::npos);
  expect_model_equals(path("a.h5"), p, {"cls."});
}

// ---- export ----------------------------------------------------------------------------------

TEST_F(HfImportTest, ExportThenImportIsBitIdentical) {
  write_gpt_folder(dir_ / "gpt2", gpt_params(6), FolderOptions());
  write_bert_folder(dir_ / "bert", bert_params(7), FolderOptions());
  for (const char* model : {"gpt2", "bert"}) {
    const std::string name = model;
    import_hf(path(name), path(name + "-1.h5"));
    export_hf(path(name + "-1.h5"), path(name + "-out"));
    import_hf(path(name + "-out"), path(name + "-2.h5"));
    Checkpoint first = load_checkpoint(path(name + "-1.h5")),
               second = load_checkpoint(path(name + "-2.h5"));
    ASSERT_EQ(first.model.size(), second.model.size()) << name;
    for (const auto& [key, t] : first.model) {
      ASSERT_TRUE(second.model.count(key)) << key;
      EXPECT_EQ(t.shape(), second.model.at(key).shape()) << key;
      EXPECT_EQ(std::memcmp(t.data(), second.model.at(key).data(), t.numel() * 4), 0) << key;
    }
    EXPECT_EQ(first.state.tokenizer, second.state.tokenizer) << name;
    const Config a = parse_config(first.state.config_yaml, "first"),
                 b = parse_config(second.state.config_yaml, "second");
    EXPECT_EQ(a.model, b.model) << name;

    // save_pretrained's layout: F32, HF names, tied copies left out, format metadata.
    SafetensorsReader reader(path(name + "-out") + "/model.safetensors");
    EXPECT_EQ(reader.metadata().at("format"), "pt");
    EXPECT_EQ(reader.entries().size(), first.model.size());
    for (const SafetensorsEntry& e : reader.entries()) EXPECT_EQ(e.dtype, "F32") << e.name;
    EXPECT_EQ(reader.find("lm_head.weight"), nullptr);
    EXPECT_EQ(reader.find("cls.predictions.decoder.weight"), nullptr);
    const json::Value config =
        json::parse(read_text_file(path(name + "-out") + "/config.json"), "config.json");
    EXPECT_EQ(config.at("architectures").as_array()[0].as_string(),
              name == "gpt2" ? "GPT2LMHeadModel" : "BertForPreTraining");
    EXPECT_EQ(config.at("model_type").as_string(), name == "gpt2" ? "gpt2" : "bert");
  }
  const json::Value gpt = json::parse(read_text_file(path("gpt2-out/config.json")), "c");
  EXPECT_EQ(gpt.at("n_inner").as_int(), 64);
  EXPECT_EQ(gpt.at("eos_token_id").as_int(), 258);  // <|endoftext|> of the tiny vocabulary
  EXPECT_DOUBLE_EQ(gpt.at("layer_norm_epsilon").as_number(), 1e-5);
  const json::Value bert = json::parse(read_text_file(path("bert-out/config.json")), "c");
  EXPECT_EQ(bert.at("intermediate_size").as_int(), 40);
  EXPECT_EQ(bert.at("type_vocab_size").as_int(), 2);
  EXPECT_EQ(read_text_file(path("bert-out/vocab.txt")), read_text_file(path("bert/vocab.txt")));
  EXPECT_EQ(read_text_file(path("gpt2-out/merges.txt")), read_text_file(path("gpt2/merges.txt")));
}

TEST_F(HfImportTest, ExportRefusesACharTokenizer) {
  const Config config = parse_config(
      "run: {name: c}\ndata: {train_files: [x.txt]}\n"
      "model: {n_layer: 1, n_head: 1, d_model: 4, max_seq_len: 8}\n"
      "train: {batch_size: 1, seq_len: 8, max_steps: 1, optimizer: {lr: 0.1}}\n",
      "char.yaml");
  const Tokenizer tokenizer(CharTokenizer::from_text("abc"));
  nn::Gpt model(gpt_config_for(config, tokenizer.vocab_size()), 1);
  nn::ParameterArena arena(model);
  save_checkpoint(path("char.h5"), arena, nullptr, {0, 0, to_yaml(config), tokenizer.serialize()});
  EXPECT_EQ(error_of([&] { export_hf(path("char.h5"), path("out")); }),
            "export-hf: expected a bpe or wordpiece tokenizer, got char");
}

// ---- BERT classifier -------------------------------------------------------------------------

// /logits of `out` equal BertForSequenceClassification::forward (eval mode) of `checkpoint` on
// the BERT inputs above, within 1e-5.
void expect_logits_match_model(const std::string& out, const std::string& checkpoint) {
  const LoadedModel c = load_model(checkpoint);  // in evaluation mode
  const Shape shape = {2, 12};
  const Tensor want = c.model.classifier->forward(Tensor::from_ints(shape, kBertIds),
                                                  Tensor::from_ints(shape, kBertTypes),
                                                  Tensor::from_ints(shape, kBertMask));
  const Tensor got = read_tensor(Hdf5File(out, Hdf5File::Mode::kRead), "/logits");
  ASSERT_EQ(got.shape(), (Shape{2, c.config.model.num_labels}));
  ASSERT_EQ(want.shape(), got.shape());
  for (int64_t i = 0; i < got.numel(); ++i)
    EXPECT_NEAR(got.data()[i], want.data()[i], 1e-5) << "logit " << i;
}

TEST_F(HfImportTest, ClassifierForwardMatchesReferenceAndTheModel) {
  const Params p = classifier_params(14);
  FolderOptions o;
  o.buffers = true;
  write_classifier_folder(dir_ / "cls", p, o);
  HfImportSummary s = import_hf(path("cls"), path("cls.h5"));
  EXPECT_EQ(s.arch, Arch::kBertClassifier);
  EXPECT_EQ(s.tensors_copied, static_cast<int64_t>(p.size()));
  EXPECT_TRUE(s.initialised.empty());
  EXPECT_EQ(s.skipped, std::vector<std::string>{"bert.embeddings.position_ids"});
  expect_model_equals(path("cls.h5"), p);
  const Config config = parse_config(load_checkpoint(path("cls.h5")).state.config_yaml, "c");
  EXPECT_EQ(config.model.arch, Arch::kBertClassifier);
  EXPECT_EQ(config.data.labels, (std::vector<std::string>{"sports", "news", "arts"}));  // by id
  EXPECT_EQ(config.model.num_labels, kLabels);
  EXPECT_EQ(config.data.format, "jsonl");

  const std::string out = forward(path("cls.h5"), kBertIds, 2, kBertTypes, kBertMask);
  expect_logits_match_model(out, path("cls.h5"));
  // Against the double-precision reference too: the encoder of bert_params(14), then the head.
  Hdf5File f(out, Hdf5File::Mode::kRead);
  EXPECT_FALSE(f.has("/nsp_logits"));
  const int T = 12, d = kBert.d;
  Tensor logits = read_tensor(f, "/logits"), hidden = read_tensor(f, "/last_hidden_state"),
         pooled = read_tensor(f, "/pooled");
  ASSERT_EQ(hidden.shape(), (Shape{2, T, d}));
  ASSERT_EQ(pooled.shape(), (Shape{2, d}));
  for (int b = 0; b < 2; ++b) {
    auto row = [&](const std::vector<int32_t>& v) {
      return std::vector<int32_t>(v.begin() + T * b, v.begin() + T * (b + 1));
    };
    BertOutputs r = bert_reference(bert_params(14), row(kBertIds), row(kBertTypes), row(kBertMask));
    const std::string what = "batch row " + std::to_string(b);
    expect_close(hidden, b * T * d, r.hidden, 1e-4, what + ": last_hidden_state");
    expect_close(pooled, b * d, r.pooled, 1e-4, what + ": pooled");
    expect_close(
        logits, b * kLabels,
        reference::linear(r.pooled, 1, p.at("classifier.weight"), p.at("classifier.bias"), true),
        1e-4, what + ": logits");
  }

  // Without architectures an id2label names a classifier; keys without "bert." work too.
  std::string bare = classifier_config_json();
  const std::string architectures = R"("architectures": ["BertForSequenceClassification"],)";
  bare.erase(bare.find(architectures), architectures.size());
  o.prefix = false;
  write_classifier_folder(dir_ / "bare", p, o, bare);
  EXPECT_EQ(import_hf(path("bare"), path("bare.h5")).arch, Arch::kBertClassifier);
  expect_model_equals(path("bare.h5"), p);
}

TEST_F(HfImportTest, ClassifierWithoutId2labelHasHfDefaultLabelsAndAFreshHead) {
  Params p = classifier_params(15);
  FolderOptions o;
  o.leave_out = {"classifier."};  // a BertModel saved under the classifier's name
  std::string config = classifier_config_json();
  const size_t from = config.find(R"("id2label")");
  config.erase(from, config.find(R"("attention_probs_dropout_prob")") - from);  // and label2id
  write_classifier_folder(dir_ / "cls", p, o, config);
  HfImportSummary s = import_hf(path("cls"), path("cls.h5"));
  EXPECT_EQ(sorted(s.initialised), sorted({"classifier.weight", "classifier.bias"}));
  const Config c = parse_config(load_checkpoint(path("cls.h5")).state.config_yaml, "c");
  EXPECT_EQ(c.data.labels, (std::vector<std::string>{"LABEL_0", "LABEL_1"}));
  expect_model_equals(path("cls.h5"), p, {"classifier."});
}

TEST_F(HfImportTest, ClassifierExportThenImportIsBitIdentical) {
  // A classifier as a kiln fine-tuning run leaves it: its own config (labels in class order,
  // jsonl data) and weights far from their initialisation.
  std::string vocab;
  for (const std::string& token : bert_vocab()) vocab += token + "\n";
  write_file(dir_ / "vocab.txt", vocab);
  const Config config = parse_config(
      "run: {name: cls}\n"
      "data: {train_files: [reviews.jsonl], labels: [pos, neg, mixed], vocab_file: " +
          path("vocab.txt") +
          "}\n"
          "model: {arch: bert-classifier, vocab_size: 30, n_layer: 2, n_head: 2, d_model: 16, "
          "d_ff: 40, max_seq_len: 24, dropout: 0.1}\n"
          "train: {batch_size: 4, seq_len: 16, max_steps: 10, optimizer: {lr: 1.0e-4}}\n",
      "cls.yaml");
  const Tokenizer tokenizer(WordPieceTokenizer::from_vocab_file(path("vocab.txt"), true));
  nn::BertForSequenceClassification model(
      bert_config_for(config, *tokenizer.as<WordPieceTokenizer>()), config.model.num_labels, 1);
  nn::ParameterArena arena(model);
  std::mt19937 rng(16);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  for (const auto& [name, t] : arena.named_parameters())
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += normal(rng);
  save_checkpoint(path("cls-1.h5"), arena, nullptr, {0, 0, to_yaml(config), tokenizer.serialize()});

  export_hf(path("cls-1.h5"), path("out"));
  import_hf(path("out"), path("cls-2.h5"));
  Checkpoint first = load_checkpoint(path("cls-1.h5")), second = load_checkpoint(path("cls-2.h5"));
  ASSERT_EQ(first.model.size(), second.model.size());
  for (const auto& [key, t] : first.model) {
    ASSERT_TRUE(second.model.count(key)) << key;
    EXPECT_EQ(t.shape(), second.model.at(key).shape()) << key;
    EXPECT_EQ(std::memcmp(t.data(), second.model.at(key).data(), t.numel() * 4), 0) << key;
  }
  EXPECT_EQ(first.state.tokenizer, second.state.tokenizer);
  const Config imported = parse_config(second.state.config_yaml, "second");
  EXPECT_EQ(imported.data.labels, config.data.labels);  // the same names in the same order
  EXPECT_EQ(imported.model, config.model);

  // model.safetensors: the checkpoint's tensors under HF's names, F32, no pre-training heads.
  SafetensorsReader reader(path("out") + "/model.safetensors");
  EXPECT_EQ(reader.entries().size(), first.model.size());
  for (const SafetensorsEntry& e : reader.entries()) {
    EXPECT_EQ(e.dtype, "F32") << e.name;
    ASSERT_TRUE(first.model.count(e.name)) << e.name;
    EXPECT_EQ(Shape(e.shape.begin(), e.shape.end()), first.model.at(e.name).shape()) << e.name;
  }
  ASSERT_NE(reader.find("classifier.weight"), nullptr);
  EXPECT_EQ(reader.find("classifier.weight")->shape, (std::vector<int64_t>{3, 16}));
  EXPECT_EQ(reader.find("classifier.bias")->shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(reader.find("cls.seq_relationship.weight"), nullptr);

  // config.json: what from_pretrained needs to name the classes.
  const json::Value hf = json::parse(read_text_file(path("out/config.json")), "config.json");
  EXPECT_EQ(json::write(hf.at("architectures")), R"(["BertForSequenceClassification"])");
  EXPECT_EQ(json::write(hf.at("id2label")), R"({"0":"pos","1":"neg","2":"mixed"})");
  EXPECT_EQ(json::write(hf.at("label2id")), R"({"pos":0,"neg":1,"mixed":2})");
  EXPECT_EQ(hf.at("problem_type").as_string(), "single_label_classification");
  EXPECT_EQ(hf.at("model_type").as_string(), "bert");
  EXPECT_EQ(hf.at("hidden_size").as_int(), 16);
  EXPECT_EQ(hf.at("intermediate_size").as_int(), 40);
  EXPECT_EQ(read_text_file(path("out/vocab.txt")), vocab);
  EXPECT_TRUE(fs::exists(path("out/tokenizer_config.json")));

  expect_logits_match_model(forward(path("cls-1.h5"), kBertIds, 2, kBertTypes, kBertMask),
                            path("cls-1.h5"));
}

// ---- errors ----------------------------------------------------------------------------------

TEST_F(HfImportTest, ShapeDisagreeingWithConfigNamesTheTensorAndBothShapes) {
  Params p = gpt_params(8);
  p["transformer.h.1.attn.c_attn.weight"].shape = {48, 16};  // nn.Linear layout by mistake
  write_gpt_folder(dir_ / "gpt2", p, FolderOptions());
  EXPECT_EQ(error_of([&] { import_hf(path("gpt2"), path("x.h5")); }),
            path("gpt2") +
                "/model.safetensors: tensor 'transformer.h.1.attn.c_attn.weight': expected shape "
                "[16, 48] (from config.json), got [48, 16]");
  EXPECT_FALSE(fs::exists(path("x.h5")));
}

TEST_F(HfImportTest, UnexpectedKeysAndDuplicateSpellingsAreNamed) {
  Params p = bert_params(9);
  p["classifier.weight"] = {{2, 16}, std::vector<float>(32, 0.0f)};
  write_bert_folder(dir_ / "bert", p, FolderOptions());
  EXPECT_EQ(error_of([&] { import_hf(path("bert"), path("x.h5")); }),
            path("bert") +
                "/model.safetensors: expected only BERT parameters and buffers, got the "
                "unexpected key 'classifier.weight'");

  Params g = gpt_params(9);
  g["wte.weight"] = g["transformer.wte.weight"];  // both spellings of one parameter
  write_gpt_folder(dir_ / "gpt2", g, FolderOptions());
  EXPECT_EQ(error_of([&] { import_hf(path("gpt2"), path("x.h5")); }),
            path("gpt2") +
                "/model.safetensors: expected one tensor for 'transformer.wte.weight', got both "
                "'transformer.wte.weight' and 'wte.weight'");
}

TEST_F(HfImportTest, ClassifierErrorsNameTheTensorOrKey) {
  Params p = classifier_params(17);
  p["classifier.weight"] = {{2, kBert.d}, std::vector<float>(2 * kBert.d, 0.5f)};  // 3 labels
  write_classifier_folder(dir_ / "cls", p, FolderOptions());
  EXPECT_EQ(error_of([&] { import_hf(path("cls"), path("x.h5")); }),
            path("cls") +
                "/model.safetensors: tensor 'classifier.weight': expected shape [3, 16] (from "
                "config.json), got [2, 16]");
  EXPECT_FALSE(fs::exists(path("x.h5")));

  Params heads = classifier_params(17);
  heads["cls.predictions.bias"] = {{kBert.V}, std::vector<float>(kBert.V, 0.0f)};
  write_classifier_folder(dir_ / "cls", heads, FolderOptions());
  EXPECT_EQ(error_of([&] { import_hf(path("cls"), path("x.h5")); }),
            path("cls") +
                "/model.safetensors: expected only BertForSequenceClassification parameters and "
                "buffers, got the unexpected key 'cls.predictions.bias'");

  const std::string config = path("cls") + "/config.json";
  auto import_with = [&](const std::string& from, const std::string& to) {
    std::string text = classifier_config_json();
    text.replace(text.find(from), from.size(), to);
    write_file(config, text);
    return error_of([&] { import_hf(path("cls"), path("x.h5")); });
  };
  EXPECT_EQ(import_with(R"("2": "arts")", R"("3": "arts")"),
            config + ": id2label: expected each of the keys \"0\" to \"2\" once, got \"3\"");
  EXPECT_EQ(import_with(R"("model_type")", R"("problem_type": "regression", "model_type")"),
            config +
                ": problem_type: expected \"single_label_classification\" (what kiln "
                "implements), got \"regression\"");
  EXPECT_EQ(import_with(R"("news")", R"("world news")"),
            config +
                " (as a kiln config):2: data.labels: expected a list of distinct names of "
                "letters, digits, '_', '-' and '.', got [\"sports\", \"world news\", \"arts\"]");
}

TEST_F(HfImportTest, TiedCopyMustEqualItsOriginal) {
  // An lm_head.weight that differs from the embedding in one element.
  Params p = gpt_params(10);
  p["lm_head.weight"] = p["transformer.wte.weight"];
  p["lm_head.weight"].values[5] += 1.0f;
  write_gpt_folder(dir_ / "gpt2", p, FolderOptions());
  EXPECT_EQ(error_of([&] { import_hf(path("gpt2"), path("x.h5")); }),
            path("gpt2") +
                "/model.safetensors: tensor 'lm_head.weight': expected a copy of "
                "'transformer.wte.weight' (tied weights), got different values");
}

TEST_F(HfImportTest, MalformedSafetensorsFilesAreReportedWithOffsets) {
  write_gpt_folder(dir_ / "gpt2", gpt_params(11), FolderOptions());
  const std::string file = path("gpt2") + "/model.safetensors";
  auto import_error = [&] { return error_of([&] { import_hf(path("gpt2"), path("x.h5")); }); };
  auto write_raw = [&](const std::string& header, const std::string& data) {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(uint64_t{header.size()} >> (8 * i)));
    out << header << data;
  };

  fs::resize_file(file, fs::file_size(file) - 10);  // truncated inside the last tensor's data
  EXPECT_NE(import_error().find("expected data_offsets within the data section"), std::string::npos)
      << import_error();
  fs::resize_file(file, 5);
  EXPECT_EQ(import_error(), file +
                                ": expected at least 8 bytes (the header length), got a file of 5 "
                                "bytes (truncated?)");
  write_raw("not json", "");
  EXPECT_EQ(import_error(), file +
                                ": byte offset 8: expected a value (object, array, string, number, "
                                "true, false or null), got 'n'");
  write_raw(
      R"({"transformer.wte.weight":{"dtype":"F32","shape":[260,16],"data_offsets":[0,16640]}})",
      "");
  EXPECT_EQ(import_error(), file +
                                ": byte offset 34: tensor 'transformer.wte.weight': expected "
                                "data_offsets within the data section (0 bytes), got [0, 16640] (a "
                                "truncated file?)");
  write_raw(R"({"transformer.wte.weight":{"dtype":"F24","shape":[1],"data_offsets":[0,3]}})",
            "abc");
  EXPECT_EQ(import_error(), file +
                                ": byte offset 34: tensor 'transformer.wte.weight': expected a "
                                "safetensors dtype (F32, F16, BF16, F64, I64, ...), got the string "
                                "\"F24\"");
  write_raw(
      R"({"transformer.wte.weight":{"dtype":"I32","shape":[260,16],"data_offsets":[0,16640]}})",
      std::string(16640, '\0'));
  EXPECT_EQ(import_error(), file +
                                ": byte offset 34: tensor 'transformer.wte.weight': expected dtype "
                                "F32, F16 or BF16, got I32");
}

TEST_F(HfImportTest, ConfigJsonErrors) {
  write_bert_folder(dir_ / "bert", bert_params(12), FolderOptions());
  const std::string config = path("bert") + "/config.json";
  auto import_with = [&](const std::string& from, const std::string& to) {
    std::string text = bert_config_json();
    text.replace(text.find(from), from.size(), to);
    write_file(config, text);
    return error_of([&] { import_hf(path("bert"), path("x.h5")); });
  };
  EXPECT_EQ(import_with("\"model_type\": \"bert\"", "\"model_type\": \"llama\""),
            config + ": model_type: expected \"gpt2\", \"bert\" or \"marian\", got \"llama\"");
  EXPECT_EQ(import_with("\"type_vocab_size\": 2", "\"type_vocab_size\": 3"),
            config + ": type_vocab_size: expected 2 (segments A and B), got the number 3");
  EXPECT_EQ(import_with("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"relu\""),
            config + ": hidden_act: expected \"gelu\" (what kiln implements), got \"relu\"");
  EXPECT_EQ(import_with("\"hidden_size\": 16,", ""),
            config +
                ": byte offset 0: expected the key \"hidden_size\" in this object, got no "
                "such key");
  EXPECT_EQ(import_with("\"num_attention_heads\": 2", "\"num_attention_heads\": 3"),
            config +
                " (as a kiln config):3: model.n_head: expected a divisor of model.d_model (16), "
                "got 3");
}

TEST_F(HfImportTest, ForwardInputErrors) {
  write_bert_folder(dir_ / "bert", bert_params(13), FolderOptions());
  import_hf(path("bert"), path("bert.h5"));
  EXPECT_EQ(error_of([&] {
              forward(path("bert.h5"), {2, 5, 30, 3}, 1);
            }),
            path("in.h5") + ": /input_ids: expected values in [0, 30), got 30 at [0, 2]");
  EXPECT_EQ(error_of([&] {
              forward(path("bert.h5"), {2, 5, 6, 3}, 1, {0, 0, 2, 0});
            }),
            path("in.h5") + ": /token_type_ids: expected values in [0, 2), got 2 at [0, 2]");
  {
    Hdf5File in(path("in.h5"), Hdf5File::Mode::kCreate);
    write_tensor(in, "/input_ids", Tensor::from_ints({1, 3}, {2, 5, 3}));
    write_tensor(in, "/attention_mask", Tensor::from_ints({1, 2}, {1, 1}));
  }
  EXPECT_EQ(
      error_of([&] { run_forward(path("bert.h5"), path("in.h5"), path("out.h5")); }),
      path("in.h5") + ": /attention_mask: expected integers of shape [1, 3], got int32 [1, 2]");
  {
    Hdf5File in(path("in.h5"), Hdf5File::Mode::kCreate);
    write_tensor(in, "/input_ids", Tensor::from_floats({1, 2}, {2.0f, 3.0f}));
  }
  EXPECT_EQ(
      error_of([&] { run_forward(path("bert.h5"), path("in.h5"), path("out.h5")); }),
      path("in.h5") + ": /input_ids: expected integers of shape [batch, seq], got float32 [1, 2]");
}

}  // namespace
}  // namespace kiln
