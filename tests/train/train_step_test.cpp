// How a step's micro-batches are shared out among data-parallel ranks.
#include <gtest/gtest.h>

#include "tests/error_of.h"
#include "train/train_step.h"

namespace kiln {
namespace {

TEST(PlanStepTest, OneProcessRunsEveryMicroBatchWhole) {
  const StepPlan p = plan_step(3, 8, 0, 1);
  EXPECT_EQ(p.micro_batches, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(p.shard.count, 1);
  EXPECT_EQ(p.terms, 3);
}

TEST(PlanStepTest, RanksThatDivideGradAccumTakeContiguousMicroBatches) {
  EXPECT_EQ(plan_step(4, 8, 0, 2).micro_batches, (std::vector<int>{0, 1}));
  EXPECT_EQ(plan_step(4, 8, 1, 2).micro_batches, (std::vector<int>{2, 3}));
  EXPECT_EQ(plan_step(4, 8, 3, 4).micro_batches, (std::vector<int>{3}));
  EXPECT_EQ(plan_step(4, 8, 1, 2).terms, 4);
}

TEST(PlanStepTest, OtherwiseRanksSplitTheRowsOfEveryMicroBatch) {
  const StepPlan p = plan_step(3, 8, 1, 2);
  EXPECT_EQ(p.micro_batches, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(p.shard.begin(8), 4);
  EXPECT_EQ(p.shard.end(8), 8);
  EXPECT_EQ(p.terms, 6);
  EXPECT_EQ(error_of([] { plan_step(5, 8, 0, 3); }),
            "train: expected the number of processes (3) to divide train.grad_accum (5) or "
            "train.batch_size (8), got neither; change one of them or the -np of mpirun");
}

}  // namespace
}  // namespace kiln
