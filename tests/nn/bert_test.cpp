// BERT: Hugging Face names, shapes and initialisation, one encoder layer against a plain-loop
// reference, padding invariance, the gathered MLM loss against HF's full-logits loss, gradients
// against central differences, determinism, and that a tiny model overfits one batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/rng.h"
#include "nn/adamw.h"
#include "nn/bert.h"
#include "nn/bert_layer.h"
#include "nn/parameter_arena.h"

namespace kiln::nn {
namespace {

using ops::WeightLayout;

BertConfig tiny_config() {
  BertConfig c;
  c.vocab_size = 13;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 8;
  c.max_position = 10;
  return c;
}

// HF BertForPreTraining's parameter count (decoder tied to the word embeddings, counted once).
int64_t hf_parameter_count(const BertConfig& c) {
  const int64_t d = c.d_model, f = c.d_ff == 0 ? 4 * d : c.d_ff;
  int64_t embeddings = (c.vocab_size + c.max_position + c.type_vocab_size) * d + 2 * d;
  int64_t layer = 4 * (d * d + d) + 2 * d * f + f + d + 4 * d;
  int64_t pooler = d * d + d;
  int64_t heads = c.vocab_size + (d * d + d) + 2 * d + (2 * d + 2);
  return embeddings + c.n_layer * layer + pooler + heads;
}

// Overwrites every parameter with values uniform in [-a, a) (layer-norm scales in [0.5, 1.5)),
// so tests see non-trivial biases and scales and gradients far from zero.
void randomise(const Module& m, uint64_t seed, float a) {
  for (const auto& [name, t] : m.named_parameters()) {
    bool ln_scale = name.ends_with("LayerNorm.weight");
    uint64_t s = derive_seed(seed, fnv1a_64(name));
    for (int64_t i = 0; i < t.numel(); ++i) {
      float u = random_uniform(s, i);
      t.data()[i] = ln_scale ? 0.5f + u : a * (2 * u - 1);
    }
  }
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.data()[i] - b.data()[i]));
  return m;
}

