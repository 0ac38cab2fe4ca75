// One optimizer step, shared by the trainer and `kiln bench`: zero the gradients, forward and
// backward each micro-batch this rank owns, sum over ranks, average, clip to the global norm,
// AdamW. With one process, the same code with a one-rank communicator.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "nn/adamw.h"
#include "nn/parameter_arena.h"
#include "train/checkpoint.h"
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
  double comm_seconds = 0;  // spent summing across ranks (for benchmarks)
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
  // The optimizer state for rank 0's checkpoint. With sharded state (ZeRO-1) each moment is
  // gathered, when save_checkpoint asks for it, into the gradient buffer (free once the step
  // is done), so no rank ever holds a second copy of the state; the other ranks must then
  // call serve_checkpoint() to send their slices.
  OptimizerMoments checkpoint_moments();
  void serve_checkpoint();

  // Rank `rank`'s share of `n` trainable elements when `ranks` ranks shard the optimizer: equal
  // slices of ceil(n / ranks), the last one shorter.
  static nn::ArenaRange optimizer_slice(int64_t n, int rank, int ranks);

 private:
  bool sharded() const;
  // Calls fn for consecutive buckets [begin, begin + sum(counts)) of the first n elements, with
  // each rank's share of the bucket (its slice's overlap with it) and where this rank's starts.
  void for_each_bucket(int64_t n,
                       const std::function<void(int64_t begin, const std::vector<int>& counts,
                                                int64_t my_begin)>& fn) const;
  // Sums the gradients over the ranks: all of them, or with sharded state this rank's slice.
  void reduce_gradients(float* grads, int64_t n);
  double gradient_norm(const float* grads) const;
  void scale_gradients(float* grads, float factor) const;

  nn::ParameterArena& arena_;
  nn::AdamW& optimizer_;
  const dist::Communicator& comm_;
  StepPlan plan_;
  std::vector<float> sum_;    // the gradients of this rank's micro-batches, added one by one
  std::vector<float> slice_;  // sharded state: this rank's summed gradient slice
  std::vector<int> counts_;   // sharded state: every rank's slice length
};

}  // namespace kiln
