// Central-difference gradient checks: the oracle for every op's backward.
#include "tests/autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/tape.h"
#include "base/rng.h"

namespace kiln::testing {
namespace {

// L = sum(w * y) accumulated in double, so the numeric side adds no rounding of its own.
double weighted_sum(const Tensor& y, const std::vector<float>& w) {
  double s = 0;
  const float* p = y.data();
  for (std::size_t i = 0; i < w.size(); ++i) s += static_cast<double>(w[i]) * p[i];
  return s;
}

}  // namespace

Tensor random_tensor(const Shape& shape, uint64_t seed, float lo, float hi) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = lo + (hi - lo) * random_uniform(seed, i);
  return t;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  float m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

GradCheckResult check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                const std::vector<Tensor>& inputs, GradCheckOptions options) {
  GradCheckResult result;
  for (const Tensor& x : inputs) x.reset_grad();
  Tensor y = fn(inputs);
  std::vector<float> w = random_tensor(y.shape(), 12345, 0.5f, 1.5f).to_floats();
  backward(y, Tensor::from_floats(y.shape(), w));

  std::ostringstream report;
  int failures = 0;
  for (std::size_t input = 0; input < inputs.size(); ++input) {
    const Tensor& x = inputs[input];
    if (!x.requires_grad()) continue;
    Tensor analytic = x.grad().defined() ? x.grad().clone() : Tensor::zeros(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      float saved = x.data()[i];
      double plus, minus;
      {
        NoGradGuard no_grad;
        x.data()[i] = saved + static_cast<float>(options.eps);
        plus = weighted_sum(fn(inputs), w);
        x.data()[i] = saved - static_cast<float>(options.eps);
        minus = weighted_sum(fn(inputs), w);
      }
      x.data()[i] = saved;
      double numeric = (plus - minus) / (2 * options.eps);
      double got = analytic.data()[i];
      if (!(std::fabs(got - numeric) <= options.atol + options.rtol * std::fabs(numeric))) {
        result.ok = false;
        if (failures++ < 8)
          report << "input " << input << " " << shape_str(x.shape()) << " element " << i
                 << ": analytic " << got << ", numeric " << numeric << "\n";
      }
    }
  }
  if (failures > 8) report << "... " << failures << " mismatches in all\n";
  result.report = report.str();
  for (const Tensor& x : inputs) x.reset_grad();
  return result;
}

}  // namespace kiln::testing