// A batch of two: row 0 has 6 tokens, row 1 has 4 and two padding positions.
struct Batch {
  Tensor ids = Tensor::from_ints({2, 6}, {1, 4, 3, 5, 2, 7, 1, 8, 3, 2, 0, 0});
  Tensor types = Tensor::from_ints({2, 6}, {0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0});
  Tensor mask = Tensor::from_ints({2, 6}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  Tensor mlm =
      Tensor::from_ints({2, 6}, {-100, -100, 9, -100, -100, 6, -100, -100, 11, -100, -100, -100});
  Tensor nsp = Tensor::from_ints({2}, {1, 0});
};

TEST(BertTest, ParameterNamesAndShapesAreHuggingFaces) {
  BertConfig c = tiny_config();
  c.n_layer = 1;
  Bert model(c, 1);
  const std::string layer = "bert.encoder.layer.0.";
  std::vector<std::pair<std::string, Shape>> expected = {
      {"bert.embeddings.word_embeddings.weight", {13, 8}},
      {"bert.embeddings.position_embeddings.weight", {10, 8}},
      {"bert.embeddings.token_type_embeddings.weight", {2, 8}},
      {"bert.embeddings.LayerNorm.weight", {8}},
      {"bert.embeddings.LayerNorm.bias", {8}},
      {layer + "attention.self.query.weight", {8, 8}},
      {layer + "attention.self.query.bias", {8}},
      {layer + "attention.self.key.weight", {8, 8}},
      {layer + "attention.self.key.bias", {8}},
      {layer + "attention.self.value.weight", {8, 8}},
      {layer + "attention.self.value.bias", {8}},
      {layer + "attention.output.dense.weight", {8, 8}},
      {layer + "attention.output.dense.bias", {8}},
      {layer + "attention.output.LayerNorm.weight", {8}},
      {layer + "attention.output.LayerNorm.bias", {8}},
      {layer + "intermediate.dense.weight", {32, 8}},
      {layer + "intermediate.dense.bias", {32}},
      {layer + "output.dense.weight", {8, 32}},
      {layer + "output.dense.bias", {8}},
      {layer + "output.LayerNorm.weight", {8}},
      {layer + "output.LayerNorm.bias", {8}},
      {"bert.pooler.dense.weight", {8, 8}},
      {"bert.pooler.dense.bias", {8}},
      {"cls.predictions.bias", {13}},
      {"cls.predictions.transform.dense.weight", {8, 8}},
      {"cls.predictions.transform.dense.bias", {8}},
      {"cls.predictions.transform.LayerNorm.weight", {8}},
      {"cls.predictions.transform.LayerNorm.bias", {8}},
      // cls.predictions.decoder.weight is bert.embeddings.word_embeddings.weight (tied).
      {"cls.seq_relationship.weight", {2, 8}},
      {"cls.seq_relationship.bias", {2}},
  };
  auto named = model.named_parameters();
  ASSERT_EQ(named.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(named[i].first, expected[i].first);
    EXPECT_EQ(named[i].second.shape(), expected[i].second) << named[i].first;
  }
}

TEST(BertTest, ParameterCountMatchesBertBase) {
  BertConfig base;
  base.vocab_size = 30522, base.n_layer = 12, base.n_head = 12, base.d_model = 768;
  base.d_ff = 3072, base.max_position = 512;
  EXPECT_EQ(hf_parameter_count(base), 110106428);  // HF BertForPreTraining.from_pretrained
  Bert small(tiny_config(), 1);
  int64_t counted = 0;
  for (const Tensor& p : small.parameters()) counted += p.numel();
  EXPECT_EQ(counted, hf_parameter_count(tiny_config()));
}

TEST(BertTest, InitialisationFollowsHuggingFace) {
  BertConfig c = tiny_config();
  c.vocab_size = 500, c.d_model = 64, c.n_head = 4;
  Bert model(c, 7);
  auto std_of = [](const Tensor& t) {
    double s = 0, s2 = 0;
    for (float v : t.to_floats()) s += v, s2 += double(v) * v;
    double n = double(t.numel());
    return std::sqrt(s2 / n - (s / n) * (s / n));
  };
  EXPECT_NEAR(std_of(model.parameter("bert.embeddings.word_embeddings.weight")), 0.02, 0.002);
  EXPECT_NEAR(std_of(model.parameter("bert.encoder.layer.1.intermediate.dense.weight")), 0.02,
              0.002);
  EXPECT_NEAR(std_of(model.parameter("cls.predictions.transform.dense.weight")), 0.02, 0.002);
  // The pad row (padding_idx 0) starts at zero; biases 0, layer-norm scales 1.
  Tensor word = model.parameter("bert.embeddings.word_embeddings.weight");
  EXPECT_EQ(word.rows_view(0, 1).to_floats(), std::vector<float>(64, 0.f));
  EXPECT_NE(word.rows_view(1, 2).to_floats(), std::vector<float>(64, 0.f));
  EXPECT_EQ(model.parameter("bert.encoder.layer.0.attention.self.key.bias").to_floats(),
            std::vector<float>(64, 0.f));
  EXPECT_EQ(model.parameter("cls.predictions.bias").to_floats(), std::vector<float>(500, 0.f));
  EXPECT_EQ(model.parameter("bert.embeddings.LayerNorm.weight").to_floats(),
            std::vector<float>(64, 1.f));
  Bert same(c, 7), other(c, 8);
  EXPECT_EQ(ParameterArena(same).values().to_floats(), ParameterArena(model).values().to_floats());
  EXPECT_NE(ParameterArena(other).values().to_floats(), ParameterArena(model).values().to_floats());
}

// ---- one encoder layer against a plain-loop reference in double ------------------------------

using Matrix = std::vector<std::vector<double>>;  // [rows][cols]

Matrix linear_ref(const Matrix& x, const Tensor& w, const Tensor& b) {  // w: [out, in]
  const int64_t out = w.dim(0), in = w.dim(1);
  Matrix y(x.size(), std::vector<double>(out));
  for (std::size_t t = 0; t < x.size(); ++t)
    for (int64_t o = 0; o < out; ++o) {
      double s = b.data()[o];
      for (int64_t i = 0; i < in; ++i) s += x[t][i] * double(w.data()[o * in + i]);
      y[t][o] = s;
    }
  return y;
}

Matrix residual_layer_norm_ref(const Matrix& x, const Matrix& residual, const Tensor& g,
                               const Tensor& b, double eps) {
  Matrix y = x;
  for (std::size_t t = 0; t < x.size(); ++t) {
    const std::size_t n = x[t].size();
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < n; ++i) mean += (y[t][i] = x[t][i] + residual[t][i]) / n;
    for (std::size_t i = 0; i < n; ++i) var += (y[t][i] - mean) * (y[t][i] - mean) / n;
    for (std::size_t i = 0; i < n; ++i)
      y[t][i] = (y[t][i] - mean) / std::sqrt(var + eps) * g.data()[i] + b.data()[i];
  }
  return y;
}

