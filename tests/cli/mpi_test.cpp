// Data-parallel training under mpirun, as a user launches it: the same result as one process,
// one writer, and stopping, killing and resuming at any world size.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "io/json.h"
#include "tests/cli/run_helpers.h"
#include "train/checkpoint.h"

namespace {
using namespace kiln::cli_test;
using kiln::cli_test::kiln;  // the command, not the namespace

constexpr const char* kGpt = "n_layer: 1, n_head: 2, d_model: 16";
constexpr const char* kBert = "arch: bert, n_layer: 1, n_head: 2, d_model: 16";

// `mpirun -np N kiln ...` with the flags root needs; N > 2 oversubscribes the 2-core machine
// and no rank is bound, so any core count works. `env` is passed to every rank.
CommandResult mpirun(int ranks, const std::string& args, const std::string& env = "") {
  std::string prefix = "mpirun --allow-run-as-root --oversubscribe --bind-to none -np " +
                       std::to_string(ranks) + " ";
  if (!env.empty()) prefix = env + " " + prefix + "-x " + env.substr(0, env.find('=')) + " ";
  return kiln_via(prefix, args);
}

// The "train" losses of a run's metrics.jsonl, in order.
std::vector<double> logged_losses(const fs::path& metrics) {
  std::vector<double> losses;
  std::ifstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    const kiln::json::Value event = kiln::json::parse(line, metrics.string());
    if (event.at("kind").as_string() == "train") losses.push_back(event.at("loss").as_number());
  }
  return losses;
}

// One thread per process everywhere: thread counts change GEMM blocking, ranks do not.
const std::string kSet = " --set run.threads=1 --set log.every=5 --set train.grad_accum=";

// Two ranks with one micro-batch each sum exactly the two gradients one process adds.
void expect_two_ranks_bit_identical(const std::string& model, const std::string& name) {
  TinyRun run(name);
  ASSERT_EQ(kiln("train " + run.config("one", 60, model) + kSet + "2").exit_code, 0);
  CommandResult two = mpirun(2, "train " + run.config("two", 60, model) + kSet + "2");
  ASSERT_EQ(two.exit_code, 0) << two.out;
  expect_same_final_weights(run.dir / "one" / "ckpt-00000060.h5",
                            run.dir / "two" / "ckpt-00000060.h5");
  EXPECT_EQ(logged_losses(run.dir / "one" / "metrics.jsonl"),
            logged_losses(run.dir / "two" / "metrics.jsonl"));
}

// Four ranks sum four gradients in another order: every logged loss within 1e-5 relative.
void expect_four_ranks_close(const std::string& model, const std::string& name) {
  TinyRun run(name);
  ASSERT_EQ(kiln("train " + run.config("one", 40, model) + kSet + "4").exit_code, 0);
  CommandResult four = mpirun(4, "train " + run.config("four", 40, model) + kSet + "4");
  ASSERT_EQ(four.exit_code, 0) << four.out;
  const std::vector<double> a = logged_losses(run.dir / "one" / "metrics.jsonl"),
                            b = logged_losses(run.dir / "four" / "metrics.jsonl");
  ASSERT_EQ(a.size(), 8u);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * a[i]) << "log " << i;
}

TEST(MpiTest, GptOnTwoRanksIsBitIdenticalToOneProcess) {
  expect_two_ranks_bit_identical(kGpt, "mpi_gpt2");
}
TEST(MpiTest, BertOnTwoRanksIsBitIdenticalToOneProcess) {
  expect_two_ranks_bit_identical(kBert, "mpi_bert2");
}
TEST(MpiTest, GptOnFourRanksLogsTheSameLosses) {
  expect_four_ranks_close(kGpt, "mpi_gpt4");
}
TEST(MpiTest, BertOnFourRanksLogsTheSameLosses) {
  expect_four_ranks_close(kBert, "mpi_bert4");
}

// grad_accum 1 on two ranks: each takes half of every micro-batch's rows.
TEST(MpiTest, SplitMicroBatchesTrainAndAnImpossibleSplitIsRefusedUpFront) {
  TinyRun run("mpi_split");
  CommandResult split = mpirun(2, "train " + run.config("split", 20) + kSet + "1");
  EXPECT_EQ(split.exit_code, 0) << split.out;
  CommandResult refused =
      mpirun(3, "train " + run.config("three", 20) + kSet + "1 --set train.batch_size=4");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.out.find("expected the number of processes (3) to divide train.grad_accum "
                             "(1) or train.batch_size (4)"),
            std::string::npos)
      << refused.out;
  EXPECT_FALSE(fs::exists(run.dir / "three" / "ckpt-00000000.h5"));
}

