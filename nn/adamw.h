// AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient, applied
// to the arena's decayed range only. Its moments are flat arrays matching the arena.
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

class AdamW {
 public:
  AdamW(const ParameterArena& arena, AdamWOptions options);

  // One update of every parameter from the arena's gradients at learning rate `lr`.
  void step(float lr);

  int64_t steps_taken() const { return steps_taken_; }
  Tensor first_moment() const { return m_; }   // [arena size]
  Tensor second_moment() const { return v_; }  // [arena size]
  // Restores state saved in a checkpoint (moments are copied).
  void restore(const Tensor& m, const Tensor& v, int64_t steps_taken);

 private:
  const ParameterArena& arena_;
  AdamWOptions options_;
  Tensor m_, v_;
  int64_t steps_taken_ = 0;
};

}  // namespace kiln::nn
