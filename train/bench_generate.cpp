// KV-cached decoding timed for `kiln bench --generate` (train/bench_generate.h).
#include "train/bench_generate.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/rng.h"
#include "train/sampling.h"

namespace kiln {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::vector<int32_t> random_prompt(int64_t rows, int64_t length, int64_t vocab, uint64_t seed) {
  std::vector<int32_t> ids(static_cast<std::size_t>(rows * length));
  for (std::size_t i = 0; i < ids.size(); ++i)
    ids[i] = static_cast<int32_t>(random_bits(seed, i) % static_cast<uint64_t>(vocab));
  return ids;
}

// Each row's argmax over the last position of logits [B, T, V] (the first of ties, as
// sample_token's greedy choice).
std::vector<int32_t> last_argmax(const Tensor& logits) {
  const int64_t B = logits.dim(0), T = logits.dim(1), V = logits.dim(2);
  std::vector<int32_t> next(static_cast<std::size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const float* row = logits.data() + (b * T + T - 1) * V;
    next[static_cast<std::size_t>(b)] = static_cast<int32_t>(std::max_element(row, row + V) - row);
  }
  return next;
}

}  // namespace

GenerateBenchResult bench_generate(const nn::Gpt& model, int64_t batch, int64_t prompt_len,
                                   int64_t new_tokens, uint64_t seed) {
  const nn::GptConfig& c = model.config();
  KILN_CHECK(prompt_len >= 1 && new_tokens >= 1 && prompt_len + new_tokens <= c.max_seq_len,
             "bench --generate: expected prompt and new tokens to fit in ", c.max_seq_len,
             " positions, got ", prompt_len, " + ", new_tokens);
  NoGradGuard no_grad;
  GenerateBenchResult r;
  nn::KvCache cache = model.make_kv_cache(batch);
  auto start = Clock::now();
  Tensor logits = model.forward_cached(
      Tensor::from_ints({batch, prompt_len}, random_prompt(batch, prompt_len, c.vocab_size, seed)),
      cache);
  r.prefill_ms = ms_since(start);
  std::vector<double> step_ms;
  double total_ms = 0, cache_bytes = 0;
  for (int64_t n = 0; n < new_tokens; ++n) {
    std::vector<int32_t> next = last_argmax(logits);
    r.first_row.push_back(next[0]);
    if (n + 1 == new_tokens) break;  // the last token needs no forward pass
    // Keys and values of every cached position and the new one, in every layer, are read.
    cache_bytes += 2.0 * double(c.n_layer) * double(batch) * double(cache.length() + 1) *
                   double(c.d_model) * sizeof(float);
    start = Clock::now();
    logits = model.forward_cached(Tensor::from_ints({batch, 1}, next), cache);
    step_ms.push_back(ms_since(start));
    total_ms += step_ms.back();
  }
  if (!step_ms.empty()) {
    std::nth_element(step_ms.begin(), step_ms.begin() + step_ms.size() / 2, step_ms.end());
    r.decode_ms_per_token = step_ms[step_ms.size() / 2];
    r.tokens_per_s = double(batch) * double(step_ms.size()) / (total_ms / 1e3);
    r.cache_bytes = cache_bytes / double(step_ms.size());
  }
  for (const Tensor& p : model.parameters()) r.weight_bytes += double(p.numel()) * sizeof(float);
  return r;
}

std::vector<int32_t> uncached_first_row(const nn::Gpt& model, int64_t prompt_len,
                                        int64_t new_tokens, uint64_t seed) {
  const int64_t vocab = model.config().vocab_size;
  // Row 0 of the batched prompt is the first prompt_len draws, whatever the batch.
  SamplingOptions greedy;
  greedy.max_new_tokens = static_cast<int>(new_tokens);
  greedy.temperature = 0.0f;
  greedy.use_cache = false;
  Generation g = generate(model, random_prompt(1, prompt_len, vocab, seed), greedy);
  return std::vector<int32_t>(g.ids.begin() + prompt_len, g.ids.end());
}

double measured_read_bandwidth_gbs() {
  const std::size_t n = std::size_t{1} << 27;  // 512 MB of floats
  std::vector<float> buffer(n, 1.0f);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = Clock::now();
    std::atomic<double> total{0.0};
    parallel_for(static_cast<int64_t>(n), 1 << 20, [&](int64_t b, int64_t e) {
      float lanes[16] = {};  // independent sums, so the loop vectorises
      int64_t i = b;
      for (; i + 16 <= e; i += 16)
        for (int j = 0; j < 16; ++j) lanes[j] += buffer[static_cast<std::size_t>(i + j)];
      double s = 0;
      for (; i < e; ++i) s += buffer[static_cast<std::size_t>(i)];
      for (float x : lanes) s += x;
      total.fetch_add(s);
    });
    const double seconds = ms_since(start) / 1e3;
    KILN_CHECK(total.load() == double(n), "bench: the bandwidth probe summed ", total.load(),
               ", not ", n);
    best = std::max(best, double(n) * sizeof(float) / seconds / 1e9);
  }
  return best;
}

}  // namespace kiln
