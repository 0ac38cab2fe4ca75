// MarianMTModel: Hugging Face names and shapes, sinusoidal positions, the whole forward pass
// against a plain-loop double-precision reference, source padding and target causality
// invariances, activations, gradients of the label-smoothed loss against central
// differences, and that a tiny model overfits a fixed batch of sentence pairs (and then
// decodes its targets back).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/rng.h"
#include "nn/adamw.h"
#include "nn/marian.h"
#include "nn/marian_decode.h"
#include "nn/parameter_arena.h"
#include "tests/error_of.h"

namespace kiln::nn {
namespace {

MarianConfig tiny_config() {
  MarianConfig c;
  c.vocab_size = 17;
  c.d_model = 8;
  c.encoder_layers = 2;
  c.decoder_layers = 1;
  c.encoder_attention_heads = 2;
  c.decoder_attention_heads = 4;
  c.encoder_ffn_dim = 12;
  c.decoder_ffn_dim = 6;
  c.max_position_embeddings = 16;
  c.dropout = 0.0f;
  c.pad_token_id = 0;
  c.eos_token_id = 1;
  return c;
}

// Every parameter uniform in [-a, a) (layer-norm scales in [0.5, 1.5)), so biases, scales and
// final_logits_bias are all non-trivial.
void randomise(const Module& m, uint64_t seed, float a) {
  for (const auto& [name, t] : m.named_parameters()) {
    const bool ln_scale = name.ends_with("layer_norm.weight");
    const uint64_t s = derive_seed(seed, fnv1a_64(name));
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float u = random_uniform(s, i);
      t.data()[i] = ln_scale ? 0.5f + u : a * (2 * u - 1);
    }
  }
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
    m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Rows [t0, t1) of every sequence of logits [B, T, V], flattened.
std::vector<float> positions(const Tensor& logits, int64_t b, int64_t t0, int64_t t1) {
  const int64_t T = logits.dim(1), V = logits.dim(2);
  const float* p = logits.data() + (b * T + t0) * V;
  return std::vector<float>(p, p + (t1 - t0) * V);
}

TEST(MarianTest, ParameterNamesAndShapesAreHuggingFaces) {
  const MarianConfig c = tiny_config();
  MarianMTModel model(c, 1);
  // HF MarianMTModel's state dict less its tied aliases (model.encoder.embed_tokens,
  // model.decoder.embed_tokens, lm_head) and the fixed sinusoidal tables (embed_positions), in
  // its order: a module's own tensors (final_logits_bias) before its children's.
  std::vector<std::pair<std::string, Shape>> want = {{"final_logits_bias", {1, 17}},
                                                     {"model.shared.weight", {17, 8}}};
  auto attention = [&](const std::string& p) {
    for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"}) {
      want.push_back({p + "." + proj + ".weight", {8, 8}});
      want.push_back({p + "." + proj + ".bias", {8}});
    }
  };
  auto norm = [&](const std::string& p) {
    want.push_back({p + ".weight", {8}});
    want.push_back({p + ".bias", {8}});
  };
  auto ffn = [&](const std::string& p, int64_t f) {
    want.push_back({p + ".fc1.weight", {f, 8}});
    want.push_back({p + ".fc1.bias", {f}});
    want.push_back({p + ".fc2.weight", {8, f}});
    want.push_back({p + ".fc2.bias", {8}});
  };
  for (int i = 0; i < 2; ++i) {
    const std::string p = "model.encoder.layers." + std::to_string(i);
    attention(p + ".self_attn");
    norm(p + ".self_attn_layer_norm");
    ffn(p, 12);
    norm(p + ".final_layer_norm");
  }
  const std::string p = "model.decoder.layers.0";
  attention(p + ".self_attn");
  norm(p + ".self_attn_layer_norm");
  attention(p + ".encoder_attn");
  norm(p + ".encoder_attn_layer_norm");
  ffn(p, 6);
  norm(p + ".final_layer_norm");

