// The training loop end to end on a tiny corpus: a resumed run is bit-identical to an
// uninterrupted one, checkpoints rotate, metrics and the plot are written, and a config that
// changes the model is refused on resume.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "io/json.h"
#include "tests/scratch_dir.h"
#include "train/bert_task.h"
#include "train/checkpoint.h"
#include "train/registry.h"
#include "train/trainer.h"

namespace kiln {
namespace {
namespace fs = std::filesystem;

using Point = std::pair<double, double>;  // (step, loss), or (x, y) in the plot

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The points='x,y x,y ...' of each <polyline> in `svg`, in document order.
std::vector<std::vector<Point>> polylines(const std::string& svg) {
  std::vector<std::vector<Point>> lines;
  for (size_t at = svg.find("<polyline"); at != std::string::npos;
       at = svg.find("<polyline", at + 1)) {
    const size_t begin = svg.find("points='", at) + 8, end = svg.find('\'', begin);
    std::istringstream points(svg.substr(begin, end - begin));
    std::vector<Point>& line = lines.emplace_back();
    double x, y;
    char comma;
    while (points >> x >> comma >> y) line.push_back({x, y});
  }
  return lines;
}

// loss.svg holds axes, a "step" label, one polyline per series (sorted by name) with its legend,
// and each point where the plot's scales put (step, loss): x from 0 to the last step over
// [60, 700], y from the smallest to the largest loss over [375, 30] (pixels, y downwards).
void expect_loss_plot(const std::string& svg,
                      const std::vector<std::pair<std::string, std::vector<Point>>>& series) {
  EXPECT_TRUE(svg.starts_with("<svg xmlns='http://www.w3.org/2000/svg' width='720' height='420'"))
      << svg.substr(0, 100);
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);
  double last_step = 0, low = INFINITY, high = -INFINITY;
  for (const auto& [name, points] : series)
    for (const auto& [step, loss] : points)
      last_step = std::max(last_step, step), low = std::min(low, loss), high = std::max(high, loss);
  ASSERT_LT(low, high);
  // Tick labels: steps 0, 1/4, ... of the last step on the x axis.
  for (int i = 0; i <= 4; ++i)
    EXPECT_NE(svg.find("'middle'>" + std::to_string(int(last_step * i / 4)) + "</text>"),
              std::string::npos)
        << i;
  const std::vector<std::vector<Point>> drawn = polylines(svg);
  ASSERT_EQ(drawn.size(), series.size());
  for (size_t s = 0; s < series.size(); ++s) {
    const auto& [name, points] = series[s];
    EXPECT_NE(svg.find("'>" + name + "</text>"), std::string::npos) << name;
    ASSERT_EQ(drawn[s].size(), points.size()) << name;
    for (size_t i = 0; i < points.size(); ++i) {
      const double x = 60 + points[i].first / last_step * 640;
      const double y = 30 + (high - points[i].second) / (high - low) * 345;
      // Coordinates are printed to 3 significant digits: whole pixels here.
      EXPECT_NEAR(drawn[s][i].first, x, 0.5) << name << " point " << i;
      EXPECT_NEAR(drawn[s][i].second, y, 0.5) << name << " point " << i;
    }
  }
}

class TrainerTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    std::ofstream corpus(dir_ / "corpus.txt");
    for (int i = 0; i < 200; ++i)
      corpus << "In the beginning was the word " << i % 7 << ", and it was good.\n";
  }

  // A tiny GPT config writing to <dir>/<run>; dropout on, so its seeds are exercised too.
  std::string write_config(const std::string& run) {
    std::string path = (dir_ / (run + ".yaml")).string();
    std::ofstream(path)
        << "run: {name: " << run << ", out_dir: " << (dir_ / run).string()
        << ", seed: 7, threads: 2}\n"
        << "data: {train_files: [" << (dir_ / "corpus.txt").string() << "], val_fraction: 0.2}\n"
        << "model: {n_layer: 2, n_head: 2, d_model: 16, max_seq_len: 16, dropout: 0.1}\n"
        << "train: {batch_size: 4, seq_len: 16, grad_accum: 2, max_steps: 12,\n"
        << "        optimizer: {lr: 3.0e-3}, schedule: {name: cosine, warmup_steps: 3}}\n"
        << "eval: {every: 4, batches: 2}\n"
        << "checkpoint: {every: 6, keep_last: 5}\n"
        << "log: {every: 3}\n";
    return path;
  }

  // A tiny BERT on documents of sentences, with a WordPiece vocabulary trained at start.
  std::string write_bert_config(const std::string& run) {
    {
      std::ofstream docs(dir_ / "docs.txt");
      for (int d = 0; d < 40; ++d) {
        for (int s = 0; s < 4; ++s)
          docs << "document " << d % 9 << " says thing " << s << " about topic " << d % 5 << ".\n";
        docs << "\n";
      }
    }
    std::string path = (dir_ / (run + ".yaml")).string();
    std::ofstream(path)
        << "run: {name: " << run << ", out_dir: " << (dir_ / run).string()
        << ", seed: 3, threads: 2}\n"
        << "data: {train_files: [" << (dir_ / "docs.txt").string()
        << "], val_fraction: 0.2, tokenizer_vocab_size: 60, max_predictions_per_seq: 4}\n"
        << "model: {arch: bert, n_layer: 1, n_head: 2, d_model: 16, max_seq_len: 32, dropout: "
           "0.1}\n"
        << "train: {batch_size: 4, seq_len: 24, max_steps: 8, optimizer: {lr: 1.0e-3},\n"
        << "        schedule: {name: linear, warmup_steps: 2}}\n"
        << "eval: {every: 4, batches: 2}\n"
        << "checkpoint: {every: 4, keep_last: 5}\n"
        << "log: {every: 2}\n";
    return path;
  }
};

