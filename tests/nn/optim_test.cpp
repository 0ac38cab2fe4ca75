// AdamW against a plain double-precision transcription of PyTorch's update, the flat
// arena, gradient norm, and the learning-rate schedules.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "nn/adamw.h"
#include "nn/layers.h"
#include "nn/parameter_arena.h"
#include "nn/schedule.h"

namespace kiln::nn {
namespace {

// A module with one decayed matrix and one bias.
class TwoParams : public Module {
 public:
  TwoParams() {
    bias = register_parameter("bias", Tensor::from_floats({2}, {0.5f, -0.5f}));
    weight = register_parameter("weight", Tensor::from_floats({2, 2}, {1.f, 2.f, 3.f, 4.f}));
  }
  Tensor weight, bias;
};

TEST(ParameterArenaTest, SumOfSquaresMatchesALongDoubleLoopAtAnyThreadCount) {
  // Lengths around the 8-lane stride and the 65,536-element block.
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{65536 + 13},
                    int64_t{3 * 65536 + 5}}) {
    SCOPED_TRACE(n);
    std::vector<float> x(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[i] = float((i * 7919) % 1000) / 333.0f - 1.5f;
    long double want = 0;
    for (float v : x) want += (long double)v * v;
    std::vector<double> got;
    for (int threads : {1, 2}) {
      const int saved = num_threads();
      set_num_threads(threads);
      got.push_back(sum_of_squares(x.data(), n));
      set_num_threads(saved);
    }
    EXPECT_NEAR(got[0], double(want), 1e-12 * double(want) + 1e-300);
    EXPECT_EQ(got[0], got[1]);  // bit for bit
  }
}

TEST(ParameterArenaTest, MatricesComeFirstAndHandlesSeeTheArena) {
  TwoParams m;
  ParameterArena arena(m);
  EXPECT_EQ(arena.size(), 6);
  EXPECT_EQ(arena.decayed_size(), 4);
  EXPECT_EQ(arena.named_parameters()[0].first, "weight");
  EXPECT_EQ(arena.values().to_floats(), (std::vector<float>{1, 2, 3, 4, 0.5f, -0.5f}));
  arena.values().data()[0] = 9.f;
  EXPECT_EQ(m.weight.data()[0], 9.f);  // the module's handle now points into the arena
  m.bias.grad().data()[1] = 3.f;
  EXPECT_EQ(arena.grads().data()[5], 3.f);
  arena.grads().data()[0] = 4.f;
  EXPECT_DOUBLE_EQ(arena.grad_norm(), 5.0);
  arena.zero_grads();
  EXPECT_DOUBLE_EQ(arena.grad_norm(), 0.0);
}

TEST(ParameterArenaTest, FrozenParametersGetNoGradientAndNoUpdate) {
  TwoParams m;
  ParameterArena arena(m, {"bi*"});
  EXPECT_EQ(arena.trainable_size(), 4);
  EXPECT_FALSE(m.bias.requires_grad());
  EXPECT_FALSE(m.bias.grad().defined());
  AdamW optimizer(arena, {0.9f, 0.95f, 1e-8f, 0.5f});
  for (int i = 0; i < 4; ++i) arena.grads().data()[i] = 1.f;
  optimizer.step(0.1f);
  EXPECT_EQ(m.bias.to_floats(), (std::vector<float>{0.5f, -0.5f}));
  EXPECT_NE(m.weight.data()[0], 1.f);
  EXPECT_THROW(ParameterArena(TwoParams(), {"nothing.matches"}), Error);
}

TEST(AdamWTest, ARangedOptimizerUpdatesItsRangeAlone) {
  // The same gradients in both arenas: the ranged optimizer moves its range to the bits the
  // whole-arena one gives and leaves the rest, and every gradient, as they were.
  TwoParams whole_model, ranged_model;
  ParameterArena whole(whole_model), ranged(ranged_model);
  AdamW whole_opt(whole, {0.9f, 0.95f, 1e-8f, 0.1f});
  AdamW ranged_opt(ranged, {0.9f, 0.95f, 1e-8f, 0.1f}, {1, 5});
  const std::vector<float> grads{0.3f, -1.5f, 2.0f, 0.25f, -0.75f, 4.0f};
  std::copy(grads.begin(), grads.end(), whole.grads().data());
  std::copy(grads.begin(), grads.end(), ranged.grads().data());
  const std::vector<float> before = ranged.values().to_floats();
  whole_opt.step(0.01f, 0.5f);
  ranged_opt.step(0.01f, 0.5f);
  const std::vector<float> moved = whole.values().to_floats(), got = ranged.values().to_floats();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(got[i], i >= 1 && i < 5 ? moved[i] : before[i]) << i;
  EXPECT_EQ(ranged.grads().to_floats(), grads);
}

TEST(AdamWTest, MomentsSitOneAndTwoKilobytesPastTheirParametersWithinAPage) {
  // Where the moments live (against 4K aliasing between the update's four streams): element i
  // of m lies 1 KB and of v 2 KB past parameter i modulo 4 KB, for the whole arena and for a
  // range starting mid-arena; both start at zero and do not overlap.
  TwoParams model;
  ParameterArena arena(model);
  const auto page_offset = [](const float* a, const float* b) {
    const auto diff = reinterpret_cast<intptr_t>(a) - reinterpret_cast<intptr_t>(b);
    return ((diff % 4096) + 4096) % 4096;
  };
  for (ArenaRange range : {ArenaRange{0, 6}, ArenaRange{3, 5}}) {
    SCOPED_TRACE(range.begin);
    AdamW optimizer(arena, {}, range);
    const float* p = arena.values().data() + range.begin;
    const Tensor m = optimizer.first_moment(), v = optimizer.second_moment();
    EXPECT_EQ(m.numel(), range.end - range.begin);
    EXPECT_EQ(page_offset(m.data(), p), 1024);
    EXPECT_EQ(page_offset(v.data(), p), 2048);
    EXPECT_GE(v.data(), m.data() + m.numel());
    EXPECT_EQ(m.to_floats(), std::vector<float>(std::size_t(m.numel()), 0.f));
    EXPECT_EQ(v.to_floats(), std::vector<float>(std::size_t(v.numel()), 0.f));
  }
}

TEST(ParameterArenaTest, DiscardedGradientsHoldExactlyTheNextBackwardPass) {
  // Stale values in the arena's gradients, discarded instead of zeroed: the weight's first
  // write (a GEMM, beta 0) overwrites them, the bias's adds (after a zeroing on first use) and
  // a parameter backward never reaches is zeroed afterwards. The gradients then equal those of
  // the same pass on fresh tensors, bit for bit.
  const Tensor x = Tensor::from_floats({3, 2}, {1.f, -2.f, 0.5f, 3.f, -1.f, 2.f});
  auto loss_of = [&](const TwoParams& m, bool with_bias) {
    const Tensor y =
        ops::linear(x, m.weight, with_bias ? m.bias : Tensor(), ops::WeightLayout::kOutIn);
    return ops::sum_all(ops::mul(y, y));
  };
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias);
    TwoParams fresh_model, arena_model;
    fresh_model.weight.set_requires_grad(true), fresh_model.bias.set_requires_grad(true);
    ParameterArena arena(arena_model);
    std::fill_n(arena.grads().data(), arena.size(), 7.0f);
    arena.discard_grads();
    EXPECT_TRUE(arena_model.weight.grad_discarded());
    backward(loss_of(fresh_model, with_bias));
    backward(loss_of(arena_model, with_bias));
    arena.zero_unreached_grads();
    EXPECT_FALSE(arena_model.weight.grad_discarded());
    EXPECT_FALSE(arena_model.bias.grad_discarded());
    EXPECT_EQ(arena_model.weight.grad().to_floats(), fresh_model.weight.grad().to_floats());
    const std::vector<float> want_bias =
        with_bias ? fresh_model.bias.grad().to_floats() : std::vector<float>{0.f, 0.f};
    EXPECT_EQ(arena_model.bias.grad().to_floats(), want_bias);
  }
}

