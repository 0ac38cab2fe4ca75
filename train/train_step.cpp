// The step of llm.c's loop: zero, forward/backward, clip, update.
#include "train/train_step.h"

#include <cmath>
#include <cstring>

#include "autograd/tape.h"
#include "base/error.h"

namespace kiln {
namespace {

// The first parameter whose gradient holds a NaN or an infinity, for the error message.
std::string first_nonfinite_gradient(const nn::ParameterArena& arena) {
  for (const auto& [name, parameter] : arena.named_parameters()) {
    const Tensor grad = parameter.grad();
    if (!grad.defined()) continue;  // frozen
    const float* g = grad.data();
    for (int64_t i = 0; i < grad.numel(); ++i)
      if (!std::isfinite(g[i])) return name;
  }
  return "none (the loss itself)";
}

}  // namespace

StepResult train_step(nn::ParameterArena& arena, nn::AdamW& optimizer, int64_t step,
                      int micro_batches, const std::function<TrainLoss(int micro)>& loss_of,
                      double grad_clip, double lr) {
  StepResult result;
  arena.zero_grads();
  for (int micro = 0; micro < micro_batches; ++micro) {
    TrainLoss out = loss_of(micro);
    result.loss += out.loss.item() / micro_batches;
    backward(out.loss);
    if (result.metric_sums.empty()) result.metric_sums = Metrics(out.metrics.size(), {"", 0.0});
    for (std::size_t i = 0; i < out.metrics.size(); ++i) {
      result.metric_sums[i].first = out.metrics[i].first;
      result.metric_sums[i].second += out.metrics[i].second;
    }
  }
  if (micro_batches > 1) arena.scale_grads(1.0f / float(micro_batches));
  result.grad_norm = arena.grad_norm();
  if (!std::isfinite(result.loss) || !std::isfinite(result.grad_norm)) {
    result.finite = false;
    result.problem =
        detail::concat("step ", step, ": expected a finite loss and gradient norm, got loss ",
                       result.loss, " and gradient norm ", result.grad_norm,
                       " (first non-finite gradient: ", first_nonfinite_gradient(arena), ")");
    return result;
  }
  if (grad_clip > 0 && result.grad_norm > grad_clip)
    arena.scale_grads(static_cast<float>(grad_clip / result.grad_norm));
  optimizer.step(static_cast<float>(lr));
  return result;
}

}  // namespace kiln
