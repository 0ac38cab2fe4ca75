// Sampling one token from logits, the repetition penalty, and the generation loop (cached or
// re-running the window).
#include "train/sampling.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/rng.h"

namespace kiln {

namespace {

// The tokens a draw may pick, in ascending id order: every token, or the top_k most likely and
// of those the smallest most-likely prefix whose probability reaches top_p.
std::vector<int32_t> candidates(const float* logits, int64_t vocab_size,
                                const SamplingOptions& options, float top) {
  std::vector<int32_t> ids(static_cast<std::size_t>(vocab_size));
  std::iota(ids.begin(), ids.end(), 0);
  if (options.top_k <= 0 && options.top_p >= 1.0f) return ids;
  // By descending logit, ties by id, so the cut is deterministic.
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::size_t keep = ids.size();
  if (options.top_k > 0)
    keep = std::min<std::size_t>(keep, static_cast<std::size_t>(options.top_k));
  if (options.top_p < 1.0f) {
    std::vector<double> p(keep);
    double total = 0;
    for (std::size_t i = 0; i < keep; ++i)
      total += p[i] = std::exp((logits[ids[i]] - top) / options.temperature);
    double running = 0;
    std::size_t i = 0;
    while (i < keep && running < options.top_p * total) running += p[i++];
    keep = std::max<std::size_t>(i, 1);
  }
  ids.resize(keep);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

int32_t sample_token(const float* logits, int64_t vocab_size, const SamplingOptions& options,
                     uint64_t draw) {
  if (options.temperature <= 0.0f)
    return static_cast<int32_t>(std::max_element(logits, logits + vocab_size) - logits);
  const float top = *std::max_element(logits, logits + vocab_size);
  const std::vector<int32_t> ids = candidates(logits, vocab_size, options, top);
  std::vector<double> p(ids.size());
  double total = 0;
  for (std::size_t i = 0; i < ids.size(); ++i)
    total += p[i] = std::exp((logits[ids[i]] - top) / options.temperature);
  // The inverse CDF is walked in id order, not by probability: logits that differ in their last
  // bits (the cached and the full forward pass round differently) then change the pick only when
  // u lands within that difference of a boundary. Walking a sorted order, two near-equal logits
  // that swap places would change it almost every time on a flat distribution.
  double u = random_uniform(options.seed, draw) * total;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (u < p[i]) return ids[i];
    u -= p[i];
  }
  return ids.back();
}

void apply_repetition_penalty(float* logits, int64_t vocab_size, std::span<const int32_t> ids,
                              float penalty) {
  KILN_CHECK(penalty > 0.0f, "repetition penalty: expected a value > 0, got ", penalty);
  std::vector<bool> seen(static_cast<std::size_t>(vocab_size));
  for (int32_t id : ids) {
    KILN_CHECK(id >= 0 && id < vocab_size, "repetition penalty: expected token ids in [0, ",
               vocab_size, "), got ", id);
    if (seen[static_cast<std::size_t>(id)]) continue;
    seen[static_cast<std::size_t>(id)] = true;
    float& logit = logits[id];
    logit = logit > 0.0f ? logit / penalty : logit * penalty;
  }
}

void check_sampling_options(const SamplingOptions& o) {
  // The token list grows by one id per new token; a limit keeps a typo from running for hours.
  KILN_CHECK(o.max_new_tokens >= 0 && o.max_new_tokens <= kMaxNewTokens,
             "sampling: expected max_new_tokens in [0, ", kMaxNewTokens, "], got ",
             o.max_new_tokens);
  KILN_CHECK(o.temperature >= 0.0f && std::isfinite(o.temperature),
             "sampling: expected a finite temperature >= 0, got ", o.temperature);
  KILN_CHECK(o.top_k >= 0, "sampling: expected top_k >= 0, got ", o.top_k);
  KILN_CHECK(o.top_p > 0.0f && o.top_p <= 1.0f, "sampling: expected top_p in (0, 1], got ",
             o.top_p);
  KILN_CHECK(o.repetition_penalty > 0.0f && std::isfinite(o.repetition_penalty),
             "sampling: expected a finite repetition_penalty > 0, got ", o.repetition_penalty);
}

namespace {

// Logits [1, T, V] whose last row predicts the token after `ids`. With a cache that holds
// every token but the last, only that token runs; otherwise (the prompt, a full cache, or no
// cache) the last max_seq_len tokens run from position 0, refilling the cache.
Tensor next_logits(const nn::Gpt& model, const std::vector<int32_t>& ids, nn::KvCache* cache) {
  const int64_t n = static_cast<int64_t>(ids.size()), window = model.config().max_seq_len;
  if (cache && cache->length() == n - 1 && !cache->full())
    return model.forward_cached(Tensor::from_ints({1, 1}, {ids.back()}), *cache);
  const int64_t begin = std::max<int64_t>(0, n - window);
  Tensor input =
      Tensor::from_ints({1, n - begin}, std::vector<int32_t>(ids.begin() + begin, ids.end()));
  if (!cache) return model.forward(input);
  cache->clear();
  return model.forward_cached(input, *cache);
}

}  // namespace

Generation generate(const nn::Gpt& model, std::vector<int32_t> prompt_ids,
                    const SamplingOptions& options, const std::function<void(int32_t)>& on_token,
                    const Decoder& decode) {
  KILN_CHECK(!prompt_ids.empty(), "generate: expected a prompt of at least one token, got none");
  KILN_CHECK(options.stop.empty() || decode,
             "generate: expected a decoder to match the stop string \"", options.stop,
             "\", got none");
  check_sampling_options(options);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  NoGradGuard no_grad;
  const int64_t vocab = model.config().vocab_size;
  const std::size_t prompt_length = prompt_ids.size();
  Generation result;
  result.ids = std::move(prompt_ids);
  std::vector<int32_t>& ids = result.ids;
  std::optional<nn::KvCache> cache;
  if (options.use_cache) cache.emplace(model.make_kv_cache(1));
  std::vector<float> row(static_cast<std::size_t>(vocab));
  for (int n = 0; n < options.max_new_tokens; ++n) {
    Tensor logits = next_logits(model, ids, cache ? &*cache : nullptr);  // [1, T, V]
    if (n == 0) result.prompt_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const float* last = logits.data() + (logits.dim(1) - 1) * vocab;
    std::copy(last, last + vocab, row.begin());
    if (options.repetition_penalty != 1.0f)
      apply_repetition_penalty(row.data(), vocab, ids, options.repetition_penalty);
    const int32_t next = sample_token(row.data(), vocab, options, static_cast<uint64_t>(n));
    ids.push_back(next);
    ++result.new_tokens;
    if (on_token) on_token(next);
    // Decoding all the generated text each time is microseconds next to a forward pass, and
    // stays right for tokenizers whose text is not a concatenation of per-token pieces.
    if (!options.stop.empty() &&
        decode(std::span<const int32_t>(ids).subspan(prompt_length)).ends_with(options.stop)) {
      result.stopped = true;
      break;
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace kiln
