// ParameterArena: after a model is built, all its parameters live in one allocation and all
// their gradients in another (as in llm.c), so zeroing, clipping and AdamW are single loops
// over contiguous memory, and checkpointing optimizer state is one array each.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/module.h"

namespace kiln::nn {

class ParameterArena {
 public:
  // Moves every parameter of `model` into the arena. Parameters of rank >= 2 (matrices and
  // embeddings) come first: they are the ones that get weight decay, biases and layer-norm
  // parameters never do (the nanoGPT / Hugging Face convention).
  explicit ParameterArena(const Module& model);

  Tensor values() const { return values_; }  // [size()]
  Tensor grads() const { return grads_; }    // [size()]
  int64_t size() const { return values_.numel(); }
  // The first decayed_size() elements of the arena receive weight decay.
  int64_t decayed_size() const { return decayed_size_; }
  // Parameters in arena order, with their Hugging Face names.
  const std::vector<NamedTensor>& named_parameters() const { return named_; }

  void zero_grads() const;
  // Global L2 norm of all gradients; a fixed-order sum, so the same at any thread count.
  double grad_norm() const;
  // Multiplies every gradient by `factor` (used by clipping and by gradient accumulation).
  void scale_grads(float factor) const;

 private:
  Tensor values_, grads_;
  int64_t decayed_size_ = 0;
  std::vector<NamedTensor> named_;
};

// Sum of squares of x[0, n) in double, accumulated in fixed blocks so the result does not
// depend on the thread count.
double sum_of_squares(const float* x, int64_t n);

}  // namespace kiln::nn
