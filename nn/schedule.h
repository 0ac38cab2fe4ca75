// Learning-rate schedules: constant, or linear warmup followed by cosine or linear decay to
// a floor. A pure function of the step, so resuming needs only the step counter.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace kiln::nn {

enum class ScheduleKind { kConstant, kCosine, kLinear };

struct Schedule {
  ScheduleKind kind = ScheduleKind::kConstant;
  double max_lr = 3e-4;
  double min_lr = 0.0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  // Learning rate for update number `step` (0-based).
  double lr(int64_t step) const {
    if (step < warmup_steps) return max_lr * double(step + 1) / double(warmup_steps);
    if (kind == ScheduleKind::kConstant) return max_lr;
    int64_t decay_steps = total_steps - warmup_steps;
    double progress =
        decay_steps <= 0 ? 1.0 : std::min(1.0, double(step - warmup_steps) / double(decay_steps));
    double coefficient =
        kind == ScheduleKind::kCosine ? 0.5 * (1.0 + std::cos(M_PI * progress)) : 1.0 - progress;
    return min_lr + coefficient * (max_lr - min_lr);
  }
};

}  // namespace kiln::nn
