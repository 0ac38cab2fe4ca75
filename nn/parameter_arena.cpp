// Moving parameters into the flat arena, and the whole-arena gradient loops.
#include "nn/parameter_arena.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "autograd/threads.h"

namespace kiln::nn {

ParameterArena::ParameterArena(const Module& model) {
  std::vector<NamedTensor> all = model.named_parameters();
  std::stable_partition(all.begin(), all.end(),
                        [](const NamedTensor& p) { return p.second.rank() >= 2; });
  int64_t total = 0;
  for (const auto& [name, t] : all) {
    if (t.rank() >= 2) decayed_size_ += t.numel();
    total += t.numel();
  }
  values_ = Tensor::empty({total});
  grads_ = Tensor::zeros({total});
  int64_t offset = 0;
  for (auto& [name, t] : all) {
    Tensor param = t;  // handles share state: rebinding one rebinds the model's too
    param.move_storage_to(values_.rows_view(offset, offset + t.numel()));
    param.set_grad(grads_.rows_view(offset, offset + t.numel()).view(t.shape()));
    offset += t.numel();
  }
  named_ = std::move(all);
}

void ParameterArena::zero_grads() const {
  std::memset(grads_.data(), 0, static_cast<std::size_t>(size()) * 4);
}

double sum_of_squares(const float* x, int64_t n) {
  constexpr int64_t kBlock = 1 << 16;
  int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double s = 0;
      for (int64_t i = b * kBlock, e = std::min(n, i + kBlock); i < e; ++i)
        s += double(x[i]) * x[i];
      partial[static_cast<std::size_t>(b)] = s;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

double ParameterArena::grad_norm() const {
  return std::sqrt(sum_of_squares(grads_.data(), size()));
}

void ParameterArena::scale_grads(float factor) const {
  float* g = grads_.data();
  parallel_for(size(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) g[i] *= factor;
  });
}

}  // namespace kiln::nn
