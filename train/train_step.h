// One optimizer step, shared by the trainer and `kiln bench`: zero the gradients, forward and
// backward each micro-batch this rank owns, sum over ranks, average, clip to the global norm,
// AdamW. With one process, the same code with a one-rank communicator.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "nn/adamw.h"
#include "nn/parameter_arena.h"
#include "train/task.h"

namespace kiln {

// How the grad_accum micro-batches of a step are shared out among the ranks.
struct StepPlan {
  std::vector<int> micro_batches;  // the ones this rank computes, in order
  Shard shard;                     // the rows of each that it computes
  int terms = 1;                   // loss terms over all ranks: the gradient is their mean
};

// Whole micro-batches per rank when `ranks` divides grad_accum (rank r takes a contiguous
// run), else a share of every micro-batch's rows (`ranks` must divide batch_size); neither is
// an error saying so.
StepPlan plan_step(int grad_accum, int batch_size, int rank, int ranks);

struct StepResult {
  double loss = 0;       // mean over the step's micro-batches (all ranks)
  double grad_norm = 0;  // of the averaged gradient, before clipping
  Metrics metric_sums;   // the task's own numbers, summed over the step's loss terms
  // False when the loss or the gradient norm was NaN or infinite: then the parameters and the
  // optimizer were left as they were, and `problem` says what was wrong, naming the step and
  // the first parameter whose gradient is not finite.
  bool finite = true;
  std::string problem;
};

class TrainStep {
 public:
  TrainStep(nn::ParameterArena& arena, nn::AdamW& optimizer, const dist::Communicator& comm,
            StepPlan plan);
  // `loss_of(micro, shard)` records that part's loss on the tape. The gradient of each
  // micro-batch is computed on its own and then added, so one process with grad_accum 2 sums
  // exactly what two ranks with one micro-batch each do.
  StepResult run(int64_t step, const std::function<TrainLoss(int micro, Shard shard)>& loss_of,
                 double grad_clip, double lr);
  const StepPlan& plan() const { return plan_; }

 private:
  nn::ParameterArena& arena_;
  nn::AdamW& optimizer_;
  const dist::Communicator& comm_;
  StepPlan plan_;
  std::vector<float> sum_;  // the gradients of this rank's micro-batches, added one by one
};

}  // namespace kiln
