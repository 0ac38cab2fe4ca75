// Every differentiable op kiln has: the table of contents. Each op's forward and backward
// live together in autograd/ops/<family>.cpp. Shapes are written [dims]; "..." means any
// leading dimensions. Ops never modify their inputs; backward adds into input gradients.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/tensor.h"

namespace kiln::ops {

// ---- matmul.cpp -------------------------------------------------------------------------
// a: [..., M, K] ([..., K, M] when trans_a), b: [..., K, N] ([..., N, K] when trans_b) with the
// same leading dims as a, or rank 2 (shared by every batch) -> [..., M, N].
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// How a linear layer stores its weight: PyTorch nn.Linear [out, in], or GPT-2 Conv1D [in, out].
enum class WeightLayout { kOutIn, kInOut };
// x: [..., in], weight: [out, in] or [in, out], bias: [out] or undefined -> [..., out].
// The bias is fused into the GEMM (C is pre-filled with it, then beta = 1). A defined
// `residual` [..., out] is pre-filled the same way, giving residual + linear(x): a residual
// connection then costs no add pass and no un-added output; its gradient is dy.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, WeightLayout layout,
              const Tensor& residual = Tensor());
// GELU's tanh form (GPT-2's "gelu_new") or its exact erf form (BERT's "gelu").
enum class GeluForm { kTanh, kErf };
// linear(gelu(h + h_bias, form), weight, bias, layout, residual), saving h alone: the GELU
// output is recomputed in backward instead of kept from forward to backward (an MLP's largest
// activation). h_bias [in] (or undefined, for none) is the bias of the linear that made h when
// that linear's GEMM would have had to fill its output with it first: added in GELU's pass it
// costs no pass of its own. -> [..., out].
Tensor gelu_linear(const Tensor& h, const Tensor& weight, const Tensor& bias, WeightLayout layout,
                   const Tensor& residual = Tensor(), GeluForm form = GeluForm::kTanh,
                   const Tensor& h_bias = Tensor());

// ---- elementwise.cpp --------------------------------------------------------------------
// Broadcasting follows NumPy: shapes align at the right; a size-1 or missing dim stretches.
Tensor add(const Tensor& a, const Tensor& b);  // -> broadcast(a, b)
Tensor sub(const Tensor& a, const Tensor& b);  // -> broadcast(a, b)
Tensor mul(const Tensor& a, const Tensor& b);  // -> broadcast(a, b)
Tensor scale(const Tensor& x, float s);        // -> x.shape
// x: [...] -> x.shape with dimension `dim` removed (kept as 1 when keepdim).
Tensor sum(const Tensor& x, int dim, bool keepdim = false);
Tensor mean(const Tensor& x, int dim, bool keepdim = false);
Tensor sum_all(const Tensor& x);   // -> []
Tensor mean_all(const Tensor& x);  // -> []

// ---- shape.cpp --------------------------------------------------------------------------
// -> `shape` (one entry may be -1), sharing storage with x.
Tensor reshape(const Tensor& x, const Shape& shape);
// -> x's dims reordered: out.dim(i) == x.dim(dims[i]). Copies.
Tensor permute(const Tensor& x, const std::vector<int>& dims);
Tensor transpose(const Tensor& x, int dim0, int dim1);
// Splits dimension `dim` into pieces of the given sizes (which sum to x.dim(dim)).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim);
// Joins tensors that agree on every dimension but `dim`.
Tensor concat(const std::vector<Tensor>& xs, int dim);
// x: [N, ...] -> [end - begin, ...], sharing storage with x.
Tensor slice_rows(const Tensor& x, int64_t begin, int64_t end);

// ---- embedding.cpp ----------------------------------------------------------------------
// weight: [V, D], ids: int32 [...] with values in [0, V) -> [..., D]. Backward scatter-adds.
Tensor embedding(const Tensor& weight, const Tensor& ids);

// ---- layer_norm.cpp ---------------------------------------------------------------------
// x: [..., C], gamma, beta: [C] -> [..., C]. oneDNN layer_normalization.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);

// ---- activations.cpp --------------------------------------------------------------------
Tensor gelu(const Tensor& x, GeluForm form);  // -> x.shape
Tensor tanh(const Tensor& x);                 // -> x.shape, oneDNN eltwise
Tensor silu(const Tensor& x);                 // x * sigmoid(x) (HF "swish") -> x.shape
Tensor relu(const Tensor& x);                 // max(x, 0) -> x.shape