void expect_same_tensors(const std::map<std::string, Tensor>& a,
                         const std::map<std::string, Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_EQ(t.to_floats(), b.at(name).to_floats()) << name;
  }
}

TEST_F(TrainerTest, ResumedRunIsBitIdenticalToAnUninterruptedOne) {
  TrainResult full = train({write_config("full"), {}, ""});
  EXPECT_EQ(full.final_step, 12);
  ASSERT_TRUE(fs::exists(dir_ / "full" / "ckpt-00000006.h5"));

  // Resume a second run from the first run's step-6 checkpoint.
  fs::create_directories(dir_ / "resumed");
  fs::copy_file(dir_ / "full" / "ckpt-00000006.h5", dir_ / "resumed" / "ckpt-00000006.h5");
  TrainResult resumed = train({write_config("resumed"), {}, "auto"});
  EXPECT_EQ(resumed.final_step, 12);

  Checkpoint a = load_checkpoint((dir_ / "full" / "ckpt-00000012.h5").string());
  Checkpoint b = load_checkpoint((dir_ / "resumed" / "ckpt-00000012.h5").string());
  expect_same_tensors(a.model, b.model);
  expect_same_tensors(a.exp_avg, b.exp_avg);
  expect_same_tensors(a.exp_avg_sq, b.exp_avg_sq);
  EXPECT_EQ(a.optimizer_steps, 12);
  EXPECT_EQ(b.optimizer_steps, 12);
  EXPECT_EQ(a.state.tokens_seen, 12 * 2 * 4 * 16);
  EXPECT_DOUBLE_EQ(full.last_val_loss, resumed.last_val_loss);
}

