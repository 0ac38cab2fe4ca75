// Tests for add / sub / mul with NumPy broadcasting, scale, and the sum / mean reductions:
// forwards against plain loops, gradients against central differences, error messages, and
// reductions that stay bit-identical across thread counts.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "tests/autograd/gradcheck.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

using testing::random_tensor;

// The element of `t` that broadcasting pairs with flat index i of `out` (shapes align right).
float broadcast_at(const Tensor& t, const Shape& out, int64_t i) {
  const Shape& s = t.shape();
  int64_t offset = 0, stride = 1;
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
    int64_t idx = i % out[d];
    i /= out[d];
    int td = d - static_cast<int>(out.size() - s.size());
    if (td < 0) continue;
    if (s[td] != 1) offset += idx * stride;
    stride *= s[td];
  }
  return t.data()[offset];
}

struct BroadcastCase {
  Shape a, b, out;
};

const std::vector<BroadcastCase>& broadcast_cases() {
  static const std::vector<BroadcastCase> cases = {
      {{3, 5}, {3, 5}, {3, 5}},                    // equal shapes
      {{2, 3, 4}, {4}, {2, 3, 4}},                 // bias-like suffix
      {{2, 3, 4}, {3, 1}, {2, 3, 4}},              // stretched last dim
      {{2, 1, 4}, {3, 1}, {2, 3, 4}},              // both stretch
      {{2, 1, 1, 5}, {2, 4, 3, 5}, {2, 4, 3, 5}},  // attention-mask-like
      {{}, {3}, {3}},                              // rank-0 scalar
      {{7, 1}, {1}, {7, 1}},                       // all ones on one side
      {{3, 17}, {1, 17}, {3, 17}},                 // size not a multiple of 8
  };
  return cases;
}

using BinaryOp = std::function<Tensor(const Tensor&, const Tensor&)>;
struct NamedOp {
  const char* name;
  BinaryOp op;
  double (*ref)(double, double);
};

std::vector<NamedOp> binary_ops() {
  return {{"add", ops::add, [](double x, double y) { return x + y; }},
          {"sub", ops::sub, [](double x, double y) { return x - y; }},
          {"mul", ops::mul, [](double x, double y) { return x * y; }}};
}

TEST(ElementwiseOpTest, ForwardMatchesReferenceLoop) {
  for (const NamedOp& op : binary_ops()) {
    for (const BroadcastCase& c : broadcast_cases()) {
      for (bool swap : {false, true}) {  // broadcasting is symmetric: try both operand orders
        Tensor a = random_tensor(swap ? c.b : c.a, 1), b = random_tensor(swap ? c.a : c.b, 2);
        Tensor y = op.op(a, b);
        std::string what =
            std::string(op.name) + " " + shape_str(a.shape()) + " " + shape_str(b.shape());
        ASSERT_EQ(y.shape(), c.out) << what;
        for (int64_t i = 0; i < y.numel(); ++i)
          ASSERT_FLOAT_EQ(y.data()[i], static_cast<float>(op.ref(broadcast_at(a, c.out, i),
                                                                 broadcast_at(b, c.out, i))))
              << what << " element " << i;
      }
    }
  }
}

TEST(ElementwiseOpTest, BackwardMatchesFiniteDifference) {
  for (const NamedOp& op : binary_ops()) {
    for (const BroadcastCase& c : broadcast_cases()) {
      for (bool swap : {false, true}) {
        Tensor a = random_tensor(swap ? c.b : c.a, 3).set_requires_grad(true);
        Tensor b = random_tensor(swap ? c.a : c.b, 4).set_requires_grad(true);
        auto fn = [&](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); };
        SCOPED_TRACE(std::string(op.name) + " " + shape_str(a.shape()) + " " +
                     shape_str(b.shape()));
        EXPECT_GRADIENTS_MATCH(fn, (std::vector<Tensor>{a, b}));
      }
    }
  }
}

TEST(ElementwiseOpTest, InputUsedTwiceGetsBothGradients) {
  Tensor x = random_tensor({3, 5}, 5).set_requires_grad(true);
  backward(ops::sum_all(ops::mul(x, x)));  // d(sum x^2)/dx = 2x
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_FLOAT_EQ(x.grad().data()[i], 2 * x.data()[i]);
  x.reset_grad();
  backward(ops::sum_all(ops::add(x, x)));  // d(sum 2x)/dx = 2
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_FLOAT_EQ(x.grad().data()[i], 2.0f);
  x.reset_grad();
  backward(ops::sum_all(ops::sub(x, x)));  // d(sum 0)/dx = 0
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_FLOAT_EQ(x.grad().data()[i], 0.0f);
  x.reset_grad();

  auto square = [](const std::vector<Tensor>& in) { return ops::mul(in[0], in[0]); };
  EXPECT_GRADIENTS_MATCH(square, (std::vector<Tensor>{x}));
}