TEST(ParameterArenaTest, PatternsMatchWithStars) {
  EXPECT_TRUE(matches_pattern("transformer.h.0.attn.c_attn.weight", "transformer.h.0.*"));
  EXPECT_TRUE(matches_pattern("bert.embeddings.LayerNorm.bias", "*LayerNorm*"));
  EXPECT_TRUE(matches_pattern("a.b", "a.b"));
  EXPECT_FALSE(matches_pattern("transformer.h.10.mlp", "transformer.h.1.*"));
  EXPECT_FALSE(matches_pattern("a.b", "a.b.c"));
  EXPECT_TRUE(matches_pattern("", "*"));
}

TEST(AdamWTest, MatchesReferenceUpdateWithDecoupledDecayOnMatricesOnly) {
  TwoParams m;
  ParameterArena arena(m);
  AdamWOptions o{0.9f, 0.95f, 1e-8f, 0.1f};
  AdamW optimizer(arena, o);
  std::vector<double> p = {1, 2, 3, 4, 0.5, -0.5}, mm(6, 0), vv(6, 0);
  const double lr = 0.01;
  for (int t = 1; t <= 3; ++t) {
    std::vector<float> g = {0.1f * t, -0.2f, 0.3f, 0.05f * t, -1.f, 2.f};
    for (int i = 0; i < 6; ++i) arena.grads().data()[i] = g[i];
    optimizer.step(static_cast<float>(lr));
    for (int i = 0; i < 6; ++i) {
      if (i < 4) p[i] *= 1 - lr * 0.1;
      mm[i] = 0.9 * mm[i] + 0.1 * g[i];
      vv[i] = 0.95 * vv[i] + 0.05 * double(g[i]) * g[i];
      double m_hat = mm[i] / (1 - std::pow(0.9, t)), v_hat = vv[i] / (1 - std::pow(0.95, t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + 1e-8);
    }
  }
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(arena.values().data()[i], p[i], 1e-6) << i;
  EXPECT_EQ(optimizer.steps_taken(), 3);
}

// Big enough that the parallel loop's 16,384-element blocks split it, with the boundary between
// decayed and undecayed elements inside a block.
class BigParams : public Module {
 public:
  BigParams() {
    bias = register_parameter("bias", Tensor::zeros({50001}));
    weight = register_parameter("weight", Tensor::zeros({3, 20011}));
  }
  Tensor weight, bias;
};

// Values after `steps` AdamW updates with generated gradients, each pre-multiplied by
// `pre_scale` or scaled by the optimizer by `grad_scale`.
std::vector<float> big_update(int threads, float pre_scale, float grad_scale) {
  const int saved = num_threads();
  set_num_threads(threads);
  BigParams m;
  ParameterArena arena(m);
  for (int64_t i = 0; i < arena.size(); ++i) arena.values().data()[i] = float(i % 13) * 0.1f;
  AdamW optimizer(arena, {0.9f, 0.95f, 1e-8f, 0.1f});
  for (int t = 1; t <= 3; ++t) {
    for (int64_t i = 0; i < arena.size(); ++i)
      arena.grads().data()[i] = (float((i * 7 + t) % 101) - 50.0f) * 0.013f * pre_scale;
    optimizer.step(0.01f, grad_scale);
  }
  set_num_threads(saved);
  return arena.values().to_floats();
}

TEST(AdamWTest, ScalingAsItReadsEqualsScaledGradientsAtAnyThreadCount) {
  const std::vector<float> prescaled = big_update(1, 0.37f, 1.0f);
  EXPECT_EQ(big_update(1, 1.0f, 0.37f), prescaled);  // bit for bit
  EXPECT_EQ(big_update(2, 1.0f, 0.37f), prescaled);
  // The decay reaches exactly the matrices: an undecayed element with a zero gradient stays.
  BigParams m;
  ParameterArena arena(m);
  EXPECT_EQ(arena.decayed_size(), 3 * 20011);
  const std::vector<float> unscaled = big_update(2, 1.0f, 1.0f);
  EXPECT_NE(unscaled, prescaled);
  // Element 0 (decayed) and the first bias element against the reference update in double.
  for (int64_t i : {int64_t{0}, int64_t{3 * 20011}}) {
    double p = float(i % 13) * 0.1f, mm = 0, vv = 0;
    for (int t = 1; t <= 3; ++t) {
      const double g = float((float((i * 7 + t) % 101) - 50.0f) * 0.013f);
      if (i < 3 * 20011) p *= 1 - 0.01 * 0.1;
      mm = 0.9 * mm + 0.1 * g;
      vv = 0.95 * vv + 0.05 * g * g;
      p -= 0.01 * (mm / (1 - std::pow(0.9, t))) / (std::sqrt(vv / (1 - std::pow(0.95, t))) + 1e-8);
    }
    EXPECT_NEAR(unscaled[static_cast<std::size_t>(i)], p, 1e-6) << i;
  }
}

TEST(ScheduleTest, WarmupThenCosineReachesTheFloor) {
  Schedule s{ScheduleKind::kCosine, 1.0, 0.1, 10, 110};
  EXPECT_DOUBLE_EQ(s.lr(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(9), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(10), 1.0);
  EXPECT_NEAR(s.lr(60), 0.55, 1e-12);
  EXPECT_NEAR(s.lr(110), 0.1, 1e-12);
  EXPECT_NEAR(s.lr(500), 0.1, 1e-12);
}

TEST(ScheduleTest, LinearDecayAndConstant) {
  Schedule linear{ScheduleKind::kLinear, 2.0, 0.0, 0, 100};
  EXPECT_DOUBLE_EQ(linear.lr(0), 2.0);
  EXPECT_DOUBLE_EQ(linear.lr(50), 1.0);
  EXPECT_DOUBLE_EQ(linear.lr(100), 0.0);
  Schedule constant{ScheduleKind::kConstant, 3.0, 0.0, 4, 100};
  EXPECT_DOUBLE_EQ(constant.lr(1), 1.5);
  EXPECT_DOUBLE_EQ(constant.lr(99), 3.0);
}

TEST(ModuleTest, DottedNamesAreRejected) {
  class Bad : public Module {
   public:
    Bad() { register_parameter("a.b", Tensor::zeros({1})); }
  };
  EXPECT_THROW(Bad{}, Error);
}

}  // namespace
}  // namespace kiln::nn