TEST_F(TrainerTest, BertResumedRunIsBitIdenticalAndLogsItsMetrics) {
  TrainResult full = train({write_bert_config("full"), {}, ""});
  fs::create_directories(dir_ / "resumed");
  fs::copy_file(dir_ / "full" / "ckpt-00000004.h5", dir_ / "resumed" / "ckpt-00000004.h5");
  TrainResult resumed = train({write_bert_config("resumed"), {}, "auto"});
  Checkpoint a = load_checkpoint((dir_ / "full" / "ckpt-00000008.h5").string());
  Checkpoint b = load_checkpoint((dir_ / "resumed" / "ckpt-00000008.h5").string());
  expect_same_tensors(a.model, b.model);
  expect_same_tensors(a.exp_avg_sq, b.exp_avg_sq);
  EXPECT_EQ(a.state.tokenizer, b.state.tokenizer);
  EXPECT_TRUE(a.model.count("cls.predictions.bias"));
  EXPECT_DOUBLE_EQ(full.last_val_loss, resumed.last_val_loss);

  std::ifstream metrics(dir_ / "full" / "metrics.jsonl");
  std::string text((std::istreambuf_iterator<char>(metrics)), std::istreambuf_iterator<char>());
  for (const char* key :
       {"\"mlm_loss\"", "\"nsp_loss\"", "\"mlm_acc\"", "\"nsp_acc\"", "\"nsp_majority_acc\""})
    EXPECT_NE(text.find(key), std::string::npos) << key;
}

TEST_F(TrainerTest, BertEvaluationReportsTheNspMajorityBaseline) {
  std::unique_ptr<Task> task =
      make_task(load_config(write_bert_config("majority"), {"eval.batches=5"}), std::nullopt);
  const auto& bert = dynamic_cast<const BertTask&>(*task);
  // Count the labels through the eval set's own batches.
  int64_t random_next = 0, examples = 0;
  for (int i = 0; i < bert.eval_set().num_batches(); ++i) {
    BertBatch batch = bert.eval_set().batch(i);
    for (int32_t label : batch.nsp_labels) random_next += label, ++examples;
  }
  ASSERT_EQ(examples, 20);  // eval.batches 5 x batch_size 4
  // An unbalanced set, so that the floor is not 0.5 whatever the formula (15 of 20 are random).
  ASSERT_NE(2 * random_next, examples);
  const double expected = double(std::max(random_next, examples - random_next)) / examples;
  double reported = -1;
  for (const auto& [key, value] : task->evaluate())
    if (key == "nsp_majority_acc") reported = value;
  EXPECT_EQ(reported, expected);
}

TEST_F(TrainerTest, WritesMetricsPlotAndRotatesCheckpoints) {
  std::string config = write_config("run");
  train({config, {"checkpoint.every=2", "checkpoint.keep_last=2"}, ""});
  std::vector<std::string> checkpoints;
  for (const auto& e : fs::directory_iterator(dir_ / "run"))
    if (e.path().extension() == ".h5") checkpoints.push_back(e.path().filename().string());
  std::sort(checkpoints.begin(), checkpoints.end());
  EXPECT_EQ(checkpoints, (std::vector<std::string>{"ckpt-00000010.h5", "ckpt-00000012.h5"}));
  // (step, loss) of each series, from metrics.jsonl.
  std::vector<Point> train_loss, val_loss;
  std::ifstream metrics(dir_ / "run" / "metrics.jsonl");
  std::string line;
  for (int number = 1; std::getline(metrics, line); ++number) {
    const json::Value event = json::parse(line, "metrics.jsonl:" + std::to_string(number));
    const double step = event.at("step").as_number();
    if (event.at("kind").as_string() == "train")
      train_loss.push_back({step, event.at("loss").as_number()});
    else if (const json::Value* loss = event.find("val_loss"))
      val_loss.push_back({step, loss->as_number()});
  }
  ASSERT_EQ(train_loss.size(), 4u);  // steps 3, 6, 9, 12
  ASSERT_EQ(val_loss.size(), 3u);    // steps 4, 8 and the final one
  expect_loss_plot(read_file(dir_ / "run" / "loss.svg"),
                   {{"train loss", train_loss}, {"val_loss", val_loss}});
}

