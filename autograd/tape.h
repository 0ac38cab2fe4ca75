// The tape: a thread-local list of recorded ops. Walking it backwards is a topological
// order, so backward() needs no graph search. An op joins it only through record().
#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include "autograd/tensor.h"

namespace kiln {

// Receives one gradient per output (zeros for outputs that got none) and ADDS into inputs'.
using BackwardFn = std::function<void(const std::vector<Tensor>& grad_outputs)>;

// True when gradients are being recorded (not inside a NoGradGuard).
bool grad_enabled();

// Turns recording off for its lifetime (evaluation, sampling, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when an op over `inputs` would be recorded: grad mode on and some input needs a grad.
// Ops ask before saving anything for backward.
bool should_record(std::initializer_list<Tensor> inputs);

// Appends an op to the tape when should_record(inputs); marks the outputs as requiring grads.
void record(const char* name, const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
            BackwardFn backward_fn);
// Single-output form; returns `output` so an op can end with `return record(...)`.
Tensor record(const char* name, const Tensor& output, const std::vector<Tensor>& inputs,
              std::function<void(const Tensor& grad_output)> backward_fn);

// The gradient buffer of `x` (allocated as zeros on first use) when x needs one, else undefined.
// Backward functions add into it and skip the work when it is undefined.
Tensor grad_if_needed(const Tensor& x);

// Where a backward writes x's gradient when it will cover every element: x's gradient buffer,
// and whether to add to it. The first contribution to a gradient gets a new, uninitialised
// buffer (or x's discarded one, Tensor::discard_grad) with accumulate == false and writes it
// (GEMM beta 0, stores instead of adds), so no pass fills it with zeros and no pass reads
// those zeros back (330 MB each a gpt-mini step, and every parameter's gradient each step).
// Take a target only when about to write it in full: a second target of the same tensor taken
// before then would see the unwritten buffer as a gradient to add to.
struct GradTarget {
  Tensor grad;  // undefined when x needs no gradient
  bool accumulate = true;

  explicit operator bool() const { return grad.defined(); }
  float* data() const { return grad.data(); }
  float beta() const { return accumulate ? 1.0f : 0.0f; }  // for a GEMM writing it
};
GradTarget grad_target(const Tensor& x);
// target = src, or target += src when it accumulates. No-op for an undefined target.
void write_or_add(const GradTarget& target, const Tensor& src);
// Adds g, an op's gradient passed on unchanged (a residual's), into x's gradient. When it is x's
// first contribution, x's gradient becomes g itself, sharing its buffer, instead of a copy: the
// caller must not read or write g after this call (an output's gradient is freed once its op's
// backward returns, so no one else does). No-op when x needs no gradient.
void pass_gradient(const Tensor& x, const Tensor& g);

// Back-propagates from a one-element `loss` (seed 1), then releases the tape and every
// saved activation. Errors: a non-scalar loss, a loss that needs no gradient, or a tape
// already consumed by an earlier backward().
void backward(const Tensor& loss);
// The same with an explicit seed gradient of `output`'s shape (for non-scalar outputs).
void backward(const Tensor& output, const Tensor& seed);

// Number of ops currently recorded on this thread's tape.
std::size_t tape_size();
// Drops every record without running backward (for a forward pass whose graph is unused).
void clear_tape();

}  // namespace kiln
