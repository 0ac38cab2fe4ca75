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
  // parameters never do (the nanoGPT / Hugging Face convention). Parameters whose names
  // match a `frozen` pattern ('*' = any characters) come last, need no gradient and are
  // never updated.
  explicit ParameterArena(const Module& model, const std::vector<std::string>& frozen = {});

  Tensor values() const { return values_; }  // [size()]
  Tensor grads() const { return grads_; }    // [size()]
  int64_t size() const { return values_.numel(); }
  // The first decayed_size() elements of the arena receive weight decay.
  int64_t decayed_size() const { return decayed_size_; }
  // The first trainable_size() elements are trained; the rest are frozen.
  int64_t trainable_size() const { return trainable_size_; }
  // Parameters in arena order, with their Hugging Face names.
  const std::vector<NamedTensor>& named_parameters() const { return named_; }

  void zero_grads() const;
  // Starts a backward pass without a pass of zeros: every trainable parameter's gradient is
  // marked as holding none (Tensor::discard_grad), so its first write overwrites it; then
  // zero_unreached_grads() zeroes those backward did not reach, and the arena's gradients are
  // exactly those of the pass.
  void discard_grads() const;
  void zero_unreached_grads() const;
  // Global L2 norm of all gradients; a fixed-order sum, so the same at any thread count.
  double grad_norm() const;
  // Multiplies every gradient by `factor` (used by clipping and by gradient accumulation).
  void scale_grads(float factor) const;

 private:
  Tensor values_, grads_;
  int64_t decayed_size_ = 0;
  int64_t trainable_size_ = 0;
  std::vector<NamedTensor> named_;
};

// True when `name` matches `pattern`, where '*' matches any run of characters.
bool matches_pattern(const std::string& name, const std::string& pattern);

// Sum of squares of x[0, n) in double, accumulated in fixed blocks so the result does not
// depend on the thread count.
double sum_of_squares(const float* x, int64_t n);

}  // namespace kiln::nn
