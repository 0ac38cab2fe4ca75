// Kill anywhere, lose nothing: a run killed with SIGKILL at random moments (between steps, or
// inside a file write at one of the named fault points: temp written, before and after fsync,
// before and after rename, during checkpoint rotation, during tokenizer training; token caches,
// metrics and best.h5 are written through the same points), then resumed with --resume auto, ends
// with exactly the weights and optimizer moments of a run that was never interrupted.
//
// KILN_KILL_MOMENTS (default 20) and KILN_KILL_SEED (default 1) choose the moments; the long
// form for a person to run is tests/crash/kill_anywhere.sh.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tests/cli/run_helpers.h"
#include "train/checkpoint.h"

namespace {
using namespace kiln::cli_test;
using kiln::cli_test::kiln;  // the command, not the namespace

constexpr int kSteps = 40;
// The named points inside every file write, between two checkpoint removals, and between two
// merges while the tokenizer is trained (BERT's WordPiece here).
const std::vector<std::string> kFaultPoints = {"after_temp_write",  "before_fsync", "after_fsync",
                                               "before_rename",     "after_rename", "rotation",
                                               "tokenizer_training"};

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::atoi(value) : fallback;
}

// Checkpoints every 5 steps (keeping 2), best.h5, evaluations and logs: many writes to die in.
std::string config(const TinyRun& run, const std::string& name, const std::string& model) {
  return run.config(name, kSteps, model) +
         " --set checkpoint.every=5 --set checkpoint.keep_last=2 --set checkpoint.keep_best=true"
         " --set eval.every=10 --set eval.batches=2 --set log.every=5 --set run.threads=1";
}

void kill_anywhere(const std::string& model, const std::string& name) {
  TinyRun run(name);
  ASSERT_EQ(kiln("train " + config(run, "straight", model)).exit_code, 0);
  const fs::path reference = run.dir / "straight" / "ckpt-00000040.h5";

  const int moments = env_int("KILN_KILL_MOMENTS", 20);
  std::mt19937 draw(static_cast<unsigned>(env_int("KILN_KILL_SEED", 1)));
  int killed = 0;
  for (int i = 0; i < moments; ++i) {
    // Half the moments between steps (or before the first), half inside a write.
    std::string moment;
    if (draw() % 2 == 0) {
      const int step = static_cast<int>(draw() % kSteps);
      moment = "KILN_TEST_SIGNAL_AT=" + (step == 0 ? std::string("start") : std::to_string(step)) +
               ":KILL";
    } else {
      moment = "KILN_FAULT_POINT=" + kFaultPoints[draw() % kFaultPoints.size()] + ":" +
               std::to_string(1 + draw() % 16);
    }
    const std::string dir = "moment" + std::to_string(i);
    const std::string train = "train " + config(run, dir, model);
    CommandResult first = kiln_via(moment + " ", train);
    killed += first.exit_code == 137;
    ASSERT_TRUE(first.exit_code == 137 || first.exit_code == 0) << moment << "\n" << first.out;
    CommandResult resumed = kiln(train + " --resume auto");
    ASSERT_EQ(resumed.exit_code, 0) << moment << "\n" << first.out << resumed.out;
    SCOPED_TRACE(moment);
    expect_same_final_weights(reference, run.dir / dir / "ckpt-00000040.h5");
    expect_same_final_weights(run.dir / "straight" / "best.h5", run.dir / dir / "best.h5");
    fs::remove_all(run.dir / dir);
  }
  // Most moments fall inside the run (a fault point's 16th hit may come after its end).
  EXPECT_GE(killed, moments / 2);
}

TEST(KillAnywhereTest, Gpt) {
  kill_anywhere("n_layer: 1, n_head: 2, d_model: 16", "kill_gpt");
}

TEST(KillAnywhereTest, Bert) {
  kill_anywhere("arch: bert, n_layer: 1, n_head: 2, d_model: 16", "kill_bert");
}

}  // namespace
