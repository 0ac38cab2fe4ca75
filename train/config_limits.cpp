// The memory a config implies, and the check that refuses a config before anything is
// allocated for it: a model with a million layers fails in a millisecond naming the key, not
// after minutes of allocation with std::bad_alloc.
#include "train/config_limits.h"

#include <unistd.h>

#include <utility>
#include <vector>

#include <fmt/format.h>

namespace kiln {

bool checked_mul(int64_t a, int64_t b, int64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

bool checked_add(int64_t a, int64_t b, int64_t& out) {
  return !__builtin_add_overflow(a, b, &out);
}

namespace {

// Accumulates a sum of products, remembering overflow and the largest term's key.
class SizeSum {
 public:
  // Adds the product of `factors` as a term attributed to `key`.
  void add(const std::string& key, std::initializer_list<int64_t> factors) {
    int64_t term = 1;
    for (int64_t f : factors) overflow_ = overflow_ || !checked_mul(term, f, term);
    if (overflow_) {
      if (dominant_.empty()) dominant_ = key;
      return;
    }
    overflow_ = !checked_add(total_, term, total_);
    if (term > largest_ || overflow_) {
      largest_ = term;
      dominant_ = key;
    }
  }
  int64_t total() const { return total_; }
  bool overflow() const { return overflow_; }
  const std::string& dominant() const { return dominant_; }

 private:
  int64_t total_ = 0, largest_ = -1;
  bool overflow_ = false;
  std::string dominant_;
};

}  // namespace

ModelMemory model_memory(const Config& c) {
  const int64_t d = c.model.d_model, f = c.model.d_ff, layers = c.model.n_layer;
  const int64_t vocab = c.model.vocab_size.value_or(0), positions = c.model.max_seq_len;
  // Parameters: per layer attention (4 d x d + biases), the MLP (2 d x f + biases) and two
  // layer norms; token and position tables; BERT's extra pooler and MLM transform.
  SizeSum params;
  params.add("model.n_layer", {layers, 4 * d * d + 2 * d * f + f + 9 * d});
  params.add("model.vocab_size", {vocab, d});
  params.add("model.max_seq_len", {positions, d});
  params.add("model.d_model", {2 * d + 4, d});
  // Bytes: weights, gradients and AdamW's two moments (16 bytes a parameter), plus the
  // activations saved for backward, roughly (10 d + 2 f) floats per token per layer and the
  // logits, for one micro-batch.
  SizeSum bytes;
  bytes.add(params.dominant(), {params.total(), 16});
  const int64_t tokens = static_cast<int64_t>(c.train.batch_size) * c.train.seq_len;
  bytes.add("train.batch_size", {tokens, layers, 10 * d + 2 * f, 4});
  bytes.add("train.batch_size", {tokens, vocab, 8});
  ModelMemory m;
  m.parameters = params.total();
  m.bytes = bytes.total();
  m.overflow = params.overflow() || bytes.overflow();
  m.dominant_key = bytes.dominant();
  return m;
}

int64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  int64_t total = 0;
  if (pages <= 0 || page <= 0 || !checked_mul(pages, page, total)) return 0;
  return total;
}

std::string format_bytes(double bytes) {
  static const char* kUnits[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 6) {
    bytes /= 1000;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} {}", bytes, kUnits[unit])
                   : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

void check_model_memory(const Config& c, const ConfigWhere& where) {
  const ModelMemory m = model_memory(c);
  const int64_t available = physical_memory_bytes();
  if (!m.overflow && (available == 0 || m.bytes <= available)) return;
  const std::string& key = m.dominant_key;
  std::string value = config_value(c, key);
  std::string need = m.overflow ? "more than 9.2 EB (the sizes overflow 64-bit arithmetic)"
                                : "about " + format_bytes(static_cast<double>(m.bytes));
  std::string detail = m.overflow ? ""
                                  : " (" + std::to_string(m.parameters) +
                                        " parameters at 16 bytes each for weights, gradients "
                                        "and AdamW moments, plus activations)";
  throw_config_error(where(key), key,
                     value + " makes training need " + need + detail + ", more than this " +
                         "machine's " + format_bytes(static_cast<double>(available)) +
                         " of memory");
}

}  // namespace kiln
