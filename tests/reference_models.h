// Reference models for tests: tiny GPT2LMHeadModel / BertForPreTraining parameter sets in
// Hugging Face's canonical names and shapes, and their forward passes as plain loops in
// double. Any test comparing kiln's models (import, export, fine-tuning) against HF can use them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numbers>
#include <random>
#include <string>
#include <vector>

namespace kiln::reference {

// ---- parameter sets in HF's canonical names ------------------------------------------------

struct Param {
  std::vector<int64_t> shape;
  std::vector<float> values;
};
using Params = std::map<std::string, Param>;

// Vocabulary, positions, width, layers, heads, feed-forward width.
struct Dims {
  int V, P, d, L, H, ff;
};

// Draws parameters from std::mt19937 + std::normal_distribution: the same values within one
// build (which is all a comparison of kiln against the reference needs), not across libraries.
class ParamMaker {
 public:
  explicit ParamMaker(uint32_t seed) : rng_(seed) {}
  // Matrices N(0, 0.2), biases N(0, 0.1), layer-norm scales 1 + N(0, 0.1): far from init.
  void matrix(Params& p, const std::string& name, int64_t rows, int64_t cols) {
    p[name] = {{rows, cols}, draw(rows * cols, 0.0, 0.2)};
  }
  void bias(Params& p, const std::string& name, int64_t n) { p[name] = {{n}, draw(n, 0.0, 0.1)}; }
  void layer_norm(Params& p, const std::string& prefix, int64_t n) {
    p[prefix + ".weight"] = {{n}, draw(n, 1.0, 0.1)};
    p[prefix + ".bias"] = {{n}, draw(n, 0.0, 0.1)};
  }