TEST(ElementwiseOpTest, BroadcastGradientIsIdenticalAcrossThreadCounts) {
  // The bias case [R, C] + [C] and a stretched-inner case [R, C] + [R, 1], both large enough
  // for the forward and the gradient reduction to be split over two threads.
  const int64_t rows = 256, cols = 300;
  for (bool bias_like : {true, false}) {
    Tensor a = random_tensor({rows, cols}, 6);
    Tensor b = random_tensor(bias_like ? Shape{cols} : Shape{rows, 1}, 7).set_requires_grad(true);
    std::vector<std::vector<float>> grads;
    int saved = num_threads();
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      backward(ops::sum_all(ops::mul(ops::add(a, b), a)));
      grads.push_back(b.grad().to_floats());
      b.reset_grad();
    }
    set_num_threads(saved);
    EXPECT_EQ(grads[0], grads[1]) << (bias_like ? "bias-like" : "stretched inner");
    // d/db[0] sum((a + b) * a) = sum of a over the elements b[0] was stretched to.
    double want = 0;
    for (int64_t i = 0; i < (bias_like ? rows : cols); ++i)
      want += a.data()[bias_like ? i * cols : i];
    EXPECT_NEAR(grads[0][0], want, 1e-4) << (bias_like ? "bias-like" : "stretched inner");
  }
}

TEST(ElementwiseOpTest, RejectsIncompatibleShapesNamingBoth) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  for (const NamedOp& op : binary_ops()) {
    std::string msg = error_of([&] { op.op(a, b); });
    EXPECT_EQ(msg.rfind(std::string(op.name) + ": expected shapes that broadcast", 0), 0u) << msg;
    EXPECT_NE(msg.find("got [2, 3] and [4]"), std::string::npos) << msg;
  }
  std::string msg = error_of([&] { ops::add(Tensor::zeros({2}, DType::kI32), b); });
  EXPECT_NE(msg.find("add: expected a float32 tensor, got int32 [2]"), std::string::npos) << msg;
}

// ---- scale ------------------------------------------------------------------------------

