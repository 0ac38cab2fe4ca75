// One optimizer step, shared by the trainer and `kiln bench`: zero the gradient arena, forward
// and backward each micro-batch, average, clip to the global norm, AdamW.
#pragma once

#include <functional>
#include <string>

#include "nn/adamw.h"
#include "nn/parameter_arena.h"
#include "train/task.h"

namespace kiln {

struct StepResult {
  double loss = 0;       // mean over the micro-batches
  double grad_norm = 0;  // of the averaged gradient, before clipping
  Metrics metric_sums;   // the task's own numbers, summed over the micro-batches
  // False when the loss or the gradient norm was NaN or infinite: then the parameters and the
  // optimizer were left as they were, and `problem` says what was wrong, naming the step and
  // the first parameter whose gradient is not finite.
  bool finite = true;
  std::string problem;
};

// Runs micro-batches 0 .. micro_batches-1 (`loss_of(i)` records micro-batch i's loss on the
// tape), then clips the averaged gradient to `grad_clip` (0 = never) and takes an AdamW step
// at `lr`. A non-finite loss or gradient norm skips the update (see StepResult::finite).
StepResult train_step(nn::ParameterArena& arena, nn::AdamW& optimizer, int64_t step,
                      int micro_batches, const std::function<TrainLoss(int micro)>& loss_of,
                      double grad_clip, double lr);

}  // namespace kiln
