// Tests for ops::attention: forward against a double-precision reference loop, backward against
// central differences, masks, dropout, fully masked rows, determinism and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "base/rng.h"
#include "tests/autograd/gradcheck.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

using ops::AttentionOptions;
using testing::random_tensor;

// Plain-loop attention in double: the oracle. Dropout uses the documented counter formula.
std::vector<float> reference_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const AttentionOptions& o) {
  const int64_t B = q.dim(0), H = q.dim(1), Tq = q.dim(2), Tk = k.dim(2), D = q.dim(3);
  const double scale = o.scale != 0.0f ? o.scale : 1.0 / std::sqrt(static_cast<double>(D));
  const Tensor& mask = o.key_padding_mask;
  std::vector<float> out(static_cast<std::size_t>(B * H * Tq * D), 0.0f);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t bh = b * H + h;
        std::vector<double> w(static_cast<std::size_t>(Tk), 0.0);
        std::vector<bool> allowed(static_cast<std::size_t>(Tk), true);
        double mx = -INFINITY;
        for (int64_t j = 0; j < Tk; ++j) {
          if (o.causal && j > i + (Tk - Tq)) allowed[j] = false;
          if (mask.defined()) {
            bool attend = mask.dtype() == DType::kI32 ? mask.ints()[b * Tk + j] != 0
                                                      : mask.data()[b * Tk + j] != 0.0f;
            if (!attend) allowed[j] = false;
          }
          if (!allowed[j]) continue;
          double s = 0;
          for (int64_t d = 0; d < D; ++d)
            s += static_cast<double>(q.data()[(bh * Tq + i) * D + d]) *
                 k.data()[(bh * Tk + j) * D + d];
          w[j] = s * scale;
          mx = std::max(mx, w[j]);
        }
        if (mx == -INFINITY) continue;  // no visible key: the row stays 0
        double sum = 0;
        for (int64_t j = 0; j < Tk; ++j) sum += allowed[j] ? (w[j] = std::exp(w[j] - mx)) : 0.0;
        std::vector<double> acc(static_cast<std::size_t>(D), 0.0);
        for (int64_t j = 0; j < Tk; ++j) {
          double p = allowed[j] ? w[j] / sum : 0.0;
          if (o.dropout > 0) {
            uint64_t counter = static_cast<uint64_t>((bh * Tq + i) * Tk + j);
            p = random_uniform(o.seed, counter) >= o.dropout ? p / (1.0 - o.dropout) : 0.0;
          }
          for (int64_t d = 0; d < D; ++d) acc[d] += p * v.data()[(bh * Tk + j) * D + d];
        }
        for (int64_t d = 0; d < D; ++d) out[(bh * Tq + i) * D + d] = static_cast<float>(acc[d]);
      }
  return out;
}

// Causal, with dropout 0.1 drawn from seed 3: the options of the bit-for-bit comparisons.
AttentionOptions causal_with_dropout() {
  AttentionOptions o;
  o.causal = true;
  o.dropout = 0.1f;
  o.seed = 3;
  return o;
}

// Runs forward on random q, k, v and compares with the reference.
void expect_forward_matches(Shape q_shape, Shape kv_shape, const AttentionOptions& o) {
  Tensor q = random_tensor(q_shape, 1), k = random_tensor(kv_shape, 2),
         v = random_tensor(kv_shape, 3);
  std::vector<float> got = ops::attention(q, k, v, o).to_floats();
  std::vector<float> want = reference_attention(q, k, v, o);
  EXPECT_LT(testing::max_abs_diff(got, want), 2e-5f)
      << "q " << shape_str(q_shape) << " k " << shape_str(kv_shape) << " causal " << o.causal;
}

// [B, Tk] mask with `keep[b]` leading keys attended in batch b (float or int32 form).
Tensor prefix_mask(int64_t Tk, const std::vector<int64_t>& keep, bool as_int) {
  const int64_t B = static_cast<int64_t>(keep.size());
  std::vector<float> f;
  std::vector<int32_t> n;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < Tk; ++j) {
      f.push_back(j < keep[b] ? 1.0f : 0.0f);
      n.push_back(j < keep[b] ? 1 : 0);
    }
  return as_int ? Tensor::from_ints({B, Tk}, n) : Tensor::from_floats({B, Tk}, f);
}

// Gradcheck of attention over three fresh inputs that require grads, on the backward path that
// `keeps` says (weights from forward, or recomputed), so each test states what it covers.
void expect_gradients(Shape q_shape, Shape kv_shape, const AttentionOptions& o, bool keeps) {
  ASSERT_EQ(ops::attention_keeps_weights(q_shape[2], kv_shape[2], q_shape[3], o.causal), keeps)
      << "q " << shape_str(q_shape) << " k " << shape_str(kv_shape) << " causal " << o.causal;
  std::vector<Tensor> in = {random_tensor(q_shape, 11), random_tensor(kv_shape, 12),
                            random_tensor(kv_shape, 13)};
  for (Tensor& x : in) x.set_requires_grad(true);
  auto fn = [o](const std::vector<Tensor>& x) { return ops::attention(x[0], x[1], x[2], o); };
  EXPECT_GRADIENTS_MATCH(fn, in);
}

TEST(AttentionOpTest, ForwardMatchesReference) {
  expect_forward_matches({2, 2, 5, 3}, {2, 2, 5, 3}, {});
  expect_forward_matches({1, 3, 7, 4}, {1, 3, 9, 4}, {});
  expect_forward_matches({1, 2, 70, 8}, {1, 2, 67, 8}, {});  // more than one row tile
}

TEST(AttentionOpTest, ScaleOptionReplacesDefault) {
  AttentionOptions o;
  o.scale = 0.7f;
  expect_forward_matches({2, 1, 6, 5}, {2, 1, 6, 5}, o);
  // Scores in the hundreds: exp overflows unless the row maximum is subtracted first.
  o.scale = 60.0f;
  o.causal = true;
  expect_forward_matches({2, 1, 6, 5}, {2, 1, 6, 5}, o);
}

TEST(AttentionOpTest, CausalForwardMatchesReference) {
  AttentionOptions o;
  o.causal = true;
  expect_forward_matches({2, 2, 5, 3}, {2, 2, 5, 3}, o);
  expect_forward_matches({1, 2, 130, 4}, {1, 2, 130, 4}, o);  // tiles skip invisible keys
}

TEST(AttentionOpTest, CausalOffsetWhenTqDiffersFromTk) {
  AttentionOptions o;
  o.causal = true;
  expect_forward_matches({1, 3, 3, 4}, {1, 3, 7, 4}, o);  // row i sees keys j <= i + 4
  expect_forward_matches({1, 3, 7, 4}, {1, 3, 3, 4}, o);  // rows 0..3 see nothing: zeros
  expect_forward_matches({1, 1, 66, 2}, {1, 1, 80, 2}, o);
}

TEST(AttentionOpTest, PaddingMaskMatchesReferenceInBothForms) {
  for (bool as_int : {false, true}) {
    AttentionOptions o;
    o.key_padding_mask = prefix_mask(9, {9, 4, 1}, as_int);
    expect_forward_matches({3, 2, 7, 4}, {3, 2, 9, 4}, o);
  }
  // Any non-zero value means attend, not just 1.
  AttentionOptions o;
  o.key_padding_mask = Tensor::from_floats({1, 4}, {0.5f, 0.0f, -2.0f, 0.0f});
  expect_forward_matches({1, 2, 3, 3}, {1, 2, 4, 3}, o);
}

TEST(AttentionOpTest, CausalWithPaddingMatchesReference) {
  AttentionOptions o;
  o.causal = true;
  o.key_padding_mask = Tensor::from_ints({2, 6}, {1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1});
  expect_forward_matches({2, 2, 6, 3}, {2, 2, 6, 3}, o);
}

TEST(AttentionOpTest, DropoutMatchesCounterBasedReference) {
  AttentionOptions o;
  o.dropout = 0.3f;
  o.seed = 42;
  expect_forward_matches({2, 2, 5, 3}, {2, 2, 5, 3}, o);
  o.causal = true;
  expect_forward_matches({1, 2, 70, 4}, {1, 2, 70, 4}, o);
  // The mask really depends on the seed.
  Tensor q = random_tensor({1, 1, 8, 4}, 1), k = random_tensor({1, 1, 8, 4}, 2),
         v = random_tensor({1, 1, 8, 4}, 3);
  AttentionOptions other = o;
  other.seed = 43;
  EXPECT_GT(testing::max_abs_diff(ops::attention(q, k, v, o).to_floats(),
                                  ops::attention(q, k, v, other).to_floats()),
            1e-3f);
}

TEST(AttentionOpTest, ForwardThatKeepsItsWeightsMatchesReference) {
  // Inputs that need gradients, at a short length, make forward keep the weights for backward and
  // build the dropped copy that multiplies V in the thread's scratch. Its output must match the
  // reference whatever that scratch held: a non-causal call without dropout fills it first.
  ops::attention(random_tensor({1, 1, 70, 36}, 5), random_tensor({1, 1, 70, 36}, 6),
                 random_tensor({1, 1, 70, 36}, 7));
  AttentionOptions o = causal_with_dropout();
  o.key_padding_mask = prefix_mask(70, {60, 0}, /*as_int=*/true);  // batch 1: rows see nothing
  Tensor q = random_tensor({2, 2, 70, 36}, 1).set_requires_grad(true);
  Tensor k = random_tensor({2, 2, 70, 36}, 2).set_requires_grad(true);
  Tensor v = random_tensor({2, 2, 70, 36}, 3).set_requires_grad(true);
  std::vector<float> got = ops::attention(q, k, v, o).to_floats();
  clear_tape();
  EXPECT_LT(testing::max_abs_diff(got, reference_attention(q, k, v, o)), 2e-5f);
}

TEST(AttentionOpTest, FullyMaskedRowGivesZerosAndZeroGradient) {
  AttentionOptions o;
  o.key_padding_mask = prefix_mask(4, {4, 0}, /*as_int=*/false);  // batch 1: every key padded
  for (int64_t D : {5, 1}) {  // weights kept from forward, then recomputed from lse = +inf
    SCOPED_TRACE(::testing::Message() << "D " << D);
    ASSERT_EQ(ops::attention_keeps_weights(3, 4, D, false), D == 5);
    Tensor q = random_tensor({2, 2, 3, D}, 1).set_requires_grad(true);
    Tensor k = random_tensor({2, 2, 4, D}, 2).set_requires_grad(true);
    Tensor v = random_tensor({2, 2, 4, D}, 3).set_requires_grad(true);
    Tensor out = ops::attention(q, k, v, o);
    backward(out, random_tensor(out.shape(), 4));
    const int64_t half_q = q.numel() / 2, half_kv = k.numel() / 2;
    for (int64_t e = out.numel() / 2; e < out.numel(); ++e) EXPECT_EQ(out.data()[e], 0.0f) << e;
    for (int64_t e = half_q; e < q.numel(); ++e) EXPECT_EQ(q.grad().data()[e], 0.0f) << e;
    for (int64_t e = half_kv; e < k.numel(); ++e) {
      EXPECT_EQ(k.grad().data()[e], 0.0f) << e;
      EXPECT_EQ(v.grad().data()[e], 0.0f) << e;
    }
    // Batch 0 is untouched by batch 1's padding and gets real gradients.
    EXPECT_GT(std::fabs(q.grad().data()[0]) + std::fabs(v.grad().data()[0]), 0.0f);
    for (float g : q.grad().to_floats()) EXPECT_TRUE(std::isfinite(g));
  }
}

// Without a causal mask, up to 128 query rows are one tile and longer heads several; each query
// row's output and gradient depend on that row alone, so attending with all 140 rows at once
// (three tiles) must agree with attending with each half (one tile each), dK and dV summed.
TEST(AttentionOpTest, RowTilesAgreeWithWholeHeads) {
  const int64_t B = 2, H = 2, Tq = 140, Tk = 67, D = 8;
  AttentionOptions o;
  o.key_padding_mask = prefix_mask(Tk, {Tk, 30}, /*as_int=*/true);
  auto run = [&](bool halves) {
    std::vector<Tensor> in = {random_tensor({B, H, Tq, D}, 51), random_tensor({B, H, Tk, D}, 52),
                              random_tensor({B, H, Tk, D}, 53)};
    for (Tensor& x : in) x.set_requires_grad(true);
    Tensor out;
    if (halves) {
      std::vector<Tensor> q = ops::split(in[0], {Tq / 2, Tq / 2}, 2);
      out = ops::concat(
          {ops::attention(q[0], in[1], in[2], o), ops::attention(q[1], in[1], in[2], o)}, 2);
    } else {
      out = ops::attention(in[0], in[1], in[2], o);
    }
    backward(out, random_tensor(out.shape(), 54));
    std::vector<std::vector<float>> all = {out.to_floats()};
    for (const Tensor& x : in) all.push_back(x.grad().to_floats());
    return all;
  };
  const std::vector<std::vector<float>> tiled = run(false), whole = run(true);
  const char* names[] = {"out", "dq", "dk", "dv"};
  for (int i = 0; i < 4; ++i)
    EXPECT_LT(testing::max_abs_diff(tiled[i], whole[i]), 1e-5f) << names[i];
}

TEST(AttentionOpTest, BackwardMatchesFiniteDifference) {
  expect_gradients({2, 2, 5, 3}, {2, 2, 5, 3}, {}, true);
  expect_gradients({1, 3, 7, 4}, {1, 3, 9, 4}, {}, true);
  expect_gradients({2, 2, 9, 2}, {2, 2, 9, 2}, {}, false);
}

TEST(AttentionOpTest, CausalBackwardMatchesFiniteDifference) {
  AttentionOptions o;
  o.causal = true;
  // Each case on both paths: weights kept from forward, and recomputed (smaller D).
  expect_gradients({2, 2, 5, 3}, {2, 2, 5, 3}, o, true);
  expect_gradients({1, 3, 7, 4}, {1, 3, 9, 4}, o, true);
  expect_gradients({1, 2, 9, 2}, {1, 2, 9, 2}, o, false);
  expect_gradients({1, 2, 7, 3}, {1, 2, 4, 3}, o, true);      // fully masked leading rows
  expect_gradients({1, 2, 9, 1}, {1, 2, 5, 1}, o, false);     // the same, recomputed
  expect_gradients({1, 1, 67, 2}, {1, 1, 67, 2}, o, false);   // crosses a row-tile boundary
  expect_gradients({1, 1, 130, 2}, {1, 1, 3, 2}, o, true);    // the first row tile sees no key
  expect_gradients({1, 1, 130, 1}, {1, 1, 40, 1}, o, false);  // the same, recomputed
  // Kept weights over two row tiles, the first seeing only some keys; then with dropout too.
  expect_gradients({1, 1, 70, 36}, {1, 1, 70, 36}, o, true);
  o.dropout = 0.25f;
  o.seed = 3;
  expect_gradients({1, 1, 70, 36}, {1, 1, 70, 36}, o, true);
}

TEST(AttentionOpTest, PaddingBackwardMatchesFiniteDifference) {
  AttentionOptions o;
  o.key_padding_mask = prefix_mask(5, {5, 2}, /*as_int=*/true);
  expect_gradients({2, 2, 5, 3}, {2, 2, 5, 3}, o, true);
  o.key_padding_mask = prefix_mask(9, {3}, /*as_int=*/false);
  o.causal = true;
  expect_gradients({1, 3, 7, 4}, {1, 3, 9, 4}, o, true);
  // BERT's shape class: no causal mask, padded keys, and rows and keys in more than one tile.
  o.causal = false;
  o.key_padding_mask = prefix_mask(130, {130, 100}, /*as_int=*/true);
  expect_gradients({2, 1, 130, 2}, {2, 1, 130, 2}, o, false);
}

// Encoder-decoder cross-attention: Tq (target) != Tk (source), no causal mask, source padding
// as a key mask, and target padding as query rows whose output the loss ignores (here: rows
// multiplied by 0, as ignored labels do). Padded rows must pass no gradient to q, k or v.
TEST(AttentionOpTest, CrossAttentionWithPaddingOnBothSides) {
  AttentionOptions o;
  o.key_padding_mask = prefix_mask(6, {6, 3, 1}, /*as_int=*/true);  // source lengths 6, 3, 1
  expect_forward_matches({3, 2, 4, 5}, {3, 2, 6, 5}, o);
  // Target lengths 4, 2, 3 out of Tq = 4: a [B, 1, Tq, 1] 0/1 weighting of the output rows.
  Tensor query_keep = Tensor::from_floats({3, 1, 4, 1}, {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0});
  std::vector<Tensor> in = {random_tensor({3, 2, 4, 5}, 31), random_tensor({3, 2, 6, 5}, 32),
                            random_tensor({3, 2, 6, 5}, 33)};
  for (Tensor& x : in) x.set_requires_grad(true);
  auto fn = [o, query_keep](const std::vector<Tensor>& x) {
    return ops::mul(ops::attention(x[0], x[1], x[2], o), query_keep);
  };
  EXPECT_GRADIENTS_MATCH(fn, in);
  // And the same with more target than source positions (a short source, a long target).
  o.key_padding_mask = prefix_mask(3, {3, 2}, /*as_int=*/false);
  expect_gradients({2, 2, 7, 4}, {2, 2, 3, 4}, o, true);
  // The gradients themselves: padded keys and padded query rows get exactly zero.
  backward(ops::sum_all(fn(in)));
  const std::vector<float> gq = in[0].grad().to_floats(), gk = in[1].grad().to_floats(),
                           gv = in[2].grad().to_floats();
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t d = 0; d < 5; ++d) {
      for (int64_t t : {2, 3}) EXPECT_EQ(gq[((1 * 2 + h) * 4 + t) * 5 + d], 0.0f);  // batch 1
      EXPECT_EQ(gq[((2 * 2 + h) * 4 + 3) * 5 + d], 0.0f);                           // batch 2
      for (int64_t j = 3; j < 6; ++j) {
        EXPECT_EQ(gk[((1 * 2 + h) * 6 + j) * 5 + d], 0.0f);
        EXPECT_EQ(gv[((1 * 2 + h) * 6 + j) * 5 + d], 0.0f);
      }
      for (int64_t j = 1; j < 6; ++j) EXPECT_EQ(gv[((2 * 2 + h) * 6 + j) * 5 + d], 0.0f);
    }
  for (Tensor& x : in) x.reset_grad();
}

TEST(AttentionOpTest, DropoutBackwardMatchesFiniteDifference) {
  AttentionOptions o;
  o.dropout = 0.25f;
  o.seed = 7;
  expect_gradients({2, 2, 5, 3}, {2, 2, 5, 3}, o, true);
  expect_gradients({2, 2, 9, 2}, {2, 2, 9, 2}, o, false);
  o.causal = true;
  expect_gradients({1, 3, 7, 4}, {1, 3, 9, 4}, o, true);
  expect_gradients({1, 2, 9, 2}, {1, 2, 9, 2}, o, false);
}

TEST(AttentionOpTest, SharedInputBackwardMatchesFiniteDifference) {
  // q = k = v: the input receives three gradient contributions.
  for (bool causal : {false, true}) {
    AttentionOptions o;
    o.causal = causal;
    std::vector<Tensor> in = {random_tensor({2, 2, 5, 3}, 21).set_requires_grad(true)};
    auto fn = [o](const std::vector<Tensor>& x) { return ops::attention(x[0], x[0], x[0], o); };
    EXPECT_GRADIENTS_MATCH(fn, in);
  }
}

TEST(AttentionOpTest, OnlyRequestedGradientsAreProduced) {
  Tensor q = random_tensor({1, 2, 4, 3}, 1), k = random_tensor({1, 2, 4, 3}, 2);
  Tensor v = random_tensor({1, 2, 4, 3}, 3).set_requires_grad(true);
  Tensor out = ops::attention(q, k, v);
  backward(out, random_tensor(out.shape(), 4));
  EXPECT_FALSE(q.grad().defined());
  EXPECT_FALSE(k.grad().defined());
  ASSERT_TRUE(v.grad().defined());
  EXPECT_GT(std::fabs(v.grad().data()[0]), 0.0f);
  {
    NoGradGuard no_grad;
    std::size_t before = tape_size();
    ops::attention(q, k, v);
    EXPECT_EQ(tape_size(), before);
  }
}

TEST(AttentionOpTest, ParallelResultsMatchOneThreadBitForBit) {
  // Big enough that both passes split across two threads: every row and every head's gradient
  // is computed by one thread in a fixed order, so the thread count cannot change a bit.
  const AttentionOptions o = causal_with_dropout();
  auto run = [&](int threads) {
    set_num_threads(threads);
    Tensor q = random_tensor({2, 2, 130, 16}, 1).set_requires_grad(true);
    Tensor k = random_tensor({2, 2, 130, 16}, 2).set_requires_grad(true);
    Tensor v = random_tensor({2, 2, 130, 16}, 3).set_requires_grad(true);
    Tensor out = ops::attention(q, k, v, o);
    backward(out, random_tensor(out.shape(), 4));
    std::vector<float> all = out.to_floats();
    for (const Tensor& x : {q, k, v})
      for (float g : x.grad().to_floats()) all.push_back(g);
    return all;
  };
  const int saved = num_threads();
  std::vector<float> one = run(1), two = run(2), again = run(2);
  set_num_threads(saved);
  EXPECT_EQ(two, again);
  EXPECT_EQ(one, two);
}

// ---- attention_packed: the heads read from a [B, T, 3 d] projection where they lie ----------

// Part `part` (0 q, 1 k, 2 v) of qkv [B, T, 3 H D] as a dense [B, H, T, D] tensor, by index.
Tensor heads_of(const Tensor& qkv, int64_t part, int64_t H) {
  const int64_t B = qkv.dim(0), T = qkv.dim(1), d = qkv.dim(2) / 3, D = d / H;
  std::vector<float> out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t e = 0; e < D; ++e)
          out.push_back(qkv.data()[(b * T + t) * 3 * d + part * d + h * D + e]);
  return Tensor::from_floats({B, H, T, D}, out);
}

TEST(AttentionPackedTest, ForwardMatchesReferenceOnTheSplitHeads) {
  const int64_t H = 3, D = 4;
  AttentionOptions causal_dropout;
  causal_dropout.causal = true;
  causal_dropout.dropout = 0.2f;
  causal_dropout.seed = 9;
  AttentionOptions masked;
  masked.key_padding_mask = prefix_mask(130, {130, 33}, /*as_int=*/true);
  for (const AttentionOptions& o : {AttentionOptions{}, causal_dropout, masked}) {
    const int64_t B = 2, T = 130;  // more than one row tile, causal or not
    Tensor qkv = random_tensor({B, T, 3 * H * D}, 5);
    std::vector<float> want = reference_attention(heads_of(qkv, 0, H), heads_of(qkv, 1, H),
                                                  heads_of(qkv, 2, H), o);  // [B, H, T, D]
    Tensor got = ops::attention_packed(qkv, H, o);
    ASSERT_EQ(got.shape(), Shape({B, T, H * D}));
    float worst = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t t = 0; t < T; ++t)
          for (int64_t e = 0; e < D; ++e)
            worst = std::max(worst, std::fabs(got.data()[(b * T + t) * H * D + h * D + e] -
                                              want[((b * H + h) * T + t) * D + e]));
    EXPECT_LT(worst, 2e-5f) << "causal " << o.causal << " dropout " << o.dropout;
  }
}

TEST(AttentionPackedTest, BackwardMatchesFiniteDifference) {
  AttentionOptions o;
  o.causal = true;
  o.dropout = 0.25f;
  o.seed = 4;
  std::vector<Tensor> in = {random_tensor({2, 5, 3 * 2 * 3}, 31).set_requires_grad(true)};
  auto fn = [o](const std::vector<Tensor>& x) { return ops::attention_packed(x[0], 2, o); };
  EXPECT_GRADIENTS_MATCH(fn, in);
  AttentionOptions masked;
  masked.key_padding_mask = prefix_mask(6, {6, 2}, /*as_int=*/false);
  in = {random_tensor({2, 6, 3 * 3 * 2}, 32).set_requires_grad(true)};
  auto masked_fn = [masked](const std::vector<Tensor>& x) {
    return ops::attention_packed(x[0], 3, masked);
  };
  EXPECT_GRADIENTS_MATCH(masked_fn, in);
}

// Backward overwrites a new gradient head by head and adds into one that already holds a
// contribution. One tensor as q, k and v (the first target is new, the next two add to it), and
// q, k, v whose gradients were already written by another use (the op runs last in backward:
// the add comes after it on the tape), packed and separate.
TEST(AttentionOpTest, NewAndAccumulatedGradientsMatchFiniteDifference) {
  AttentionOptions o;
  o.causal = true;
  std::vector<Tensor> in = {random_tensor({2, 2, 6, 3}, 41).set_requires_grad(true)};
  auto shared = [o](const std::vector<Tensor>& x) { return ops::attention(x[0], x[0], x[0], o); };
  EXPECT_GRADIENTS_MATCH(shared, in);
  in = {random_tensor({2, 2, 6, 3}, 42).set_requires_grad(true),
        random_tensor({2, 2, 6, 3}, 43).set_requires_grad(true),
        random_tensor({2, 2, 6, 3}, 44).set_requires_grad(true)};
  auto reused = [o](const std::vector<Tensor>& x) {
    const Tensor out = ops::attention(x[0], x[1], x[2], o);
    return ops::add(ops::add(ops::add(out, x[0]), x[1]), x[2]);
  };
  EXPECT_GRADIENTS_MATCH(reused, in);
  in = {random_tensor({2, 6, 3 * 2 * 3}, 45).set_requires_grad(true)};
  auto packed = [o](const std::vector<Tensor>& x) {
    const Tensor out = ops::attention_packed(x[0], 2, o);
    return ops::add(ops::concat({out, out, out}, 2), x[0]);
  };
  EXPECT_GRADIENTS_MATCH(packed, in);
}

TEST(AttentionPackedTest, MatchesAttentionOnPermutedPartsBitForBitAtAnyThreadCount) {
  // The same tiles and GEMM shapes as attention() on copied heads, only other leading
  // dimensions: outputs and gradients agree exactly, on one thread and on two.
  const AttentionOptions o = causal_with_dropout();
  const int64_t B = 2, T = 130, H = 2, D = 16, d = H * D;
  auto packed = [&](int threads) {
    set_num_threads(threads);
    Tensor qkv = random_tensor({B, T, 3 * d}, 1).set_requires_grad(true);
    Tensor out = ops::attention_packed(qkv, H, o);
    backward(out, random_tensor(out.shape(), 4));
    std::vector<float> all = out.to_floats();
    for (float g : qkv.grad().to_floats()) all.push_back(g);
    return all;
  };
  auto split = [&] {
    Tensor qkv = random_tensor({B, T, 3 * d}, 1).set_requires_grad(true);
    std::vector<Tensor> parts = ops::split(qkv, {d, d, d}, 2);
    auto heads = [&](const Tensor& x) {  // [B, T, d] -> [B, H, T, D]
      return ops::permute(ops::reshape(x, {B, T, H, d / H}), {0, 2, 1, 3});
    };
    Tensor out = ops::reshape(
        ops::permute(ops::attention(heads(parts[0]), heads(parts[1]), heads(parts[2]), o),
                     {0, 2, 1, 3}),
        {B, T, d});
    backward(out, random_tensor(out.shape(), 4));
    std::vector<float> all = out.to_floats();
    for (float g : qkv.grad().to_floats()) all.push_back(g);
    return all;
  };
  const int saved = num_threads();
  std::vector<float> one = packed(1), two = packed(2);
  set_num_threads(saved);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, split());
}

// Expects fn to throw a kiln::Error whose message contains every fragment.
template <typename Fn>
void expect_error_from(Fn&& fn, const std::vector<std::string>& fragments) {
  const std::string message = error_of(fn);
  for (const std::string& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << message;
}

TEST(AttentionPackedTest, RejectsBadInputsWithHelpfulMessages) {
  auto expect_message = [](const Tensor& qkv, int64_t H, const AttentionOptions& o,
                           const std::vector<std::string>& fragments) {
    expect_error_from([&] { ops::attention_packed(qkv, H, o); }, fragments);
  };
  expect_message(Tensor::zeros({2, 5, 12, 1}), 2, {}, {"attention_packed", "qkv of rank 3"});
  expect_message(Tensor::zeros({2, 5, 12}), 3, {},
                 {"attention_packed", "multiple of n_head = 3", "[2, 5, 12]"});
  AttentionOptions o;
  o.key_padding_mask = Tensor::zeros({2, 4});
  expect_message(Tensor::zeros({2, 5, 12}), 2, o, {"key_padding_mask", "[2, 5]", "[2, 4]"});
}

// ---- attention_heads: q, k, v [B, T, d] with the heads side by side in each row ----------

// x [B, T, H D] as dense heads [B, H, T, D], by index.
Tensor split_rows(const Tensor& x, int64_t H) {
  const int64_t B = x.dim(0), T = x.dim(1), d = x.dim(2), D = d / H;
  std::vector<float> out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t e = 0; e < D; ++e) out.push_back(x.data()[(b * T + t) * d + h * D + e]);
  return Tensor::from_floats({B, H, T, D}, out);
}

TEST(AttentionHeadsTest, ForwardMatchesReferenceOnTheSplitHeads) {
  const int64_t B = 2, H = 2, D = 3, d = H * D;
  AttentionOptions masked_dropout;
  masked_dropout.key_padding_mask = prefix_mask(67, {67, 20}, /*as_int=*/true);
  masked_dropout.dropout = 0.2f;
  masked_dropout.seed = 5;
  AttentionOptions causal;
  causal.causal = true;
  for (const AttentionOptions& o : {masked_dropout, causal}) {
    const int64_t Tq = 140, Tk = 67;  // cross-attention shapes, more than one row tile
    Tensor q = random_tensor({B, Tq, d}, 1), k = random_tensor({B, Tk, d}, 2),
           v = random_tensor({B, Tk, d}, 3);
    std::vector<float> want = reference_attention(split_rows(q, H), split_rows(k, H),
                                                  split_rows(v, H), o);  // [B, H, Tq, D]
    Tensor got = ops::attention_heads(q, k, v, H, o);
    ASSERT_EQ(got.shape(), Shape({B, Tq, d}));
    EXPECT_LT(testing::max_abs_diff(split_rows(got, H).to_floats(), want), 2e-5f)
        << "causal " << o.causal;
  }
}

TEST(AttentionHeadsTest, BackwardMatchesFiniteDifference) {
  AttentionOptions o;
  o.key_padding_mask = prefix_mask(6, {6, 3}, /*as_int=*/false);
  o.dropout = 0.25f;
  o.seed = 8;
  std::vector<Tensor> in = {random_tensor({2, 4, 6}, 41), random_tensor({2, 6, 6}, 42),
                            random_tensor({2, 6, 6}, 43)};
  for (Tensor& x : in) x.set_requires_grad(true);
  auto fn = [o](const std::vector<Tensor>& x) {
    return ops::attention_heads(x[0], x[1], x[2], 3, o);
  };
  EXPECT_GRADIENTS_MATCH(fn, in);
}

TEST(AttentionHeadsTest, MatchesAttentionOnPermutedHeadsBitForBit) {
  const AttentionOptions o = causal_with_dropout();
  const int64_t B = 2, T = 130, H = 2, d = 32;
  auto run = [&](bool heads_op) {
    std::vector<Tensor> in = {random_tensor({B, T, d}, 1), random_tensor({B, T, d}, 2),
                              random_tensor({B, T, d}, 3)};
    for (Tensor& x : in) x.set_requires_grad(true);
    Tensor out;
    if (heads_op) {
      out = ops::attention_heads(in[0], in[1], in[2], H, o);
    } else {
      auto heads = [&](const Tensor& x) {
        return ops::permute(ops::reshape(x, {B, T, H, d / H}), {0, 2, 1, 3});
      };
      out = ops::reshape(
          ops::permute(ops::attention(heads(in[0]), heads(in[1]), heads(in[2]), o), {0, 2, 1, 3}),
          {B, T, d});
    }
    backward(out, random_tensor(out.shape(), 4));
    std::vector<float> all = out.to_floats();
    for (const Tensor& x : in)
      for (float g : x.grad().to_floats()) all.push_back(g);
    return all;
  };
  EXPECT_EQ(run(true), run(false));
}

TEST(AttentionHeadsTest, RejectsBadInputsWithHelpfulMessages) {
  auto expect_message = [](const Tensor& q, const Tensor& kv, int64_t H,
                           const std::vector<std::string>& fragments) {
    expect_error_from([&] { ops::attention_heads(q, kv, kv, H); }, fragments);
  };
  expect_message(Tensor::zeros({2, 5}), Tensor::zeros({2, 5, 6}), 2,
                 {"attention_heads", "q of rank 3"});
  expect_message(Tensor::zeros({2, 5, 6}), Tensor::zeros({2, 7, 4}), 2,
                 {"attention_heads", "match q [2, 5, 6]", "[2, 7, 4]"});
  expect_message(Tensor::zeros({2, 5, 6}), Tensor::zeros({2, 7, 6}), 4,
                 {"attention_heads", "multiple of n_head = 4"});
}

// Expects attention(q, k, v, o) to throw a kiln::Error whose message contains every fragment.
void expect_error(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o,
                  const std::vector<std::string>& fragments) {
  expect_error_from([&] { ops::attention(q, k, v, o); }, fragments);
}

TEST(AttentionOpTest, RejectsBadInputsWithHelpfulMessages) {
  Tensor q = Tensor::zeros({2, 3, 5, 4}), kv = Tensor::zeros({2, 3, 6, 4});
  expect_error(Tensor::zeros({3, 5, 4}), kv, kv, {}, {"attention", "q of rank 4", "[3, 5, 4]"});
  expect_error(q, Tensor::zeros({2, 3, 6, 4, 1}), kv, {}, {"attention", "k of rank 4"});
  expect_error(q, kv, Tensor::zeros({2, 3, 7, 4}), {},
               {"attention", "k and v of the same shape", "[2, 3, 6, 4]", "[2, 3, 7, 4]"});
  for (const Shape& bad : {Shape{1, 3, 6, 4}, Shape{2, 2, 6, 4}, Shape{2, 3, 6, 5}}) {
    Tensor k = Tensor::zeros(bad);
    expect_error(q, k, k, {}, {"attention", "match q [2, 3, 5, 4]", shape_str(bad)});
  }
  expect_error(Tensor::zeros({2, 3, 5, 4}, DType::kI32), kv, kv, {}, {"attention", "float32 q"});
  AttentionOptions o;
  o.key_padding_mask = Tensor::zeros({2, 5});
  expect_error(q, kv, kv, o, {"attention", "key_padding_mask", "[2, 6]", "got [2, 5]"});
  o.key_padding_mask = Tensor::zeros({2, 3, 6});
  expect_error(q, kv, kv, o, {"attention", "key_padding_mask", "got [2, 3, 6]"});
  AttentionOptions p;
  p.dropout = 1.0f;
  expect_error(q, kv, kv, p, {"attention", "dropout in [0, 1)", "got 1"});
}

}  // namespace
}  // namespace kiln
