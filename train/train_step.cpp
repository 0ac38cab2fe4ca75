// The step of llm.c's loop: zero, forward/backward, (all-reduce), clip, update.
#include "train/train_step.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "autograd/profile.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"

namespace kiln {
namespace {

// The first parameter whose gradient holds a NaN or an infinity, for the error message.
std::string first_nonfinite_gradient(const nn::ParameterArena& arena) {
  for (const auto& [name, parameter] : arena.named_parameters()) {
    const Tensor grad = parameter.grad();
    if (grad.defined() && first_nonfinite(grad) >= 0) return name;
  }
  return "none (the loss itself)";
}

}  // namespace

StepPlan plan_step(int grad_accum, int batch_size, int rank, int ranks) {
  StepPlan plan;
  if (grad_accum % ranks == 0) {
    const int each = grad_accum / ranks;
    for (int m = rank * each; m < (rank + 1) * each; ++m) plan.micro_batches.push_back(m);
    plan.terms = grad_accum;
    return plan;
  }
  KILN_CHECK(batch_size % ranks == 0, "train: expected the number of processes (", ranks,
             ") to divide train.grad_accum (", grad_accum, ") or train.batch_size (", batch_size,
             "), got neither; change one of them or the -np of mpirun");
  for (int m = 0; m < grad_accum; ++m) plan.micro_batches.push_back(m);
  plan.shard = {rank, ranks};
  plan.terms = grad_accum * ranks;
  return plan;
}

TrainStep::TrainStep(nn::ParameterArena& arena, nn::AdamW& optimizer,
                     const dist::Communicator& comm, StepPlan plan)
    : arena_(arena), optimizer_(optimizer), comm_(comm), plan_(std::move(plan)) {
  if (!sharded()) return;
  const int64_t n = arena_.trainable_size();
  KILN_CHECK(n <= std::numeric_limits<int>::max(), "train.shard_optimizer: expected at most ",
             std::numeric_limits<int>::max(), " trainable parameters (MPI counts are int), got ",
             n);
  for (int r = 0; r < comm_.size(); ++r) {
    const nn::ArenaRange slice = optimizer_slice(n, r, comm_.size());
    counts_.push_back(static_cast<int>(slice.end - slice.begin));
  }
}

StepResult TrainStep::run(int64_t step,
                          const std::function<TrainLoss(int micro, Shard shard)>& loss_of,
                          double grad_clip, double lr) {
  StepResult result;
  const int64_t n = arena_.trainable_size();
  float* grads = arena_.grads().data();
  const bool several = plan_.micro_batches.size() > 1;
  if (several) sum_.assign(static_cast<std::size_t>(n), 0.0f);
  std::vector<double> sums;  // the loss, then the task's metrics
  for (int micro : plan_.micro_batches) {
    // No pass of zeros: each gradient's first write overwrites it.
    arena_.discard_grads();
    TrainLoss out = loss_of(micro, plan_.shard);
    if (sums.empty()) sums.assign(1 + out.metrics.size(), 0.0);
    sums[0] += out.loss.item() / plan_.terms;
    for (std::size_t i = 0; i < out.metrics.size(); ++i) {
      if (result.metric_sums.size() < out.metrics.size())
        result.metric_sums.emplace_back(out.metrics[i].first, 0.0);
      sums[1 + i] += out.metrics[i].second;
    }
    backward(out.loss);
    arena_.zero_unreached_grads();
    profile::Scope timed("step", "sum micro-batch gradients");
    if (several)  // elementwise, so the thread count does not change the result
      parallel_for(n, int64_t{1} << 16, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) sum_[static_cast<std::size_t>(i)] += grads[i];
      });
  }
  if (several) std::memcpy(grads, sum_.data(), static_cast<std::size_t>(n) * sizeof(float));
  const auto comm_start = std::chrono::steady_clock::now();
  {
    profile::Scope timed("step", "all-reduce");
    reduce_gradients(grads, n);
    comm_.allreduce_sum(std::span<double>(sums));
  }
  result.comm_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - comm_start).count();
  result.loss = sums.empty() ? 0.0 : sums[0];
  for (std::size_t i = 0; i < result.metric_sums.size(); ++i)
    result.metric_sums[i].second = sums[1 + i];
  if (plan_.terms > 1) scale_gradients(grads, 1.0f / float(plan_.terms));
  {
    profile::Scope timed("step", "gradient norm");
    result.grad_norm = gradient_norm(grads);
  }
  if (!std::isfinite(result.loss) || !std::isfinite(result.grad_norm)) {
    result.finite = false;
    result.problem =
        detail::concat("step ", step, ": expected a finite loss and gradient norm, got loss ",
                       result.loss, " and gradient norm ", result.grad_norm,
                       " (first non-finite gradient: ", first_nonfinite_gradient(arena_), ")");
    return result;
  }
  // Clipping scales each gradient as AdamW reads it: one pass over the gradients fewer.
  const bool clip = grad_clip > 0 && result.grad_norm > grad_clip;
  profile::Scope optimizer_timed("step", "AdamW");
  optimizer_.step(static_cast<float>(lr),
                  clip ? static_cast<float>(grad_clip / result.grad_norm) : 1.0f);
  if (sharded())  // every rank updated its slice: gather them, so all hold the same model
    for_each_bucket(n, [&](int64_t begin, const std::vector<int>& counts, int64_t) {
      comm_.allgather_in_place(std::span<float>(arena_.values().data() + begin,
                                                static_cast<std::size_t>(std::min<int64_t>(
                                                    n - begin, int64_t{1} << 22))),
                               counts);
    });
  return result;
}