TEST_F(TrainerTest, ResumeRefusesAChangedModel) {
  std::string config = write_config("run");
  train({config, {"train.max_steps=6", "train.schedule.warmup_steps=1"}, ""});
  try {
    train({config, {"model.d_model=32"}, "auto"});
    FAIL() << "expected kiln::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.d_model"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, CorruptNewestCheckpointIsSkippedByResumeAuto) {
  std::string config = write_config("run");
  train({config, {"train.max_steps=6", "train.schedule.warmup_steps=1"}, ""});
  std::ofstream(dir_ / "run" / "ckpt-00000099.h5") << "not an hdf5 file";
  std::vector<std::string> skipped;
  auto latest = find_latest_checkpoint(
      (dir_ / "run").string(), [](const std::string& path) { load_model(path); },
      [&](const std::string& path, const std::string&) { skipped.push_back(path); });
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(fs::path(*latest).filename(), "ckpt-00000006.h5");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(fs::path(skipped[0]).filename(), "ckpt-00000099.h5");
}

TEST_F(TrainerTest, FineTuneFromACheckpointKeepsItsWeightsAndTokenizer) {
  train({write_config("base"), {"train.max_steps=6", "train.schedule.warmup_steps=1"}, ""});
  const std::string base_checkpoint = (dir_ / "base" / "ckpt-00000006.h5").string();
  std::ofstream(dir_ / "new.txt") << std::string(400, ' ') +
                                         "the word was good, and it was the word.\n";
  std::string tune = (dir_ / "tune.yaml").string();
  std::ofstream(tune)
      << "run: {name: tune, out_dir: " << (dir_ / "tune").string() << ", seed: 9}\n"
      << "data: {train_files: [" << (dir_ / "new.txt").string() << "], val_fraction: 0.3}\n"
      << "model: {init_from: " << base_checkpoint << ", dropout: 0.0}\n"
      << "train: {batch_size: 2, seq_len: 16, max_steps: 3, optimizer: {lr: 1.0e-3},\n"
      << "        freeze: [\"transformer.wte.*\"]}\n"
      << "checkpoint: {keep_best: true}\n";
  train({tune, {}, ""});
  Checkpoint base = load_checkpoint(base_checkpoint);
  Checkpoint tuned = load_checkpoint((dir_ / "tune" / "ckpt-00000003.h5").string());
  EXPECT_EQ(base.state.tokenizer, tuned.state.tokenizer);
  // Frozen: the token embedding is the base model's, bit for bit; the rest moved.
  EXPECT_EQ(base.model.at("transformer.wte.weight").to_floats(),
            tuned.model.at("transformer.wte.weight").to_floats());
  EXPECT_NE(base.model.at("transformer.ln_f.weight").to_floats(),
            tuned.model.at("transformer.ln_f.weight").to_floats());
  EXPECT_EQ(tuned.optimizer_steps, 3);  // a fresh optimizer
  EXPECT_TRUE(fs::exists(dir_ / "tune" / "best.h5"));
  Config tuned_config = parse_config(tuned.state.config_yaml, "tuned");
  EXPECT_EQ(tuned_config.model.d_model, 16);  // the model section came from the checkpoint

  // A character the checkpoint's tokenizer has never seen is named with its file and offset.
  std::ofstream(dir_ / "new.txt") << std::string(100, ' ') + "wa\xc3\xa9\n" + std::string(400, ' ');
  try {
    train({tune, {"run.out_dir=" + (dir_ / "tune2").string()}, ""});
    FAIL() << "expected kiln::Error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("U+00E9"), std::string::npos) << message;
    EXPECT_NE(message.find("new.txt"), std::string::npos) << message;
    EXPECT_NE(message.find("byte offset 102"), std::string::npos) << message;
  }
  // The model section may not contradict the checkpoint.
  EXPECT_THROW(train({tune, {"model.d_model=32"}, ""}), Error);
}

}  // namespace
}  // namespace kiln
