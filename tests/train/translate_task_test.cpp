// The translation task end to end on a tiny corpus: the chapter split, the shared BPE with its
// special tokens, a tiny Marian overfitting one fixed batch through train_loss, and evaluation
// metrics (val_loss, BLEU, chrF) that reflect what was learned.
#include "train/translate_task.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "autograd/tape.h"
#include "data/tokenizer.h"
#include "nn/adamw.h"
#include "nn/parameter_arena.h"
#include "tests/scratch_dir.h"

namespace kiln {
namespace {

double metric(const Metrics& m, const std::string& key) {
  for (const auto& [k, v] : m)
    if (k == key) return v;
  ADD_FAILURE() << "no metric " << key;
  return NAN;
}

class TranslateTaskTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    // Genesis 20 is held out (chapter position 20); Genesis 1 and 2 are trained on.
    const char* es[] = {"el perro come pan", "la casa es grande", "el sol sale hoy",
                        "mi padre lee libros"};
    const char* en[] = {"the dog eats bread", "the house is big", "the sun rises today",
                        "my father reads books"};
    std::ofstream tsv(dir_ / "pairs.tsv");
    for (int chapter : {1, 2, 20})
      for (int v = 0; v < 4; ++v)
        tsv << "Genesis " << chapter << ":" << v + 1 << "\t" << es[v] << "\t" << en[v] << "\n";
  }

  Config config(int batch_tokens) const {
    return parse_config(
        "run: {name: mt, out_dir: " + (dir_ / "run").string() +
            ", seed: 3}\n"
            "data: {train_files: [" +
            (dir_ / "pairs.tsv").string() +
            "], tokenizer: bpe, tokenizer_vocab_size: 300}\n"
            "model: {arch: marian, n_layer: 1, decoder_layers: 1, n_head: 2, d_model: 32, "
            "d_ff: 64, max_seq_len: 24, dropout: 0.0}\n"
            "train: {batch_tokens: " +
            std::to_string(batch_tokens) +
            ", label_smoothing: 0.1, max_steps: 10, optimizer: {lr: 0.003}}\n"
            "eval: {bleu_sentences: 4, beam: 2}\n",
        "mem");
  }
};

TEST_F(TranslateTaskTest, SplitsByChapterAndTrainsOneSharedBpe) {
  TranslateTask task(config(10000), std::nullopt);
  // 8 training pairs (Genesis 1 and 2) in one batch; the 4 of Genesis 20 are held out.
  EXPECT_EQ(task.train_batches().pairs().size(), 8u);
  EXPECT_EQ(task.train_batches().batches_per_epoch(), 1);
  const nn::MarianConfig& c = task.marian().config();
  EXPECT_EQ(c.vocab_size, 300);
  EXPECT_EQ(c.pad_token_id, 299);  // <pad> last, after <|endoftext|> (eos)
  EXPECT_EQ(c.eos_token_id, 298);
  EXPECT_EQ(c.activation, nn::Activation::kSwish);
  EXPECT_NE(task.data_summary().find("8 training pairs (0 truncated, 0 dropped"), std::string::npos)
      << task.data_summary();
  // The tokenizer survives the checkpoint's round trip: the same task again.
  TranslateTask again(config(10000), task.serialized_tokenizer());
  EXPECT_EQ(again.serialized_tokenizer(), task.serialized_tokenizer());
}

TEST_F(TranslateTaskTest, TinyMarianOverfitsAFixedBatchThroughTheTask) {
  // batch_tokens 30: batches of a few pairs; step 0's batch is the one trained on.
  TranslateTask task(config(30), std::nullopt);
  ASSERT_GT(task.train_batches().batches_per_epoch(), 1);
  nn::ParameterArena arena(task.model(), {"final_logits_bias"});
  nn::AdamW optimizer(arena, {0.9f, 0.98f, 1e-9f, 0.0f});
  double first = 0, last = 0;
  for (int step = 0; step < 120; ++step) {
    arena.zero_grads();
    Tensor loss = task.train_loss(0, 0, step, Shard{}).loss;
    (step == 0 ? first : last) = loss.item();
    backward(loss);
    optimizer.step(3e-3f);
  }
  EXPECT_NEAR(first, std::log(300.0), 0.5);  // near-uniform logits at initialisation
  // Label smoothing 0.1 over 300 ids puts the floor at H(q) ~ 0.89; well under 1.2 means ~0.95
  // of the mass sits on every label of the batch.
  EXPECT_LT(last, 1.2);
  // The same batch split between two "ranks" gives both halves' losses, each finite and small.
  const Tensor half = task.train_loss(0, 0, 0, Shard{0, 2}).loss;
  EXPECT_LT(half.item(), 1.2);
  const Metrics m = task.evaluate();
  EXPECT_GT(metric(m, "val_loss"), 0.0);
  EXPECT_GE(metric(m, "bleu"), 0.0);
  EXPECT_GE(metric(m, "chrf"), 0.0);
}

TEST_F(TranslateTaskTest, ATrainedModelTranslatesItsTrainingSentences) {
  TranslateTask task(config(10000), std::nullopt);
  nn::ParameterArena arena(task.model(), {"final_logits_bias"});
  nn::AdamW optimizer(arena, {0.9f, 0.98f, 1e-9f, 0.0f});
  for (int step = 0; step < 200; ++step) {
    arena.zero_grads();
    backward(task.train_loss(0, 0, step, Shard{}).loss);
    optimizer.step(3e-3f);
  }
  // The held-out chapter repeats the training sentences, so BLEU and chrF are perfect, with
  // greedy decoding (evaluate) and with beam 2 (evaluate_all).
  EXPECT_NEAR(metric(task.evaluate(), "bleu"), 100.0, 1e-9);
  const Metrics all = task.evaluate_all();
  EXPECT_NEAR(metric(all, "bleu"), 100.0, 1e-9);
  EXPECT_NEAR(metric(all, "chrf"), 100.0, 1e-9);
  task.model().train(false);
  const BpeTokenizer tokenizer =
      *Tokenizer::from_serialized(task.serialized_tokenizer()).as<BpeTokenizer>();
  nn::DecodeOptions o;
  o.max_new_tokens = 24;
  EXPECT_EQ(
      translate_texts(task.marian(), tokenizer, {"la casa es grande", "el sol sale hoy"}, 24, o),
      (std::vector<std::string>{"the house is big", "the sun rises today"}));
}

}  // namespace
}  // namespace kiln
