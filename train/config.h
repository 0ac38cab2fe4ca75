// The training config: one plain struct per YAML section, loading with file:line:key errors,
// `--set key.path=value` overrides, the resolved config as YAML, and the rules for resuming.
// Each key is declared once, in the table in train/config_schema.cpp; docs/config.md has them all.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

// The model families (model.arch). The name is parsed once, by the config; code compares the
// enum. A new family is a value here, a name in arch_name, and an entry in train/registry.cpp.
enum class Arch { kGpt, kBert, kBertClassifier, kMarian };

// The config's spelling: "gpt", "bert", "bert-classifier", "marian".
const char* arch_name(Arch arch);
// The Arch named `name`, if any.
std::optional<Arch> parse_arch(const std::string& name);
// Both BERT architectures: WordPiece, BERT's layer-norm epsilon, [CLS] ... [SEP] inputs.
inline bool is_bert(Arch arch) {
  return arch == Arch::kBert || arch == Arch::kBertClassifier;
}

// Member defaults are the config defaults; keys marked "required" have a placeholder here.
// Empty strings and zeros marked "derived" are filled in from other keys while parsing.

struct RunConfig {
  std::string name;     // required; a name, not a path
  std::string out_dir;  // derived: "runs/<name>"
  uint64_t seed = 1337;
  int threads = 0;  // 0 = all cores
  bool operator==(const RunConfig&) const = default;
};

struct DataConfig {
  std::vector<std::string> train_files;  // required; relative to the working directory
  std::vector<std::string> val_files;    // empty = hold out val_fraction of the train files
  double val_fraction = 0.1;
  // text (language models) | jsonl ({"text", "label"} lines) | folders (one sub-folder per
  // label). Derived: "jsonl" for model.arch bert-classifier, else "text".
  std::string format;
  std::vector<std::string> labels;  // bert-classifier: the label names, in class order
  std::string tokenizer = "char";   // char | bpe (GPT) | wordpiece (BERT)
  std::string vocab_file;           // wordpiece vocab.txt or bpe encoder.json; empty = train one
  std::string merges_file;          // bpe: vocab.bpe / merges.txt
  int tokenizer_vocab_size = 8000;  // size of the vocabulary trained when there is no vocab_file
  bool lowercase = true;            // wordpiece: uncased (lower-case and strip accents)
  int max_word_chars = 100;         // wordpiece: longer words become [UNK] (as Hugging Face)
  // BERT pretraining examples (google-research/bert create_pretraining_data.py semantics).
  double short_seq_prob = 0.1;
  int max_predictions_per_seq = 20;
  double masked_lm_prob = 0.15;
  bool whole_word_masking = false;
  int dupe_factor = 1;
  // Where a held-out example's random next segment comes from: "corpus" (any other document,
  // training ones included, as in training) or "held_out" (held-out documents only).
  std::string held_out_random_next = "corpus";
  std::string cache_dir;  // derived: "<run.out_dir>/cache"
  // marian: a sentence pair with a side longer than model.max_seq_len (eos included) is cut
  // to it ("truncate") or left out ("drop").
  std::string long_pairs = "truncate";
  bool operator==(const DataConfig&) const = default;
};

struct ModelConfig {
  // A checkpoint (kiln's or imported) to start from: its weights and tokenizer, a fresh
  // optimizer and schedule. The other model keys then default to the checkpoint's, and any
  // given explicitly must agree with it (except dropout, which fine-tuning may change).
  std::string init_from;
  Arch arch = Arch::kGpt;         // gpt | bert (pretraining) | bert-classifier | marian
  std::optional<int> vocab_size;  // nullopt = "auto": the tokenizer's vocabulary size
  int n_layer = 0;                // required
  int n_head = 0;                 // required
  int d_model = 0;                // required
  int d_ff = 0;                   // derived: 4 * d_model
  int max_seq_len = 0;            // required
  double dropout = 0.0;
  double layer_norm_eps = 1e-5;
  int num_labels = 0;  // derived: the size of data.labels for bert-classifier, else 0
  // marian only: decoder layers (derived: n_layer; n_layer counts the encoder's), the
  // feed-forward activation with HF's names (derived: "swish"; empty for other archs), and
  // whether embeddings are multiplied by sqrt(d_model).
  int decoder_layers = 0;
  std::string activation;
  bool scale_embedding = true;
  bool operator==(const ModelConfig&) const = default;
};

