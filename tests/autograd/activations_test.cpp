// Tests for ops::gelu (tanh and erf forms), ops::tanh, ops::silu and ops::relu: forward and
// derivative against the closed forms in double, gradients against central differences, and
// error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "base/error.h"
#include "tests/autograd/gradcheck.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

using testing::random_tensor;

const double kSqrt2OverPi = std::sqrt(2.0 / std::numbers::pi);

double gelu_tanh_ref(double x) {
  return 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
}
double gelu_tanh_grad_ref(double x) {
  double t = std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * kSqrt2OverPi * (1 + 3 * 0.044715 * x * x);
}
double gelu_erf_ref(double x) {
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}
double gelu_erf_grad_ref(double x) {
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) +
         x * std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi);
}
double tanh_grad_ref(double x) {
  return 1 - std::tanh(x) * std::tanh(x);
}
double silu_ref(double x) {
  return x / (1 + std::exp(-x));
}
double silu_grad_ref(double x) {
  double s = 1 / (1 + std::exp(-x));
  return s + x * s * (1 - s);
}
double relu_ref(double x) {
  return x > 0 ? x : 0;
}
double relu_grad_ref(double x) {
  return x > 0 ? 1 : 0;  // PyTorch's choice at the kink: 0
}

struct Case {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  double (*value)(double);
  double (*grad)(double);
};

std::vector<Case> cases() {
  return {{"gelu_tanh", [](const Tensor& x) { return ops::gelu(x, ops::GeluForm::kTanh); },
           gelu_tanh_ref, gelu_tanh_grad_ref},
          {"gelu_erf", [](const Tensor& x) { return ops::gelu(x, ops::GeluForm::kErf); },
           gelu_erf_ref, gelu_erf_grad_ref},
          {"tanh", [](const Tensor& x) { return ops::tanh(x); },
           [](double v) { return std::tanh(v); }, tanh_grad_ref},
          {"silu", [](const Tensor& x) { return ops::silu(x); }, silu_ref, silu_grad_ref},
          {"relu", [](const Tensor& x) { return ops::relu(x); }, relu_ref, relu_grad_ref}};
}

// Values spread over [-6, 6] including the exact points 0, +-1 and the saturated tails.
Tensor wide_input(const Shape& shape, uint64_t seed) {
  Tensor x = random_tensor(shape, seed, -6.0f, 6.0f);
  const float fixed[] = {0.0f, 1.0f, -1.0f, 6.0f, -6.0f};
  for (int64_t i = 0; i < 5 && i < x.numel(); ++i) x.data()[i] = fixed[i];
  return x;
}

TEST(ActivationOpTest, ForwardMatchesClosedForm) {
  for (const Case& c : cases()) {
    for (const Shape& shape : std::vector<Shape>{{4, 33}, {7}, {2, 3, 5}}) {
      Tensor x = wide_input(shape, 1);
      Tensor y = c.op(x);
      ASSERT_EQ(y.shape(), shape);
      for (int64_t i = 0; i < x.numel(); ++i) {
        double expected = c.value(x.data()[i]);
        ASSERT_NEAR(y.data()[i], expected, 1e-5 + 1e-5 * std::fabs(expected))
            << c.name << " at x = " << x.data()[i];
      }
    }
  }
}

TEST(ActivationOpTest, GeluErfIsCloseToDoublePrecisionAcrossItsRange) {
  // The erf form is kiln's own erfc approximation (ops/gelu.h): at most 2.9e-7 |x| off in value
  // and 3e-7 in slope over [-10, 10] on a 5e-5 grid; checked here on a 1e-3 grid with a margin.
  std::vector<float> xs;
  for (int i = -10000; i <= 10000; ++i) xs.push_back(static_cast<float>(i) * 1e-3f);
  Tensor x = Tensor::from_floats({static_cast<int64_t>(xs.size())}, xs).set_requires_grad(true);
  Tensor y = ops::gelu(x, ops::GeluForm::kErf);
  backward(y, Tensor::from_floats(y.shape(), std::vector<float>(xs.size(), 1.0f)));
  const std::vector<float> values = y.to_floats(), slopes = x.grad().to_floats();
  for (std::size_t i = 0; i < xs.size(); ++i) {
    ASSERT_NEAR(values[i], gelu_erf_ref(xs[i]), 4e-7 * std::fabs(xs[i]) + 1e-9) << xs[i];
    ASSERT_NEAR(slopes[i], gelu_erf_grad_ref(xs[i]), 4e-7) << xs[i];
  }
}

TEST(ActivationOpTest, ForwardKnownValues) {
  Tensor x = Tensor::from_floats({3}, {0.0f, 1.0f, -2.0f});
  std::vector<float> g = ops::gelu(x, ops::GeluForm::kErf).to_floats();
  EXPECT_FLOAT_EQ(g[0], 0.0f);
  EXPECT_NEAR(g[1], 0.8413447f, 1e-6);   // Phi(1)
  EXPECT_NEAR(g[2], -0.0455003f, 1e-6);  // -2 * Phi(-2)
  std::vector<float> t = ops::tanh(x).to_floats();
  EXPECT_NEAR(t[1], 0.7615942f, 1e-6);
  EXPECT_NEAR(t[2], -0.9640276f, 1e-6);
  std::vector<float> s = ops::silu(x).to_floats();
  EXPECT_FLOAT_EQ(s[0], 0.0f);
  EXPECT_NEAR(s[1], 0.7310586f, 1e-6);   // 1 / (1 + e^-1)
  EXPECT_NEAR(s[2], -0.2384058f, 1e-6);  // -2 / (1 + e^2)
  EXPECT_EQ(ops::relu(x).to_floats(), (std::vector<float>{0.0f, 1.0f, 0.0f}));
}

