// The `kiln` command as a user runs it: help texts, error messages and exit codes, and
// train -> eval -> sample on a tiny corpus.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "autograd/gemm.h"
#include "io/json.h"
#include "tests/cli/run_helpers.h"
#include "train/checkpoint.h"

namespace {
using namespace kiln::cli_test;
using kiln::cli_test::kiln;  // the command, not the namespace

TEST(CliTest, EveryCommandHasHelp) {
  for (const char* command : {"", "train", "eval", "sample", "bench", "tokenizer", "embed",
                              "import-hf", "export-hf", "forward", "translate"}) {
    CommandResult r = kiln(std::string(command) + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("usage: kiln"), std::string::npos) << command << ": " << r.out;
  }
}

TEST(CliTest, ThreadBindingFromTheEnvironmentKeepsEveryCpu) {
  // kiln restarts itself once to set libgomp's wait policy (cli/main.cpp). With OMP_PROC_BIND
  // or OMP_PLACES set, libgomp has bound the first process to one place by then, and the
  // restart used to inherit it: one thread where there are more CPUs. (The tests run with
  // OMP_WAIT_POLICY set, which skips the restart; it is unset here.)
  const std::string restart = "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u OMP_NUM_THREADS ";
  // The thread count `kiln --version` reports. Only that: where /sys lacks the CPU topology
  // (a chroot), libgomp also prints that it could not read it.
  auto threads = [&](const std::string& prefix) {
    const CommandResult r = kiln_via(prefix + restart, "--version");
    EXPECT_EQ(r.exit_code, 0) << prefix << r.out;
    const std::size_t at = r.out.find("kiln 0.1.0 (threads: ");
    return at == std::string::npos ? std::string("none in: " + r.out) : r.out.substr(at);
  };
  const std::string all = threads("");
  for (const char* binding : {"OMP_PROC_BIND=true ", "OMP_PLACES=cores ", "OMP_PROC_BIND=spread "})
    EXPECT_EQ(threads(std::string("env ") + binding), all) << binding;
  // A restriction of the user's own still holds.
  EXPECT_EQ(threads("taskset -c 0 env OMP_PROC_BIND=true "), "kiln 0.1.0 (threads: 1)\n");
}

TEST(CliTest, UnknownCommandAndOptionFailWithOneLine) {
  CommandResult r = kiln("fly");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "error: kiln: expected a command (see 'kiln --help'), got 'fly'\n");
  r = kiln("eval --checkpoint x.h5 --bogus 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out,
            "error: kiln eval: expected a known option (see 'kiln eval --help'), got --bogus\n");
}

