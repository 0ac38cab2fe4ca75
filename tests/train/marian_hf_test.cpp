// Hugging Face interchange for MarianMTModel: export then import is bit-identical and `kiln
// forward` gives the same logits before and after; tied aliases written out are checked and
// skipped; a SentencePiece-only folder is refused with one line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "base/rng.h"
#include "data/corpus.h"
#include "io/hdf5_file.h"
#include "io/safetensors.h"
#include "nn/parameter_arena.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"
#include "train/checkpoint.h"
#include "train/hdf5_tensor.h"
#include "train/hf_import.h"
#include "train/translate_task.h"

namespace kiln {
namespace {
namespace fs = std::filesystem;

class MarianHfTest : public ScratchDirTest {
 protected:
  // A tiny marian checkpoint (random weights, a non-zero final_logits_bias, gelu, unscaled
  // embeddings, 2 + 1 layers) at <dir>/mt.h5.
  std::string make_checkpoint() {
    std::ofstream tsv(dir_ / "pairs.tsv");
    tsv << "Genesis 1:1\tel perro come pan\tthe dog eats bread\n"
        << "Genesis 20:1\tla casa es grande\tthe house is big\n";
    tsv.close();
    const Config config = parse_config(
        "run: {name: mt, out_dir: " + (dir_ / "run").string() +
            "}\n"
            "data: {train_files: [" +
            (dir_ / "pairs.tsv").string() +
            "], tokenizer: bpe, tokenizer_vocab_size: 270}\n"
            "model: {arch: marian, n_layer: 2, decoder_layers: 1, n_head: 2, d_model: 16, "
            "d_ff: 24, max_seq_len: 20, activation: gelu, scale_embedding: false}\n"
            "train: {max_steps: 1, optimizer: {lr: 0.001}}\n",
        "mem");
    TranslateTask task(config, std::nullopt);
    nn::ParameterArena arena(task.model());
    for (const auto& [name, t] : arena.named_parameters())
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data()[i] = random_uniform(derive_seed(7, t.numel()), i) - 0.5f;
    CheckpointState state;
    state.config_yaml = to_yaml(config);
    state.tokenizer = task.serialized_tokenizer();
    const std::string path = (dir_ / "mt.h5").string();
    save_checkpoint(path, arena, nullptr, state);
    return path;
  }