bool TrainStep::sharded() const {
  return optimizer_.range().end - optimizer_.range().begin != arena_.size();
}

nn::ArenaRange TrainStep::optimizer_slice(int64_t n, int rank, int ranks) {
  const int64_t slice = (n + ranks - 1) / ranks;
  return {std::min(n, rank * slice), std::min(n, (rank + 1) * slice)};
}

void TrainStep::reduce_gradients(float* grads, int64_t n) {
  if (!sharded()) {
    comm_.allreduce_sum(std::span<float>(grads, static_cast<std::size_t>(n)));
    return;
  }
  // ZeRO-1: each rank needs the summed gradient of its own slice only. In buckets, as the
  // all-reduce: MPI's reduce-scatter allocates a temporary as large as what it is given.
  for_each_bucket(n, [&](int64_t begin, const std::vector<int>& counts, int64_t my_begin) {
    slice_.resize(static_cast<std::size_t>(counts[comm_.rank()]));
    comm_.reduce_scatter_sum(
        std::span<const float>(grads + begin, static_cast<std::size_t>(std::accumulate(
                                                  counts.begin(), counts.end(), int64_t{0}))),
        slice_, counts);
    std::copy(slice_.begin(), slice_.end(), grads + my_begin);
  });
}

void TrainStep::for_each_bucket(
    int64_t n,
    const std::function<void(int64_t begin, const std::vector<int>& counts, int64_t my_begin)>& fn)
    const {
  constexpr int64_t kBucket = int64_t{1} << 22;  // floats, as Communicator::allreduce_sum
  std::vector<int> counts(static_cast<std::size_t>(comm_.size()));
  for (int64_t begin = 0; begin < n; begin += kBucket) {
    const int64_t end = std::min(n, begin + kBucket);
    int64_t my_begin = begin;
    for (int r = 0; r < comm_.size(); ++r) {
      const nn::ArenaRange slice = optimizer_slice(n, r, comm_.size());
      const int64_t from = std::max(begin, slice.begin), to = std::min(end, slice.end);
      counts[static_cast<std::size_t>(r)] = static_cast<int>(std::max<int64_t>(to - from, 0));
      if (r == comm_.rank()) my_begin = from;
    }
    fn(begin, counts, my_begin);
  }
}

double TrainStep::gradient_norm(const float* grads) const {
  if (!sharded()) return arena_.grad_norm();
  const nn::ArenaRange range = optimizer_.range();
  double squares = nn::sum_of_squares(grads + range.begin, range.end - range.begin);
  comm_.allreduce_sum(std::span<double>(&squares, 1));
  return std::sqrt(squares);
}

void TrainStep::scale_gradients(float* grads, float factor) const {
  if (!sharded()) {
    arena_.scale_grads(factor);
    return;
  }
  const nn::ArenaRange range = optimizer_.range();
  for (int64_t i = range.begin; i < range.end; ++i) grads[i] *= factor;
}

OptimizerMoments TrainStep::checkpoint_moments() {
  if (!sharded()) return moments_of(optimizer_);
  return {optimizer_.steps_taken(), [this](int moment) -> const float* {
            float* into = arena_.grads().data();
            const Tensor mine =
                moment == 0 ? optimizer_.first_moment() : optimizer_.second_moment();
            comm_.gather_to_root(std::span<const float>(mine.data(), mine.numel()),
                                 std::span<float>(into, static_cast<std::size_t>(arena_.size())),
                                 counts_);
            return into;
          }};
}

void TrainStep::serve_checkpoint() {
  if (!sharded()) return;
  for (int moment = 0; moment < 2; ++moment) {
    const Tensor mine = moment == 0 ? optimizer_.first_moment() : optimizer_.second_moment();
    comm_.gather_to_root(std::span<const float>(mine.data(), mine.numel()), {}, counts_);
  }
}

}  // namespace kiln