// One sequence x [T][d] through a BERT layer, with keys whose mask is 0 left out.
Matrix bert_layer_ref(const BertLayer& layer, const Matrix& x, const std::vector<int>& mask,
                      int64_t n_head, double eps) {
  auto p = [&](const std::string& name) { return layer.parameter(name); };
  const std::size_t T = x.size(), d = x[0].size(), hd = d / n_head;
  Matrix q = linear_ref(x, p("attention.self.query.weight"), p("attention.self.query.bias"));
  Matrix k = linear_ref(x, p("attention.self.key.weight"), p("attention.self.key.bias"));
  Matrix v = linear_ref(x, p("attention.self.value.weight"), p("attention.self.value.bias"));
  Matrix context(T, std::vector<double>(d, 0.0));
  for (int64_t h = 0; h < n_head; ++h)
    for (std::size_t i = 0; i < T; ++i) {
      std::vector<double> w(T, 0.0);
      double top = -1e300, total = 0;
      for (std::size_t j = 0; j < T; ++j) {
        if (!mask[j]) continue;
        for (std::size_t e = h * hd; e < (h + 1) * hd; ++e) w[j] += q[i][e] * k[j][e];
        w[j] /= std::sqrt(double(hd));
        top = std::max(top, w[j]);
      }
      for (std::size_t j = 0; j < T; ++j) total += mask[j] ? (w[j] = std::exp(w[j] - top)) : 0;
      for (std::size_t j = 0; j < T; ++j)
        for (std::size_t e = h * hd; e < (h + 1) * hd && mask[j]; ++e)
          context[i][e] += w[j] / total * v[j][e];
    }
  Matrix a = residual_layer_norm_ref(
      linear_ref(context, p("attention.output.dense.weight"), p("attention.output.dense.bias")), x,
      p("attention.output.LayerNorm.weight"), p("attention.output.LayerNorm.bias"), eps);
  Matrix h = linear_ref(a, p("intermediate.dense.weight"), p("intermediate.dense.bias"));
  for (auto& row : h)
    for (double& z : row) z = 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
  return residual_layer_norm_ref(linear_ref(h, p("output.dense.weight"), p("output.dense.bias")), a,
                                 p("output.LayerNorm.weight"), p("output.LayerNorm.bias"), eps);
}

TEST(BertTest, EncoderLayerForwardMatchesPlainLoops) {
  BertConfig c = tiny_config();
  c.d_ff = 32, c.layer_norm_eps = 1e-5f;
  BertLayer layer(c);
  randomise(layer, 3, 0.5f);
  const int64_t B = 2, T = 5, d = 8;
  Tensor x = Tensor::empty({B, T, d});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = 2 * random_uniform(9, i) - 1;
  std::vector<int32_t> mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};  // row 1: two padding keys
  SeedStream seeds(0);
  Tensor y = layer.forward(x, Tensor::from_ints({B, T}, mask), seeds);
  ASSERT_EQ(y.shape(), (Shape{B, T, d}));
  for (int64_t b = 0; b < B; ++b) {
    Matrix xb(T, std::vector<double>(d));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t e = 0; e < d; ++e) xb[t][e] = x.data()[(b * T + t) * d + e];
    std::vector<int> mb(mask.begin() + b * T, mask.begin() + (b + 1) * T);
    Matrix ref = bert_layer_ref(layer, xb, mb, c.n_head, c.layer_norm_eps);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t e = 0; e < d; ++e)
        EXPECT_NEAR(y.data()[(b * T + t) * d + e], ref[t][e], 1e-5) << b << " " << t << " " << e;
  }
}

