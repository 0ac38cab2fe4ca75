// AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient, applied
// to the arena's decayed range only. Its moments are flat arrays matching the arena, or a
// slice of it when data-parallel ranks share the optimizer state (ZeRO stage 1).
#pragma once

#include <cstdint>

#include "nn/parameter_arena.h"

namespace kiln::nn {

struct AdamWOptions {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;
};

// Elements [begin, end) of the arena.
struct ArenaRange {
  int64_t begin = 0;
  int64_t end = 0;
};

class AdamW {
 public:
  // Updates (and keeps moments for) the whole arena.
  AdamW(const ParameterArena& arena, AdamWOptions options);
  // Updates only `range` of the arena and keeps moments for it alone.
  AdamW(const ParameterArena& arena, AdamWOptions options, ArenaRange range);

  // One update of the parameters in range from the arena's gradients, each multiplied by
  // grad_scale as it is read (gradient clipping without a pass of its own), at learning rate lr.
  void step(float lr, float grad_scale = 1.0f);

  int64_t steps_taken() const { return steps_taken_; }
  ArenaRange range() const { return range_; }
  Tensor first_moment() const { return m_; }   // [range size]
  Tensor second_moment() const { return v_; }  // [range size]
  // Restores moments of the whole arena (as a checkpoint holds them; the range is copied) or
  // of the range alone.
  void restore(const Tensor& m, const Tensor& v, int64_t steps_taken);

 private:
  const ParameterArena& arena_;
  AdamWOptions options_;
  ArenaRange range_;
  Tensor m_, v_;  // views into one block; see adamw.cpp for their offsets
  int64_t steps_taken_ = 0;
};

}  // namespace kiln::nn
