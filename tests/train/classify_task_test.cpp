// Sequence classification end to end: a tiny BERT pretraining run, a classifier started from
// its checkpoint (new head, cls.* dropped, reported), evaluation over every held-out example,
// `classify_text`, restore_matching's rules and the config rules for bert-classifier.
#include "train/classify_task.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "base/error.h"
#include "io/hdf5_file.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace kiln {
namespace {

double metric(const Metrics& m, const std::string& key) {
  for (const auto& [k, v] : m)
    if (k == key) return v;
  ADD_FAILURE() << "no metric " << key;
  return NAN;
}

class ClassifyTaskTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    std::ofstream docs(dir_ / "docs.txt");
    for (int d = 0; d < 40; ++d) {
      for (int s = 0; s < 4; ++s)
        docs << "the cook makes soup and bread number " << s << ". the judge reads the law in "
             << "court " << d % 5 << ". my heart says kiss and love.\n";
      docs << "\n";
    }
    // Three classes told apart by their words; the same text never appears twice.
    std::ofstream labelled(dir_ / "labelled.jsonl");
    const char* words[] = {"soup bread cook", "judge court law", "heart kiss love"};
    const char* names[] = {"food", "law", "love"};
    for (int i = 0; i < 120; ++i) {
      int label = i % 3;
      labelled << "{\"text\": \"the " << words[label] << " number " << i << "\", \"label\": \""
               << names[label] << "\"}\n";
    }
  }

  // A tiny BERT pretraining run (as trainer_test's) whose last checkpoint is step 8.
  std::string pretrain() {
    std::string path = (dir_ / "pre.yaml").string();
    std::ofstream(path) << "run: {name: pre, out_dir: " << (dir_ / "pre").string()
                        << ", seed: 3, threads: 2}\n"
                        << "data: {train_files: [" << (dir_ / "docs.txt").string()
                        << "], val_fraction: 0.2, tokenizer_vocab_size: 100, "
                           "max_predictions_per_seq: 4}\n"
                        << "model: {arch: bert, n_layer: 1, n_head: 4, d_model: 32, "
                           "max_seq_len: 32, dropout: 0.1}\n"
                        << "train: {batch_size: 4, seq_len: 24, max_steps: 8, "
                           "optimizer: {lr: 1.0e-3}}\n"
                        << "eval: {every: 0, batches: 2}\n"
                        << "checkpoint: {every: 0}\nlog: {every: 0}\n";
    train({path, {}, ""});
    return (dir_ / "pre" / "ckpt-00000008.h5").string();
  }

  // A classifier run started from `init_from`. A 1-layer BERT this small sits on a plateau
  // (two classes merged) for a couple of hundred steps before [CLS] learns to tell them apart.
  std::string classifier_config(const std::string& init_from, const std::string& model_extra = "") {
    std::string path = (dir_ / "cls.yaml").string();
    std::ofstream(path) << "run: {name: cls, out_dir: " << (dir_ / "cls").string()
                        << ", seed: 5, threads: 2}\n"
                        << "data: {train_files: [" << (dir_ / "labelled.jsonl").string()
                        << "], val_fraction: 0.25, labels: [food, law, love]}\n"
                        << "model: {init_from: " << init_from
                        << ", arch: bert-classifier, dropout: 0.1" << model_extra << "}\n"
                        << "train: {batch_size: 8, seq_len: 16, max_steps: 400, "
                           "optimizer: {lr: 1.0e-3, weight_decay: 0.0}}\n"
                        << "eval: {every: 100}\ncheckpoint: {every: 0}\nlog: {every: 10}\n";
    return path;
  }
};

TEST_F(ClassifyTaskTest, ClassifierStartsFromAPretrainingCheckpointAndLearns) {
  const std::string pre = pretrain();
  const std::string config_path = classifier_config(pre);
  ::testing::internal::CaptureStderr();
  TrainResult result = train({config_path, {}, ""});
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(
      log.find("initialised: classifier.weight, classifier.bias; unused: "
               "cls.predictions.bias, cls.predictions.transform.LayerNorm.bias, "
               "cls.predictions.transform.LayerNorm.weight, "
               "cls.predictions.transform.dense.bias, cls.predictions.transform.dense.weight, "
               "cls.seq_relationship.bias, cls.seq_relationship.weight\n"),
      std::string::npos)
      << log;

  Checkpoint saved = load_checkpoint(result.last_checkpoint);
  EXPECT_TRUE(saved.model.count("classifier.weight"));
  for (const auto& [name, t] : saved.model) EXPECT_FALSE(name.starts_with("cls.")) << name;

  // The metrics cover every held-out example, per label too.
  Config config = load_config(config_path);
  Checkpoint pre_ckpt = load_checkpoint(pre);
  ClassifyTask task(config, pre_ckpt.state.tokenizer);
  nn::ParameterArena arena(task.model());
  restore_checkpoint(saved, arena, nullptr);
  Metrics m = task.evaluate();
  EXPECT_EQ(m[0].first, "val_loss");
  double total = 0;
  for (const char* label : {"food", "law", "love"}) {
    total += metric(m, std::string("count_") + label);
    EXPECT_LE(metric(m, std::string("correct_") + label), metric(m, std::string("count_") + label));
  }
  EXPECT_EQ(total, double(task.held_out_size()));
  EXPECT_EQ(task.train_size() + task.held_out_size(), 120u);
  EXPECT_GT(metric(m, "majority_acc"), 0.2);
  EXPECT_LT(metric(m, "majority_acc"), 0.5);
  EXPECT_GT(metric(m, "accuracy"), 0.9) << "val_loss " << metric(m, "val_loss");
  EXPECT_DOUBLE_EQ(metric(m, "val_loss"), result.last_val_loss);

  std::ifstream metrics_file(dir_ / "cls" / "metrics.jsonl");
  std::string text((std::istreambuf_iterator<char>(metrics_file)),
                   std::istreambuf_iterator<char>());
  for (const char* key : {"\"acc\"", "\"accuracy\"", "\"majority_acc\"", "\"count_law\""})
    EXPECT_NE(text.find(key), std::string::npos) << key;

  // kiln classify's path: probabilities in label order that sum to one.
  const LoadedModel loaded = load_model(result.last_checkpoint);
  std::vector<double> p = classify_text(loaded, "the judge court law number 7");
  ASSERT_EQ(p.size(), 3u);
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-9);
  EXPECT_GT(p[1], 0.5);
  EXPECT_NE(error_of([&] {
              classify_text(load_model(pre), "law");
            }).find("expected model.arch bert-classifier, got model.arch bert"),
            std::string::npos);
}

