// Tests for ops::softmax and ops::log_softmax: forward against a double-precision loop
// (including large-magnitude inputs), gradients against central differences, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

// Plain loop over rows of the last dimension, max-subtracted, in double.
std::vector<double> reference(const Tensor& x, bool log) {
  const int64_t c = x.dim(-1), rows = x.numel() / c;
  std::vector<double> y(x.numel());
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * c;
    double m = *std::max_element(row, row + c), sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += std::exp(row[j] - m);
    for (int64_t j = 0; j < c; ++j)
      y[r * c + j] = log ? row[j] - m - std::log(sum) : std::exp(row[j] - m) / sum;
  }
  return y;
}

TEST(SoftmaxOpTest, ForwardMatchesReferenceLoopOnLargeInputs) {
  // Values up to ~80: exp would overflow float without the max subtraction.
  for (const Shape& shape : std::vector<Shape>{{3, 5}, {2, 3, 7}, {4, 33}, {7}}) {
    Tensor x = random_tensor(shape, 1, 30.0f, 80.0f);
    std::vector<double> expected = reference(x, false);
    std::vector<float> got = ops::softmax(x).to_floats();
    const int64_t c = shape.back();
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], expected[i], 1e-6 + 1e-5 * expected[i]) << shape_str(shape) << " " << i;
    for (std::size_t r = 0; r < got.size() / c; ++r) {
      double row_sum = 0;
      for (int64_t j = 0; j < c; ++j) row_sum += got[r * c + j];
      EXPECT_NEAR(row_sum, 1.0, 1e-5);
    }
  }
}

TEST(LogSoftmaxOpTest, ForwardMatchesReferenceLoopOnLargeInputs) {
  for (const Shape& shape : std::vector<Shape>{{3, 5}, {2, 3, 7}, {4, 33}, {7}}) {
    Tensor x = random_tensor(shape, 2, -50.0f, 50.0f);
    std::vector<double> expected = reference(x, true);
    std::vector<float> got = ops::log_softmax(x).to_floats();
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], expected[i], 1e-4 + 1e-6 * std::fabs(expected[i]))
          << shape_str(shape) << " " << i;
  }
}

TEST(SoftmaxOpTest, ExtremeRowIsExact) {
  Tensor x = Tensor::from_floats({1, 3}, {1000.0f, 0.0f, -1000.0f});
  std::vector<float> p = ops::softmax(x).to_floats();
  EXPECT_FLOAT_EQ(p[0], 1.0f);
  EXPECT_FLOAT_EQ(p[1], 0.0f);
  EXPECT_FLOAT_EQ(p[2], 0.0f);
  // oneDNN's vectorised log is accurate to a few ulps, hence the small tolerance at 0.
  std::vector<float> lp = ops::log_softmax(x).to_floats();
  EXPECT_NEAR(lp[0], 0.0f, 1e-5);
  EXPECT_FLOAT_EQ(lp[1], -1000.0f);
  EXPECT_FLOAT_EQ(lp[2], -2000.0f);
}

TEST(SoftmaxOpTest, BackwardMatchesFiniteDifference) {
  auto fn = [](const std::vector<Tensor>& in) { return ops::softmax(in[0]); };
  for (const Shape& shape : std::vector<Shape>{{3, 5}, {2, 3, 7}, {4, 33}}) {
    std::vector<Tensor> inputs = {random_tensor(shape, 3, -2.0f, 2.0f).set_requires_grad(true)};
    SCOPED_TRACE(shape_str(shape));
    EXPECT_GRADIENTS_MATCH(fn, inputs);
  }
}

TEST(LogSoftmaxOpTest, BackwardMatchesFiniteDifference) {
  auto fn = [](const std::vector<Tensor>& in) { return ops::log_softmax(in[0]); };
  for (const Shape& shape : std::vector<Shape>{{3, 5}, {2, 3, 7}, {4, 33}}) {
    std::vector<Tensor> inputs = {random_tensor(shape, 4, -2.0f, 2.0f).set_requires_grad(true)};
    SCOPED_TRACE(shape_str(shape));
    EXPECT_GRADIENTS_MATCH(fn, inputs);
  }
}

TEST(LogSoftmaxOpTest, BackwardMatchesClosedFormAndAccumulates) {
  // d/dx of sum_j w_j * log_softmax(x)_j is w - softmax(x) * sum(w), per row.
  Tensor x = random_tensor({2, 9}, 5, -40.0f, 40.0f).set_requires_grad(true);
  Tensor w = random_tensor({2, 9}, 6, 0.5f, 1.5f);
  x.set_grad(Tensor::full({2, 9}, 0.25f));  // an earlier contribution that must be kept
  backward(ops::log_softmax(x), w);
  std::vector<double> p = reference(x, false);
  for (int r = 0; r < 2; ++r) {
    double wsum = 0;
    for (int j = 0; j < 9; ++j) wsum += w.data()[r * 9 + j];
    for (int j = 0; j < 9; ++j) {
      int i = r * 9 + j;
      double expected = 0.25 + w.data()[i] - p[i] * wsum;
      EXPECT_NEAR(x.grad().data()[i], expected, 1e-5 + 1e-5 * std::fabs(expected)) << i;
    }
  }
}

TEST(SoftmaxOpTest, RejectsBadInputsWithHelpfulMessages) {
  Tensor ints = Tensor::from_ints({2, 2}, {1, 2, 3, 4});
  std::string msg = error_of([&] { ops::softmax(ints); });
  EXPECT_NE(msg.find("softmax: expected a float32 tensor, got int32 of shape [2, 2]"),
            std::string::npos)
      << msg;
  msg = error_of([&] { ops::log_softmax(Tensor::scalar(3.0f)); });
  EXPECT_NE(msg.find("log_softmax: expected x of shape [..., C] with rank >= 1, got []"),
            std::string::npos)
      << msg;
}

}  // namespace
}  // namespace kiln