  // /logits and /encoder_last_hidden_state of `checkpoint` on fixed ids.
  std::pair<std::vector<float>, std::vector<float>> forward(const std::string& checkpoint) {
    const std::string in = (dir_ / "in.h5").string(), out = (dir_ / "out.h5").string();
    {
      Hdf5File f(in, Hdf5File::Mode::kCreate);
      write_tensor(f, "/input_ids", Tensor::from_ints({2, 4}, {5, 6, 7, 268, 8, 268, 269, 269}));
      write_tensor(f, "/attention_mask", Tensor::from_ints({2, 4}, {1, 1, 1, 1, 1, 1, 0, 0}));
      write_tensor(f, "/decoder_input_ids", Tensor::from_ints({2, 3}, {269, 9, 10, 269, 11, 12}));
    }
    run_forward(checkpoint, in, out);
    Hdf5File f(out, Hdf5File::Mode::kRead);
    const Tensor logits = read_tensor(f, "/logits");
    EXPECT_EQ(logits.shape(), (Shape{2, 3, 270}));
    EXPECT_EQ(read_tensor(f, "/encoder_last_hidden_state").shape(), (Shape{2, 4, 16}));
    return {logits.to_floats(), read_tensor(f, "/encoder_last_hidden_state").to_floats()};
  }
};

TEST_F(MarianHfTest, ExportThenImportIsBitIdenticalAndForwardAgrees) {
  const std::string original = make_checkpoint();
  const std::string folder = (dir_ / "hf").string();
  export_hf(original, folder);
  for (const char* file : {"config.json", "model.safetensors", "vocab.json", "merges.txt"})
    EXPECT_TRUE(fs::exists(fs::path(folder) / file)) << file;
  const std::string config = read_text_file((fs::path(folder) / "config.json").string());
  for (const char* key :
       {"\"model_type\": \"marian\"", "\"d_model\": 16", "\"encoder_layers\": 2",
        "\"decoder_layers\": 1", "\"activation_function\": \"gelu\"", "\"scale_embedding\": false",
        "\"pad_token_id\": 269", "\"eos_token_id\": 268", "\"decoder_start_token_id\": 269"})
    EXPECT_NE(config.find(key), std::string::npos) << key << "\n" << config;
  const std::string imported = (dir_ / "imported.h5").string();
  const HfImportSummary summary = import_hf(folder, imported);
  EXPECT_EQ(summary.arch, Arch::kMarian);
  EXPECT_TRUE(summary.initialised.empty());
  const Checkpoint a = load_checkpoint(original), b = load_checkpoint(imported);
  ASSERT_EQ(a.model.size(), b.model.size());
  for (const auto& [name, t] : a.model)
    EXPECT_EQ(t.to_floats(), b.model.at(name).to_floats()) << name;
  EXPECT_EQ(a.state.tokenizer, b.state.tokenizer);
  const auto before = forward(original), after = forward(imported);
  EXPECT_EQ(before.first, after.first);
  EXPECT_EQ(before.second, after.second);
}

TEST_F(MarianHfTest, TiedAliasesAndPositionTablesAreCheckedAndSkipped) {
  const std::string folder = (dir_ / "hf").string();
  export_hf(make_checkpoint(), folder);
  const std::string file = (fs::path(folder) / "model.safetensors").string();
  // Rewrite the file as a save_pretrained that keeps every alias (and position tables) would.
  auto rewrite = [&](float alias_change) {
    const SafetensorsReader reader(file);
    std::vector<std::string> bytes;
    std::vector<SafetensorsTensor> tensors;
    std::vector<int64_t> shared_shape;
    bytes.reserve(reader.entries().size() + 5);
    for (const SafetensorsEntry& e : reader.entries()) {
      if (e.name == "lm_head.weight" || e.name.find("embed_") != std::string::npos) continue;
      bytes.push_back(encode_floats(reader.read_floats(e.name), "F32"));
      tensors.push_back({e.name, "F32", e.shape, bytes.back()});
      if (e.name == "model.shared.weight") shared_shape = e.shape;
    }
    std::vector<float> shared = reader.read_floats("model.shared.weight");
    for (const char* alias : {"model.encoder.embed_tokens.weight",
                              "model.decoder.embed_tokens.weight", "lm_head.weight"}) {
      std::vector<float> copy = shared;
      if (std::string(alias) == "lm_head.weight") copy[3] += alias_change;
      bytes.push_back(encode_floats(copy, "F32"));
      tensors.push_back({alias, "F32", shared_shape, bytes.back()});
    }
    for (const char* table :
         {"model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight"}) {
      bytes.push_back(encode_floats(std::vector<float>(20 * 16, 0.5f), "F32"));
      tensors.push_back({table, "F32", {20, 16}, bytes.back()});
    }
    write_safetensors(file, tensors, {{"format", "pt"}});
  };
  rewrite(0.0f);
  const HfImportSummary summary = import_hf(folder, (dir_ / "a.h5").string());
  EXPECT_EQ(summary.skipped.size(), 5u);
  rewrite(1.0f);
  EXPECT_NE(error_of([&] { import_hf(folder, (dir_ / "b.h5").string()); })
                .find("tensor 'lm_head.weight': expected a copy of 'model.shared.weight' (tied "
                      "weights), got different values"),
            std::string::npos);
}

TEST_F(MarianHfTest, SentencePieceOnlyFolderIsRefusedWithOneLine) {
  const std::string folder = (dir_ / "hf").string();
  export_hf(make_checkpoint(), folder);
  fs::remove(fs::path(folder) / "vocab.json");
  fs::remove(fs::path(folder) / "merges.txt");
  std::ofstream(fs::path(folder) / "source.spm") << "spm";
  EXPECT_EQ(error_of([&] { import_hf(folder, (dir_ / "x.h5").string()); }),
            folder +
                ": expected a byte-level BPE tokenizer (vocab.json + merges.txt), got "
                "SentencePiece files only (source.spm/target.spm), which kiln cannot read");
}

}  // namespace
}  // namespace kiln