TEST(ScaleOpTest, ForwardAndBackward) {
  Tensor x = random_tensor({3, 7}, 8).set_requires_grad(true);
  Tensor y = ops::scale(x, -2.5f);
  ASSERT_EQ(y.shape(), x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_FLOAT_EQ(y.data()[i], -2.5f * x.data()[i]);
  auto fn = [](const std::vector<Tensor>& in) { return ops::scale(in[0], 0.75f); };
  EXPECT_GRADIENTS_MATCH(fn, (std::vector<Tensor>{x}));
  std::string msg = error_of([] { ops::scale(Tensor::zeros({2}, DType::kI32), 2.0f); });
  EXPECT_NE(msg.find("scale: expected a float32 tensor"), std::string::npos) << msg;
}

// ---- sum / mean -------------------------------------------------------------------------

// Sum (or mean) over dim d of a contiguous tensor, in double: shape x with dim d removed.
std::vector<float> reference_reduce(const Tensor& x, int d, bool mean) {
  int64_t outer = 1, inner = 1, n = x.dim(d);
  for (int i = 0; i < d; ++i) outer *= x.dim(i);
  for (int i = d + 1; i < x.rank(); ++i) inner *= x.dim(i);
  std::vector<float> y(outer * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += x.data()[(o * n + j) * inner + i];
      y[o * inner + i] = static_cast<float>(mean ? s / n : s);
    }
  return y;
}

TEST(SumMeanOpTest, ForwardMatchesReferenceLoopForEveryDim) {
  Tensor x = random_tensor({3, 4, 9}, 9);
  for (bool mean : {false, true})
    for (int dim : {0, 1, 2, -1, -3})
      for (bool keepdim : {false, true}) {
        Tensor y = mean ? ops::mean(x, dim, keepdim) : ops::sum(x, dim, keepdim);
        const int d = dim < 0 ? dim + 3 : dim;
        Shape want_shape = x.shape();
        if (keepdim)
          want_shape[d] = 1;
        else
          want_shape.erase(want_shape.begin() + d);
        EXPECT_EQ(y.shape(), want_shape);
        std::vector<float> want = reference_reduce(x, d, mean), got = y.to_floats();
        ASSERT_EQ(got.size(), want.size());
        for (std::size_t i = 0; i < got.size(); ++i)
          EXPECT_NEAR(got[i], want[i], 1e-6) << (mean ? "mean" : "sum") << " dim " << dim;
      }
}

TEST(SumMeanOpTest, BackwardMatchesFiniteDifference) {
  for (const Shape& shape : {Shape{3, 4, 9}, Shape{5}, Shape{2, 1, 3}})
    for (bool mean : {false, true})
      for (int dim = -static_cast<int>(shape.size()); dim < static_cast<int>(shape.size()); ++dim)
        for (bool keepdim : {false, true}) {
          Tensor x = random_tensor(shape, 10).set_requires_grad(true);
          auto fn = [&](const std::vector<Tensor>& in) {
            return mean ? ops::mean(in[0], dim, keepdim) : ops::sum(in[0], dim, keepdim);
          };
          SCOPED_TRACE(shape_str(shape) + (mean ? " mean" : " sum") + " dim " +
                       std::to_string(dim) + (keepdim ? " keepdim" : ""));
          EXPECT_GRADIENTS_MATCH(fn, (std::vector<Tensor>{x}));
        }
}

TEST(SumMeanOpTest, RejectsBadDimWithHelpfulMessage) {
  Tensor x = Tensor::zeros({2, 3});
  std::string msg = error_of([&] { ops::sum(x, 2); });
  EXPECT_NE(msg.find("sum: expected dim in [-2, 2) for shape [2, 3], got 2"), std::string::npos)
      << msg;
  msg = error_of([&] { ops::mean(x, -3); });
  EXPECT_NE(msg.find("mean: expected dim in [-2, 2)"), std::string::npos) << msg;
  msg = error_of([] { ops::sum(Tensor::scalar(1.0f), 0); });
  EXPECT_NE(msg.find("sum: expected dim in [0, 0)"), std::string::npos) << msg;
}

TEST(SumAllOpTest, ForwardMatchesDoubleSumAndIsThreadCountIndependent) {
  // Spans several fixed 8192-element blocks plus a ragged tail.
  Tensor x = random_tensor({100003}, 11, -1.0f, 3.0f);
  double want = 0;
  for (int64_t i = 0; i < x.numel(); ++i) want += x.data()[i];
  std::vector<float> sums, means;
  int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    sums.push_back(ops::sum_all(x).item());
    means.push_back(ops::mean_all(x).item());
  }
  set_num_threads(saved);
  EXPECT_EQ(ops::sum_all(x).shape(), Shape{});
  EXPECT_NEAR(sums[0], want, 1e-6 * std::fabs(want));
  EXPECT_NEAR(means[0], want / x.numel(), 1e-6);
  EXPECT_EQ(sums[0], sums[1]);
  EXPECT_EQ(means[0], means[1]);
}

TEST(SumAllOpTest, BackwardMatchesFiniteDifference) {
  for (const Shape& shape : {Shape{3, 5}, Shape{}, Shape{2, 3, 4}}) {
    Tensor x = random_tensor(shape, 12).set_requires_grad(true);
    auto sum = [](const std::vector<Tensor>& in) { return ops::sum_all(in[0]); };
    auto mean = [](const std::vector<Tensor>& in) { return ops::mean_all(in[0]); };
    SCOPED_TRACE(shape_str(shape));
    EXPECT_GRADIENTS_MATCH(sum, (std::vector<Tensor>{x}));
    EXPECT_GRADIENTS_MATCH(mean, (std::vector<Tensor>{x}));
  }
}

TEST(SumAllOpTest, RejectsIntegerInputWithHelpfulMessage) {
  std::string msg = error_of([] { ops::sum_all(Tensor::zeros({4}, DType::kI32)); });
  EXPECT_NE(msg.find("sum_all: expected a float32 tensor, got int32 [4]"), std::string::npos)
      << msg;
  msg = error_of([] { ops::mean_all(Tensor()); });
  EXPECT_NE(msg.find("mean_all: expected a defined tensor"), std::string::npos) << msg;
}

}  // namespace
}  // namespace kiln
