// Tape semantics: accumulation, fan-out, no-grad scopes, release of saved activations,
// the two misuse errors, and that the gradient checker itself catches a wrong backward.
#include <gtest/gtest.h>

#include "autograd/allocator.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "base/error.h"
#include "tests/autograd/gradcheck.h"

namespace kiln {
namespace {

TEST(TapeTest, FanOutSumsGradients) {
  // y = x*x + x: every use of x contributes, so dy/dx = 2x + 1.
  Tensor x = Tensor::from_floats({3}, {1.f, -2.f, 0.5f}).set_requires_grad(true);
  backward(ops::sum_all(ops::add(ops::mul(x, x), x)));
  EXPECT_EQ(x.grad().to_floats(), (std::vector<float>{3.f, -3.f, 2.f}));
}

TEST(TapeTest, AFirstGradientIsWrittenAndLaterOnesAdded) {
  // The first contribution to a gradient writes a new, unfilled buffer (GradTarget); every
  // later one, from the same op or another, adds to it. The same tensor in two input slots of
  // one op is the case where the order matters.
  using testing::random_tensor;
  Tensor x = Tensor::from_floats({4}, {1.f, -2.f, 0.5f, 3.f}).set_requires_grad(true);
  backward(ops::sum_all(ops::add(x, x)));
  EXPECT_EQ(x.grad().to_floats(), (std::vector<float>(4, 2.f)));
  x.reset_grad();
  backward(ops::sum_all(ops::sub(ops::scale(x, 3.f), x)));  // scale writes, sub's b adds
  EXPECT_EQ(x.grad().to_floats(), (std::vector<float>(4, 2.f)));

  const int64_t d = 6;
  Tensor h = random_tensor({5, d}, 1).set_requires_grad(true);
  Tensor w = random_tensor({d, d}, 2).set_requires_grad(true);
  Tensor b = random_tensor({d}, 3).set_requires_grad(true);
  for (auto layout : {ops::WeightLayout::kOutIn, ops::WeightLayout::kInOut}) {
    // x as both the input and the residual of linear and gelu_linear; x fanning out to the
    // shape ops, layer norm, softmax and the activations, each of which writes a new gradient.
    EXPECT_GRADIENTS_MATCH(
        [layout](const std::vector<Tensor>& t) {
          return ops::add(ops::linear(t[0], t[1], t[2], layout, t[0]),
                          ops::gelu_linear(t[0], t[1], t[2], layout, t[0], ops::GeluForm::kErf));
        },
        {h, w, b});
  }
  EXPECT_GRADIENTS_MATCH(
      [](const std::vector<Tensor>& t) {
        const Tensor& v = t[0];
        Tensor y = ops::add(ops::reshape(v, {d, 5}), ops::permute(v, {1, 0}));
        y = ops::add(y, ops::permute(ops::layer_norm(v, t[2], t[2], 1e-5f), {1, 0}));
        y = ops::add(y, ops::permute(ops::softmax(v), {1, 0}));
        y = ops::add(
            y, ops::permute(ops::mul(ops::gelu(v, ops::GeluForm::kTanh), ops::tanh(v)), {1, 0}));
        std::vector<Tensor> halves = ops::split(v, {2, 4}, 1);
        y = ops::add(y, ops::permute(ops::concat({halves[1], halves[0]}, 1), {1, 0}));
        std::vector<Tensor> heads = ops::split(v, {d / 2, d / 2}, 1);
        Tensor merged =
            ops::concat({ops::reshape(heads[1], {5, d / 2}),
                         ops::reshape(ops::dropout(heads[0], 0.5f, 7, true), {5, d / 2})},
                        1);
        return ops::add(y, ops::permute(merged, {1, 0}));
      },
      {h, w, b});
}

TEST(TapeTest, PassGradientSharesAFirstGradientAndAddsALaterOne) {
  Tensor x = Tensor::from_floats({3}, {1.f, 2.f, 3.f}).set_requires_grad(true);
  Tensor g = Tensor::from_floats({3}, {0.5f, -1.f, 2.f});
  pass_gradient(x, g);
  EXPECT_EQ(x.grad().data(), g.data());  // the buffer itself, not a copy
  pass_gradient(x, Tensor::from_floats({3}, {1.f, 1.f, 1.f}));
  EXPECT_EQ(x.grad().to_floats(), (std::vector<float>{1.5f, 0.f, 3.f}));
  Tensor frozen = Tensor::from_floats({3}, {1.f, 2.f, 3.f});
  pass_gradient(frozen, g);
  EXPECT_FALSE(frozen.grad().defined());
}

TEST(TapeTest, AResidualPassesItsGradientOnWithoutACopy) {
  // A residual stream: x is the residual of y1, y1 that of y2, and x also feeds GELU and layer
  // norm before them. Backward reaches the linears first, so y1's and then x's first gradient
  // is y2's gradient buffer itself (pass_gradient); GELU's and layer norm's contributions must
  // then add to it, never replace it.
  using testing::random_tensor;
  const int64_t d = 6;
  Tensor r = random_tensor({5, d}, 4).set_requires_grad(true);
  Tensor weight = random_tensor({d, d}, 5).set_requires_grad(true);
  Tensor bias = random_tensor({d}, 6).set_requires_grad(true);
  EXPECT_GRADIENTS_MATCH(
      [](const std::vector<Tensor>& t) {
        const Tensor &x = t[0], &w = t[1], &b = t[2];
        Tensor g = ops::gelu(x, ops::GeluForm::kTanh);
        Tensor h = ops::layer_norm(x, b, b, 1e-5f);
        Tensor y1 = ops::linear(h, w, b, ops::WeightLayout::kOutIn, x);
        Tensor y2 = ops::gelu_linear(g, w, b, ops::WeightLayout::kInOut, y1, ops::GeluForm::kTanh);
        return ops::mul(y2, y2);
      },
      {r, weight, bias});
}

TEST(TapeTest, AnOutputNoBackwardReadsIsFreedWhenTheCallerDropsIt) {
  // y = 2x feeds only add, whose backward needs no values: once the caller lets go of y, its
  // storage must be gone although the tape still routes y's gradient.
  Tensor x = Tensor::from_floats({1024}, std::vector<float>(1024, 1.5f)).set_requires_grad(true);
  Tensor y = ops::scale(x, 2.0f);
  Tensor z = ops::add(y, x);
  const std::size_t with_y = live_tensor_bytes();
  y = Tensor();
  EXPECT_EQ(with_y - live_tensor_bytes(), 1024u * 4) << "y's values are still held";
  backward(ops::sum_all(z));
  for (float g : x.grad().to_floats()) ASSERT_EQ(g, 3.f);  // d(2x + x)/dx
}

TEST(TapeTest, AGradientHandleSharesTheGradientButHasNoValues) {
  Tensor x = Tensor::from_floats({2}, {1.f, 2.f}).set_requires_grad(true);
  Tensor handle = x.gradient_handle();
  EXPECT_TRUE(handle.requires_grad());
  EXPECT_EQ(handle.shape(), x.shape());
  handle.ensure_grad().data()[1] = 5.f;
  EXPECT_EQ(x.grad().to_floats(), (std::vector<float>{0.f, 5.f}));
  EXPECT_THROW(handle.data(), Error);
  EXPECT_FALSE(Tensor().gradient_handle().defined());  // an absent optional input stays absent
}

TEST(TapeTest, GradientsAccumulateAcrossBackwardCallsUntilZeroed) {
  Tensor x = Tensor::from_floats({2}, {1.f, 2.f}).set_requires_grad(true);
  backward(ops::sum_all(ops::scale(x, 3.f)));
  backward(ops::sum_all(ops::scale(x, 3.f)));
  EXPECT_EQ(x.grad().to_floats(), (std::vector<float>{6.f, 6.f}));
  x.zero_grad();
  backward(ops::sum_all(ops::scale(x, 3.f)));
  EXPECT_EQ(x.grad().to_floats(), (std::vector<float>{3.f, 3.f}));
}

TEST(TapeTest, NoGradScopeRecordsNothing) {
  Tensor x = Tensor::from_floats({2}, {1.f, 2.f}).set_requires_grad(true);
  std::size_t before = tape_size();
  Tensor y;
  {
    NoGradGuard no_grad;
    y = ops::mul(x, x);
  }
  EXPECT_EQ(tape_size(), before);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.to_floats(), (std::vector<float>{1.f, 4.f}));
  EXPECT_TRUE(grad_enabled());
}

TEST(TapeTest, OpsOnTensorsWithoutGradAreNotRecorded) {
  Tensor a = Tensor::from_floats({2}, {1.f, 2.f});
  std::size_t before = tape_size();
  Tensor y = ops::mul(a, a);
  EXPECT_EQ(tape_size(), before);
  EXPECT_FALSE(y.requires_grad());
}

TEST(TapeTest, BackwardReleasesTheTapeAndSavedActivations) {
  Tensor x = Tensor::from_floats({4}, {0.1f, 0.2f, 0.3f, 0.4f}).set_requires_grad(true);
  Tensor hidden = ops::tanh(x);  // saved by tanh's backward and by mul's
  Tensor loss = ops::sum_all(ops::mul(hidden, hidden));
  EXPECT_GT(tape_size(), 0u);
  long held_with_tape = hidden.use_count();
  backward(loss);
  EXPECT_EQ(tape_size(), 0u);
  EXPECT_LT(hidden.use_count(), held_with_tape);
  EXPECT_EQ(hidden.use_count(), 1);       // only this test's handle is left
  EXPECT_FALSE(hidden.grad().defined());  // intermediate gradients are freed too
  EXPECT_TRUE(x.grad().defined());
}

TEST(TapeTest, BackwardTwiceOnOneGraphIsAnError) {
  Tensor x = Tensor::from_floats({2}, {1.f, 2.f}).set_requires_grad(true);
  Tensor loss = ops::sum_all(ops::mul(x, x));
  backward(loss);
  try {
    backward(loss);
    FAIL() << "expected kiln::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already consumed"), std::string::npos) << e.what();
  }
}

