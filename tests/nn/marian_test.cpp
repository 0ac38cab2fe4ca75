// MarianMTModel: Hugging Face names and shapes, sinusoidal positions, source padding and target
// causality invariances, activations, gradients of the label-smoothed loss against central
// differences, and that a tiny model overfits a fixed batch of sentence pairs (and then
// decodes its targets back).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "base/error.h"
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
    const uint64_t s = derive_seed(seed, std::hash<std::string>{}(name));
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