TEST(CliTest, MissingConfigNamesThePath) {
  CommandResult r = kiln("train /nonexistent/config.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("/nonexistent/config.yaml"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

// A scratch folder <TempDir>/kiln_cli_<name>_<pid> with a one-line-repeated corpus and
// tiny.yaml: a 1-layer character GPT writing to <dir>/run, trained for `steps` steps at `lr`,
// then `extra` YAML appended.
fs::path tiny_gpt_folder(const std::string& name, const std::string& line, int steps,
                         const std::string& lr, const std::string& extra) {
  fs::path dir =
      fs::path(::testing::TempDir()) / ("kiln_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream corpus(dir / "corpus.txt");
    for (int i = 0; i < 100; ++i) corpus << line << "\n";
  }
  std::ofstream(dir / "tiny.yaml")
      << "run: {name: tiny, out_dir: " << (dir / "run").string() << "}\n"
      << "data: {train_files: [" << (dir / "corpus.txt").string() << "]}\n"
      << "model: {n_layer: 1, n_head: 2, d_model: 16, max_seq_len: 16}\n"
      << "train: {batch_size: 4, seq_len: 16, max_steps: " << steps << ", optimizer: {lr: " << lr
      << "}}\n"
      << extra;
  return dir;
}

TEST(CliTest, Bf16IsRefusedInOneLineOnACpuWithoutIt) {
  // KILN_CPU_NO_BF16 makes any CPU report no bf16, so the refusal is tested everywhere.
  const fs::path dir = tiny_gpt_folder("bf16_refused", "abc", 5, "1.0e-2", "eval: {every: 0}\n");
  CommandResult train = kiln_via("KILN_CPU_NO_BF16=1 ", "train " + (dir / "tiny.yaml").string() +
                                                            " --set train.precision=bf16");
  EXPECT_NE(train.exit_code, 0);
  EXPECT_NE(train.out.find("tiny.yaml: train.precision bf16: expected a CPU with AVX512_BF16 or "
                           "AMX-BF16"),
            std::string::npos)
      << train.out;
  EXPECT_EQ(std::count(train.out.begin(), train.out.end(), '\n'), 1) << train.out;
  EXPECT_FALSE(fs::exists(dir / "run")) << "nothing is written before the refusal";
  CommandResult bench = kiln_via("KILN_CPU_NO_BF16=1 ", "bench --steps 1 --precision bf16");
  EXPECT_NE(bench.exit_code, 0);
  EXPECT_NE(bench.out.find("kiln bench --precision bf16: expected a CPU with AVX512_BF16"),
            std::string::npos)
      << bench.out;
}

TEST(CliTest, BenchReportsItsFiguresAsOneJsonLine) {
  // A small GPT, end to end: the timed steps, then the step/probe pairs that give MFU. The
  // figures depend on the machine, so only their presence and sense are checked, plus the
  // quantities that do not: the model's size and its FLOP count.
  const int64_t V = 11, L = 2, d = 64, T = 32, B = 4;
  CommandResult bench = kiln(
      "bench --vocab-size 11 --n-layer 2 --n-head 2 --d-model 64 "
      "--seq-len 32 --batch-size 4 --steps 2 --warmup-steps 1 --threads 1");
  ASSERT_EQ(bench.exit_code, 0) << bench.out;
  const kiln::json::Value line = kiln::json::parse(bench.out, "bench output");
  EXPECT_EQ(line.at("framework").as_string(), "kiln");
  EXPECT_EQ(line.at("steps").as_int(), 2);
  for (const char* positive : {"tokens_per_s", "gemm_gflops", "mfu", "step_ms_median"})
    EXPECT_GT(line.at(positive).as_number(), 0.0) << positive;
  // One utilisation a step/probe pair, --steps of them; mfu is their median (here the mean of
  // the two, each rounded to 0.001 as mfu is).
  const kiln::json::Value::Array& pairs = line.at("mfu_pairs").as_array();
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_GT(pairs[0].as_number(), 0.0);
  EXPECT_GT(pairs[1].as_number(), 0.0);
  EXPECT_NEAR(line.at("mfu").as_number(), 0.5 * (pairs[0].as_number() + pairs[1].as_number()),
              1.5e-3);
  // Per layer: two layer norms, c_attn, c_proj, c_fc and the MLP's c_proj, with biases.
  const int64_t layer =
      4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
  const int64_t embeddings = V * d + T * d;
  EXPECT_EQ(line.at("n_params").as_int(), embeddings + L * layer + 2 * d);
  // 6 N_dense + 12 L T d + 6 d V FLOPs a token (the reference's count), B T tokens a step.
  const double dense = double(L * layer + 2 * d);
  const double want = (6 * dense + 12.0 * L * T * d + 6.0 * d * V) * B * T / 1e9;
  EXPECT_NEAR(line.at("model_gflop_per_step").as_number(), want, 1e-4) << "of " << want;
}

TEST(CliTest, Bf16TrainsWhereTheCpuHasIt) {
  if (!kiln::cpu_supports_bf16()) GTEST_SKIP() << "this CPU has no bf16 (the refusal is tested)";
  const fs::path dir = tiny_gpt_folder("bf16_trains", "to be or not to be, that is the question.",
                                       30, "1.0e-2", "eval: {every: 0}\n");
  CommandResult train =
      kiln("train " + (dir / "tiny.yaml").string() + " --set train.precision=bf16");
  ASSERT_EQ(train.exit_code, 0) << train.out;
  CommandResult eval = kiln("eval --checkpoint " + (dir / "run" / "ckpt-00000030.h5").string());
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  // As the fp32 test below: an untrained model over ~17 characters starts near ln 17 = 2.8.
  EXPECT_LT(std::stod(eval.out.substr(eval.out.find("\"val_loss\":") + 11)), 2.0) << eval.out;
}

TEST(CliTest, TrainEvalAndSampleATinyModel) {
  const fs::path dir = tiny_gpt_folder("tiny", "to be or not to be, that is the question.", 30,
                                       "1.0e-2", "eval: {every: 10, batches: 2}\n");
  CommandResult train = kiln("train " + (dir / "tiny.yaml").string());
  ASSERT_EQ(train.exit_code, 0) << train.out;
  std::string checkpoint = (dir / "run" / "ckpt-00000030.h5").string();
  ASSERT_TRUE(fs::exists(checkpoint)) << train.out;

  CommandResult eval = kiln("eval --checkpoint " + checkpoint);
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  EXPECT_NE(eval.out.find("\"val_loss\":"), std::string::npos) << eval.out;
  EXPECT_NE(eval.out.find("\"perplexity\":"), std::string::npos) << eval.out;
  double loss = std::stod(eval.out.substr(eval.out.find("\"val_loss\":") + 11));
  EXPECT_LT(loss, 2.0);  // an untrained model over ~17 characters starts near ln 17 = 2.8
  // A path with quotes and a backslash still gives one line of valid JSON.
  const std::string odd = (dir / "a \"quoted\" \\ckpt.h5").string();
  fs::copy_file(checkpoint, odd);
  CommandResult odd_eval = kiln("eval --checkpoint '" + odd + "'");
  ASSERT_EQ(odd_eval.exit_code, 0) << odd_eval.out;
  const kiln::json::Value parsed = kiln::json::parse(odd_eval.out, "eval output");
  EXPECT_EQ(parsed.at("checkpoint").as_string(), odd);
  EXPECT_EQ(parsed.at("step").as_int(), 30);
  EXPECT_DOUBLE_EQ(parsed.at("val_loss").as_number(), loss);

  CommandResult a =
      kiln("sample --checkpoint " + checkpoint + " --prompt 'to be' --max-new-tokens 20 --seed 3");
  CommandResult b =
      kiln("sample --checkpoint " + checkpoint + " --prompt 'to be' --max-new-tokens 20 --seed 3");
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_EQ(a.out.substr(0, a.out.find('[')),
            b.out.substr(0, b.out.find('[')));  // timing line differs
  EXPECT_EQ(a.out.rfind("to be", 0), 0u) << a.out;

  CommandResult unknown = kiln("sample --checkpoint " + checkpoint + " --prompt 'TO BE'");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.out.find("U+0054"), std::string::npos)
      << unknown.out;  // 'T' is not in the corpus
  fs::remove_all(dir);
}

// A run folder that cannot be created is one line naming it (it used to be an internal
// filesystem error).
TEST(CliTest, UncreatableRunFolderIsOneLine) {
  const fs::path dir = tiny_gpt_folder("nofolder", "to be or not to be", 4, "1.0e-2", "");
  CommandResult r =
      kiln("train " + (dir / "tiny.yaml").string() + " --set run.out_dir=/proc/kiln_no/run");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.out,
            "error: /proc/kiln_no/run: expected to create the run folder, got No such file or "
            "directory\n");
  fs::remove_all(dir);
}

