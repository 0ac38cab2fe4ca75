// The synthetic training workloads of `kiln bench`: models of a given shape and batches of
// random ids shaped as ../shared/bench/torch_reference.py makes them (and, for marian,
// bench/torch_marian_bench.py), so the two frameworks time the same work.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "nn/module.h"

namespace kiln {

struct BenchShape {
  int64_t vocab, layers, heads, d, d_ff, positions;
  int T, B;
  int S = 0, T_dec = 0;  // marian: source and target lengths
  float label_smoothing = 0.0f;
};

// One kind of weight matrix in a training step: `count` matrices applied to `rows` rows, each
// with three GEMMs (forward, data gradient, weight gradient) as ops::linear runs them: the
// weight stored [out, in] (out_in) or [in, out] (GPT-2's Conv1D), with a bias or without.
struct LinearGemm {
  int64_t rows, out, in, count;
  bool out_in = true, bias = true;
};

// A model under test: its loss on synthetic batch `index`, and the FLOPs the reference counts.
struct Workload {
  std::unique_ptr<nn::Module> model;
  std::function<Tensor(int index, uint64_t seed)> loss;
  int64_t embedding_params = 0;     // excluded from the dense FLOP count, as the reference does
  int64_t per_sequence_params = 0;  // BERT pooler + NSP head: counted once per sequence
  double gflop = 0;                 // when set, the FLOPs per step (marian counts its own)
  double tokens = 0;                // when set, tokens per step (marian: source + target)
  std::vector<std::string> frozen;  // parameters the run does not train
  std::vector<LinearGemm> linears;  // the step's weight GEMMs, for the attainable-rate probe
  int64_t head_rows = 0;            // rows the LM head runs on, when not every token (BERT)
};

// The rate (GFLOP/s) kiln::gemm attains on a step's weight GEMMs, the denominator of model FLOP
// utilisation. A round runs every kind's forward, data and weight gradient GEMMs twice, back to
// back on the current thread team, times the second run (the first warms the caches, so the
// rate is the one a GEMM reaches on data it has just touched), and weights each kind's time by
// its count in the step.
// Timed next to a training step, a round sees the machine as that step did.
class GemmProbe {
 public:
  // Allocates every kind's matrices and runs a round untimed (oneDNN's kernel generation).
  explicit GemmProbe(const std::vector<LinearGemm>& linears);
  double round();

 private:
  struct Kind {
    LinearGemm g;
    Tensor x, w, bias, y, dx, dw;  // kiln's allocator, so the memory is the step's kind
  };
  void run(Kind& k);
  std::vector<Kind> kinds_;
};

// Next-token batches of random ids for a GPT of shape `s`.
Workload gpt_workload(const BenchShape& s, uint64_t seed, int batches);
// [CLS] A [SEP] B [SEP] of random ids with round(0.15 n) masked positions a row and random NSP
// labels, for a BERT of shape `s`.
Workload bert_workload(const BenchShape& s, uint64_t seed, int batches);
// Sentence pairs of random ids, full length, for a Marian of shape `s` (s.S, s.T_dec).
Workload marian_workload(const BenchShape& s, uint64_t seed, int batches);

}  // namespace kiln
