// Synthetic batches and models for `kiln bench` (train/bench_workloads.h).
#include "train/bench_workloads.h"

#include <algorithm>
#include <chrono>

#include "autograd/gemm.h"
#include "base/rng.h"
#include "nn/bert.h"
#include "nn/gpt.h"
#include "nn/marian.h"

namespace kiln {
namespace {

uint32_t draw(uint64_t seed, uint64_t i, uint64_t n) {
  return static_cast<uint32_t>(random_bits(seed, i) % n);
}

}  // namespace

// Next-token batches of random ids.
Workload gpt_workload(const BenchShape& s, uint64_t seed, int batches) {
  nn::GptConfig c{s.vocab, s.layers, s.heads, s.d, s.d_ff, s.positions, 0.0f, 1e-5f};
  auto model = std::make_unique<nn::Gpt>(c, seed);
  std::vector<std::pair<Tensor, Tensor>> data;
  for (int b = 0; b < batches; ++b) {
    std::vector<int32_t> inputs, targets;
    for (int r = 0; r < s.B; ++r)
      for (int t = 0; t < s.T; ++t) {
        uint64_t base = derive_seed(seed + 1, b), i = uint64_t(r) * (s.T + 1) + t;
        inputs.push_back(static_cast<int32_t>(draw(base, i, s.vocab)));
        targets.push_back(static_cast<int32_t>(draw(base, i + 1, s.vocab)));
      }
    data.emplace_back(Tensor::from_ints({s.B, s.T}, inputs),
                      Tensor::from_ints({s.B, s.T}, targets));
  }
  nn::Gpt* gpt = model.get();
  Workload w;
  w.loss = [gpt, data](int index, uint64_t dropout_seed) {
    const auto& [inputs, targets] = data[static_cast<std::size_t>(index) % data.size()];
    return gpt->loss(inputs, targets, dropout_seed);
  };
  w.embedding_params = s.vocab * s.d + s.positions * s.d;
  const int64_t rows = int64_t(s.B) * s.T;
  // Conv1D weights [in, out] with biases; the head is the tied embedding [vocab, d], no bias.
  w.linears = {{rows, 3 * s.d, s.d, s.layers, false},
               {rows, s.d, s.d, s.layers, false},
               {rows, s.d_ff, s.d, s.layers, false},
               {rows, s.d, s.d_ff, s.layers, false},
               {rows, s.vocab, s.d, 1, true, false}};
  w.model = std::move(model);
  return w;
}

// [CLS] A [SEP] B [SEP] of random ids with round(0.15 n) masked positions a row and random
// NSP labels: the reference's synthetic batch (ids 0-4 special, as in its vocabulary).
Workload bert_workload(const BenchShape& s, uint64_t seed, int batches) {
  constexpr int32_t kCls = 2, kSep = 3, kMask = 4, kFirstNormal = 5;
  nn::BertConfig c;
  c.vocab_size = s.vocab, c.n_layer = s.layers, c.n_head = s.heads, c.d_model = s.d,
  c.d_ff = s.d_ff;
  c.max_position = s.positions;
  auto model = std::make_unique<nn::Bert>(c, seed);
  struct Batch {
    Tensor ids, types, labels, nsp;
  };
  std::vector<Batch> data;
  int64_t masked = 0;  // in the first batch: the rows of the MLM head
  for (int b = 0; b < batches; ++b) {
    const uint64_t base = derive_seed(seed + 1, b);
    uint64_t counter = 0;
    std::vector<int32_t> ids(std::size_t(s.B) * s.T), types(ids.size(), 0),
        labels(ids.size(), -100), nsp;
    for (int r = 0; r < s.B; ++r) {
      int32_t* row = &ids[std::size_t(r) * s.T];
      for (int t = 0; t < s.T; ++t)
        row[t] = kFirstNormal + static_cast<int32_t>(draw(base, counter++, s.vocab - kFirstNormal));
      const int sep = s.T / 4 + static_cast<int>(draw(base, counter++, uint64_t(s.T / 2)));
      row[0] = kCls, row[sep] = kSep, row[s.T - 1] = kSep;
      for (int t = sep + 1; t < s.T; ++t) types[std::size_t(r) * s.T + t] = 1;
      std::vector<int> normal;
      for (int t = 1; t < s.T - 1; ++t)
        if (t != sep) normal.push_back(t);
      const int n_mask = std::max(1, static_cast<int>(0.15 * double(normal.size()) + 0.5));
      if (b == 0) masked += n_mask;
      for (int k = 0; k < n_mask; ++k) {  // partial Fisher-Yates: the first n_mask of a shuffle
        std::swap(normal[k], normal[k + draw(base, counter++, normal.size() - k)]);
        labels[std::size_t(r) * s.T + normal[k]] = row[normal[k]];
        row[normal[k]] = kMask;
      }
      nsp.push_back(static_cast<int32_t>(draw(base, counter++, 2)));
    }
    data.push_back({Tensor::from_ints({s.B, s.T}, ids), Tensor::from_ints({s.B, s.T}, types),
                    Tensor::from_ints({s.B, s.T}, labels), Tensor::from_ints({s.B}, nsp)});
  }
  nn::Bert* bert = model.get();
  Workload w;
  w.loss = [bert, data](int index, uint64_t dropout_seed) {
    const Batch& b = data[static_cast<std::size_t>(index) % data.size()];
    return bert->pretraining_loss(b.ids, b.types, Tensor(), b.labels, b.nsp, dropout_seed).loss;
  };
  w.embedding_params = (s.vocab + s.positions + 2) * s.d;
  w.per_sequence_params = (s.d * s.d + s.d) + (2 * s.d + 2);  // pooler dense, NSP head
  const int64_t rows = int64_t(s.B) * s.T;
  w.linears = {{rows, s.d, s.d, 4 * s.layers},  // query, key, value, output
               {rows, s.d_ff, s.d, s.layers},
               {rows, s.d, s.d_ff, s.layers},
               {masked, s.d, s.d, 1},                    // MLM transform
               {masked, s.vocab, s.d, 1, true, false}};  // its bias is added by the loss's rows
  w.head_rows = masked;
  w.model = std::move(model);
  return w;
}

// Sentence pairs of random ids (2..V-1), each side ending with eos (1), full length (no
// padding); decoder input = labels shifted right behind pad (0), as in training. FLOPs as
// bench/torch_marian_bench.py counts them.
Workload marian_workload(const BenchShape& s, uint64_t seed, int batches) {
  constexpr int32_t kPad = 0, kEos = 1;
  nn::MarianConfig c;
  c.vocab_size = s.vocab, c.d_model = s.d, c.encoder_layers = c.decoder_layers = s.layers;
  c.encoder_attention_heads = c.decoder_attention_heads = s.heads;
  c.encoder_ffn_dim = c.decoder_ffn_dim = s.d_ff;
  c.max_position_embeddings = s.positions;
  c.dropout = 0.0f;
  c.pad_token_id = kPad, c.eos_token_id = kEos;
  auto model = std::make_unique<nn::MarianMTModel>(c, seed);
  struct Batch {
    Tensor src, dec, labels;
  };
  std::vector<Batch> data;
  for (int b = 0; b < batches; ++b) {
    const uint64_t base = derive_seed(seed + 1, b);
    uint64_t counter = 0;
    std::vector<int32_t> src, dec, labels;
    for (int r = 0; r < s.B; ++r) {
      for (int t = 0; t < s.S; ++t)
        src.push_back(t == s.S - 1 ? kEos
                                   : 2 + static_cast<int32_t>(draw(base, counter++, s.vocab - 2)));
      for (int t = 0; t < s.T_dec; ++t)
        labels.push_back(
            t == s.T_dec - 1 ? kEos : 2 + static_cast<int32_t>(draw(base, counter++, s.vocab - 2)));
      dec.push_back(kPad);
      dec.insert(dec.end(), labels.end() - s.T_dec, labels.end() - 1);
    }
    data.push_back({Tensor::from_ints({s.B, s.S}, src), Tensor::from_ints({s.B, s.T_dec}, dec),
                    Tensor::from_ints({s.B, s.T_dec}, labels)});
  }
  nn::MarianMTModel* marian = model.get();
  Workload w;
  const float eps = s.label_smoothing;
  w.loss = [marian, data, eps](int index, uint64_t dropout_seed) {
    const Batch& b = data[static_cast<std::size_t>(index) % data.size()];
    return marian->loss(b.src, Tensor(), b.dec, b.labels, eps, dropout_seed);
  };
  // Per layer: attention 4 d^2 (+ cross 4 d^2 in the decoder), feed-forward 2 d d_ff.
  const double d = double(s.d), S = s.S, T = s.T_dec, B = s.B, L = double(s.layers);
  const double enc = L * (4 * d * d + 2 * d * double(s.d_ff));
  const double dec = L * (8 * d * d + 2 * d * double(s.d_ff));
  w.gflop = (6 * enc * S * B + 6 * dec * T * B + 6 * d * double(s.vocab) * T * B +
             12 * L * d * B * (S * S + T * T + T * S)) /
            1e9;
  w.tokens = B * (S + T);
  const int64_t src = int64_t(s.B) * s.S, tgt = int64_t(s.B) * s.T_dec;
  w.linears = {{src, s.d, s.d, 4 * s.layers},  // encoder self-attention
               {src, s.d_ff, s.d, s.layers},       {src, s.d, s.d_ff, s.layers},
               {tgt, s.d, s.d, 6 * s.layers},  // decoder self-attention, cross query and out
               {src, s.d, s.d, 2 * s.layers},  // cross keys and values
               {tgt, s.d_ff, s.d, s.layers},       {tgt, s.d, s.d_ff, s.layers},
               {tgt, s.vocab, s.d, 1, true, false}};
  w.frozen = {"final_logits_bias"};  // a buffer in HF's Marian and in the PyTorch side
  w.model = std::move(model);
  return w;
}

GemmProbe::GemmProbe(const std::vector<LinearGemm>& linears) {
  for (const LinearGemm& g : linears) {
    if (g.rows == 0 || g.count == 0) continue;
    // Small nonzero values: no denormals, no overflow.
    kinds_.push_back({g, Tensor::full({g.rows, g.in}, 0.01f), Tensor::full({g.out, g.in}, 0.02f),
                      Tensor::full({g.out}, 0.03f), Tensor::zeros({g.rows, g.out}),
                      Tensor::zeros({g.rows, g.in}), Tensor::zeros({g.out, g.in})});
  }
  round();
}

// ops::linear's three products (autograd/ops/matmul.cpp) for this kind, y standing in for dy.
// The forward adds the bias only where gemm_linear adds it inside the product: where it fills C
// with it first, that pass is the step's overhead, not the GEMM's, and stays out of the rate.
// The weight's gradient is written (beta 0), as a step's first and only write of it is.
void GemmProbe::run(Kind& k) {
  const LinearGemm& g = k.g;
  const bool fused_bias = g.bias && gemm_linear_fuses(g.out_in, g.rows, g.out, g.in);
  gemm_linear(g.out_in, g.rows, g.out, g.in, k.x.data(), k.w.data(),
              fused_bias ? k.bias.data() : nullptr, nullptr, k.y.data());
  gemm_linear_data_gradient(g.out_in, g.rows, g.out, g.in, k.y.data(), k.w.data(), 0.0f,
                            k.dx.data());
  gemm_linear_weight_gradient(g.out_in, g.rows, g.out, g.in, k.x.data(), k.y.data(), 0.0f,
                              k.dw.data());
}

double GemmProbe::round() {
  double flops = 0, seconds = 0;
  for (Kind& k : kinds_) {
    run(k);  // untimed: the step before left other data in the caches
    const auto start = std::chrono::steady_clock::now();
    run(k);
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const LinearGemm& g = k.g;
    flops += 6.0 * double(g.rows) * double(g.out) * double(g.in) * double(g.count);
    seconds += t * double(g.count);
  }
  return seconds > 0 ? flops / seconds / 1e9 : 0.0;
}

}  // namespace kiln
