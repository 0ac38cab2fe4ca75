// Sampling one token from logits, and the generation loop.
#include "train/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/tape.h"
#include "base/error.h"
#include "base/rng.h"

namespace kiln {

int32_t sample_token(const float* logits, int64_t vocab_size, const SamplingOptions& options,
                     uint64_t draw) {
  if (options.temperature <= 0.0f)
    return static_cast<int32_t>(std::max_element(logits, logits + vocab_size) - logits);
  // Candidates by descending logit (ties by id, so the order is deterministic).
  std::vector<int32_t> order(static_cast<std::size_t>(vocab_size));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::size_t keep = order.size();
  if (options.top_k > 0)
    keep = std::min<std::size_t>(keep, static_cast<std::size_t>(options.top_k));
  std::vector<double> p(keep);
  const double top = logits[order[0]];
  double total = 0;
  for (std::size_t i = 0; i < keep; ++i)
    total += p[i] = std::exp((logits[order[i]] - top) / options.temperature);
  if (options.top_p < 1.0f) {
    // Smallest prefix whose probability reaches top_p (always at least one token).
    double running = 0;
    std::size_t i = 0;
    while (i < keep && running < options.top_p * total) running += p[i++];
    keep = std::max<std::size_t>(i, 1);
    total = running > 0 ? running : p[0];
  }
  double u = random_uniform(options.seed, draw) * total;
  for (std::size_t i = 0; i < keep; ++i) {
    if (u < p[i]) return order[i];
    u -= p[i];
  }
  return order[keep - 1];
}

std::vector<int32_t> generate(const nn::Gpt& model, std::vector<int32_t> ids,
                              const SamplingOptions& options,
                              const std::function<void(int32_t)>& on_token) {
  KILN_CHECK(!ids.empty(), "generate: expected a prompt of at least one token, got none");
  NoGradGuard no_grad;
  const int64_t window = model.config().max_seq_len, vocab = model.config().vocab_size;
  for (int n = 0; n < options.max_new_tokens; ++n) {
    const int64_t begin = std::max<int64_t>(0, static_cast<int64_t>(ids.size()) - window);
    const int64_t length = static_cast<int64_t>(ids.size()) - begin;
    Tensor input =
        Tensor::from_ints({1, length}, std::vector<int32_t>(ids.begin() + begin, ids.end()));
    Tensor logits = model.forward(input);  // [1, length, V]
    int32_t next = sample_token(logits.data() + (length - 1) * vocab, vocab, options,
                                static_cast<uint64_t>(n));
    ids.push_back(next);
    if (on_token) on_token(next);
  }
  return ids;
}

}  // namespace kiln