 private:
  std::vector<float> draw(int64_t n, double mean, double stddev) {
    std::normal_distribution<double> normal(mean, stddev);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = static_cast<float>(normal(rng_));
    return v;
  }
  std::mt19937 rng_;
};

// GPT2LMHeadModel's tensors (Conv1D weights [in, out]; the LM head tied to wte, so absent).
inline Params gpt_params(const Dims& m, uint32_t seed) {
  ParamMaker make(seed);
  Params p;
  make.matrix(p, "transformer.wte.weight", m.V, m.d);
  make.matrix(p, "transformer.wpe.weight", m.P, m.d);
  for (int l = 0; l < m.L; ++l) {
    const std::string h = "transformer.h." + std::to_string(l) + ".";
    make.layer_norm(p, h + "ln_1", m.d);
    make.matrix(p, h + "attn.c_attn.weight", m.d, 3 * m.d);  // Conv1D: [in, out]
    make.bias(p, h + "attn.c_attn.bias", 3 * m.d);
    make.matrix(p, h + "attn.c_proj.weight", m.d, m.d);
    make.bias(p, h + "attn.c_proj.bias", m.d);
    make.layer_norm(p, h + "ln_2", m.d);
    make.matrix(p, h + "mlp.c_fc.weight", m.d, m.ff);
    make.bias(p, h + "mlp.c_fc.bias", m.ff);
    make.matrix(p, h + "mlp.c_proj.weight", m.ff, m.d);
    make.bias(p, h + "mlp.c_proj.bias", m.d);
  }
  make.layer_norm(p, "transformer.ln_f", m.d);
  return p;
}

// BertForPreTraining's tensors (nn.Linear weights [out, in]; the decoder tied to the word
// embeddings, so absent; type vocabulary 2).
inline Params bert_params(const Dims& m, uint32_t seed) {
  ParamMaker make(seed);
  Params p;
  make.matrix(p, "bert.embeddings.word_embeddings.weight", m.V, m.d);
  make.matrix(p, "bert.embeddings.position_embeddings.weight", m.P, m.d);
  make.matrix(p, "bert.embeddings.token_type_embeddings.weight", 2, m.d);
  make.layer_norm(p, "bert.embeddings.LayerNorm", m.d);
  for (int l = 0; l < m.L; ++l) {
    const std::string e = "bert.encoder.layer." + std::to_string(l) + ".";
    for (const char* qkv : {"query", "key", "value"}) {
      make.matrix(p, e + "attention.self." + qkv + ".weight", m.d, m.d);  // nn.Linear: [out, in]
      make.bias(p, e + "attention.self." + qkv + ".bias", m.d);
    }
    make.matrix(p, e + "attention.output.dense.weight", m.d, m.d);
    make.bias(p, e + "attention.output.dense.bias", m.d);
    make.layer_norm(p, e + "attention.output.LayerNorm", m.d);
    make.matrix(p, e + "intermediate.dense.weight", m.ff, m.d);
    make.bias(p, e + "intermediate.dense.bias", m.ff);
    make.matrix(p, e + "output.dense.weight", m.d, m.ff);
    make.bias(p, e + "output.dense.bias", m.d);
    make.layer_norm(p, e + "output.LayerNorm", m.d);
  }
  make.matrix(p, "bert.pooler.dense.weight", m.d, m.d);
  make.bias(p, "bert.pooler.dense.bias", m.d);
  make.bias(p, "cls.predictions.bias", m.V);
  make.matrix(p, "cls.predictions.transform.dense.weight", m.d, m.d);
  make.bias(p, "cls.predictions.transform.dense.bias", m.d);
  make.layer_norm(p, "cls.predictions.transform.LayerNorm", m.d);
  make.matrix(p, "cls.seq_relationship.weight", 2, m.d);
  make.bias(p, "cls.seq_relationship.bias", 2);
  return p;
}

// ---- forward passes: plain loops in double ---------------------------------------------------

using Vec = std::vector<double>;

// x: [T, in] -> [T, out]. Conv1D keeps W as [in, out]; nn.Linear (out_in) as [out, in].
inline Vec linear(const Vec& x, int T, const Param& w, const Param& b, bool out_in) {
  const int64_t in = out_in ? w.shape[1] : w.shape[0], out = out_in ? w.shape[0] : w.shape[1];
  Vec y(static_cast<size_t>(T * out));
  for (int t = 0; t < T; ++t)
    for (int64_t o = 0; o < out; ++o) {
      double s = b.values[o];
      for (int64_t i = 0; i < in; ++i)
        s += x[t * in + i] * (out_in ? w.values[o * in + i] : w.values[i * out + o]);
      y[t * out + o] = s;
    }
  return y;
}

inline Vec layer_norm(const Vec& x, int T, int d, const Param& g, const Param& b, double eps) {
  Vec y(x.size());
  for (int t = 0; t < T; ++t) {
    double mean = 0, var = 0;
    for (int i = 0; i < d; ++i) mean += x[t * d + i] / d;
    for (int i = 0; i < d; ++i) var += (x[t * d + i] - mean) * (x[t * d + i] - mean) / d;
    for (int i = 0; i < d; ++i)
      y[t * d + i] = (x[t * d + i] - mean) / std::sqrt(var + eps) * g.values[i] + b.values[i];
  }
  return y;
}

inline double gelu_tanh(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}
inline double gelu_erf(double x) {
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

// q, k, v: [T, d] in H heads -> [T, d]. Query t sees key s when (!causal || s <= t) and
// mask[s] != 0 (mask null: every key).
inline Vec attention(const Vec& q, const Vec& k, const Vec& v, int T, int d, int H, bool causal,
                     const int32_t* mask) {
  const int hd = d / H;
  Vec out(static_cast<size_t>(T * d), 0.0);
  for (int h = 0; h < H; ++h)
    for (int t = 0; t < T; ++t) {
      Vec score(static_cast<size_t>(T), -INFINITY);
      double top = -INFINITY;
      for (int s = 0; s < T; ++s) {
        if ((causal && s > t) || (mask != nullptr && mask[s] == 0)) continue;
        double dot = 0;
        for (int j = 0; j < hd; ++j) dot += q[t * d + h * hd + j] * k[s * d + h * hd + j];
        score[s] = dot / std::sqrt(double(hd));
        top = std::max(top, score[s]);
      }
      double total = 0;
      for (int s = 0; s < T; ++s) total += score[s] == -INFINITY ? 0 : std::exp(score[s] - top);
      for (int s = 0; s < T; ++s) {
        if (score[s] == -INFINITY) continue;
        const double p = std::exp(score[s] - top) / total;
        for (int j = 0; j < hd; ++j) out[t * d + h * hd + j] += p * v[s * d + h * hd + j];
      }
    }
  return out;
}

inline void add_into(Vec& x, const Vec& y) {
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}

// GPT2LMHeadModel (GELU tanh, LN eps 1e-5) on one sequence: ids [T] -> logits [T, V].
inline Vec gpt_forward(const Params& p, const Dims& m, const std::vector<int32_t>& ids) {
  const int T = static_cast<int>(ids.size()), d = m.d;
  const Param& wte = p.at("transformer.wte.weight");
  Vec x(static_cast<size_t>(T * d));
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < d; ++i)
      x[t * d + i] =
          double(wte.values[ids[t] * d + i]) + p.at("transformer.wpe.weight").values[t * d + i];
  for (int l = 0; l < m.L; ++l) {
    auto w = [&](const std::string& name) -> const Param& {
      return p.at("transformer.h." + std::to_string(l) + "." + name);
    };
    Vec h = layer_norm(x, T, d, w("ln_1.weight"), w("ln_1.bias"), 1e-5);
    Vec qkv = linear(h, T, w("attn.c_attn.weight"), w("attn.c_attn.bias"), false);  // [T, 3d]
    Vec q(static_cast<size_t>(T * d)), k(q.size()), v(q.size());
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < d; ++i) {
        q[t * d + i] = qkv[t * 3 * d + i];
        k[t * d + i] = qkv[t * 3 * d + d + i];
        v[t * d + i] = qkv[t * 3 * d + 2 * d + i];
      }
    Vec a = attention(q, k, v, T, d, m.H, true, nullptr);
    add_into(x, linear(a, T, w("attn.c_proj.weight"), w("attn.c_proj.bias"), false));
    h = layer_norm(x, T, d, w("ln_2.weight"), w("ln_2.bias"), 1e-5);
    Vec f = linear(h, T, w("mlp.c_fc.weight"), w("mlp.c_fc.bias"), false);
    for (double& z : f) z = gelu_tanh(z);
    add_into(x, linear(f, T, w("mlp.c_proj.weight"), w("mlp.c_proj.bias"), false));
  }
  x = layer_norm(x, T, d, p.at("transformer.ln_f.weight"), p.at("transformer.ln_f.bias"), 1e-5);
  Vec logits(static_cast<size_t>(T * m.V));
  for (int t = 0; t < T; ++t)
    for (int v = 0; v < m.V; ++v) {
      double s = 0;
      for (int i = 0; i < d; ++i) s += x[t * d + i] * wte.values[v * d + i];  // tied head
      logits[t * m.V + v] = s;
    }
  return logits;
}