  const auto got = model.named_parameters();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.shape(), want[i].second) << want[i].first;
  }
  // The head is the shared embedding: no separate lm_head tensor exists.
  EXPECT_TRUE(model.parameter("model.shared.weight").same(model.shared_embedding()));
}

TEST(MarianTest, InitialisationFollowsHuggingFace) {
  MarianConfig c = tiny_config();
  c.vocab_size = 300, c.d_model = 64, c.encoder_ffn_dim = c.decoder_ffn_dim = 128;
  MarianMTModel model(c, 7);
  for (const auto& [name, t] : model.named_parameters()) {
    const std::vector<float> v = t.to_floats();
    double sum = 0, sq = 0;
    for (float x : v) sum += x, sq += double(x) * x;
    const double mean = sum / v.size(), var = sq / v.size() - mean * mean;
    if (name == "final_logits_bias" || name.ends_with(".bias")) {
      EXPECT_EQ(sq, 0.0) << name;
    } else if (name.ends_with("layer_norm.weight")) {
      EXPECT_EQ(v, std::vector<float>(v.size(), 1.0f)) << name;
    } else {
      EXPECT_NEAR(std::sqrt(var), 0.02, 0.003) << name;  // init_std
    }
  }
  // The pad row of the shared embedding starts at zero (HF's padding_idx).
  const float* pad = model.shared_embedding().data() + c.pad_token_id * c.d_model;
  EXPECT_EQ(std::vector<float>(pad, pad + c.d_model), std::vector<float>(c.d_model, 0.0f));
}

TEST(MarianTest, SinusoidalPositionsPutSinesFirstThenCosines) {
  // d = 4: w = (1, 1/100); row p = [sin p, sin(p/100), cos p, cos(p/100)].
  Tensor table = sinusoidal_positions(3, 4);
  ASSERT_EQ(table.shape(), (Shape{3, 4}));
  for (int p = 0; p < 3; ++p) {
    EXPECT_FLOAT_EQ(table.data()[p * 4 + 0], std::sin(p));
    EXPECT_FLOAT_EQ(table.data()[p * 4 + 1], std::sin(p / 100.0));
    EXPECT_FLOAT_EQ(table.data()[p * 4 + 2], std::cos(p));
    EXPECT_FLOAT_EQ(table.data()[p * 4 + 3], std::cos(p / 100.0));
  }
  EXPECT_NE(error_of([] { sinusoidal_positions(4, 5); }).find("even d"), std::string::npos);
}

// ---- A plain-loop, double-precision MarianMTModel forward: the oracle ------------------------
using Matrix = std::vector<std::vector<double>>;  // [rows][cols]

Matrix linear_ref(const Matrix& x, const Tensor& w, const Tensor& b) {  // w: [out, in]
  const int64_t out = w.dim(0), in = w.dim(1);
  Matrix y(x.size(), std::vector<double>(out));
  for (std::size_t r = 0; r < x.size(); ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = b.data()[o];
      for (int64_t i = 0; i < in; ++i) acc += x[r][i] * w.data()[o * in + i];
      y[r][o] = acc;
    }
  return y;
}

Matrix layer_norm_ref(const Matrix& x, const Tensor& g, const Tensor& b) {
  Matrix y = x;
  for (auto& row : y) {
    double mean = 0, var = 0;
    for (double v : row) mean += v;
    mean /= row.size();
    for (double v : row) var += (v - mean) * (v - mean);
    var /= row.size();
    for (std::size_t i = 0; i < row.size(); ++i)
      row[i] = (row[i] - mean) / std::sqrt(var + 1e-5) * g.data()[i] + b.data()[i];
  }
  return y;
}

Matrix add_ref(Matrix a, const Matrix& b) {
  for (std::size_t r = 0; r < a.size(); ++r)
    for (std::size_t i = 0; i < a[r].size(); ++i) a[r][i] += b[r][i];
  return a;
}

