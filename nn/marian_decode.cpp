// Greedy and beam search for MarianMTModel. Both run the decoder through a Stepper: N rows
// (sources, or sources x beams), one token per row per step, rows reorderable between steps.
#include "nn/marian_decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "autograd/tape.h"
#include "base/error.h"

namespace kiln::nn {
namespace {

// Each source row repeated `k` times in a row: [B, S] -> [B * k, S] (undefined stays so).
Tensor repeat_rows(const Tensor& t, int64_t k) {
  if (!t.defined() || k == 1) return t;
  const int64_t B = t.dim(0), S = t.dim(1);
  Tensor out = Tensor::empty({B * k, S}, t.dtype());
  const std::size_t row_bytes = static_cast<std::size_t>(S) * 4;
  const char* src = t.dtype() == DType::kI32 ? reinterpret_cast<const char*>(t.ints())
                                             : reinterpret_cast<const char*>(t.data());
  char* dst = t.dtype() == DType::kI32 ? reinterpret_cast<char*>(out.ints())
                                       : reinterpret_cast<char*>(out.data());
  for (int64_t r = 0; r < B * k; ++r)
    std::memcpy(dst + r * row_bytes, src + (r / k) * row_bytes, row_bytes);
  return out;
}

// Next-token log-probabilities for N rows, one step at a time.
class Stepper {
 public:
  Stepper(const MarianMTModel& model, const Tensor& input_ids, const Tensor& mask, int64_t capacity,
          bool use_cache)
      : model_(model), mask_(mask), use_cache_(use_cache) {
    NoGradGuard no_grad;
    if (use_cache)
      cache_.emplace_back(model.start_decoding(input_ids, mask, capacity));
    else
      encoder_ = model.encode(input_ids, mask);
    prefix_.assign(static_cast<std::size_t>(input_ids.dim(0)), {});
  }

  // last: one token per row (the decoder input at this step) -> log-probs [N, V].
  Tensor step(const std::vector<int32_t>& last) {
    NoGradGuard no_grad;
    const auto N = static_cast<int64_t>(last.size());
    for (int64_t r = 0; r < N; ++r) prefix_[r].push_back(last[r]);
    Tensor logits;  // [N, V]
    if (use_cache_) {
      logits = model_.decode_cached(Tensor::from_ints({N, 1}, last), cache_[0]);
      logits = logits.view({N, logits.dim(2)});
    } else {
      const auto T = static_cast<int64_t>(prefix_[0].size());
      std::vector<int32_t> flat;
      for (const auto& p : prefix_) flat.insert(flat.end(), p.begin(), p.end());
      Tensor all = model_.decode(Tensor::from_ints({N, T}, flat), encoder_, mask_);  // [N, T, V]
      const int64_t V = all.dim(2);
      logits = Tensor::empty({N, V});
      for (int64_t r = 0; r < N; ++r)
        std::copy(all.data() + ((r * T) + T - 1) * V, all.data() + (r * T + T) * V,
                  logits.data() + r * V);
    }
    // Never generate pad (it is the decoder start token), as HF's Marian does by setting its
    // logit to -inf during generation. The log-softmax's exp takes -inf to 0.
    const int64_t V = logits.dim(1);
    const int32_t pad = model_.config().pad_token_id;
    for (int64_t r = 0; r < N; ++r) logits.data()[r * V + pad] = -INFINITY;
    return ops::log_softmax(logits);
  }

  // Row r continues from row from[r]: its prefix and its cached keys and values.
  void reorder(const std::vector<int64_t>& from) {
    std::vector<std::vector<int32_t>> prefix(from.size());
    for (std::size_t r = 0; r < from.size(); ++r) prefix[r] = prefix_[from[r]];
    prefix_ = std::move(prefix);
    if (!use_cache_) return;
    // Only rows that change move, and only their valid positions: the buffers hold capacity
    // positions of every row and head, most of them not yet written.
    std::vector<int64_t> moved;
    for (std::size_t r = 0; r < from.size(); ++r)
      if (from[r] != static_cast<int64_t>(r)) moved.push_back(static_cast<int64_t>(r));
    if (moved.empty()) return;
    KvCache& self = cache_[0].self;
    const int64_t H = self.n_head(), S = self.capacity(), hd = self.head_dim();
    const int64_t valid = self.length() * hd;  // floats per (row, head) worth keeping
    std::vector<float> staging(moved.size() * static_cast<std::size_t>(H * valid));
    for (int64_t l = 0; l < self.n_layer(); ++l)
      for (const Tensor& t : {self.keys(l), self.values(l)}) {
        float* base = t.data();
        float* stage = staging.data();
        for (int64_t r : moved)  // gather every source first: a source may also be moved
          for (int64_t h = 0; h < H; ++h, stage += valid) {
            const float* src = base + (from[r] * H + h) * S * hd;
            std::copy(src, src + valid, stage);
          }
        stage = staging.data();
        for (int64_t r : moved)
          for (int64_t h = 0; h < H; ++h, stage += valid)
            std::copy(stage, stage + valid, base + (r * H + h) * S * hd);
      }
    // Cross-attention keys and values need no reordering: beams only move within a source.
  }