// ---- softmax.cpp ------------------------------------------------------------------------
Tensor softmax(const Tensor& x);      // over the last dimension -> x.shape, oneDNN
Tensor log_softmax(const Tensor& x);  // over the last dimension -> x.shape, oneDNN

// ---- dropout.cpp ------------------------------------------------------------------------
// Zeroes each element with probability p and scales survivors by 1 / (1 - p). Element i's
// fate is a pure function of (seed, i). Identity when !training or p == 0. -> x.shape
Tensor dropout(const Tensor& x, float p, uint64_t seed, bool training = true);

// ---- cross_entropy.cpp ------------------------------------------------------------------
inline constexpr int32_t kIgnoreIndex = -100;
// logits: [..., C], targets: int32 [...] -> [] mean of -log softmax(logits)[target] over the
// positions whose target != ignore_index (0 when there are none). Fused: saves only the
// per-row log-sum-exp. With label_smoothing eps in [0, 1), each row's loss is PyTorch's and
// HF's (1 - eps) * (-log p[target]) + eps * mean over the C classes of -log p.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     int32_t ignore_index = kIgnoreIndex, float label_smoothing = 0.0f);

struct LinearCrossEntropyOptions {
  int32_t ignore_index = kIgnoreIndex;
  float label_smoothing = 0.0f;
  int64_t chunk_rows = 0;                       // rows of logits at a time; 0: ~16M logits
  std::vector<int32_t>* predictions = nullptr;  // when set: each row's argmax (first of ties)
};
// cross_entropy(linear(x, weight, bias, kOutIn), targets) without the [rows, V] logits:
// x: [..., d], weight: [V, d], bias: [V] or undefined, targets: int32 [...] -> []. It does the
// same GEMMs as the two ops, the backward ones during forward for a seed of 1, so it keeps
// dx [rows, d] until backward instead of two [rows, V]. The weight's gradient is added to its
// gradient buffer during forward; backward corrects it for a seed other than 1, and a record
// dropped without backward (clear_tape, or a loss backward never reaches) takes it back.
Tensor linear_cross_entropy(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Tensor& targets, const LinearCrossEntropyOptions& options = {});

// ---- attention.cpp ----------------------------------------------------------------------
struct AttentionOptions {
  bool causal = false;      // query i attends to keys j <= i (+ Tk - Tq offset)
  Tensor key_padding_mask;  // optional [B, Tk], float or int32: non-zero = attend, 0 = padding
  float dropout = 0.0f;     // on the attention weights
  uint64_t seed = 0;        // for that dropout
  float scale = 0.0f;       // 0 means 1 / sqrt(head_dim)
};
// q: [B, H, Tq, D], k, v: [B, H, Tk, D] -> [B, H, Tq, D]. One op: scores, masks, softmax,
// dropout and the weighted sum, with its own backward, which takes the weights from forward or
// recomputes them (attention_keeps_weights).
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 const AttentionOptions& options = {});
// The same with the heads side by side in each token's row, as projections make them: q
// [B, Tq, d], k, v [B, Tk, d], d = n_head D -> [B, Tq, d]. No head is copied in or out.
Tensor attention_heads(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_head,
                       const AttentionOptions& options = {});
// Self-attention over a fused projection, without copying heads in or out: qkv [B, T, 3 d]
// holds each token's queries, keys and values (GPT-2's c_attn output), each part the n_head
// heads of D = d / n_head side by side -> [B, T, d], the heads side by side. The same as
// attention() on the parts split into [B, H, T, D] heads, output permuted back to [B, T, d].
Tensor attention_packed(const Tensor& qkv, int64_t n_head, const AttentionOptions& options = {});
// True when a recording call of these sizes keeps its softmax weights for backward: those of
// the keys each row tile can see, when they take at most as many floats as the head's q, k and
// v (short sequences). Otherwise it saves each row's log-sum-exp and backward recomputes the
// weights, so memory stays linear in the sequence length.
bool attention_keeps_weights(int64_t Tq, int64_t Tk, int64_t D, bool causal);

}  // namespace kiln::ops