// One sequence's attention block (q, k, v, out projections under `prefix`): queries from x,
// keys and values from memory; visible(i, j) says whether query i may see key j.
Matrix attention_ref(const MarianMTModel& m, const std::string& prefix, const Matrix& x,
                     const Matrix& memory, int64_t heads,
                     const std::function<bool(int64_t, int64_t)>& visible) {
  auto p = [&](const std::string& name) { return m.parameter(prefix + "." + name); };
  const Matrix q = linear_ref(x, p("q_proj.weight"), p("q_proj.bias"));
  const Matrix k = linear_ref(memory, p("k_proj.weight"), p("k_proj.bias"));
  const Matrix v = linear_ref(memory, p("v_proj.weight"), p("v_proj.bias"));
  const std::size_t d = q[0].size(), hd = d / heads;
  Matrix out(x.size(), std::vector<double>(d, 0.0));
  for (int64_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < x.size(); ++i) {
      std::vector<double> w(memory.size(), 0.0);
      double mx = -1e300, sum = 0;
      for (std::size_t j = 0; j < memory.size(); ++j) {
        if (!visible(i, j)) continue;
        for (std::size_t c = h * hd; c < (h + 1) * hd; ++c) w[j] += q[i][c] * k[j][c];
        w[j] /= std::sqrt(double(hd));
        mx = std::max(mx, w[j]);
      }
      for (std::size_t j = 0; j < memory.size(); ++j)
        sum += visible(i, j) ? (w[j] = std::exp(w[j] - mx)) : 0.0;
      for (std::size_t j = 0; j < memory.size(); ++j)
        if (visible(i, j))
          for (std::size_t c = h * hd; c < (h + 1) * hd; ++c) out[i][c] += w[j] / sum * v[j][c];
    }
  return linear_ref(out, p("out_proj.weight"), p("out_proj.bias"));
}

Matrix ffn_ref(const MarianMTModel& m, const std::string& prefix, const Matrix& h) {
  auto p = [&](const std::string& name) { return m.parameter(prefix + "." + name); };
  Matrix f = linear_ref(h, p("fc1.weight"), p("fc1.bias"));
  for (auto& row : f)
    for (double& v : row) v = v / (1 + std::exp(-v));  // swish
  f = linear_ref(f, p("fc2.weight"), p("fc2.bias"));
  return layer_norm_ref(add_ref(h, f), p("final_layer_norm.weight"), p("final_layer_norm.bias"));
}

// ids of one sequence -> sqrt(d) * E[id] + [sin | cos] positions.
Matrix embed_ref(const MarianMTModel& m, const std::vector<int32_t>& ids) {
  const int64_t d = m.config().d_model;
  Matrix x(ids.size(), std::vector<double>(d));
  for (std::size_t t = 0; t < ids.size(); ++t)
    for (int64_t i = 0; i < d; ++i) {
      const double w = std::pow(10000.0, -2.0 * double(i % (d / 2)) / double(d));
      const double pos = i < d / 2 ? std::sin(double(t) * w) : std::cos(double(t) * w);
      x[t][i] = std::sqrt(double(d)) * m.shared_embedding().data()[ids[t] * d + i] + pos;
    }
  return x;
}

// One source (its real tokens only) and one decoder input -> logits [T][V].
Matrix marian_ref(const MarianMTModel& m, const std::vector<int32_t>& src,
                  const std::vector<int32_t>& dec) {
  const MarianConfig& c = m.config();
  Matrix x = embed_ref(m, src);
  auto all = [](int64_t, int64_t) { return true; };
  for (int64_t l = 0; l < c.encoder_layers; ++l) {
    const std::string p = "model.encoder.layers." + std::to_string(l);
    Matrix a = attention_ref(m, p + ".self_attn", x, x, c.encoder_attention_heads, all);
    Matrix h = layer_norm_ref(add_ref(x, a), m.parameter(p + ".self_attn_layer_norm.weight"),
                              m.parameter(p + ".self_attn_layer_norm.bias"));
    x = ffn_ref(m, p, h);
  }
  Matrix y = embed_ref(m, dec);
  auto causal = [](int64_t i, int64_t j) { return j <= i; };
  for (int64_t l = 0; l < c.decoder_layers; ++l) {
    const std::string p = "model.decoder.layers." + std::to_string(l);
    Matrix a = attention_ref(m, p + ".self_attn", y, y, c.decoder_attention_heads, causal);
    Matrix h = layer_norm_ref(add_ref(y, a), m.parameter(p + ".self_attn_layer_norm.weight"),
                              m.parameter(p + ".self_attn_layer_norm.bias"));
    Matrix e = attention_ref(m, p + ".encoder_attn", h, x, c.decoder_attention_heads, all);
    h = layer_norm_ref(add_ref(h, e), m.parameter(p + ".encoder_attn_layer_norm.weight"),
                       m.parameter(p + ".encoder_attn_layer_norm.bias"));
    y = ffn_ref(m, p, h);
  }
  // Tied head plus final_logits_bias.
  Tensor bias = m.final_logits_bias().view({c.vocab_size});
  Tensor zero = Tensor::zeros({c.vocab_size});
  Matrix logits = linear_ref(y, m.shared_embedding(), zero);
  for (auto& row : logits)
    for (int64_t v = 0; v < c.vocab_size; ++v) row[v] += bias.data()[v];
  return logits;
}

