// Tests for the size limits of the config (train/config_limits.h): huge values are refused at
// the key the user set, in one line, before anything is allocated; products of sizes are
// 64-bit and overflow-checked.
#include "train/config_limits.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "tests/error_of.h"
#include "train/config.h"

namespace kiln {
namespace {

constexpr const char* kTiny =
    "run: {name: tiny}\n"
    "data: {train_files: [corpus.txt]}\n"
    "model: {n_layer: 2, n_head: 2, d_model: 32, max_seq_len: 16}\n"
    "train: {batch_size: 4, seq_len: 16, max_steps: 10, optimizer: {lr: 0.001}}\n";

// The error of loading kTiny as a config file (load_config: what `kiln train` reads, and
// where the memory a run needs is checked) with `overrides`.
std::string override_error(const std::vector<std::string>& overrides) {
  const std::string path =
      ::testing::TempDir() + "/kiln_config_limits_" + std::to_string(::getpid()) + ".yaml";
  std::ofstream(path) << kTiny;
  std::string message = error_of([&] { load_config(path, overrides); });
  std::remove(path.c_str());
  return message;
}

// A checkpoint's config (parse_config) is not held to this machine's memory: a model trained
// on a larger machine can still be sampled or evaluated here.
TEST(ConfigLimitsTest, MemoryIsCheckedForTrainingConfigsOnly) {
  EXPECT_NO_THROW(parse_config(kTiny, "ckpt.h5:/config", {"model.n_layer=1000000"}));
  EXPECT_NE(override_error({"model.n_layer=1000000"}).find("more than this machine's"),
            std::string::npos);
}

TEST(ConfigLimitsTest, HugeDModelNamesDModelNotTheDerivedDff) {
  // Used to fail through an int32 overflow of the derived d_ff ("got -294967296").
  const std::string message = override_error({"model.d_model=1000000000"});
  EXPECT_EQ(message, "--set model.d_model: expected an integer in [1, 65536], got 1000000000");
}

TEST(ConfigLimitsTest, DModelJustAboveTheLimitIsRefusedAtTheLimitAccepted) {
  EXPECT_EQ(override_error({"model.d_model=65538"}),
            "--set model.d_model: expected an integer in [1, 65536], got 65538");
  // 65536 itself passes its own rule (d_ff 262144 too); it is then the memory check that
  // speaks, naming the key with the largest share.
  const std::string message = override_error({"model.d_model=65536", "model.n_layer=64"});
  EXPECT_NE(message.find("--set model.n_layer: 64 makes training need about "), std::string::npos)
      << message;
}

TEST(ConfigLimitsTest, MillionLayersRefusedUpFrontNamingTheBytes) {
  const std::string message = override_error({"model.n_layer=1000000"});
  // 1e6 layers of (4*32*32 + 2*32*128 + 128 + 9*32) = 12704 parameters, plus the tables.
  EXPECT_EQ(message.rfind("--set model.n_layer: 1000000 makes training need about ", 0), 0u)
      << message;
  EXPECT_NE(message.find("12704002688 parameters at 16 bytes each"), std::string::npos) << message;
  EXPECT_NE(message.find("more than this machine's"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
}

TEST(ConfigLimitsTest, LayerCountAboveItsLimitIsRefusedByTheRule) {
  EXPECT_EQ(override_error({"model.n_layer=2000000"}),
            "--set model.n_layer: expected an integer in [1, 1048576], got 2000000");
}

TEST(ConfigLimitsTest, OtherSizesHaveLimits) {
  EXPECT_EQ(override_error({"model.vocab_size=100000000"}),
            "--set model.vocab_size: expected \"auto\" or an integer in [1, 16777216], got "
            "100000000");
  EXPECT_EQ(override_error({"model.max_seq_len=2000000"}),
            "--set model.max_seq_len: expected an integer in [1, 1048576], got 2000000");
  EXPECT_EQ(override_error({"model.d_ff=300000"}),
            "--set model.d_ff: expected an integer in [1, 262144], got 300000");
  EXPECT_EQ(override_error({"train.batch_size=2000000"}),
            "--set train.batch_size: expected an integer in [1, 1048576], got 2000000");
  EXPECT_EQ(override_error({"data.dupe_factor=5000"}),
            "--set data.dupe_factor: expected an integer in [1, 1000], got 5000");
  EXPECT_EQ(override_error({"run.threads=100000"}),
            "--set run.threads: expected an integer in [0, 4096], got 100000");
}

TEST(ConfigLimitsTest, LargeBatchTimesVocabularyNamesTheBatch) {
  // 1M sequences of 16 tokens over a 16M vocabulary: the logits alone are petabytes.
  const std::string message = override_error(
      {"train.batch_size=1048576", "model.vocab_size=16777216", "model.max_seq_len=16"});
  EXPECT_EQ(message.rfind("--set train.batch_size: 1048576 makes training need about ", 0), 0u)
      << message;
}

TEST(ConfigLimitsTest, ModelMemoryOfATinyModel) {
  Config config = parse_config(kTiny, "tiny.yaml");
  const ModelMemory m = model_memory(config);
  // 2 layers of 12704, positions 16*32, d_model term (2*32+4)*32; vocab "auto" counts 0.
  EXPECT_EQ(m.parameters, 2 * 12704 + 16 * 32 + 68 * 32);
  EXPECT_EQ(m.bytes, m.parameters * 16 + int64_t{4} * 16 * 2 * (10 * 32 + 2 * 128) * 4);
  EXPECT_FALSE(m.overflow);
}

TEST(ConfigLimitsTest, InvalidUtf8IsRefusedNamingLineAndOffset) {
  // Found by fuzz_config: yaml-cpp kept the bytes but wrote U+FFFD in to_yaml, so the resolved
  // config (what a checkpoint stores) named another file.
  std::string text = kTiny;
  text.replace(text.find("corpus.txt"), 6, "corp\xe2\x14s");
  EXPECT_EQ(error_of([&] { parse_config(text, "tiny.yaml"); }),
            "tiny.yaml:2: expected UTF-8 text, got an invalid byte sequence at byte offset 43");
  EXPECT_EQ(override_error({"data.train_files=[a\xff]"}),
            "--set data.train_files: expected UTF-8 text, got an invalid byte sequence at byte "
            "offset 19");
}

TEST(ConfigLimitsTest, CheckedArithmeticDetectsOverflow) {
  int64_t out = 0;
  EXPECT_TRUE(checked_mul(int64_t{1} << 31, int64_t{1} << 31, out));
  EXPECT_EQ(out, int64_t{1} << 62);
  EXPECT_FALSE(checked_mul(int64_t{1} << 32, int64_t{1} << 31, out));
  EXPECT_FALSE(checked_add(std::numeric_limits<int64_t>::max(), 1, out));
  EXPECT_TRUE(checked_add(-5, 3, out));
  EXPECT_EQ(out, -2);
}

TEST(ConfigLimitsTest, FormatBytes) {
  EXPECT_EQ(format_bytes(999), "999 bytes");
  EXPECT_EQ(format_bytes(1.5e9), "1.5 GB");
  EXPECT_EQ(format_bytes(3.2e12), "3.2 TB");
}

}  // namespace
}  // namespace kiln
