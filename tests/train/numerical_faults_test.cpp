// Non-finite numbers: a diverging run stops (or skips steps) without saving NaN, and every
// reader of weights (kiln checkpoints, Hugging Face safetensors) refuses NaN and infinity by
// tensor name.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "io/hdf5_file.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"
#include "train/checkpoint.h"
#include "train/hdf5_tensor.h"
#include "train/trainer.h"

namespace kiln {
namespace {
namespace fs = std::filesystem;

class NumericalFaultsTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    std::ofstream corpus(dir_ / "corpus.txt");
    for (int i = 0; i < 100; ++i) corpus << "a tiny corpus line number " << i % 7 << ".\n";
  }
  // A tiny GPT checkpointing every step; `lr` 1e30 makes it diverge at its second step.
  std::string config(const std::string& run, double lr, int skip = 0) {
    const std::string path = (dir_ / (run + ".yaml")).string();
    std::ofstream(path) << "run: {name: " << run << ", out_dir: " << (dir_ / run).string()
                        << ", threads: 1}\n"
                        << "data: {train_files: [" << (dir_ / "corpus.txt").string() << "]}\n"
                        << "model: {n_layer: 1, n_head: 2, d_model: 16, max_seq_len: 16}\n"
                        << "train: {batch_size: 2, seq_len: 16, max_steps: 8, grad_clip: 0,\n"
                        << "        skip_nonfinite_steps: " << skip << ", optimizer: {lr: " << lr
                        << "}}\n"
                        << "checkpoint: {every: 1, keep_last: 100}\n"
                        << "eval: {every: 0}\n";
    return path;
  }
};

TEST_F(NumericalFaultsTest, DivergingRunStopsNamingTheStepAndSavesNothingNonFinite) {
  const std::string message = error_of([&] { train({config("run", 1e30), {}, ""}); });
  EXPECT_NE(message.find("expected a finite loss and gradient norm, got loss"), std::string::npos)
      << message;
  EXPECT_NE(message.find("first non-finite gradient: "), std::string::npos) << message;
  EXPECT_NE(message.find("the run stopped without saving it"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  // Every checkpoint written before the fault loads, so every one holds finite values only.
  int checkpoints = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "run"))
    if (e.path().extension() == ".h5") {
      EXPECT_NO_THROW(load_checkpoint(e.path().string())) << e.path();
      ++checkpoints;
    }
  EXPECT_GE(checkpoints, 1);
  EXPECT_FALSE(fs::exists(dir_ / "run" / "ckpt-00000008.h5"));
}

TEST_F(NumericalFaultsTest, SkipsUpToTheConfiguredNumberOfNonFiniteSteps) {
  const std::string message = error_of([&] { train({config("run", 1e30, 2), {}, ""}); });
  EXPECT_NE(message.find("after skipping 2 such steps"), std::string::npos) << message;
}

// A checkpoint written by someone else with one NaN weight (or moment) is refused by name.
TEST_F(NumericalFaultsTest, CheckpointWithANonFiniteValueIsRefusedByName) {
  ASSERT_NO_THROW(train({config("good", 1e-3), {"train.max_steps=2"}, ""}));
  const Checkpoint good = load_checkpoint((dir_ / "good" / "ckpt-00000002.h5").string());
  for (const char* group : {"model", "exp_avg"}) {
    const std::string path = (dir_ / (std::string(group) + ".h5")).string();
    {
      Hdf5File file(path, Hdf5File::Mode::kCreate);
      file.set_attribute("format", kCheckpointFormat);
      file.set_attribute("version", kCheckpointVersion);
      file.set_attribute("step", int64_t{2});
      file.set_attribute("tokens_seen", int64_t{64});
      file.write_string("/config", good.state.config_yaml);
      file.write_string("/tokenizer", good.state.tokenizer);
      for (const auto& [name, t] : good.model) {
        Tensor weight = t.clone(), moment = good.exp_avg.at(name).clone();
        if (name == "transformer.ln_f.weight")
          (std::string(group) == "model" ? weight : moment).data()[3] =
              std::numeric_limits<float>::quiet_NaN();
        write_tensor(file, "/model/" + name, weight);
        write_tensor(file, "/optimizer/exp_avg/" + name, moment);
        write_tensor(file, "/optimizer/exp_avg_sq/" + name, good.exp_avg_sq.at(name));
      }
      file.close();
    }
    const std::string dataset = std::string(group) == "model"
                                    ? "/model/transformer.ln_f.weight"
                                    : "/optimizer/exp_avg/transformer.ln_f.weight";
    EXPECT_EQ(error_of([&] { load_checkpoint(path); }),
              path + ": " + dataset + ": expected finite values, got nan at element 3");
  }
}

}  // namespace
}  // namespace kiln