 private:
  const MarianMTModel& model_;
  Tensor mask_, encoder_;
  bool use_cache_;
  std::vector<MarianDecoderCache> cache_;  // one element when use_cache (no default ctor)
  std::vector<std::vector<int32_t>> prefix_;
};

void check_decoding(const MarianMTModel& model, const Tensor& input_ids,
                    const DecodeOptions& options, const char* where) {
  KILN_CHECK(input_ids.defined() && input_ids.rank() == 2 && input_ids.dtype() == DType::kI32 &&
                 input_ids.dim(0) > 0 && input_ids.dim(1) > 0,
             where, ": expected int32 input_ids [B, S] with B, S > 0, got ",
             input_ids.defined() ? shape_str(input_ids.shape()) : "an undefined tensor");
  KILN_CHECK(options.max_new_tokens > 0 &&
                 options.max_new_tokens <= model.config().max_position_embeddings,
             where, ": expected max_new_tokens in [1, max_position_embeddings = ",
             model.config().max_position_embeddings, "], got ", options.max_new_tokens);
  KILN_CHECK(options.beam > 0, where, ": expected beam >= 1, got ", options.beam);
  KILN_CHECK(!model.is_training(), where,
             ": expected the model in evaluation mode (train(false)), got training mode");
}

// The index of row r's largest value (the first on ties).
int32_t argmax_row(const float* row, int64_t V) {
  int64_t best = 0;
  for (int64_t j = 1; j < V; ++j)
    if (row[j] > row[best]) best = j;
  return static_cast<int32_t>(best);
}

}  // namespace

Translations greedy_decode(const MarianMTModel& model, const Tensor& input_ids,
                           const Tensor& attention_mask, const DecodeOptions& options) {
  check_decoding(model, input_ids, options, "greedy_decode");
  const int64_t B = input_ids.dim(0), V = model.config().vocab_size;
  const int32_t pad = model.config().pad_token_id, eos = model.config().eos_token_id;
  Stepper stepper(model, input_ids, attention_mask, options.max_new_tokens, options.use_cache);
  Translations out(static_cast<std::size_t>(B));
  std::vector<bool> finished(static_cast<std::size_t>(B), false);
  std::vector<int32_t> last(static_cast<std::size_t>(B), pad);  // the decoder start token
  for (int64_t t = 0; t < options.max_new_tokens; ++t) {
    Tensor logp = stepper.step(last);  // [B, V]
    bool all_done = true;
    for (int64_t b = 0; b < B; ++b) {
      if (finished[b]) continue;  // keeps feeding pad; its outputs are ignored
      const int32_t token = argmax_row(logp.data() + b * V, V);
      if (token == eos) {
        finished[b] = true;
        last[b] = pad;
        continue;
      }
      out[b].push_back(token);
      last[b] = token;
      all_done = false;
    }
    if (all_done) break;
  }
  return out;
}

namespace {

struct Candidate {
  double score;  // the beam's summed log-prob plus this token's
  int64_t beam;  // which of the source's K beams it extends
  int64_t rank;  // the token's rank within that beam's row
  int32_t token;
};

struct Hypothesis {
  double score;  // sum log p / length^length_penalty
  std::vector<int32_t> tokens;
};

// Keeps the K best finished hypotheses of one source, as HF's BeamHypotheses.
void add_hypothesis(std::vector<Hypothesis>& hyps, int64_t K, double sum_logprobs, int64_t length,
                    float length_penalty, std::vector<int32_t> tokens) {
  // HF divides by length^penalty; an eos as the very first token (length 0) scores -inf.
  const double score = length == 0 ? -std::numeric_limits<double>::infinity()
                                   : sum_logprobs / std::pow(double(length), length_penalty);
  if (static_cast<int64_t>(hyps.size()) == K) {
    auto worst = std::min_element(hyps.begin(), hyps.end(),
                                  [](const auto& a, const auto& b) { return a.score < b.score; });
    if (score <= worst->score) return;
    hyps.erase(worst);
  }
  hyps.push_back({score, std::move(tokens)});
}

}  // namespace

Translations beam_search(const MarianMTModel& model, const Tensor& input_ids,
                         const Tensor& attention_mask, const DecodeOptions& options) {
  check_decoding(model, input_ids, options, "beam_search");
  const int64_t B = input_ids.dim(0), K = options.beam, N = B * K;
  const int64_t V = model.config().vocab_size;
  const int32_t pad = model.config().pad_token_id, eos = model.config().eos_token_id;
  Stepper stepper(model, repeat_rows(input_ids, K), repeat_rows(attention_mask, K),
                  options.max_new_tokens, options.use_cache);
  // Row b * K + k is source b's beam k. Only beam 0 is live at first (the others start at
  // -1e9, as in HF), so the first step does not pick the same token K times.
  std::vector<double> beam_score(static_cast<std::size_t>(N), 0.0);
  for (int64_t r = 0; r < N; ++r) beam_score[r] = r % K == 0 ? 0.0 : -1e9;
  std::vector<std::vector<int32_t>> tokens(static_cast<std::size_t>(N));
  std::vector<std::vector<Hypothesis>> hyps(static_cast<std::size_t>(B));
  std::vector<bool> done(static_cast<std::size_t>(B), false);
  std::vector<int32_t> last(static_cast<std::size_t>(N), pad);
  std::vector<int64_t> order(static_cast<std::size_t>(V));
  for (int64_t t = 0; t < options.max_new_tokens; ++t) {
    Tensor logp = stepper.step(last);  // [N, V]
    std::vector<int64_t> from(static_cast<std::size_t>(N));
    std::vector<double> next_score = beam_score;
    std::vector<std::vector<int32_t>> next_tokens(static_cast<std::size_t>(N));
    for (int64_t r = 0; r < N; ++r) from[r] = r;
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) {
        for (int64_t k = 0; k < K; ++k) last[b * K + k] = pad;
        continue;
      }
      // Each beam's 2K best tokens (the first index on ties) hold the source's 2K best.
      std::vector<Candidate> candidates;
      for (int64_t k = 0; k < K; ++k) {
        const float* row = logp.data() + (b * K + k) * V;
        for (int64_t j = 0; j < V; ++j) order[j] = j;
        const int64_t top = std::min<int64_t>(2 * K, V);
        std::partial_sort(
            order.begin(), order.begin() + top, order.end(),
            [row](int64_t x, int64_t y) { return row[x] > row[y] || (row[x] == row[y] && x < y); });
        for (int64_t i = 0; i < top; ++i)
          candidates.push_back(
              {beam_score[b * K + k] + row[order[i]], k, i, static_cast<int32_t>(order[i])});
      }
      // Best first; ties keep beam order, then the within-beam rank (so K = 1 is greedy).
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const Candidate& x, const Candidate& y) { return x.score > y.score; });
      candidates.resize(std::min<std::size_t>(candidates.size(), static_cast<std::size_t>(2 * K)));
      int64_t filled = 0;
      for (std::size_t i = 0; i < candidates.size() && filled < K; ++i) {
        const Candidate& c = candidates[i];
        const int64_t src = b * K + c.beam;
        if (c.token == eos) {
          if (static_cast<int64_t>(i) >= K) continue;  // HF: an eos outside the top K is dropped
          add_hypothesis(hyps[b], K, c.score, t, options.length_penalty, tokens[src]);
          continue;
        }
        const int64_t dst = b * K + filled++;
        from[dst] = src;
        next_score[dst] = c.score;
        next_tokens[dst] = tokens[src];
        next_tokens[dst].push_back(c.token);
        last[dst] = c.token;
      }
      done[b] = static_cast<int64_t>(hyps[b].size()) >= K;
    }
    for (int64_t b = 0; b < B; ++b)
      if (done[b])
        for (int64_t k = 0; k < K; ++k) next_tokens[b * K + k] = tokens[b * K + k];
    tokens = std::move(next_tokens);
    beam_score = std::move(next_score);
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    stepper.reorder(from);
  }
  Translations out(static_cast<std::size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    // Sources still running at max_new_tokens: their beams count as finished (HF's finalize).
    if (!done[b])
      for (int64_t k = 0; k < K; ++k)
        add_hypothesis(hyps[b], K, beam_score[b * K + k],
                       static_cast<int64_t>(tokens[b * K + k].size()), options.length_penalty,
                       tokens[b * K + k]);
    const auto best = std::max_element(
        hyps[b].begin(), hyps[b].end(),
        [](const Hypothesis& x, const Hypothesis& y) { return x.score < y.score; });
    if (best != hyps[b].end()) out[b] = best->tokens;
  }
  return out;
}

}  // namespace kiln::nn