struct BertOutputs {
  Vec hidden, pooled, mlm, nsp;  // [T, d], [d], [T, V], [2]
};

// BertForPreTraining (GELU erf, LN eps 1e-12) on one sequence; mask[t] == 0 hides key t.
inline BertOutputs bert_forward(const Params& p, const Dims& m, const std::vector<int32_t>& ids,
                                const std::vector<int32_t>& types,
                                const std::vector<int32_t>& mask) {
  const int T = static_cast<int>(ids.size()), d = m.d;
  const double eps = 1e-12;
  const Param& word = p.at("bert.embeddings.word_embeddings.weight");
  Vec x(static_cast<size_t>(T * d));
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < d; ++i)
      x[t * d + i] = double(word.values[ids[t] * d + i]) +
                     p.at("bert.embeddings.token_type_embeddings.weight").values[types[t] * d + i] +
                     p.at("bert.embeddings.position_embeddings.weight").values[t * d + i];
  x = layer_norm(x, T, d, p.at("bert.embeddings.LayerNorm.weight"),
                 p.at("bert.embeddings.LayerNorm.bias"), eps);
  for (int l = 0; l < m.L; ++l) {
    auto w = [&](const std::string& name) -> const Param& {
      return p.at("bert.encoder.layer." + std::to_string(l) + "." + name);
    };
    auto dense = [&](const Vec& in, const std::string& name) {
      return linear(in, T, w(name + ".weight"), w(name + ".bias"), true);
    };
    Vec a = attention(dense(x, "attention.self.query"), dense(x, "attention.self.key"),
                      dense(x, "attention.self.value"), T, d, m.H, false, mask.data());
    Vec o = dense(a, "attention.output.dense");
    add_into(o, x);
    Vec a1 = layer_norm(o, T, d, w("attention.output.LayerNorm.weight"),
                        w("attention.output.LayerNorm.bias"), eps);
    Vec inter = dense(a1, "intermediate.dense");
    for (double& z : inter) z = gelu_erf(z);
    Vec o2 = dense(inter, "output.dense");
    add_into(o2, a1);
    x = layer_norm(o2, T, d, w("output.LayerNorm.weight"), w("output.LayerNorm.bias"), eps);
  }
  BertOutputs r;
  r.hidden = x;
  r.pooled = linear(Vec(x.begin(), x.begin() + d), 1, p.at("bert.pooler.dense.weight"),
                    p.at("bert.pooler.dense.bias"), true);
  for (double& z : r.pooled) z = std::tanh(z);
  Vec t = linear(x, T, p.at("cls.predictions.transform.dense.weight"),
                 p.at("cls.predictions.transform.dense.bias"), true);
  for (double& z : t) z = gelu_erf(z);
  t = layer_norm(t, T, d, p.at("cls.predictions.transform.LayerNorm.weight"),
                 p.at("cls.predictions.transform.LayerNorm.bias"), eps);
  r.mlm.resize(static_cast<size_t>(T * m.V));
  for (int i = 0; i < T; ++i)
    for (int v = 0; v < m.V; ++v) {
      double s = p.at("cls.predictions.bias").values[v];
      for (int j = 0; j < d; ++j) s += t[i * d + j] * word.values[v * d + j];  // tied decoder
      r.mlm[i * m.V + v] = s;
    }
  r.nsp = linear(r.pooled, 1, p.at("cls.seq_relationship.weight"),
                 p.at("cls.seq_relationship.bias"), true);
  return r;
}

}  // namespace kiln::reference
