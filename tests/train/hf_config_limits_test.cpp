// Tests for the sizes in a Hugging Face config.json: checked before kiln computes with them
// or allocates for them, and refused naming the file and the key.
#include <gtest/gtest.h>

#include <string>

#include "io/json.h"
#include "tests/error_of.h"
#include "train/hf_config.h"

namespace kiln {
namespace {

constexpr const char* kGpt2 =
    R"({"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 2, "n_positions": 32,
        "vocab_size": 300})";

constexpr const char* kBertClassifier =
    R"({"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 128, "max_position_embeddings": 32,
        "vocab_size": 300, "architectures": ["BertForSequenceClassification"],
        "id2label": null, "num_labels": NUM})";

Config convert(const std::string& text) {
  return kiln_config(json::parse(text, "m/config.json"), "m", "m/config.json", 1);
}

TEST(HfConfigLimitsTest, HugeNumLabelsIsRefusedBeforeNamingThem) {
  std::string text = kBertClassifier;
  text.replace(text.find("NUM"), 3, "1000000000000");
  // Used to build 10^12 label names.
  EXPECT_EQ(error_of([&] { convert(text); }),
            "m/config.json: num_labels: expected an integer in [0, 65536], got 1000000000000");
}

TEST(HfConfigLimitsTest, HugeWidthReachesTheDModelCheckWithoutOverflow) {
  std::string text = kGpt2;
  text.replace(text.find("64"), 2, "4611686018427387904");  // 2^62: 4 * n_embd overflows int64
  const std::string message = error_of([&] { convert(text); });
  EXPECT_NE(message.find("model.d_model: "), std::string::npos) << message;
}

TEST(HfConfigLimitsTest, TheSmallConfigConverts) {
  const Config config = convert(kGpt2);
  EXPECT_EQ(config.model.d_model, 64);
  EXPECT_EQ(config.model.d_ff, 256);
}

}  // namespace
}  // namespace kiln
