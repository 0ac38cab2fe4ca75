// Tests for train/config.h: every shipped config loads, defaults, error messages with file,
// line and key path, --set overrides, the to_yaml round trip and the resume rules.
#include "train/config.h"
#include "io/hdf5_file.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/error.h"

namespace kiln {
namespace {

// The smallest valid config: only required keys. Line numbers matter to the tests below.
constexpr const char* kMinimal =
    "run:\n"                              // 1
    "  name: tiny\n"                      // 2
    "data:\n"                             // 3
    "  train_files: [corpora/kjv.txt]\n"  // 4
    "model:\n"                            // 5
    "  n_layer: 2\n"                      // 6
    "  n_head: 2\n"                       // 7
    "  d_model: 32\n"                     // 8
    "  max_seq_len: 16\n"                 // 9
    "train:\n"                            // 10
    "  batch_size: 4\n"                   // 11
    "  seq_len: 16\n"                     // 12
    "  max_steps: 10\n"                   // 13
    "  optimizer:\n"                      // 14
    "    lr: 0.001\n";                    // 15

// kMinimal with the first occurrence of `from` replaced by `to`.
std::string minimal_with(const std::string& from, const std::string& to) {
  std::string text = kMinimal;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

// The kiln::Error message parse_config throws for `text`, or "" if it parses.
std::string parse_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(text, "configs/x.yaml", overrides);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::filesystem::path source_root() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

TEST(ConfigTest, EveryConfigInConfigsLoads) {
  std::filesystem::path dir = source_root() / "configs";
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    // A fine-tuning config starts from runs/<name>/...: the checkpoint the config
    // configs/<name>.yaml writes. Stand in for it with a file holding only that /config.
    std::vector<std::string> overrides;
    YAML::Node yaml = YAML::LoadFile(entry.path().string());
    if (yaml["model"] && yaml["model"]["init_from"]) {
      std::string from = yaml["model"]["init_from"].as<std::string>();
      ASSERT_EQ(from.rfind("runs/", 0), 0u) << from;
      std::string producer = from.substr(5, from.find('/', 5) - 5);
      std::string stand_in =
          (std::filesystem::path(::testing::TempDir()) / (producer + "-stand-in.h5")).string();
      {
        Hdf5File file(stand_in, Hdf5File::Mode::kCreate);
        file.write_string("/config", to_yaml(load_config((dir / (producer + ".yaml")).string())));
      }
      overrides.push_back("model.init_from=" + stand_in);
    }
    Config config = load_config(entry.path().string(), overrides);
    EXPECT_EQ(parse_config(to_yaml(config), "round trip"), config);
    ++loaded;
  }
  EXPECT_GE(loaded, 2);
}

TEST(ConfigTest, DefaultConfigIsTheKjvCharacterModel) {
  Config config = load_config((source_root() / "configs/gpt-char-kjv.yaml").string());
  EXPECT_EQ(config.data.train_files, std::vector<std::string>{"corpora/kjv.txt"});
  EXPECT_EQ(config.data.tokenizer, "char");
  EXPECT_EQ(config.model.arch, Arch::kGpt);
}

TEST(ConfigTest, MinimalConfigFillsDefaults) {
  Config config = parse_config(kMinimal, "mem");
  EXPECT_EQ(config.run.name, "tiny");
  EXPECT_EQ(config.run.out_dir, "runs/tiny");
  EXPECT_EQ(config.run.seed, 1337u);
  EXPECT_EQ(config.run.threads, 0);
  EXPECT_TRUE(config.data.val_files.empty());
  EXPECT_EQ(config.data.val_fraction, 0.1);
  EXPECT_EQ(config.data.cache_dir, "runs/tiny/cache");
  EXPECT_EQ(config.data.max_word_chars, 100);  // Hugging Face's limit
  EXPECT_FALSE(config.model.vocab_size.has_value());
  EXPECT_EQ(config.model.d_ff, 128);
  EXPECT_EQ(config.model.dropout, 0.0);
  EXPECT_EQ(config.model.layer_norm_eps, 1e-5);
  EXPECT_EQ(config.train.grad_accum, 1);
  EXPECT_EQ(config.train.optimizer.name, "adamw");
  EXPECT_EQ(config.train.optimizer.lr, 0.001);
  EXPECT_EQ(config.train.optimizer.betas, (std::array<double, 2>{0.9, 0.95}));
  EXPECT_EQ(config.train.optimizer.eps, 1e-8);
  EXPECT_EQ(config.train.optimizer.weight_decay, 0.1);
  EXPECT_EQ(config.train.schedule.name, "constant");
  EXPECT_EQ(config.train.schedule.warmup_steps, 0);
  EXPECT_EQ(config.train.grad_clip, 1.0);
  EXPECT_EQ(config.eval.every, 100);
  EXPECT_EQ(config.eval.batches, 20);
  EXPECT_EQ(config.checkpoint.every, 500);
  EXPECT_EQ(config.checkpoint.keep_last, 3);
  EXPECT_EQ(config.log.every, 10);
}

TEST(ConfigTest, DerivedDefaultsFollowExplicitValues) {
  Config config = parse_config(kMinimal, "mem", {"run.out_dir=/tmp/r", "model.d_model=64"});
  EXPECT_EQ(config.data.cache_dir, "/tmp/r/cache");
  EXPECT_EQ(config.model.d_ff, 256);
  config = parse_config(kMinimal, "mem", {"model.d_ff=100", "data.cache_dir=c"});
  EXPECT_EQ(config.model.d_ff, 100);
  EXPECT_EQ(config.data.cache_dir, "c");
}

TEST(ConfigTest, SingleTrainFileStringIsAList) {
  Config config = parse_config(minimal_with("[corpora/kjv.txt]", "a.txt"), "mem");
  EXPECT_EQ(config.data.train_files, std::vector<std::string>{"a.txt"});
  config = parse_config(minimal_with("[corpora/kjv.txt]", "\n    - a.txt\n    - b.txt"), "mem");
  EXPECT_EQ(config.data.train_files, (std::vector<std::string>{"a.txt", "b.txt"}));
}

TEST(ConfigTest, VocabSizeIsAutoOrPositive) {
  EXPECT_EQ(parse_config(kMinimal, "m", {"model.vocab_size=auto"}).model.vocab_size, std::nullopt);
  EXPECT_EQ(parse_config(kMinimal, "m", {"model.vocab_size=65"}).model.vocab_size, 65);
  EXPECT_EQ(parse_error(kMinimal, {"model.vocab_size=0"}),
            "--set model.vocab_size: expected \"auto\" or an integer in [1, 16777216], got 0");
  EXPECT_EQ(parse_error(kMinimal, {"model.vocab_size=big"}),
            "--set model.vocab_size: expected \"auto\" or an integer, got \"big\"");
}

TEST(ConfigTest, UnknownKeyNamesFileLineAndPath) {
  EXPECT_EQ(parse_error(minimal_with("  seq_len: 16\n", "  seq_len: 16\n  colour: red\n")),
            "configs/x.yaml:13: train.colour: unknown key (train has: batch_size, seq_len, "
            "grad_accum, max_steps, optimizer, schedule, grad_clip, freeze, skip_nonfinite_steps, "
            "shard_optimizer, batch_tokens, label_smoothing, precision)");
}

TEST(ConfigTest, UnknownKeySuggestsTheIntendedKey) {
  EXPECT_EQ(parse_error(minimal_with("batch_size", "batchsize")),
            "configs/x.yaml:11: train.batchsize: unknown key (did you mean train.batch_size?)");
  EXPECT_EQ(parse_error(minimal_with("    lr: 0.001", "    lr: 0.001\n  lr: 0.1")),
            "configs/x.yaml:16: train.lr: unknown key (did you mean train.optimizer.lr?)");
  EXPECT_EQ(parse_error(minimal_with("run:", "rnu:")),
            "configs/x.yaml:1: rnu: unknown key (did you mean run?)");
  EXPECT_EQ(parse_error(std::string(kMinimal) + "extra: 1\n"),
            "configs/x.yaml:16: extra: unknown key (sections are: run, data, model, train, eval, "
            "checkpoint, log)");
}

TEST(ConfigTest, WrongTypeNamesFileLineAndPath) {
  EXPECT_EQ(parse_error(minimal_with("lr: 0.001", "lr: fast")),
            "configs/x.yaml:15: train.optimizer.lr: expected a number, got \"fast\"");
  EXPECT_EQ(parse_error(minimal_with("max_steps: 10", "max_steps: 1e3")),
            "configs/x.yaml:13: train.max_steps: expected an integer, got \"1e3\"");
  EXPECT_EQ(parse_error(minimal_with("n_layer: 2", "n_layer: 2.5")),
            "configs/x.yaml:6: model.n_layer: expected an integer, got \"2.5\"");
  EXPECT_EQ(parse_error(minimal_with("n_layer: 2", "n_layer:")),
            "configs/x.yaml:6: model.n_layer: expected an integer, got nothing");
  EXPECT_EQ(parse_error(minimal_with("n_layer: 2", "n_layer: [2]")),
            "configs/x.yaml:6: model.n_layer: expected an integer, got a list");
  EXPECT_EQ(parse_error(kMinimal, {"train.optimizer.betas=[0.9]"}),
            "--set train.optimizer.betas: expected a list of two numbers, got a list");
}

TEST(ConfigTest, SectionMustBeAMapping) {
  EXPECT_EQ(parse_error(minimal_with("train:\n", "train: 5\nx:\n")),
            "configs/x.yaml:10: train: expected a mapping of keys, got \"5\"");
  EXPECT_EQ(parse_error("- a\n- b\n"),
            "configs/x.yaml:1: expected a mapping of sections (run: ..., data: ...), got a list");
}

TEST(ConfigTest, MissingRequiredKeyPointsAtItsSection) {
  EXPECT_EQ(parse_error(minimal_with("  n_head: 2\n", "")),
            "configs/x.yaml:5: model.n_head: required key is missing");
  EXPECT_EQ(parse_error(""), "configs/x.yaml: run.name: required key is missing");
}

TEST(ConfigTest, OutOfRangeValuesNameTheRule) {
  EXPECT_EQ(parse_error(minimal_with("batch_size: 4", "batch_size: 0")),
            "configs/x.yaml:11: train.batch_size: expected an integer in [1, 1048576], got 0");
  EXPECT_EQ(parse_error(minimal_with("lr: 0.001", "lr: -1")),
            "configs/x.yaml:15: train.optimizer.lr: expected a number > 0.0, got -1.0");
  EXPECT_EQ(parse_error(kMinimal, {"model.dropout=1"}),
            "--set model.dropout: expected a number in [0, 1), got 1.0");
  EXPECT_EQ(
      parse_error(kMinimal, {"model.arch=bart"}),
      "--set model.arch: expected one of \"gpt\", \"bert\", \"bert-classifier\", got \"bart\"");
  EXPECT_EQ(parse_error(kMinimal, {"train.schedule.name=step"}),
            "--set train.schedule.name: expected one of \"constant\", \"cosine\", \"linear\", "
            "got \"step\"");
  EXPECT_EQ(parse_error(kMinimal, {"data.held_out_random_next=all"}),
            "--set data.held_out_random_next: expected one of \"corpus\", \"held_out\", got "
            "\"all\"");
  EXPECT_EQ(parse_error(kMinimal, {"data.max_word_chars=0"}),
            "--set data.max_word_chars: expected an integer >= 1, got 0");
  EXPECT_EQ(parse_config(kMinimal, "mem", {"data.max_word_chars=200"}).data.max_word_chars, 200);
  EXPECT_EQ(parse_error(kMinimal, {"run.name=a/b"}),
            "--set run.name: expected a non-empty name without '/', got \"a/b\"");
  EXPECT_EQ(parse_error(kMinimal, {"model.d_ff=0"}),
            "--set model.d_ff: expected an integer in [1, 262144], got 0");
  EXPECT_EQ(parse_error(kMinimal, {"data.train_files=[]"}),
            "--set data.train_files: expected a non-empty list of paths, got []");
}

TEST(ConfigTest, HeadsMustDivideModelWidth) {
  EXPECT_EQ(parse_error(minimal_with("n_head: 2", "n_head: 5")),
            "configs/x.yaml:7: model.n_head: expected a divisor of model.d_model (32), got 5");
}

TEST(ConfigTest, SeqLenAtMostMaxSeqLen) {
  EXPECT_EQ(parse_error(minimal_with("  seq_len: 16", "  seq_len: 32")),
            "configs/x.yaml:12: train.seq_len: expected at most model.max_seq_len (16), got 32");
}

TEST(ConfigTest, ScheduleMustFitTheRun) {
  EXPECT_EQ(parse_error(kMinimal, {"train.schedule.warmup_steps=11"}),
            "--set train.schedule.warmup_steps: expected at most train.max_steps (10), got 11");
  EXPECT_EQ(parse_error(kMinimal, {"train.schedule.min_lr=0.01"}),
            "--set train.schedule.min_lr: expected at most train.optimizer.lr (0.001), got 0.01");
}

TEST(ConfigTest, ValFractionMustBePositiveWithoutValFiles) {
  EXPECT_EQ(parse_error(kMinimal, {"data.val_fraction=0"}),
            "--set data.val_fraction: expected a number in (0, 1) when data.val_files is empty, "
            "got 0.0");
  Config config = parse_config(kMinimal, "m", {"data.val_fraction=0", "data.val_files=v.txt"});
  EXPECT_EQ(config.data.val_files, std::vector<std::string>{"v.txt"});
}

TEST(ConfigTest, CrossFieldErrorNamesTheLineOfTheKeyToChange) {
  EXPECT_EQ(parse_error(minimal_with("lr: 0.001", "lr: 0.001\n  schedule:\n    min_lr: 0.1")),
            "configs/x.yaml:17: train.schedule.min_lr: expected at most train.optimizer.lr "
            "(0.001), got 0.1");
}

TEST(ConfigTest, DuplicateKeyIsRejected) {
  EXPECT_EQ(parse_error(minimal_with("  n_head: 2\n", "  n_head: 2\n  n_head: 4\n")),
            "configs/x.yaml:8: model.n_head: duplicate key (first at line 7)");
}

TEST(ConfigTest, InvalidYamlNamesLine) {
  std::string message = parse_error(minimal_with("[corpora/kjv.txt]", "[corpora/kjv.txt"));
  EXPECT_EQ(message.rfind("configs/x.yaml:", 0), 0u) << message;
  EXPECT_NE(message.find("invalid YAML"), std::string::npos) << message;
}

TEST(ConfigTest, OverridesReplaceValues) {
  Config config = parse_config(
      kMinimal, "m",
      {"train.optimizer.betas=[0.9,0.99]", "run.name=other", "train.schedule.name=cosine",
       "data.train_files=[a, b]", "train.max_steps=20", "train.max_steps=30"});
  EXPECT_EQ(config.train.optimizer.betas, (std::array<double, 2>{0.9, 0.99}));
  EXPECT_EQ(config.run.name, "other");
  EXPECT_EQ(config.run.out_dir, "runs/other");
  EXPECT_EQ(config.train.schedule.name, "cosine");
  EXPECT_EQ(config.data.train_files, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(config.train.max_steps, 30);  // the last --set wins
}

TEST(ConfigTest, OverrideOfUnknownKeyFails) {
  EXPECT_EQ(parse_error(kMinimal, {"train.lr_typo=3"}),
            "--set train.lr_typo: unknown key (train has: batch_size, seq_len, grad_accum, "
            "max_steps, optimizer, schedule, grad_clip, freeze, skip_nonfinite_steps, "
            "shard_optimizer, batch_tokens, label_smoothing, precision)");
  EXPECT_EQ(parse_error(kMinimal, {"train.optimizer.lrr=3"}),
            "--set train.optimizer.lrr: unknown key (did you mean train.optimizer.lr?)");
  EXPECT_EQ(parse_error(kMinimal, {"train.optimizer=3"}),
            "--set train.optimizer: expected a key, got a section (set its keys one by one, e.g. "
            "train.optimizer.name=...)");
  EXPECT_EQ(parse_error(kMinimal, {"train.max_steps"}),
            "--set train.max_steps: expected key.path=value, got no '='");
}

TEST(ConfigTest, OverrideErrorsNameTheOverride) {
  EXPECT_EQ(parse_error(kMinimal, {"train.optimizer.lr=fast"}),
            "--set train.optimizer.lr: expected a number, got \"fast\"");
  EXPECT_EQ(parse_error(kMinimal, {"model.n_head=3"}),
            "--set model.n_head: expected a divisor of model.d_model (32), got 3");
}

TEST(ConfigTest, ToYamlRoundTripsExactly) {
  Config config = parse_config(
      kMinimal, "m",
      {"run.name=123", "run.seed=18446744073709551615", "data.val_files=[\"null\", 'a: b', '#c']",
       "train.optimizer.lr=0.30000000000000004", "train.optimizer.eps=1e-300",
       "model.vocab_size=65", "data.val_fraction=0.0", "train.schedule.name=linear",
       "train.grad_clip=0"});
  std::string text = to_yaml(config);
  Config back = parse_config(text, "round trip");
  EXPECT_EQ(back, config) << text;
  EXPECT_EQ(back.data.val_files, (std::vector<std::string>{"null", "a: b", "#c"}));
  EXPECT_EQ(back.train.optimizer.lr, 0.1 + 0.2);
}

TEST(ConfigTest, ToYamlWritesEveryResolvedKey) {
  std::string text = to_yaml(parse_config(kMinimal, "m"));
  for (const char* line : {"  out_dir: runs/tiny\n", "  cache_dir: runs/tiny/cache\n",
                           "  vocab_size: auto\n", "  d_ff: 128\n", "    betas: [0.9, 0.95]\n",
                           "    eps: 1.0e-08\n", "  val_files: []\n", "log:\n  every: 10\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nin:\n" << text;
  }
}

TEST(ConfigTest, DifferencesListChangedKeysInSchemaOrder) {
  Config a = parse_config(kMinimal, "m");
  EXPECT_TRUE(config_differences(a, a).empty());
  Config b = parse_config(kMinimal, "m", {"log.every=5", "model.d_model=64", "run.seed=2"});
  EXPECT_EQ(config_differences(a, b),
            (std::vector<std::string>{"run.seed", "model.d_model", "model.d_ff", "log.every"}));
  EXPECT_EQ(config_value(b, "model.d_model"), "64");
  EXPECT_EQ(config_value(b, "run.name"), "\"tiny\"");
  EXPECT_EQ(config_value(b, "train.optimizer.betas"), "[0.9, 0.95]");
  EXPECT_THROW(config_value(b, "model.width"), Error);
}

TEST(ConfigTest, KeyRolesSeparateIdentityTrajectoryAndSchedule) {
  EXPECT_EQ(key_role("model.d_model"), KeyRole::kIdentity);
  EXPECT_EQ(key_role("data.train_files"), KeyRole::kIdentity);
  EXPECT_EQ(key_role("run.seed"), KeyRole::kIdentity);
  EXPECT_EQ(key_role("train.optimizer.name"), KeyRole::kIdentity);
  EXPECT_EQ(key_role("train.optimizer.lr"), KeyRole::kTrajectory);
  EXPECT_EQ(key_role("train.batch_size"), KeyRole::kTrajectory);
  EXPECT_EQ(key_role("train.max_steps"), KeyRole::kSchedule);
  EXPECT_EQ(key_role("eval.every"), KeyRole::kSchedule);
  EXPECT_EQ(key_role("checkpoint.keep_last"), KeyRole::kSchedule);
  EXPECT_EQ(key_role("log.every"), KeyRole::kSchedule);
  EXPECT_EQ(key_role("run.out_dir"), KeyRole::kSchedule);
  EXPECT_THROW(key_role("model"), Error);
}

TEST(ConfigTest, ResumeRefusesIdentityChanges) {
  Config stored = parse_config(kMinimal, "m");
  Config requested = parse_config(kMinimal, "m", {"model.n_layer=3", "data.train_files=b.txt"});
  try {
    check_resume(stored, requested);
    FAIL() << "expected check_resume to throw";
  } catch (const Error& e) {
    EXPECT_STREQ(
        e.what(),
        "resume: expected the checkpoint's value for every model, data, seed and optimizer "
        "key, got data.train_files (checkpoint [\"corpora/kjv.txt\"], config "
        "[\"b.txt\"]), model.n_layer (checkpoint 2, config 3); start a new run to "
        "change these");
  }
}

TEST(ConfigTest, ResumeAllowsScheduleAndReportsTrajectoryChanges) {
  Config stored = parse_config(kMinimal, "m");
  Config longer = parse_config(kMinimal, "m", {"train.max_steps=100", "eval.every=7"});
  EXPECT_TRUE(check_resume(stored, longer).empty());
  Config faster = parse_config(kMinimal, "m", {"train.optimizer.lr=0.01", "run.threads=1"});
  EXPECT_EQ(check_resume(stored, faster), std::vector<std::string>{"train.optimizer.lr"});
}

TEST(ConfigTest, LoadConfigReadsAFileAndNamesItInErrors) {
  std::filesystem::path path = std::filesystem::temp_directory_path() / "kiln_config_test.yaml";
  std::ofstream(path) << minimal_with("lr: 0.001", "lr: fast");
  try {
    load_config(path.string());
    FAIL() << "expected load_config to throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              path.string() + ":15: train.optimizer.lr: expected a number, got \"fast\"");
  }
  EXPECT_EQ(load_config(path.string(), {"train.optimizer.lr=0.5"}).train.optimizer.lr, 0.5);
  std::filesystem::remove(path);
}

TEST(ConfigTest, LoadConfigOfMissingFileNamesThePath) {
  try {
    load_config("no/such/config.yaml");
    FAIL() << "expected load_config to throw";
  } catch (const Error& e) {
    EXPECT_EQ(
        std::string(e.what()).rfind("no/such/config.yaml: expected a readable config file", 0), 0u)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// A marian config: no batch_size or seq_len (token-budget batches), a BPE tokenizer.
constexpr const char* kMarian =
    "run: {name: mt}\n"
    "data: {train_files: [corpora/es-en.tsv], tokenizer: bpe}\n"
    "model: {arch: marian, n_layer: 2, n_head: 2, d_model: 32, max_seq_len: 16}\n"
    "train: {max_steps: 10, optimizer: {lr: 0.001}}\n";

TEST(ConfigTest, MarianDerivesItsDefaults) {
  const Config c = parse_config(kMarian, "mem");
  EXPECT_EQ(c.model.arch, Arch::kMarian);
  EXPECT_EQ(c.model.decoder_layers, 2);
  EXPECT_EQ(c.model.activation, "swish");
  EXPECT_TRUE(c.model.scale_embedding);
  EXPECT_EQ(c.train.batch_tokens, 3000);
  EXPECT_EQ(c.train.batch_size, 1);
  EXPECT_EQ(c.train.seq_len, 16);
  EXPECT_EQ(c.train.label_smoothing, 0.0);
  EXPECT_EQ(c.train.freeze, std::vector<std::string>{"final_logits_bias"});
  EXPECT_EQ(c.data.long_pairs, "truncate");
  EXPECT_EQ(c.eval.bleu_sentences, 200);
  EXPECT_EQ(c.eval.beam, 4);
  EXPECT_EQ(parse_config(to_yaml(c), "round trip"), c);
  const Config d =
      parse_config(kMarian, "mem",
                   {"model.decoder_layers=3", "model.activation=relu", "train.label_smoothing=0.1",
                    "data.long_pairs=drop", "train.batch_tokens=500", "train.freeze=[]"});
  EXPECT_EQ(d.model.decoder_layers, 3);
  EXPECT_EQ(d.model.activation, "relu");
  EXPECT_EQ(d.train.label_smoothing, 0.1);
  EXPECT_EQ(d.data.long_pairs, "drop");
  EXPECT_EQ(d.train.batch_tokens, 500);
  EXPECT_TRUE(d.train.freeze.empty());
}

TEST(ConfigTest, PrecisionIsFp32OrBf16) {
  EXPECT_EQ(parse_config(kMinimal, "configs/x.yaml", {}).train.precision, "fp32");
  EXPECT_EQ(parse_config(kMinimal, "configs/x.yaml", {"train.precision=bf16"}).train.precision,
            "bf16");
  EXPECT_EQ(parse_error(kMinimal, {"train.precision=fp16"}),
            "--set train.precision: expected one of \"fp32\", \"bf16\", got \"fp16\"");
}

TEST(ConfigTest, MarianKeysAreChecked) {
  auto error = [](const std::vector<std::string>& overrides) {
    try {
      parse_config(kMarian, "configs/x.yaml", overrides);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error({"data.long_pairs=cut"}),
            "--set data.long_pairs: expected one of \"truncate\", \"drop\", got \"cut\"");
  EXPECT_EQ(error({"train.label_smoothing=1.5"}),
            "--set train.label_smoothing: expected a number in [0, 1), got 1.5");
  EXPECT_EQ(error({"model.activation=tanh"}),
            "--set model.activation: expected one of \"\", \"swish\", \"gelu\", \"gelu_new\", "
            "\"relu\", got \"tanh\"");
  EXPECT_EQ(error({"data.tokenizer=char"}),
            "--set data.tokenizer: expected \"bpe\" for model.arch marian (one byte-level BPE "
            "for both languages), got \"char\"");
  EXPECT_EQ(error({"train.batch_tokens=0"}),
            "--set train.batch_tokens: expected an integer >= 1 for model.arch marian, got 0");
  // The other archs still need batch_size and take no marian keys.
  EXPECT_EQ(error({"model.arch=gpt"}),
            "configs/x.yaml:4: train.batch_size: required key is missing");
  EXPECT_EQ(parse_error(kMinimal, {"model.decoder_layers=2"}),
            "--set model.decoder_layers: expected no value for model.arch gpt (it is a marian "
            "setting)");
}

}  // namespace
}  // namespace kiln
