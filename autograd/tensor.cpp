// Tensor construction, views and gradient buffers.
#include "autograd/tensor.h"

#include <cmath>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "autograd/allocator.h"
#include "base/error.h"

namespace kiln {

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

std::string index_str(int64_t flat, const Shape& shape) {
  Shape idx(shape.size());
  for (int64_t k = static_cast<int64_t>(shape.size()) - 1; k >= 0; --k) {
    idx[k] = flat % shape[k];
    flat /= shape[k];
  }
  return shape_str(idx);
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const char* dtype_name(DType dtype) {
  return dtype == DType::kF32 ? "float32" : "int32";
}

namespace {

std::shared_ptr<TensorImpl> impl_of_shape(const Shape& shape) {
  for (int64_t d : shape)
    KILN_CHECK(d >= 0, "Tensor: expected non-negative sizes, got ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  return impl;
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  auto impl = impl_of_shape(shape);
  impl->storage = allocate_bytes(static_cast<std::size_t>(shape_numel(shape)) * 4);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.impl_->storage.get(), 0, static_cast<std::size_t>(t.numel()) * 4);
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  std::fill_n(t.data(), t.numel(), value);
  return t;
}

Tensor Tensor::from_floats(const Shape& shape, const std::vector<float>& values) {
  KILN_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
             "Tensor::from_floats: expected ", shape_numel(shape), " values for shape ",
             shape_str(shape), ", got ", values.size());
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::from_ints(const Shape& shape, const std::vector<int32_t>& values) {
  KILN_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
             "Tensor::from_ints: expected ", shape_numel(shape), " values for shape ",
             shape_str(shape), ", got ", values.size());
  Tensor t = empty(shape, DType::kI32);
  std::copy(values.begin(), values.end(), t.ints());
  return t;
}

const Shape& Tensor::shape() const {
  KILN_CHECK(defined(), "Tensor: expected a defined tensor, got an undefined one");
  return impl_->shape;
}

int64_t Tensor::dim(int d) const {
  int r = rank();
  int i = d < 0 ? d + r : d;
  KILN_CHECK(i >= 0 && i < r, "Tensor::dim: expected a dimension in [", -r, ", ", r, "), got ", d,
             " for shape ", shape_str(shape()));
  return impl_->shape[i];
}

int64_t Tensor::numel() const {
  return shape_numel(shape());
}

DType Tensor::dtype() const {
  KILN_CHECK(defined(), "Tensor: expected a defined tensor, got an undefined one");
  return impl_->dtype;
}

float* Tensor::data() const {
  KILN_CHECK(dtype() == DType::kF32, "Tensor::data: expected float32, got ", dtype_name(dtype()),
             " tensor of shape ", shape_str(shape()));
  KILN_CHECK(impl_->storage != nullptr,
             "Tensor::data: expected a tensor with values, got the "
             "gradient handle of one of shape ",
             shape_str(shape()));
  return static_cast<float*>(impl_->storage.get()) + impl_->offset;
}

int32_t* Tensor::ints() const {
  KILN_CHECK(dtype() == DType::kI32, "Tensor::ints: expected int32, got ", dtype_name(dtype()),
             " tensor of shape ", shape_str(shape()));
  KILN_CHECK(impl_->storage != nullptr,
             "Tensor::ints: expected a tensor with values, got the "
             "gradient handle of one of shape ",
             shape_str(shape()));
  return static_cast<int32_t*>(impl_->storage.get()) + impl_->offset;
}

float Tensor::item() const {
  KILN_CHECK(numel() == 1, "Tensor::item: expected one element, got shape ", shape_str(shape()));
  return data()[0];
}

std::vector<float> Tensor::to_floats() const {
  return std::vector<float>(data(), data() + numel());
}

std::vector<int32_t> Tensor::to_ints() const {
  return std::vector<int32_t>(ints(), ints() + numel());
}

Tensor Tensor::view(const Shape& new_shape) const {
  KILN_CHECK(shape_numel(new_shape) == numel(), "view: expected a shape with ", numel(),
             " elements to view ", shape_str(shape()), ", got ", shape_str(new_shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = new_shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::rows_view(int64_t begin, int64_t end) const {
  KILN_CHECK(rank() >= 1 && 0 <= begin && begin <= end && end <= dim(0),
             "rows_view: expected 0 <= begin <= end <= ", rank() >= 1 ? dim(0) : 0, ", got [",
             begin, ", ", end, ") of shape ", shape_str(shape()));
  Shape s = shape();
  int64_t row = numel() / std::max<int64_t>(s[0], 1);
  s[0] = end - begin;
  Tensor v = view(shape());
  v.impl_->shape = s;
  v.impl_->offset += begin * row;
  return v;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype());
  std::memcpy(t.impl_->storage.get(), static_cast<char*>(impl_->storage.get()) + impl_->offset * 4,
              static_cast<std::size_t>(numel()) * 4);
  return t;
}

Tensor Tensor::detach() const {
  return view(shape());
}

void Tensor::move_storage_to(const Tensor& destination) {
  KILN_CHECK(destination.numel() == numel() && destination.dtype() == dtype(),
             "move_storage_to: expected a destination of ", numel(), " ", dtype_name(dtype()),
             " elements, got ", shape_str(destination.shape()));
  std::memcpy(static_cast<char*>(destination.impl_->storage.get()) + destination.impl_->offset * 4,
              static_cast<char*>(impl_->storage.get()) + impl_->offset * 4,
              static_cast<std::size_t>(numel()) * 4);
  impl_->storage = destination.impl_->storage;
  impl_->offset = destination.impl_->offset;
}

bool Tensor::requires_grad() const {
  return defined() && impl_->autograd && impl_->autograd->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool on) {
  KILN_CHECK(!on || dtype() == DType::kF32,
             "set_requires_grad: expected a float32 tensor, got int32 of shape ",
             shape_str(shape()));
  if (on || impl_->autograd) impl_->autograd_state().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  return defined() && impl_->autograd ? impl_->autograd->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  KILN_CHECK(g.shape() == shape() && g.dtype() == DType::kF32,
             "set_grad: expected a float32 gradient of shape ", shape_str(shape()), ", got ",
             shape_str(g.shape()));
  AutogradState& state = impl_->autograd_state();
  state.grad = g;
  state.grad_discarded = false;
}

Tensor Tensor::ensure_grad() const {
  AutogradState& state = impl_->autograd_state();
  if (!state.grad.defined()) state.grad = zeros(shape());
  if (state.grad_discarded)
    std::memset(state.grad.data(), 0, static_cast<std::size_t>(numel()) * 4);
  state.grad_discarded = false;
  return state.grad;
}

void Tensor::reset_grad() const {
  if (!impl_->autograd) return;
  impl_->autograd->grad = Tensor();
  impl_->autograd->grad_discarded = false;
}

void Tensor::zero_grad() const {
  const Tensor g = grad();
  if (g.defined()) std::memset(g.data(), 0, static_cast<std::size_t>(numel()) * 4);
  if (impl_->autograd) impl_->autograd->grad_discarded = false;
}

void Tensor::discard_grad() const {
  if (grad().defined()) impl_->autograd->grad_discarded = true;
}

bool Tensor::grad_discarded() const {
  return defined() && impl_->autograd && impl_->autograd->grad_discarded;
}

Tensor Tensor::gradient_handle() const {
  if (!defined()) return Tensor();
  auto impl = impl_of_shape(shape());
  impl->dtype = dtype();
  impl_->autograd_state();  // shared from now on, even if still empty
  impl->autograd = impl_->autograd;
  return Tensor(std::move(impl));
}

int64_t first_nonfinite(const Tensor& t) {
  if (!t.defined() || t.dtype() != DType::kF32) return -1;
  const float* v = t.data();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(v[i])) return i;
  return -1;
}

}  // namespace kiln
