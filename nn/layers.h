// The basic layers: Linear (either weight layout), Embedding, LayerNorm. Each only composes
// ops; backward lives with the ops in autograd/.
#pragma once

#include <algorithm>

#include "autograd/gemm.h"
#include "autograd/ops.h"
#include "nn/init.h"
#include "nn/module.h"

namespace kiln::nn {

// Hands out a distinct dropout seed to each dropout site within one forward pass.
class SeedStream {
 public:
  explicit SeedStream(uint64_t base) : base_(base) {}
  uint64_t next() { return derive_seed(base_, next_++); }

 private:
  uint64_t base_, next_ = 0;
};

// y = x W^T + b (layout kOutIn, PyTorch nn.Linear) or y = x W + b (kInOut, GPT-2 Conv1D).
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, ops::WeightLayout layout, bool with_bias = true)
      : layout_(layout) {
    Shape shape = layout == ops::WeightLayout::kOutIn ? Shape{out, in} : Shape{in, out};
    weight = register_parameter("weight", Tensor::zeros(shape));
    if (with_bias) bias = register_parameter("bias", Tensor::zeros({out}));
  }
  // x: [..., in] -> [..., out], plus `residual` [..., out] when given (added inside the GEMM).
  Tensor forward(const Tensor& x, const Tensor& residual = Tensor()) const {
    return ops::linear(x, weight, bias, layout_, residual);
  }
  // forward(gelu(up.forward(x), form), residual): an MLP, whose activation is not kept alive
  // until backward. Where up's GEMM would fill its output with its bias before the product
  // (gemm_linear_fuses: it cannot add it inside), the bias is added in GELU's pass instead
  // (ops::gelu_linear's h_bias), which saves a pass over the MLP's widest tensor.
  Tensor forward_gelu_of(const Linear& up, const Tensor& x, const Tensor& residual = Tensor(),
                         ops::GeluForm form = ops::GeluForm::kTanh) const {
    const bool out_in = up.layout_ == ops::WeightLayout::kOutIn;
    const int64_t in = up.weight.dim(out_in ? 1 : 0), out = up.weight.dim(out_in ? 0 : 1);
    const bool bias_in_gemm =
        !up.bias.defined() || x.rank() < 1 ||
        gemm_linear_fuses(out_in, x.numel() / std::max<int64_t>(in, 1), out, in);
    if (bias_in_gemm) return ops::gelu_linear(up.forward(x), weight, bias, layout_, residual, form);
    return ops::gelu_linear(ops::linear(x, up.weight, Tensor(), up.layout_), weight, bias, layout_,
                            residual, form, up.bias);
  }

  Tensor weight, bias;

 private:
  ops::WeightLayout layout_;
};

// residual + dropout(projection), where project(r) is the projection plus r (r may be
// undefined). Without active dropout the residual is added inside the projection's GEMM, so
// the block keeps no un-added output and makes no add pass.
template <typename Project>
Tensor add_projection(const Tensor& residual, Project project, float p, uint64_t seed,
                      bool training) {
  if (p == 0.0f || !training) return project(residual);
  return ops::add(residual, ops::dropout(project(Tensor()), p, seed, training));
}

// ids: int32 [...] -> [..., dim]
class Embedding : public Module {
 public:
  Embedding(int64_t count, int64_t dim) {
    weight = register_parameter("weight", Tensor::zeros({count, dim}));
  }
  Tensor forward(const Tensor& ids) const { return ops::embedding(weight, ids); }

  Tensor weight;
};

// x: [..., dim] -> [..., dim], normalised over the last dimension with scale and shift.
class LayerNorm : public Module {
 public:
  LayerNorm(int64_t dim, float eps) : eps_(eps) {
    weight = register_parameter("weight", Tensor::full({dim}, 1.0f));
    bias = register_parameter("bias", Tensor::zeros({dim}));
  }
  Tensor forward(const Tensor& x) const { return ops::layer_norm(x, weight, bias, eps_); }

  Tensor weight, bias;

 private:
  float eps_;
};

}  // namespace kiln::nn