struct OptimizerConfig {
  std::string name = "adamw";
  double lr = 0.0;  // required
  std::array<double, 2> betas = {0.9, 0.95};
  double eps = 1e-8;
  double weight_decay = 0.1;
  bool operator==(const OptimizerConfig&) const = default;
};

struct ScheduleConfig {
  std::string name = "constant";  // constant | cosine | linear
  int64_t warmup_steps = 0;
  double min_lr = 0.0;
  bool operator==(const ScheduleConfig&) const = default;
};

struct TrainConfig {
  int batch_size = 0;  // required (marian: derived 1, one token-budget batch per micro-batch)
  int seq_len = 0;     // required (marian: derived model.max_seq_len)
  int grad_accum = 1;
  int64_t max_steps = 0;  // required
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  double grad_clip = 1.0;  // 0 = no clipping
  // Parameters whose names match one of these patterns ('*' matches any run of characters)
  // are not trained: no gradient, no update, no weight decay.
  std::vector<std::string> freeze;
  // Steps whose loss or gradient is NaN or infinite that may be skipped (the batch is dropped,
  // the parameters stay as they were) before the run stops; 0 = stop at the first.
  int64_t skip_nonfinite_steps = 0;
  // Data-parallel runs: each rank keeps and updates 1/N of the AdamW state (ZeRO stage 1).
  bool shard_optimizer = false;
  // marian: sentence pairs per batch are grouped by length so that rows x longest side stays
  // within this many tokens.
  int batch_tokens = 0;
  double label_smoothing = 0.0;  // marian: epsilon of the label-smoothed cross-entropy
  // "fp32", or "bf16": GEMMs (and so attention) on bfloat16 operands with fp32 accumulation;
  // weights, optimizer state, reductions and the other ops stay fp32.
  std::string precision = "fp32";
  bool operator==(const TrainConfig&) const = default;
};

struct EvalConfig {
  int64_t every = 100;  // steps; 0 = never
  int batches = 20;
  // marian: held-out pairs the trainer decodes greedily for BLEU and chrF at each evaluation
  // (the first ones in corpus order; 0 = none); `kiln eval` decodes all with beam `beam`.
  int bleu_sentences = 200;
  int beam = 4;
  bool operator==(const EvalConfig&) const = default;
};

struct CheckpointConfig {
  int64_t every = 500;  // steps; 0 = no periodic checkpoints
  int keep_last = 3;
  bool keep_best = false;  // also keep best.h5: the checkpoint with the lowest val_loss so far
  bool operator==(const CheckpointConfig&) const = default;
};

struct LogConfig {
  int64_t every = 10;  // steps; 0 = never
  bool operator==(const LogConfig&) const = default;
};

struct Config {
  RunConfig run;
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  EvalConfig eval;
  CheckpointConfig checkpoint;
  LogConfig log;
  bool operator==(const Config&) const = default;
};

// Reads, validates and resolves the YAML file at `path`, then applies `overrides`
// ("key.path=value", the value a YAML scalar or flow list). Throws kiln::Error naming the
// file, line and key path (or "--set key.path") of the first problem.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// As load_config, from YAML text; `source_name` stands for the file in error messages.
Config parse_config(const std::string& yaml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides = {});

// The resolved config as YAML, every key present; parse_config reads it back to an equal Config.
std::string to_yaml(const Config& config);

// Dotted paths of the keys whose values differ, in schema order.
std::vector<std::string> config_differences(const Config& a, const Config& b);

// A key's value as YAML text (strings quoted), e.g. for "checkpoint has X, config has Y".
std::string config_value(const Config& config, const std::string& key_path);

// What changing a key between a checkpoint and the config that resumes it means.
enum class KeyRole {
  kIdentity,    // what is trained, on what data, from which seed: a change is refused
  kTrajectory,  // how it is optimised (lr, batch, clipping): allowed, ends bit-identical resume
  kSchedule,    // when and where (max_steps, eval, log, checkpoint, threads, paths): allowed
};

// The role of a key path such as "model.d_model"; throws kiln::Error for an unknown key.
KeyRole key_role(const std::string& key_path);

// Throws kiln::Error listing every identity key that differs between the checkpoint's config
// and the requested one, with both values. Returns the differing trajectory keys, which the
// caller should report because the run no longer matches an uninterrupted one bit for bit.
std::vector<std::string> check_resume(const Config& checkpoint, const Config& requested);

}  // namespace kiln