// ZeRO-1: each rank updates half of the AdamW state; only the rounding of the gradient norm
// differs from the unsharded two-rank run, and the checkpoint still holds the whole state.
TEST(MpiTest, ShardedOptimizerStateGivesTheSameLosses) {
  TinyRun run("mpi_zero");
  ASSERT_EQ(mpirun(2, "train " + run.config("plain", 50) + kSet + "2").exit_code, 0);
  CommandResult sharded =
      mpirun(2, "train " + run.config("sharded", 50) + kSet + "2 --set train.shard_optimizer=true");
  ASSERT_EQ(sharded.exit_code, 0) << sharded.out;
  const std::vector<double> a = logged_losses(run.dir / "plain" / "metrics.jsonl"),
                            b = logged_losses(run.dir / "sharded" / "metrics.jsonl");
  ASSERT_EQ(a.size(), 10u);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6 * a[i]) << "log " << i;
  const kiln::Checkpoint x = kiln::load_checkpoint(
                             (run.dir / "plain" / "ckpt-00000050.h5").string()),
                         y = kiln::load_checkpoint(
                             (run.dir / "sharded" / "ckpt-00000050.h5").string());
  ASSERT_EQ(x.exp_avg_sq.size(), y.exp_avg_sq.size());
  for (const auto& [name, v] : x.exp_avg_sq) {
    const std::vector<float> p = v.to_floats(), q = y.exp_avg_sq.at(name).to_floats();
    ASSERT_EQ(p.size(), q.size()) << name;
    for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], q[i], 1e-4 * p[i] + 1e-12) << name;
  }
}

// SIGTERM seen by one rank (rank 1: not the writer) stops every rank at the same step, rank 0
// saves, and --resume auto under mpirun ends bit-identical to an uninterrupted two-rank run;
// the checkpoint of a two-rank run also resumes in one process.
TEST(MpiTest, StoppedRunResumesAtAnyWorldSize) {
  TinyRun run("mpi_stop");
  const std::string straight = run.config("straight", 120);
  ASSERT_EQ(mpirun(2, "train " + straight + kSet + "2").exit_code, 0);
  const std::string stopped = run.config("stopped", 120);
  CommandResult first = mpirun(2, "train " + stopped + kSet + "2", "KILN_TEST_SIGNAL_AT=70:TERM@1");
  EXPECT_NE(first.exit_code, 0);
  EXPECT_NE(first.out.find("interrupted; saved"), std::string::npos) << first.out;
  ASSERT_TRUE(fs::exists(run.dir / "stopped" / "ckpt-00000070.h5")) << first.out;
  fs::copy(run.dir / "stopped" / "ckpt-00000070.h5", run.dir / "single.h5");  // before rotation
  CommandResult resumed = mpirun(2, "train " + stopped + kSet + "2 --resume auto");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("at step 70"), std::string::npos) << resumed.out;
  expect_same_final_weights(run.dir / "straight" / "ckpt-00000120.h5",
                            run.dir / "stopped" / "ckpt-00000120.h5");

  // The two-rank checkpoint at step 70 continues in one process (same threads per process).
  CommandResult single = kiln("train " + run.config("single", 120) + kSet + "2 --resume " +
                              (run.dir / "single.h5").string());
  ASSERT_EQ(single.exit_code, 0) << single.out;
  expect_same_final_weights(run.dir / "straight" / "ckpt-00000120.h5",
                            run.dir / "single" / "ckpt-00000120.h5");
}

// A rank killed outright ends the whole job with a failure, leaves every checkpoint readable,
// and --resume auto completes the run from the last periodic checkpoint.
TEST(MpiTest, KilledRankEndsTheJobAndTheRunResumes) {
  TinyRun run("mpi_kill");
  const std::string straight = run.config("straight", 120);
  ASSERT_EQ(mpirun(2, "train " + straight + kSet + "2").exit_code, 0);
  const std::string killed = run.config("killed", 120);
  CommandResult first = mpirun(2, "train " + killed + kSet + "2", "KILN_TEST_SIGNAL_AT=70:KILL@1");
  EXPECT_NE(first.exit_code, 0) << first.out;
  for (const auto& e : fs::directory_iterator(run.dir / "killed")) {
    if (e.path().extension() == ".h5") {
      EXPECT_NO_THROW(kiln::load_checkpoint(e.path().string()));
    }
  }
  CommandResult resumed = mpirun(2, "train " + killed + kSet + "2 --resume auto");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("at step 50"), std::string::npos) << resumed.out;
  expect_same_final_weights(run.dir / "straight" / "ckpt-00000120.h5",
                            run.dir / "killed" / "ckpt-00000120.h5");
}

}  // namespace