// ---- whole-model behaviour --------------------------------------------------------------------

TEST(BertTest, PaddingDoesNotChangeRealTokens) {
  BertConfig c = tiny_config();
  c.dropout = 0.1f, c.attention_dropout = 0.1f;
  Bert model(c, 4);
  randomise(model, 4, 0.3f);
  model.train(false);  // evaluation turns dropout off
  NoGradGuard no_grad;
  Tensor ids = Tensor::from_ints({1, 5}, {1, 5, 6, 2, 7});
  Tensor types = Tensor::from_ints({1, 5}, {0, 0, 0, 1, 1});
  BertOutput alone = model.forward(ids, types, Tensor(), 11);
  BertOutput ones = model.forward(ids, types, Tensor::from_ints({1, 5}, {1, 1, 1, 1, 1}), 11);
  EXPECT_EQ(alone.last_hidden_state.to_floats(), ones.last_hidden_state.to_floats());
  // The same sequence as row 1 of a batch, padded from 5 to 8 tokens.
  Tensor padded_ids = Tensor::from_ints({2, 8}, {1, 9, 8, 7, 6, 5, 4, 2, 1, 5, 6, 2, 7, 0, 0, 0});
  Tensor padded_types = Tensor::from_ints({2, 8}, {0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0});
  Tensor mask = Tensor::from_ints({2, 8}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0});
  BertOutput padded = model.forward(padded_ids, padded_types, mask, 12);
  const float* h = padded.last_hidden_state.data() + 8 * 8;  // row 1
  for (int64_t i = 0; i < 5 * 8; ++i) EXPECT_NEAR(h[i], alone.last_hidden_state.data()[i], 1e-5);
  for (int64_t i = 0; i < 8; ++i)
    EXPECT_NEAR(padded.pooled.data()[8 + i], alone.pooled.data()[i], 1e-5);
}

TEST(BertTest, GatheredMlmLossEqualsFullLogitsLoss) {
  BertConfig c = tiny_config();
  c.dropout = 0.1f, c.attention_dropout = 0.1f;
  Bert model(c, 5);
  randomise(model, 5, 0.3f);
  Batch batch;
  auto p = [&](const char* name) { return model.parameter(name); };
  std::vector<Tensor> params = model.parameters();
  auto take_grads = [&] {
    std::vector<Tensor> grads;
    for (const Tensor& t : params) {
      grads.push_back(t.grad().defined() ? t.grad().clone() : Tensor::zeros(t.shape()));
      t.reset_grad();
    }
    return grads;
  };

  BertLosses gathered =
      model.pretraining_loss(batch.ids, batch.types, batch.mask, batch.mlm, batch.nsp, 21);
  backward(gathered.loss);
  std::vector<Tensor> gathered_grads = take_grads();

  // HF's path: the MLM head at every position, CE with ignore_index -100.
  BertOutput out = model.forward(batch.ids, batch.types, batch.mask, 21);
  Tensor t = ops::linear(out.last_hidden_state, p("cls.predictions.transform.dense.weight"),
                         p("cls.predictions.transform.dense.bias"), WeightLayout::kOutIn);
  t = ops::layer_norm(ops::gelu(t, ops::GeluForm::kErf),
                      p("cls.predictions.transform.LayerNorm.weight"),
                      p("cls.predictions.transform.LayerNorm.bias"), c.layer_norm_eps);
  Tensor logits = ops::linear(t, p("bert.embeddings.word_embeddings.weight"),
                              p("cls.predictions.bias"), WeightLayout::kOutIn);  // [B, T, V]
  Tensor nsp = ops::linear(out.pooled, p("cls.seq_relationship.weight"),
                           p("cls.seq_relationship.bias"), WeightLayout::kOutIn);  // [B, 2]
  Tensor mlm_loss = ops::cross_entropy(logits, batch.mlm, -100);
  Tensor nsp_loss = ops::cross_entropy(nsp, batch.nsp);
  Tensor loss = ops::add(mlm_loss, nsp_loss);
  EXPECT_LT(max_abs_diff(model.mlm_logits_all(out.last_hidden_state), logits), 1e-6f);
  EXPECT_LT(max_abs_diff(model.nsp_logits(out.pooled), nsp), 1e-6f);
  backward(loss);
  std::vector<Tensor> full_grads = take_grads();

  EXPECT_NEAR(gathered.mlm_loss.item(), mlm_loss.item(), 1e-6);
  EXPECT_NEAR(gathered.nsp_loss.item(), nsp_loss.item(), 1e-6);
  EXPECT_NEAR(gathered.loss.item(), loss.item(), 1e-6);
  EXPECT_EQ(gathered.mlm_count, 3);
  EXPECT_EQ(gathered.batch_size, 2);
  int64_t correct = 0;
  for (int64_t i = 0; i < 12; ++i) {
    int32_t label = batch.mlm.ints()[i];
    if (label < 0) continue;
    const float* row = logits.data() + i * c.vocab_size;
    correct += std::max_element(row, row + c.vocab_size) - row == label;
  }
  EXPECT_EQ(gathered.mlm_correct, correct);
  for (std::size_t i = 0; i < params.size(); ++i)
    EXPECT_LT(max_abs_diff(gathered_grads[i], full_grads[i]), 1e-5f)
        << model.named_parameters()[i].first;
}