TEST(CliTest, InterruptSavesACheckpointAndResumeContinues) {
  const fs::path dir =
      tiny_gpt_folder("int", "all work and no play makes jack a dull boy", 100000000, "1.0e-3", "");
  // SIGINT after step 5, as Ctrl-C would.
  CommandResult interrupted =
      kiln_via("KILN_TEST_SIGNAL_AT=5:INT ", "train " + (dir / "tiny.yaml").string());
  EXPECT_EQ(interrupted.exit_code, 130) << interrupted.out;
  EXPECT_NE(interrupted.out.find("interrupted; saved"), std::string::npos) << interrupted.out;
  int checkpoints = 0;
  for (const auto& e : fs::directory_iterator(dir / "run"))
    checkpoints += e.path().extension() == ".h5";
  EXPECT_EQ(checkpoints, 1);
  EXPECT_TRUE(fs::exists(dir / "run" / "ckpt-00000005.h5"));

  CommandResult resumed =
      kiln("train " + (dir / "tiny.yaml").string() + " --resume auto --set train.max_steps=3");
  // Resuming past the new max_steps just re-saves; the point is that the checkpoint loads.
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("resumed from"), std::string::npos) << resumed.out;
  fs::remove_all(dir);
}

// Resumes `train_command` (the interrupted run) with --resume auto and checks that it continues
// from the right step (SIGKILL loses the steps after the last periodic checkpoint, every 50)
// and ends with exactly the weights of <run>/straight.
void resume_and_compare(const TinyRun& run, const std::string& train_command, const char* signal,
                        const CommandResult& first, int steps, int stop_at) {
  CommandResult resumed = kiln(train_command + " --resume auto");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  const int resumed_at = std::string(signal) == "KILL" ? stop_at / 50 * 50 : stop_at;
  EXPECT_NE(resumed.out.find("at step " + std::to_string(resumed_at)), std::string::npos)
      << first.out << resumed.out;
  char final_name[32];
  std::snprintf(final_name, sizeof final_name, "ckpt-%08d.h5", steps);
  expect_same_final_weights(run.dir / "straight" / final_name,
                            run.dir / "interrupted" / final_name);
}