TEST(TapeTest, NonScalarWithoutSeedIsAnError) {
  Tensor x = Tensor::from_floats({2, 3}, {1, 2, 3, 4, 5, 6}).set_requires_grad(true);
  Tensor y = ops::scale(x, 2.f);
  try {
    backward(y);
    FAIL() << "expected kiln::Error";
  } catch (const Error& e) {
    EXPECT_EQ(
        std::string(e.what()),
        "backward: expected a one-element loss or an explicit seed gradient, got shape [2, 3]");
  }
  clear_tape();
}

TEST(TapeTest, SeedGradientIsUsedForNonScalarOutputs) {
  Tensor x = Tensor::from_floats({2}, {1.f, 2.f}).set_requires_grad(true);
  Tensor y = ops::scale(x, 2.f);
  backward(y, Tensor::from_floats({2}, {10.f, 100.f}));
  EXPECT_EQ(x.grad().to_floats(), (std::vector<float>{20.f, 200.f}));
}

TEST(TapeTest, BackwardOnATensorThatNeedsNoGradIsAnError) {
  Tensor x = Tensor::from_floats({1}, {1.f});
  EXPECT_THROW(backward(ops::scale(x, 2.f)), Error);
}

// A deliberately wrong backward (gradient doubled) must fail the checker: otherwise the
// gradient checks of every op could pass vacuously.
TEST(GradCheckTest, DetectsAWrongBackward) {
  auto wrong_square = [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    Tensor y = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) y.data()[i] = x.data()[i] * x.data()[i];
    return record("wrong_square", y, {x}, [x](const Tensor& dy) {
      Tensor dx = grad_if_needed(x);
      for (int64_t i = 0; i < x.numel(); ++i)
        dx.data()[i] += 4.f * x.data()[i] * dy.data()[i];  // should be 2x
    });
  };
  Tensor x = testing::random_tensor({5}, 7).set_requires_grad(true);
  EXPECT_FALSE(testing::check_gradients(wrong_square, {x}).ok);
}

TEST(GradCheckTest, AcceptsACorrectBackward) {
  Tensor x = testing::random_tensor({5}, 7).set_requires_grad(true);
  EXPECT_GRADIENTS_MATCH([](const std::vector<Tensor>& in) { return ops::mul(in[0], in[0]); },
                         std::vector<Tensor>{x});
}

}  // namespace
}  // namespace kiln