// GELU's tanh form runs on kiln's own exp: far tails, where that exp is clamped, and tiny inputs.
TEST(ActivationOpTest, GeluTanhTailsAndTinyInputs) {
  const std::vector<float> xs = {-1000.0f, -100.0f, -30.0f, -10.0f, -1e-30f, 0.0f,
                                 1e-30f,   1e-4f,   10.0f,  30.0f,  100.0f,  1000.0f};
  Tensor x = Tensor::from_floats({static_cast<int64_t>(xs.size())}, xs).set_requires_grad(true);
  Tensor y = ops::gelu(x, ops::GeluForm::kTanh);
  backward(y, Tensor::full(x.shape(), 1.0f));
  for (size_t i = 0; i < xs.size(); ++i) {
    const double value = gelu_tanh_ref(xs[i]), slope = gelu_tanh_grad_ref(xs[i]);
    EXPECT_NEAR(y.data()[i], value, 1e-6 * std::fabs(value) + 1e-30) << "x = " << xs[i];
    EXPECT_NEAR(x.grad().data()[i], slope, 1e-6) << "x = " << xs[i];
  }
}

TEST(ActivationOpTest, BackwardMatchesClosedFormDerivative) {
  for (const Case& c : cases()) {
    Tensor x = wide_input({4, 33}, 2).set_requires_grad(true);
    Tensor seed = random_tensor({4, 33}, 3, 0.5f, 1.5f);
    backward(c.op(x), seed);
    for (int64_t i = 0; i < x.numel(); ++i) {
      double expected = c.grad(x.data()[i]) * seed.data()[i];
      ASSERT_NEAR(x.grad().data()[i], expected, 1e-5 + 1e-5 * std::fabs(expected))
          << c.name << " at x = " << x.data()[i];
    }
  }
}

TEST(ActivationOpTest, BackwardMatchesFiniteDifference) {
  for (const Case& c : cases()) {
    auto fn = [&](const std::vector<Tensor>& in) { return c.op(in[0]); };
    for (const Shape& shape : std::vector<Shape>{{3, 5}, {2, 3, 7}, {4, 33}}) {
      Tensor x = random_tensor(shape, 4, -3.0f, 3.0f);
      // Central differences of step 1e-2 across ReLU's kink would measure a slope of 1/2.
      for (int64_t i = 0; i < x.numel(); ++i)
        if (std::fabs(x.data()[i]) < 0.05f) x.data()[i] = 0.5f;
      std::vector<Tensor> inputs = {x.set_requires_grad(true)};
      SCOPED_TRACE(std::string(c.name) + " " + shape_str(shape));
      EXPECT_GRADIENTS_MATCH(fn, inputs);
    }
  }
}

TEST(ActivationOpTest, BackwardAddsIntoExistingGradient) {
  for (const Case& c : cases()) {
    Tensor x = random_tensor({9}, 5, -2.0f, 2.0f).set_requires_grad(true);
    x.set_grad(Tensor::full({9}, 1.0f));
    backward(c.op(x), Tensor::full({9}, 1.0f));
    for (int64_t i = 0; i < 9; ++i)
      EXPECT_NEAR(x.grad().data()[i], 1.0 + c.grad(x.data()[i]), 1e-5) << c.name;
  }
}

TEST(ActivationOpTest, NoGradRecordsNothing) {
  Tensor x = random_tensor({5}, 6).set_requires_grad(true);
  NoGradGuard no_grad;
  ops::gelu(x, ops::GeluForm::kTanh);
  ops::tanh(x);
  EXPECT_EQ(tape_size(), 0u);
}

TEST(ActivationOpTest, RejectsBadInputsWithHelpfulMessages) {
  Tensor ints = Tensor::from_ints({2, 3}, {1, 2, 3, 4, 5, 6});
  std::string msg = error_of([&] { ops::gelu(ints, ops::GeluForm::kErf); });
  EXPECT_NE(msg.find("gelu: expected a float32 tensor, got int32 of shape [2, 3]"),
            std::string::npos)
      << msg;
  msg = error_of([&] { ops::tanh(ints); });
  EXPECT_NE(msg.find("tanh: expected a float32 tensor, got int32"), std::string::npos) << msg;
  msg = error_of([&] { ops::silu(ints); });
  EXPECT_NE(msg.find("silu: expected a float32 tensor, got int32"), std::string::npos) << msg;
  msg = error_of([&] { ops::relu(ints); });
  EXPECT_NE(msg.find("relu: expected a float32 tensor, got int32"), std::string::npos) << msg;
  msg = error_of([&] { ops::tanh(Tensor()); });
  EXPECT_NE(msg.find("tanh: expected a defined tensor"), std::string::npos) << msg;
}

}  // namespace
}  // namespace kiln