// Interrupting with `signal` after step `stop_at` (the process raises it itself, so the
// moment does not depend on the machine's speed), then resuming with --resume auto, must end
// with exactly the weights of a run that was never interrupted.
void check_interrupted_resume(const char* signal, const std::string& name,
                              const std::string& model = "n_layer: 1, n_head: 2, d_model: 16",
                              int steps = 300, int stop_at = 130) {
  TinyRun run(name);
  ASSERT_EQ(kiln("train " + run.config("straight", steps, model)).exit_code, 0);
  std::string config = run.config("interrupted", steps, model);
  CommandResult first = kiln_via(
      "KILN_TEST_SIGNAL_AT=" + std::to_string(stop_at) + ":" + signal + " ", "train " + config);
  if (std::string(signal) == "TERM") {
    EXPECT_EQ(first.exit_code, 143) << first.out;  // 128 + SIGTERM, after saving
    EXPECT_NE(first.out.find("interrupted; saved"), std::string::npos) << first.out;
  } else {
    EXPECT_EQ(first.exit_code, 137) << first.out;  // the shell reports 128 + SIGKILL
  }
  resume_and_compare(run, "train " + config, signal, first, steps, stop_at);
}

TEST(CliResumeTest, AfterSigtermIsBitIdentical) {
  check_interrupted_resume("TERM", "term");
}

TEST(CliResumeTest, AfterSigkillFromLastPeriodicCheckpointIsBitIdentical) {
  check_interrupted_resume("KILL", "kill");
}

constexpr const char* kTinyBert = "arch: bert, n_layer: 1, n_head: 2, d_model: 16";

TEST(CliResumeTest, BertAfterSigtermIsBitIdentical) {
  check_interrupted_resume("TERM", "bert_term", kTinyBert);
}

