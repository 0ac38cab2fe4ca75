// Fits y = 3x + 1 with kiln's tape and ops, built against an installed kiln.
#include <cmath>
#include <cstdio>

#include <kiln/autograd/ops.h>
#include <kiln/autograd/tape.h>

int main() {
  using kiln::Tensor;
  Tensor x = Tensor::from_floats({4, 1}, {0.f, 1.f, 2.f, 3.f});
  Tensor y = Tensor::from_floats({4, 1}, {1.f, 4.f, 7.f, 10.f});
  Tensor w = Tensor::zeros({1, 1}).set_requires_grad(true);
  Tensor b = Tensor::zeros({1}).set_requires_grad(true);
  for (int step = 0; step < 500; ++step) {
    Tensor pred = kiln::ops::linear(x, w, b, kiln::ops::WeightLayout::kOutIn);
    Tensor diff = kiln::ops::sub(pred, y);
    Tensor loss = kiln::ops::mean_all(kiln::ops::mul(diff, diff));
    kiln::backward(loss);
    for (Tensor* p : {&w, &b}) {
      for (int64_t i = 0; i < p->numel(); ++i) p->data()[i] -= 0.05f * p->grad().data()[i];
      p->zero_grad();
    }
  }
  std::printf("w=%.4f b=%.4f\n", w.data()[0], b.data()[0]);
  bool ok = std::fabs(w.data()[0] - 3.f) < 1e-2f && std::fabs(b.data()[0] - 1.f) < 1e-2f;
  return ok ? 0 : 1;
}
