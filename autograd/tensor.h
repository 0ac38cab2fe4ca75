// Tensor: a shared handle to contiguous, row-major float32 or int32 storage of any rank,
// plus the autograd state (requires_grad, the accumulated gradient) that the tape uses.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace kiln {

enum class DType { kF32, kI32 };
using Shape = std::vector<int64_t>;

// "[2, 3, 4]": how shapes appear in every error message.
std::string shape_str(const Shape& shape);
// "[1, 3]": the multi-index of row-major position `flat` in `shape`, for messages.
std::string index_str(int64_t flat, const Shape& shape);
// Product of the dimensions (1 for a rank-0 shape).
int64_t shape_numel(const Shape& shape);
const char* dtype_name(DType dtype);

struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // An undefined tensor: defined() is false.

  // Uninitialised storage of the given shape.
  static Tensor empty(const Shape& shape, DType dtype = DType::kF32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::kF32);
  static Tensor full(const Shape& shape, float value);
  // Copies `values` (which must hold numel(shape) elements) into a new tensor.
  static Tensor from_floats(const Shape& shape, const std::vector<float>& values);
  static Tensor from_ints(const Shape& shape, const std::vector<int32_t>& values);
  static Tensor scalar(float value) { return full({}, value); }

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int rank() const { return static_cast<int>(shape().size()); }
  // Size of dimension `d`; negative `d` counts from the end.
  int64_t dim(int d) const;
  int64_t numel() const;
  DType dtype() const;

  // Raw element pointers; both check the dtype. Handles share storage, so these are not const.
  float* data() const;
  int32_t* ints() const;
  // The single element of a one-element float tensor.
  float item() const;
  std::vector<float> to_floats() const;
  std::vector<int32_t> to_ints() const;

  // A view with another shape over the same storage (no copy, not recorded on the tape).
  Tensor view(const Shape& shape) const;
  // Rows [begin, end) of dimension 0 as a view over the same storage (not recorded).
  Tensor rows_view(int64_t begin, int64_t end) const;
  // A deep copy with fresh storage and no autograd state.
  Tensor clone() const;
  // A handle to the same storage without autograd state (gradients do not flow through it).
  // Backward functions capture their inputs themselves, not detached copies, because
  // grad_if_needed() reads the autograd state.
  Tensor detach() const;

  bool requires_grad() const;
  // Marks a leaf (a parameter or input) as needing a gradient. Returns *this.
  Tensor& set_requires_grad(bool on);
  // The accumulated gradient, or an undefined tensor when none has been produced.
  Tensor grad() const;
  // Uses `g` (same shape, float) as this tensor's gradient buffer, e.g. a view into an arena.
  void set_grad(const Tensor& g) const;
  // Returns the gradient buffer, allocating zeros if there is none yet (and zeroing a
  // discarded one).
  Tensor ensure_grad() const;
  // Drops the gradient buffer (intermediates free theirs after backward uses them).
  void reset_grad() const;
  // Sets the gradient to zero in place, keeping the buffer.
  void zero_grad() const;
  // Keeps the gradient buffer but marks what it holds as no gradient at all: the first backward
  // write overwrites it (grad_target gives accumulate == false) and ensure_grad zeroes it. How
  // a parameter arena starts a step without a pass of zeros over every gradient. grad() still
  // returns the buffer, stale values and all; set_grad, reset_grad and zero_grad end the state.
  void discard_grad() const;
  bool grad_discarded() const;

  // Copies this tensor's values into `destination` (same element count) and makes this
  // tensor, and every handle sharing it, use destination's storage from now on. This is how
  // parameters move into one flat arena after a model is built.
  void move_storage_to(const Tensor& destination);

  // A handle with this tensor's shape and autograd state but no values. The tape keeps these
  // for ops' outputs, and a backward function captures one for an input whose values it never
  // reads (add, split), so that an activation no backward reads is freed as soon as the
  // forward pass drops it. data() on it is an error. An undefined tensor (an absent optional
  // input) gives an undefined handle.
  Tensor gradient_handle() const;

  // Identity of the handle's shared state, for tape bookkeeping and tests.
  TensorImpl* impl() const { return impl_.get(); }
  long use_count() const { return impl_.use_count(); }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<TensorImpl> impl_;
};

// The index of the first NaN or infinity of a float tensor (-1 when every value is finite; an
// int tensor is always finite). Readers of untrusted files use it to refuse such values.
int64_t first_nonfinite(const Tensor& t);

// What the tape knows of a tensor. Kept apart from the values so that a gradient handle can
// share it without keeping the values alive.
struct AutogradState {
  bool requires_grad = false;
  Tensor grad;
  bool grad_discarded = false;  // grad's values are not a gradient (Tensor::discard_grad)
  uint64_t tape_epoch = 0;      // non-zero: produced by an op recorded in that epoch of the tape
};

// Storage plus autograd state (created on first use). Views own separate TensorImpls that share
// `storage` but not the autograd state.
struct TensorImpl {
  std::shared_ptr<void> storage;  // null in a gradient handle
  int64_t offset = 0;             // in elements
  Shape shape;
  DType dtype = DType::kF32;
  std::shared_ptr<AutogradState> autograd;

  AutogradState& autograd_state() {
    if (!autograd) autograd = std::make_shared<AutogradState>();
    return *autograd;
  }
};

}  // namespace kiln