TEST(CliResumeTest, BertAfterSigkillIsBitIdentical) {
  check_interrupted_resume("KILL", "bert_kill", kTinyBert);
}

// A tiny marian on a few sentence pairs (chapter 20 is held out), batches of ~40 tokens.
constexpr const char* kTinyMarian =
    "arch: marian, n_layer: 1, decoder_layers: 1, n_head: 2, d_model: 16";

void write_pairs(const fs::path& dir) {
  std::ofstream tsv(dir / "corpus.txt");  // TinyRun's configs read corpus.txt
  const char* es[] = {"el perro come pan", "la casa es grande", "el sol sale hoy"};
  const char* en[] = {"the dog eats bread", "the house is big", "the sun rises today"};
  for (int chapter : {1, 2, 3, 20})
    for (int v = 0; v < 3; ++v)
      tsv << "Genesis " << chapter << ":" << v + 1 << "\t" << es[v] << " " << chapter << "\t"
          << en[v] << " " << chapter << "\n";
}

void check_marian_resume(const char* signal, const std::string& name) {
  TinyRun run(name);
  write_pairs(run.dir);
  const int steps = 120, stop_at = 70;
  // TinyRun's config has data and train sections of its own: override them with --set.
  const std::string sets =
      " --set data.tokenizer=bpe --set data.tokenizer_vocab_size=280 --set train.batch_tokens=40"
      " --set train.label_smoothing=0.1 --set eval.bleu_sentences=2";
  auto config = [&](const std::string& which) {
    std::string path = run.config(which, steps, kTinyMarian);
    // batch_size and seq_len are not marian keys' business: drop them from the file.
    std::string text = file_bytes(path);
    const std::string from = "batch_size: 4, seq_len: 16, ";
    text.replace(text.find(from), from.size(), "");
    std::ofstream(path) << text;
    return path;
  };
  ASSERT_EQ(kiln("train " + config("straight") + sets).exit_code, 0);
  const std::string interrupted = config("interrupted");
  CommandResult first =
      kiln_via("KILN_TEST_SIGNAL_AT=" + std::to_string(stop_at) + ":" + signal + " ",
               "train " + interrupted + sets);
  EXPECT_EQ(first.exit_code, std::string(signal) == "TERM" ? 143 : 137) << first.out;
  resume_and_compare(run, "train " + interrupted + sets, signal, first, steps, stop_at);
  // And the checkpoint translates: one line out per line in.
  const fs::path straight = run.dir / "straight" / ("ckpt-00000" + std::to_string(steps) + ".h5");
  CommandResult t = kiln("translate --checkpoint " + straight.string() +
                         " --beam 2 --text 'el perro come pan 1' --text 'la casa'");
  EXPECT_EQ(t.exit_code, 0) << t.out;
  EXPECT_EQ(std::count(t.out.begin(), t.out.end(), '\n'), 2) << t.out;
  // kiln eval: val_loss, and BLEU and chrF of beam search over every held-out pair.
  CommandResult e = kiln("eval --checkpoint " + straight.string());
  EXPECT_EQ(e.exit_code, 0) << e.out;
  for (const char* key : {"\"val_loss\":", "\"bleu\":", "\"chrf\":"})
    EXPECT_NE(e.out.find(key), std::string::npos) << e.out;
}

TEST(CliResumeTest, MarianAfterSigtermIsBitIdentical) {
  check_marian_resume("TERM", "marian_term");
}

TEST(CliResumeTest, MarianAfterSigkillIsBitIdentical) {
  check_marian_resume("KILL", "marian_kill");
}