TEST_F(ClassifyTaskTest, RestoreMatchingCopiesEncoderAndReportsTheRest) {
  const std::string pre = pretrain();
  Config config = load_config(classifier_config(pre));
  EXPECT_EQ(config.model.num_labels, 3);
  EXPECT_EQ(config.data.format, "jsonl");
  EXPECT_EQ(config.model.d_model, 32);  // inherited from the checkpoint
  Checkpoint checkpoint = load_checkpoint(pre);
  ClassifyTask task(config, checkpoint.state.tokenizer);
  nn::ParameterArena arena(task.model());
  RestoreReport report = restore_matching(checkpoint, arena);
  EXPECT_EQ(report.initialised, (std::vector<std::string>{"classifier.weight", "classifier.bias"}));
  EXPECT_EQ(report.unused.size(), 7u);
  for (const std::string& name : report.unused) EXPECT_TRUE(name.starts_with("cls.")) << name;
  for (const auto& [name, t] : arena.named_parameters()) {
    if (name.starts_with("classifier.")) continue;
    EXPECT_EQ(t.to_floats(), checkpoint.model.at(name).to_floats()) << name;
  }
  EXPECT_EQ(task.model().parameter("classifier.bias").to_floats(), std::vector<float>(3, 0.0f));

  // A name in both with another shape is an error naming both shapes.
  checkpoint.model["classifier.weight"] = Tensor::zeros({5, 32});
  EXPECT_EQ(error_of([&] { restore_matching(checkpoint, arena); }),
            pre + ": /model/classifier.weight: expected shape [3, 32] (the model's), got [5, 32]");
}

TEST_F(ClassifyTaskTest, TrainingBatchesArePureFunctionsOfSeedAndStep) {
  const std::string pre = pretrain();
  Config config = load_config(classifier_config(pre));
  Checkpoint checkpoint = load_checkpoint(pre);
  ClassifyTask a(config, checkpoint.state.tokenizer), b(config, checkpoint.state.tokenizer);
  EXPECT_EQ(a.train_loss(3, 0, 11, {}).loss.item(), b.train_loss(3, 0, 11, {}).loss.item());
  EXPECT_NE(a.train_loss(3, 0, 11, {}).loss.item(), a.train_loss(4, 0, 11, {}).loss.item());
  EXPECT_DOUBLE_EQ(metric(a.evaluate(), "val_loss"), metric(b.evaluate(), "val_loss"));
}

TEST_F(ClassifyTaskTest, ConfigRulesForClassifiers) {
  const std::string pre = pretrain();
  // A stand-in GPT checkpoint: a GPT may not become a classifier.
  std::string gpt = (dir_ / "gpt.h5").string();
  {
    Hdf5File file(gpt, Hdf5File::Mode::kCreate);
    file.write_string(
        "/config",
        to_yaml(parse_config("run: {name: g}\ndata: {train_files: [x.txt]}\n"
                             "model: {n_layer: 1, n_head: 2, d_model: 16, max_seq_len: 32}\n"
                             "train: {batch_size: 1, seq_len: 8, max_steps: 1, "
                             "optimizer: {lr: 1.0}}\n",
                             "gpt.yaml")));
  }
  EXPECT_NE(error_of([&] {
              load_config(classifier_config(gpt));
            }).find("model.arch: expected \"gpt\" (the value in model.init_from"),
            std::string::npos);
  // Contradicting an inherited key is still refused; num_labels must match data.labels.
  EXPECT_NE(error_of([&] {
              load_config(classifier_config(pre, ", d_model: 64"));
            }).find("model.d_model: expected 32"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              load_config(classifier_config(pre, ", num_labels: 4"));
            }).find("model.num_labels: expected 3 (the number of data.labels), got 4"),
            std::string::npos);
  EXPECT_EQ(load_config(classifier_config(pre, ", num_labels: 3")).model.num_labels, 3);
  const std::string path = classifier_config(pre);
  EXPECT_NE(error_of([&] {
              load_config(path, {"data.labels=[food]"});
            }).find("data.labels: expected at least two label names"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              load_config(path, {"data.labels=[food, food]"});
            }).find("data.labels: expected a list of distinct names"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              load_config(path, {"data.labels=[\"a b\", c]"});
            }).find("data.labels: expected a list of distinct names"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              load_config(path, {"data.format=text"});
            }).find("data.format: expected \"jsonl\" or \"folders\""),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              load_config(path, {"model.arch=bert"});
            }).find("data.labels: expected no labels for model.arch bert"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln
