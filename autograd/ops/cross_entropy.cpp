// cross_entropy: log-softmax and negative log-likelihood fused into one op that saves only
// the per-row log-sum-exp; the [rows, C] probabilities are recomputed in backward. And
// linear_cross_entropy: an output layer and cross_entropy together, over blocks of rows, so a
// large vocabulary's [rows, V] logits and their gradient never exist whole.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "autograd/gemm.h"
#include "autograd/kernels.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "autograd/vector_exp.h"
#include "base/error.h"

namespace kiln::ops {
namespace {

constexpr int kLanes = 16;  // independent accumulators, so row reductions vectorise

// exp(x) for x <= 0 (always a logit minus something >= the row max). With a 50k vocabulary
// this is most of the op's time, and exp_in_range vectorises where std::exp does not (about 10x
// faster). Inputs below -87 (including -inf) are clamped there; exp(-87) ~ 1.6e-38 is as good
// as 0 next to the max's 1. On the bit patterns of floats <= 0 an unsigned min is that clamp.
inline float exp_nonpositive(float x) {
  x = std::bit_cast<float>(std::min(std::bit_cast<uint32_t>(x), std::bit_cast<uint32_t>(-87.0f)));
  return exp_in_range(x);
}

// Float bits as an int32 whose integer order is the float order (for non-NaN floats): integer
// max vectorises where a float compare does not (-ftrapping-math), 4x faster on 50k rows.
inline int32_t ordered_bits(float x) {
  int32_t b = std::bit_cast<int32_t>(x);
  return b ^ ((b >> 31) & 0x7FFFFFFF);
}
inline float from_ordered_bits(int32_t b) {
  return std::bit_cast<float>(b ^ ((b >> 31) & 0x7FFFFFFF));
}

// log(sum_j exp(row[j])) over c > 0 floats as max + log_sum: stable because the max is taken
// out first, and kept in two parts so a row's loss needs no rounding of a large lse.
struct RowLse {
  float max;
  double log_sum;
};

// The largest of c > 0 floats. Integer max is exact, so its order does not matter.
KILN_WIDE_VECTORS float row_max(const float* row, int64_t c) {
  return from_ordered_bits(lane_reduce<kLanes, TailOrder::kBeforeLanes>(
      c, ordered_bits(row[0]), [row](int64_t j) { return ordered_bits(row[j]); },
      [](int32_t a, int32_t b) { return std::max(a, b); }));
}

// The first index of the row's largest value m (row_max), as std::max_element gives it for rows
// without NaN, but vectorised: blocks of 64 tested for m with a vector OR, then the one block
// that holds it. (std::max_element's scalar compare-and-branch was 85% of the fused LM
// head's own time, outside its GEMMs, on BERT's 30k vocabulary.)
int32_t row_argmax(const float* row, int64_t c, float m) {
  constexpr int64_t kBlock = 64;
  for (int64_t j0 = 0; j0 < c; j0 += kBlock) {
    const int64_t j1 = std::min(c, j0 + kBlock);
    int hit = 0;
#pragma omp simd reduction(| : hit)
    for (int64_t j = j0; j < j1; ++j) hit |= row[j] == m;
    if (!hit) continue;
    for (int64_t j = j0; j < j1; ++j)
      if (row[j] == m) return static_cast<int32_t>(j);
  }
  return 0;  // only a row holding a NaN, which outranks every number here, gets here
}

// With m the row's max (row_max). The sum adds lanes, then the tail.
KILN_WIDE_VECTORS RowLse row_logsumexp(const float* row, int64_t c, float m) {
  const double sum = lane_reduce<kLanes, TailOrder::kAfterLanes, float, double>(
      c, 0.0f, [row, m](int64_t j) { return exp_nonpositive(row[j] - m); },
      [](auto s, auto v) { return s + v; });  // lanes in float, lanes and tail combined in double
  return {m, std::log(sum)};
}

// The mean of one row's c values in double, in a fixed order (label smoothing's uniform term).
double row_mean(const float* row, int64_t c) {
  double sum = 0;
  for (int64_t j = 0; j < c; ++j) sum += row[j];
  return sum / static_cast<double>(c);
}

// One row's loss (1 - eps) * (lse - x[t]) + eps * mean_j (lse - x[j]) from its log-sum-exp,
// its target's logit and (with eps) its mean, written around the max so that a large lse is
// never rounded.
float loss_of_row(const RowLse& row, float x_target, double eps, double mean) {
  const double nll = static_cast<double>(row.max - x_target) + row.log_sum;
  if (eps == 0.0) return static_cast<float>(nll);
  const double uniform = static_cast<double>(row.max) - mean + row.log_sum;
  return static_cast<float>((1.0 - eps) * nll + eps * uniform);
}

// One row's loss, m its max (row_max); stores the row's log-sum-exp in *lse when non-null.
float row_loss(const float* x, int64_t c, float m, int32_t target, double eps, float* lse) {
  const RowLse row = row_logsumexp(x, c, m);
  if (lse) *lse = static_cast<float>(row.max + row.log_sum);
  return loss_of_row(row, x[target], eps, eps == 0.0 ? 0.0 : row_mean(x, c));
}

// The row's gradient scale * (softmax - q), q the smoothed target (1 - eps + eps / C at the
// target, eps / C elsewhere), added into g.
KILN_WIDE_VECTORS void add_row_gradient(const float* x, float lse, int64_t c, int32_t target,
                                        float scale, float eps, float* g) {
  const float off_target = scale * eps / static_cast<float>(c);
  for (int64_t j = 0; j < c; ++j) g[j] += scale * exp_nonpositive(x[j] - lse) - off_target;
  g[target] -= scale * (1.0f - eps);
}

// One row's loss, as row_loss, with its gradient for a seed of 1 (scale * (softmax - q))
// written over the row; m is the row's max (row_max). The sum pass leaves each e^(x - max) in the
// row and the gradient scales it by scale / sum: one exp per logit instead of two.
KILN_WIDE_VECTORS float row_loss_and_gradient(float* x, int64_t c, float m, int32_t target,
                                              float eps, float scale) {
  const float x_target = x[target];
  const double mean = eps == 0.0f ? 0.0 : row_mean(x, c);
  const double sum = lane_reduce<kLanes, TailOrder::kAfterLanes, float, double>(
      c, 0.0f,
      [x, m](int64_t j) {
        const float e = exp_nonpositive(x[j] - m);
        x[j] = e;
        return e;
      },
      [](auto s, auto v) { return s + v; });
  const float off_target = scale * eps / static_cast<float>(c);
  const float p_scale = static_cast<float>(scale / sum);
#pragma omp simd
  for (int64_t j = 0; j < c; ++j) x[j] = p_scale * x[j] - off_target;
  x[target] -= scale * (1.0f - eps);
  return loss_of_row({m, std::log(sum)}, x_target, eps, mean);
}

// Checks targets against c classes and returns how many are not ignore_index: the mean's
// denominator.
int64_t counted_targets(const Tensor& targets, int64_t c, int32_t ignore_index, const char* op) {
  const Shape& shape = targets.shape();
  const int32_t* t = targets.ints();
  int64_t count = 0;
  for (int64_t r = 0; r < targets.numel(); ++r) {
    if (t[r] == ignore_index) continue;
    KILN_CHECK(t[r] >= 0 && t[r] < c, op, ": expected targets in [0, ", c, ") or ignore_index ",
               ignore_index, ", got ", t[r], " at position ", index_str(r, shape), " of targets ",
               shape_str(shape));
    ++count;
  }
  return count;
}

void check_label_smoothing(float eps, const char* op) {
  KILN_CHECK(eps >= 0.0f && eps < 1.0f, op, ": expected label_smoothing in [0, 1), got ", eps);
}

// The mean of the rows' losses, summed serially in double and in row order: the same bits at
// any thread count.
Tensor mean_loss(const float* row_losses, int64_t rows, int64_t count) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) total += row_losses[r];
  return Tensor::scalar(count ? static_cast<float>(total / count) : 0.0f);
}

}  // namespace

// logits: [..., C], targets: int32 [...] -> []. Saves the per-row log-sum-exp, the targets
// and the logits handle.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int32_t ignore_index,
                     float label_smoothing) {
  KILN_CHECK(logits.dtype() == DType::kF32 && logits.rank() >= 1 && logits.dim(-1) > 0,
             "cross_entropy: expected float32 logits of shape [..., C] with C > 0, got ",
             dtype_name(logits.dtype()), " ", shape_str(logits.shape()));
  KILN_CHECK(targets.dtype() == DType::kI32, "cross_entropy: expected int32 targets, got ",
             dtype_name(targets.dtype()), " of shape ", shape_str(targets.shape()));
  check_label_smoothing(label_smoothing, "cross_entropy");
  Shape lead(logits.shape().begin(), logits.shape().end() - 1);
  KILN_CHECK(targets.shape() == lead, "cross_entropy: expected targets of shape ", shape_str(lead),
             " for logits ", shape_str(logits.shape()), ", got ", shape_str(targets.shape()));
  const int64_t c = logits.dim(-1), rows = targets.numel();
  const int64_t count = counted_targets(targets, c, ignore_index, "cross_entropy");

  // Ignored rows are skipped entirely (BERT's MLM ignores most positions).
  Tensor lse = Tensor::empty({rows});          // [rows], saved for backward
  Tensor row_loss_of = Tensor::empty({rows});  // [rows], 0 for ignored rows
  const int32_t* t = targets.ints();
  const float* x = logits.data();
  float* l = lse.data();
  float* loss_of = row_loss_of.data();
  parallel_for(rows, min_rows_per_thread(c), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      if (t[r] == ignore_index)
        l[r] = loss_of[r] = 0.0f;
      else
        loss_of[r] = row_loss(x + r * c, c, row_max(x + r * c, c), t[r], label_smoothing, &l[r]);
    }
  });
  Tensor loss = mean_loss(loss_of, rows, count);
  if (!should_record({logits})) return loss;

  // Saves lse [rows], the targets and the logits handle. dlogits = g * (softmax - q) / count.
  auto backward = [logits, targets, lse, ignore_index, count, c,
                   label_smoothing](const Tensor& dy) {
    Tensor gx = grad_if_needed(logits);
    if (!gx.defined() || count == 0) return;
    const float scale = dy.item() / static_cast<float>(count);
    const float* logit = logits.data();
    const float* row_lse = lse.data();
    const int32_t* target = targets.ints();
    float* g = gx.data();
    parallel_for(targets.numel(), min_rows_per_thread(c), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        if (target[r] != ignore_index)
          add_row_gradient(logit + r * c, row_lse[r], c, target[r], scale, label_smoothing,
                           g + r * c);
    });
  };
  return record("cross_entropy", loss, {logits}, backward);
}

namespace {

// linear_cross_entropy's pass over row blocks. Each block makes its logits, their losses and,
// when asked, their gradient for a seed of 1, which goes into dx, dW (scaled by dw_scale;
// the first block adds to dW when dw_beta is 1, and overwrites it when 0) and db. Kept as a
// value so that backward can run it again for the weight gradient alone.
struct HeadBlocks {
  Tensor x, weight, bias, targets;
  int32_t ignore;
  float eps, scale;  // scale: 1 / (rows that count)
  int64_t rows, c, d, block_rows;

  void run(float* loss_of, std::vector<int32_t>* predictions, bool gradient, float* dx, float* dw,
           float dw_scale, float dw_beta, float* db) const {
    if (gradient && dw && dw_beta == 0.0f && rows == 0) std::fill_n(dw, c * d, 0.0f);
    Tensor logits = Tensor::empty({std::min(block_rows, std::max<int64_t>(rows, 1)), c});
    const int32_t* t = targets.ints();
    for (int64_t r0 = 0; r0 < rows; r0 += block_rows) {
      const int64_t n = std::min(block_rows, rows - r0);
      const float* xb = x.data() + r0 * d;
      float* z = logits.data();
      // The bias is added row by row below, while the row is in cache: pre-filling the block
      // with it for a beta = 1 GEMM cost a pass over the whole block (37 MB on BERT-Mini).
      gemm_linear(true, n, c, d, xb, weight.data(), nullptr, nullptr, z);
      const float* row_bias = bias.defined() ? bias.data() : nullptr;
      parallel_for(n, min_rows_per_thread(c), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          float* zr = z + r * c;
          if (row_bias)
#pragma omp simd
            for (int64_t j = 0; j < c; ++j) zr[j] += row_bias[j];
          const int32_t target = t[r0 + r];
          const bool counted = target != ignore;
          // One max pass serves the prediction and the loss.
          const float m = predictions || counted ? row_max(zr, c) : 0.0f;
          if (predictions) (*predictions)[static_cast<std::size_t>(r0 + r)] = row_argmax(zr, c, m);
          if (!counted) {
            loss_of[r0 + r] = 0.0f;
            if (gradient) std::fill_n(zr, c, 0.0f);
            continue;
          }
          loss_of[r0 + r] = gradient ? row_loss_and_gradient(zr, c, m, target, eps, scale)
                                     : row_loss(zr, c, m, target, eps, nullptr);
        }
      });
      if (!gradient) continue;
      if (dx)  // dx[n, d] = dz W
        gemm(false, false, n, d, c, 1.0f, z, c, weight.data(), d, 0.0f, dx + r0 * d, d);
      if (dw)  // dW[V, d] (+)= dw_scale dz^T x
        gemm(true, false, c, d, n, dw_scale, z, c, xb, d, r0 == 0 ? dw_beta : 1.0f, dw, d);
      if (db) add_column_sums(db, z, n, c);
    }
  }
};

// The weight gradient linear_cross_entropy added during forward, for a seed of 1. Backward
// settles it for the actual seed; a record dropped without its backward (a cleared tape, or a
// loss that backward never reached) takes it back, so the gradient is as if the op had not run.
class WeightGradientInForward {
 public:
  explicit WeightGradientInForward(HeadBlocks blocks) : blocks_(std::move(blocks)) {}
  WeightGradientInForward(const WeightGradientInForward&) = delete;
  WeightGradientInForward& operator=(const WeightGradientInForward&) = delete;
  ~WeightGradientInForward() {
    if (settled_) return;
    try {
      add(-1.0f);
    } catch (...) {  // a destructor must not throw; nothing better can be done here
    }
  }
  // The seed is s: the weight's gradient holds 1 * dW and needs s * dW.
  void settle(float seed) {
    settled_ = true;
    if (seed != 1.0f) add(seed - 1.0f);
  }

 private:
  // Recomputes dW (the same GEMMs as forward) and adds factor * dW to the weight's gradient.
  void add(float factor) const {
    std::vector<float> losses(static_cast<std::size_t>(blocks_.rows));
    blocks_.run(losses.data(), nullptr, true, nullptr, blocks_.weight.ensure_grad().data(), factor,
                1.0f, nullptr);
  }
  HeadBlocks blocks_;
  bool settled_ = false;
};

}  // namespace

// x: [..., d], weight: [V, d], bias: [V] or undefined, targets: int32 [...] -> []. The
// gradients are made in forward for a seed of 1: dx and db are saved and scaled in backward;
// dW goes straight into weight's gradient buffer (WeightGradientInForward settles it), because
// a [V, d] buffer held from forward to backward would be a GPT-2 step's largest tensor.
Tensor linear_cross_entropy(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Tensor& targets, const LinearCrossEntropyOptions& options) {
  const char* op = "linear_cross_entropy";
  KILN_CHECK(x.defined() && weight.defined() && x.dtype() == DType::kF32 &&
                 weight.dtype() == DType::kF32 && x.rank() >= 1 && weight.rank() == 2 &&
                 weight.dim(1) == x.dim(-1) && weight.dim(0) > 0,
             op, ": expected float32 x [..., d] and weight [V, d] with V > 0, got ",
             x.defined() ? shape_str(x.shape()) : "(undefined)", " and ",
             weight.defined() ? shape_str(weight.shape()) : "(undefined)");
  const int64_t c = weight.dim(0), d = weight.dim(1);
  KILN_CHECK(!bias.defined() || (bias.dtype() == DType::kF32 && bias.shape() == Shape{c}), op,
             ": expected a float32 bias [", c, "], got ",
             bias.defined() ? shape_str(bias.shape()) : "");
  const Shape lead(x.shape().begin(), x.shape().end() - 1);
  KILN_CHECK(targets.dtype() == DType::kI32 && targets.shape() == lead, op,
             ": expected int32 targets of shape ", shape_str(lead), " for x ", shape_str(x.shape()),
             ", got ", dtype_name(targets.dtype()), " ", shape_str(targets.shape()));
  check_label_smoothing(options.label_smoothing, op);
  const int64_t rows = targets.numel();
  const int64_t count = counted_targets(targets, c, options.ignore_index, op);

  const bool record_grad = should_record({x, weight, bias});
  const bool want_dx = record_grad && x.requires_grad();
  const bool want_dw = record_grad && weight.requires_grad();
  const bool want_db = record_grad && bias.defined() && bias.requires_grad();
  Tensor dx = want_dx ? Tensor::empty({rows, d}) : Tensor();
  Tensor db = want_db ? Tensor::zeros({c}) : Tensor();
  if (options.predictions) options.predictions->assign(static_cast<std::size_t>(rows), 0);

  // About 16M logits (64 MB) alive at a time, in blocks of equal size.
  const int64_t budget =
      options.chunk_rows > 0 ? options.chunk_rows : std::max<int64_t>(1, (int64_t{1} << 24) / c);
  const int64_t blocks = std::max<int64_t>(1, (rows + budget - 1) / budget);
  const HeadBlocks head{x.detach(),
                        weight,
                        bias.defined() ? bias.detach() : Tensor(),
                        targets,
                        options.ignore_index,
                        options.label_smoothing,
                        count ? 1.0f / static_cast<float>(count) : 0.0f,
                        rows,
                        c,
                        d,
                        (rows + blocks - 1) / std::max<int64_t>(blocks, 1)};
  Tensor row_loss_of = Tensor::empty({rows});
  // The first block writes a gradient that holds none yet (a parameter's after discard_grad)
  // instead of adding to zeros.
  const GradTarget dw_target = want_dw ? grad_target(weight) : GradTarget();
  head.run(row_loss_of.data(), options.predictions, record_grad, want_dx ? dx.data() : nullptr,
           want_dw ? dw_target.data() : nullptr, 1.0f, dw_target.beta(),
           want_db ? db.data() : nullptr);
  Tensor loss = mean_loss(row_loss_of.data(), rows, count);
  if (!record_grad) return loss;

  std::shared_ptr<WeightGradientInForward> dw =
      want_dw ? std::make_shared<WeightGradientInForward>(head) : nullptr;
  return record(
      op, loss, {x, weight, bias},
      [x = x.gradient_handle(), bias = bias.gradient_handle(), dx, db, dw](const Tensor& g) {
        const float seed = g.item();
        for (auto [input, grad] : {std::pair{x, dx}, {bias, db}})
          if (GradTarget acc = grad.defined() ? grad_target(input) : GradTarget())
            add_scaled_into(acc.data(), grad.data(), seed, grad.numel(), acc.accumulate);
        if (dw) dw->settle(seed);
      });
}

}  // namespace kiln::ops