TEST(BertTest, NoLabelledPositionGivesZeroMlmLoss) {
  Bert model(tiny_config(), 6);
  Batch batch;
  BertLosses losses =
      model.pretraining_loss(batch.ids, batch.types, batch.mask,
                             Tensor::from_ints({2, 6}, std::vector<int32_t>(12, -100)), batch.nsp);
  EXPECT_EQ(losses.mlm_count, 0);
  EXPECT_EQ(losses.mlm_loss.item(), 0.0f);
  EXPECT_EQ(losses.loss.item(), losses.nsp_loss.item());
  clear_tape();
}

// Central differences of the whole pre-training loss against the tape's gradients, for a spread
// of elements of every parameter of a one-layer model with dropout and padding.
TEST(BertTest, PretrainingLossGradientsMatchFiniteDifferences) {
  BertConfig c = tiny_config();
  c.n_layer = 1, c.dropout = 0.1f, c.attention_dropout = 0.1f;
  Bert model(c, 8);
  randomise(model, 8, 0.5f);
  Batch batch;
  auto loss = [&] {
    return model.pretraining_loss(batch.ids, batch.types, batch.mask, batch.mlm, batch.nsp, 33)
        .loss;
  };
  backward(loss());
  const double eps = 1e-2, atol = 5e-4, rtol = 1e-2;
  int checked = 0;
  for (const auto& [name, t] : model.named_parameters()) {
    Tensor analytic = t.grad().defined() ? t.grad().clone() : Tensor::zeros(t.shape());
    const int64_t stride = std::max<int64_t>(1, t.numel() / 12);
    for (int64_t i = (t.numel() > 12 ? 3 : 0); i < t.numel(); i += stride) {
      NoGradGuard no_grad;
      const float saved = t.data()[i];
      t.data()[i] = saved + float(eps);
      double plus = loss().item();
      t.data()[i] = saved - float(eps);
      double minus = loss().item();
      t.data()[i] = saved;
      double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(analytic.data()[i], numeric, atol + rtol * std::fabs(numeric))
          << name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 200);
}

TEST(BertTest, OverfitsOneBatch) {
  BertConfig c = tiny_config();
  c.vocab_size = 20, c.d_model = 32, c.n_head = 4, c.max_position = 8;
  c.dropout = 0.1f, c.attention_dropout = 0.1f;
  Bert model(c, 5);
  ParameterArena arena(model);
  AdamW optimizer(arena, {0.9f, 0.999f, 1e-8f, 0.0f});
  // [CLS]=1 A [SEP]=2 B [SEP]=2 with [MASK]=3 at the labelled positions; row 1 padded.
  Tensor ids = Tensor::from_ints({2, 8}, {1, 5, 3, 7, 2, 9, 3, 2, 1, 3, 12, 2, 14, 2, 0, 0});
  Tensor types = Tensor::from_ints({2, 8}, {0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0});
  Tensor mask = Tensor::from_ints({2, 8}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  Tensor mlm = Tensor::from_ints({2, 8}, {-100, -100, 6, -100, -100, -100, 10, -100, -100, 17, -100,
                                          -100, -100, -100, -100, -100});
  Tensor nsp = Tensor::from_ints({2}, {0, 1});
  BertLosses first, last;
  for (int step = 0; step < 200; ++step) {
    arena.zero_grads();
    last = model.pretraining_loss(ids, types, mask, mlm, nsp, step);
    if (step == 0) first = last;
    backward(last.loss);
    optimizer.step(1e-2f);
  }
  EXPECT_NEAR(first.mlm_loss.item(), std::log(20.0f), 0.3f);
  EXPECT_NEAR(first.nsp_loss.item(), std::log(2.0f), 0.2f);
  EXPECT_LT(last.loss.item(), 0.1f);
  EXPECT_EQ(last.mlm_correct, 3);
  EXPECT_EQ(last.nsp_correct, 2);
}

TEST(BertTest, DropoutIsReproducibleFromTheSeed) {
  BertConfig c = tiny_config();
  c.dropout = 0.2f, c.attention_dropout = 0.2f;
  Batch batch;
  auto run = [&](uint64_t dropout_seed) {
    Bert model(c, 5);
    ParameterArena arena(model);
    AdamW optimizer(arena, {});
    std::vector<float> losses;
    for (int step = 0; step < 4; ++step) {
      arena.zero_grads();
      BertLosses l = model.pretraining_loss(batch.ids, batch.types, batch.mask, batch.mlm,
                                            batch.nsp, derive_seed(dropout_seed, step));
      losses.push_back(l.loss.item());
      backward(l.loss);
      optimizer.step(1e-3f);
    }
    std::vector<float> values = arena.values().to_floats();
    values.insert(values.end(), losses.begin(), losses.end());
    return values;
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
}

TEST(BertTest, BadInputsAreErrors) {
  Bert model(tiny_config(), 1);
  Batch batch;
  // Bad labels are caught before the forward pass records anything on the tape.
  Tensor bad_labels = batch.mlm.clone();
  bad_labels.ints()[0] = 13;
  EXPECT_THROW(model.pretraining_loss(batch.ids, batch.types, batch.mask, bad_labels, batch.nsp),
               Error);
  EXPECT_THROW(model.pretraining_loss(batch.ids, batch.types, batch.mask, batch.mlm,
                                      Tensor::from_ints({3}, {0, 1, 0})),
               Error);
  EXPECT_THROW(model.pretraining_loss(batch.ids, batch.types, batch.mask, batch.mlm,
                                      Tensor::from_ints({2}, {0, 2})),
               Error);
  EXPECT_EQ(tape_size(), 0u);

  NoGradGuard no_grad;
  std::vector<int32_t> eleven(11, 1);
  EXPECT_THROW(model.forward(Tensor::from_ints({1, 11}, eleven)), Error);  // > max_position
  EXPECT_THROW(model.forward(Tensor::from_floats({1, 2}, {1, 2})), Error);
  EXPECT_THROW(
      model.forward(batch.ids, batch.types, Tensor::from_ints({2, 5}, std::vector<int32_t>(10, 1))),
      Error);
  EXPECT_THROW(model.forward(batch.ids, Tensor::from_ints({1, 6}, {0, 0, 0, 0, 0, 0})), Error);
  BertConfig odd = tiny_config();
  odd.n_head = 3;
  EXPECT_THROW(Bert(odd, 1), Error);
}

}  // namespace
}  // namespace kiln::nn