// A SIGTERM that arrives while the corpus is still being read (before the first step) stops
// the run cleanly, with a checkpoint and exit status 143, instead of killing it.
TEST(CliResumeTest, SignalBeforeTheFirstStepStillSaves) {
  TinyRun run("early_term");
  const std::string config = run.config("early", 40);
  CommandResult first = kiln_via("KILN_TEST_SIGNAL_AT=start:TERM ", "train " + config);
  EXPECT_EQ(first.exit_code, 143) << first.out;
  EXPECT_TRUE(fs::exists(run.dir / "early" / "ckpt-00000000.h5")) << first.out;
  CommandResult resumed = kiln("train " + config + " --resume auto");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("at step 0"), std::string::npos) << resumed.out;
}

// A fresh run into a folder that holds another run's checkpoints is refused, naming the
// newest and the choices, and changes nothing; --overwrite removes the old run first.
TEST(CliRunFolderTest, FreshRunRefusesAFolderWithCheckpoints) {
  TinyRun run("claim");
  const std::string config = run.config("run", 60);
  ASSERT_EQ(kiln("train " + config).exit_code, 0);
  const fs::path newest = run.dir / "run" / "ckpt-00000060.h5";
  const std::string before = file_bytes(newest),
                    metrics = file_bytes(run.dir / "run" / "metrics.jsonl");
  CommandResult again = kiln("train " + config + " --set train.max_steps=10");
  EXPECT_EQ(again.exit_code, 1) << again.out;
  EXPECT_NE(again.out.find(newest.string()), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("--resume auto"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("--overwrite"), std::string::npos) << again.out;
  EXPECT_EQ(std::count(again.out.begin(), again.out.end(), '\n'), 1) << again.out;
  EXPECT_EQ(file_bytes(newest), before);
  EXPECT_EQ(file_bytes(run.dir / "run" / "metrics.jsonl"), metrics);

  CommandResult overwritten = kiln("train " + config + " --set train.max_steps=10 --overwrite");
  EXPECT_EQ(overwritten.exit_code, 0) << overwritten.out;
  EXPECT_FALSE(fs::exists(newest));
  EXPECT_FALSE(fs::exists(run.dir / "run" / "ckpt-00000050.h5"));
  EXPECT_TRUE(fs::exists(run.dir / "run" / "ckpt-00000010.h5"));
}

// --resume auto says which checkpoint it skips and why; when none is usable it refuses
// instead of starting over, and leaves the files as they are.
TEST(CliRunFolderTest, ResumeAutoSkipsDamagedCheckpointsAndRefusesWhenNoneIsUsable) {
  TinyRun run("damaged");
  const std::string config = run.config("run", 60);
  ASSERT_EQ(kiln("train " + config).exit_code, 0);
  const fs::path newest = run.dir / "run" / "ckpt-00000060.h5";
  const fs::path older = run.dir / "run" / "ckpt-00000050.h5";
  std::ofstream(newest, std::ios::trunc) << "not an hdf5 file";
  CommandResult skipped = kiln("train " + config + " --resume auto --set train.max_steps=70");
  EXPECT_EQ(skipped.exit_code, 0) << skipped.out;
  EXPECT_NE(skipped.out.find("skipping " + newest.string()), std::string::npos) << skipped.out;
  EXPECT_NE(skipped.out.find("resumed from " + older.string()), std::string::npos) << skipped.out;

  for (const auto& e : fs::directory_iterator(run.dir / "run"))
    if (e.path().extension() == ".h5") std::ofstream(e.path(), std::ios::trunc) << "damaged";
  CommandResult refused = kiln("train " + config + " --resume auto --set train.max_steps=80");
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("expected a usable checkpoint to resume from"), std::string::npos)
      << refused.out;
  EXPECT_EQ(file_bytes(run.dir / "run" / "ckpt-00000070.h5"), "damaged");
}