TEST(MarianTest, ForwardMatchesPlainLoopReference) {
  MarianConfig c = tiny_config();
  c.encoder_layers = 2, c.decoder_layers = 2;
  MarianMTModel model(c, 11);
  randomise(model, 11, 0.4f);
  model.train(false);
  // Two sources (the second padded) and two decoder inputs (the second padded at the end).
  Tensor src = Tensor::from_ints({2, 5}, {5, 6, 7, 8, 1, 9, 10, 1, 0, 0});
  Tensor mask = Tensor::from_ints({2, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  Tensor dec = Tensor::from_ints({2, 4}, {0, 11, 12, 13, 0, 14, 0, 0});
  Tensor logits = model.forward(src, mask, dec);  // [2, 4, 17]
  const std::vector<std::vector<int32_t>> sources = {{5, 6, 7, 8, 1}, {9, 10, 1}};
  const std::vector<std::vector<int32_t>> decs = {{0, 11, 12, 13}, {0, 14}};
  float worst = 0;
  for (int64_t b = 0; b < 2; ++b) {
    const Matrix want = marian_ref(model, sources[b], decs[b]);
    for (std::size_t t = 0; t < want.size(); ++t)
      for (int64_t v = 0; v < 17; ++v)
        worst = std::max(
            worst, static_cast<float>(std::fabs(logits.data()[(b * 4 + t) * 17 + v] - want[t][v])));
  }
  EXPECT_LT(worst, 2e-4f);
}

TEST(MarianTest, SourcePaddingAndFutureTargetTokensChangeNothing) {
  MarianConfig c = tiny_config();
  MarianMTModel model(c, 2);
  randomise(model, 2, 0.5f);
  model.train(false);
  Tensor src = Tensor::from_ints({1, 4}, {5, 6, 7, 1});
  Tensor tgt = Tensor::from_ints({1, 3}, {0, 9, 10});
  Tensor ref = model.forward(src, Tensor(), tgt);
  // The same source padded to 6 with a mask, next to another sentence.
  Tensor src2 = Tensor::from_ints({2, 6}, {5, 6, 7, 1, 0, 0, 3, 4, 5, 6, 7, 1});
  Tensor mask2 = Tensor::from_ints({2, 6}, {1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1});
  Tensor tgt2 = Tensor::from_ints({2, 3}, {0, 9, 10, 0, 11, 12});
  Tensor padded = model.forward(src2, mask2, tgt2);
  EXPECT_LT(max_abs_diff(positions(ref, 0, 0, 3), positions(padded, 0, 0, 3)), 1e-5f);
  // Changing a later target token leaves earlier positions' logits alone (causal decoder).
  Tensor tgt3 = Tensor::from_ints({1, 3}, {0, 9, 14});
  Tensor changed = model.forward(src, Tensor(), tgt3);
  EXPECT_EQ(positions(ref, 0, 0, 2), positions(changed, 0, 0, 2));
  EXPECT_GT(max_abs_diff(positions(ref, 0, 2, 3), positions(changed, 0, 2, 3)), 1e-4f);
}

TEST(MarianTest, ActivationAndEmbeddingScaleAreSettings) {
  Tensor src = Tensor::from_ints({1, 3}, {5, 6, 1});
  Tensor tgt = Tensor::from_ints({1, 2}, {0, 9});
  std::vector<std::vector<float>> outputs;
  for (const char* name : {"swish", "gelu", "gelu_new", "relu"}) {
    MarianConfig c = tiny_config();
    c.activation = parse_activation(name);
    EXPECT_STREQ(activation_name(c.activation), name);
    MarianMTModel model(c, 3);
    randomise(model, 3, 0.5f);
    model.train(false);
    outputs.push_back(model.forward(src, Tensor(), tgt).to_floats());
    for (std::size_t i = 0; i + 1 < outputs.size(); ++i)
      EXPECT_GT(max_abs_diff(outputs[i], outputs.back()), 1e-5f) << name;
  }
  MarianConfig c = tiny_config();
  c.scale_embedding = false;
  MarianMTModel unscaled(c, 3);
  randomise(unscaled, 3, 0.5f);
  unscaled.train(false);
  EXPECT_GT(max_abs_diff(outputs[0], unscaled.forward(src, Tensor(), tgt).to_floats()), 1e-5f);
  EXPECT_NE(error_of([] {
              parse_activation("tanh");
            }).find("expected swish, silu, gelu, gelu_new or relu, got \"tanh\""),
            std::string::npos);
}

// Central differences of the label-smoothed loss (dropout on, padding on both sides) against
// the tape's gradients for a spread of elements of every parameter.
TEST(MarianTest, LossGradientsMatchFiniteDifferences) {
  MarianConfig c = tiny_config();
  c.encoder_layers = 1;
  c.dropout = 0.1f, c.attention_dropout = 0.1f, c.activation_dropout = 0.1f;
  MarianMTModel model(c, 4);
  randomise(model, 4, 0.5f);
  Tensor src = Tensor::from_ints({2, 5}, {5, 6, 7, 8, 1, 9, 1, 0, 0, 0});
  Tensor mask = Tensor::from_ints({2, 5}, {1, 1, 1, 1, 1, 1, 1, 0, 0, 0});
  Tensor dec = Tensor::from_ints({2, 4}, {0, 10, 11, 12, 0, 13, 0, 0});
  Tensor labels = Tensor::from_ints({2, 4}, {10, 11, 12, 1, 13, 1, -100, -100});
  auto loss = [&] { return model.loss(src, mask, dec, labels, 0.1f, 21); };
  backward(loss());
  const double eps = 1e-2, atol = 5e-4, rtol = 1e-2;
  int checked = 0;
  for (const auto& [name, t] : model.named_parameters()) {
    Tensor analytic = t.grad().defined() ? t.grad().clone() : Tensor::zeros(t.shape());
    const int64_t stride = std::max<int64_t>(1, t.numel() / 10);
    for (int64_t i = (t.numel() > 10 ? 2 : 0); i < t.numel(); i += stride) {
      NoGradGuard no_grad;
      const float saved = t.data()[i];
      t.data()[i] = saved + float(eps);
      const double plus = loss().item();
      t.data()[i] = saved - float(eps);
      const double minus = loss().item();
      t.data()[i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(analytic.data()[i], numeric, atol + rtol * std::fabs(numeric))
          << name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 300);
}

// The minimum of the label-smoothed loss: the entropy of the smoothed target q (1 - eps + eps/V
// on the label, eps/V elsewhere), reached when softmax = q. Cross-entropy H(q, p) >= H(q).
double smoothed_loss_floor(double eps, int64_t V) {
  const double on = 1 - eps + eps / V, off = eps / V;
  return -on * std::log(on) - double(V - 1) * off * std::log(off);
}

TEST(MarianTest, OverfitsAFixedBatchOfPairs) {
  MarianConfig c = tiny_config();
  c.vocab_size = 24, c.d_model = 32, c.encoder_layers = 2, c.decoder_layers = 2;
  c.encoder_attention_heads = c.decoder_attention_heads = 4;
  c.encoder_ffn_dim = c.decoder_ffn_dim = 64;
  c.dropout = 0.1f;
  MarianMTModel model(c, 5);
  ParameterArena arena(model);
  AdamW optimizer(arena, {0.9f, 0.98f, 1e-9f, 0.0f});
  // Three "sentence pairs" of different lengths (eos = 1, pad = 0), one a reordering of another
  // source's tokens with another target: the decoder must use the source to get it right.
  Tensor src = Tensor::from_ints({3, 5}, {5, 6, 7, 8, 1, 8, 7, 6, 5, 1, 9, 10, 1, 0, 0});
  Tensor mask = Tensor::from_ints({3, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  Tensor dec = Tensor::from_ints({3, 4}, {0, 11, 12, 13, 0, 14, 15, 16, 0, 17, 0, 0});
  Tensor labels = Tensor::from_ints({3, 4}, {11, 12, 13, 1, 14, 15, 16, 1, 17, 1, -100, -100});
  const float eps = 0.1f;
  float first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    arena.zero_grads();
    Tensor loss = model.loss(src, mask, dec, labels, eps, step);
    if (step == 0) first = loss.item();
    last = loss.item();
    backward(loss);
    optimizer.step(3e-3f);
  }
  // At initialisation the logits are near zero: p ~ uniform, so every term is ~ln V = 3.18.
  EXPECT_NEAR(first, std::log(24.0), 0.3);
  // The floor is H(q) = 0.616 for eps = 0.1, V = 24; within 0.1 of it means the model puts
  // ~0.9 of its mass on every label (a model that did not use the source to tell the first two
  // pairs apart could reach at best a loss ~0.35 above the floor on those 8 positions).
  const double floor = smoothed_loss_floor(eps, 24);
  EXPECT_NEAR(floor, 0.6163, 1e-4);
  EXPECT_LT(last, floor + 0.1);
  // And in evaluation mode the argmax at every labelled position is the label.
  model.train(false);
  Tensor logits = model.forward(src, mask, dec);
  for (int64_t r = 0; r < 12; ++r) {
    const int32_t label = labels.ints()[r];
    if (label < 0) continue;
    const float* row = logits.data() + r * 24;
    EXPECT_EQ(std::max_element(row, row + 24) - row, label) << "position " << r;
  }
  // Decoding from the sources alone gives the targets back, greedy and with a beam.
  const Translations want = {{11, 12, 13}, {14, 15, 16}, {17}};
  DecodeOptions o;
  o.max_new_tokens = 8;
  EXPECT_EQ(greedy_decode(model, src, mask, o), want);
  o.beam = 3;
  EXPECT_EQ(beam_search(model, src, mask, o), want);
}

TEST(MarianTest, BadInputsAreErrors) {
  MarianConfig c = tiny_config();
  MarianMTModel model(c, 6);
  Tensor src = Tensor::from_ints({2, 3}, {5, 6, 1, 7, 1, 0});
  Tensor dec = Tensor::from_ints({2, 2}, {0, 9, 0, 10});
  EXPECT_NE(error_of([&] {
              model.forward(src, Tensor::from_ints({2, 2}, {1, 1, 1, 1}), dec);
            }).find("MarianMTModel::encode: expected attention_mask of shape [2, 3]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              model.forward(src, Tensor(), Tensor::from_ints({1, 2}, {0, 9}));
            }).find("expected as many target rows as source rows (2)"),
            std::string::npos);
  Tensor long_src = Tensor::zeros({1, 17}, DType::kI32);
  EXPECT_NE(error_of([&] {
              model.encode(long_src, Tensor());
            }).find("at most max_position_embeddings = 16 positions, got 17"),
            std::string::npos);
  MarianConfig odd = c;
  odd.d_model = 6, odd.decoder_attention_heads = 3, odd.encoder_attention_heads = 4;
  EXPECT_NE(error_of([&] { MarianMTModel m(odd, 1); }).find("n_head to divide d_model"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln::nn