TEST(CliConfigErrorTest, EachBadConfigExitsWithOneLineNamingTheKey) {
  TinyRun run("badconfig");
  struct Case {
    std::string model, extra, expected;
  };
  std::vector<Case> cases = {
      {"n_layer: 1, n_head: 2, d_model: 16, n_heads: 2", "", "model.n_heads: unknown key"},
      {"n_layer: one, n_head: 2, d_model: 16", "",
       "model.n_layer: expected an integer, got \"one\""},
      {"n_layer: 1, n_head: 3, d_model: 16", "",
       "model.n_head: expected a divisor of model.d_model (16), got 3"},
  };
  for (const Case& c : cases) {
    std::string config = run.config("bad", 10, c.model, c.extra);
    CommandResult r = kiln("train " + config);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << r.out;
    EXPECT_EQ(r.out.rfind("error: " + config + ":", 0), 0u) << r.out;  // names the file (and line)
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
  CommandResult too_long = kiln("train " + run.config("bad", 10) + " --set train.seq_len=32");
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_NE(too_long.out.find("train.seq_len: expected at most model.max_seq_len (16), got 32"),
            std::string::npos)
      << too_long.out;
  CommandResult missing =
      kiln("train " + run.config("bad", 10) + " --set data.train_files=[/no/such/corpus.txt]");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("/no/such/corpus.txt"), std::string::npos) << missing.out;
}

TEST(CliConfigErrorTest, AFailedRunLeavesTheExistingCheckpointIntact) {
  TinyRun run("intact");
  std::string config = run.config("run", 60);
  ASSERT_EQ(kiln("train " + config).exit_code, 0);
  fs::path checkpoint = run.dir / "run" / "ckpt-00000060.h5";
  std::string before = file_bytes(checkpoint);
  // A model change is refused on resume; a corrupt newer file is skipped, not "repaired".
  CommandResult refused = kiln("train " + config + " --resume auto --set model.d_model=32");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.out.find("model.d_model"), std::string::npos) << refused.out;
  EXPECT_TRUE(file_bytes(checkpoint) == before);
  CommandResult bad_corpus =
      kiln("train " + config + " --resume auto --set data.train_files=[/missing.txt]");
  EXPECT_EQ(bad_corpus.exit_code, 1);
  EXPECT_TRUE(file_bytes(checkpoint) == before);
}

// Issue 15: a checkpoint write on a full disk (`ulimit -f`, SIGXFSZ ignored, so writes fail
// with EFBIG) used to end in SIGSEGV (exit 139) and leave a .tmp. Now: one error line, exit 1,
// no temporary file, and the earlier checkpoint unchanged.
TEST(CliTest, AFullDiskStopsTheRunWithOneLineAndKeepsEarlierCheckpoints) {
  const fs::path dir = tiny_gpt_folder("full", "to be or not to be, that is the question.", 4,
                                       "1.0e-2", "eval: {every: 0}\n");
  ASSERT_EQ(kiln("train " + (dir / "tiny.yaml").string()).exit_code, 0);
  const fs::path earlier = dir / "run" / "ckpt-00000004.h5";
  ASSERT_TRUE(fs::exists(earlier));
  auto bytes = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const std::string before = bytes(earlier);
  ASSERT_GT(before.size(), 30u * 1024);  // above the limit below, so the new one cannot fit
  // 40 blocks: 20 KB (dash counts 512-byte blocks) or 40 KB (bash).
  CommandResult r =
      kiln_via("ulimit -f 40; trap '' XFSZ; ", "train " + (dir / "tiny.yaml").string() +
                                                   " --resume auto --set "
                                                   "train.max_steps=8");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  const std::string last_line = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  EXPECT_EQ(last_line.rfind("error: ", 0), 0u) << r.out;
  EXPECT_NE(last_line.find("File too large"), std::string::npos) << r.out;
  EXPECT_NE(last_line.find("ckpt-00000008.h5"), std::string::npos) << r.out;
  for (const auto& entry : fs::directory_iterator(dir / "run"))
    EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
  EXPECT_FALSE(fs::exists(dir / "run" / "ckpt-00000008.h5"));
  EXPECT_EQ(bytes(earlier), before);
  fs::remove_all(dir);
}

}  // namespace
