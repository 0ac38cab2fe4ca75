// GptBatches (random training windows keyed by step) and GptEvalBatches (fixed windows).
#include "data/gpt_batches.h"

#include <algorithm>
#include <utility>

#include "base/error.h"
#include "base/rng.h"

namespace kiln {
namespace {

// Bounds the evaluation rows so that the spacing arithmetic in fill() cannot overflow.
constexpr int64_t kMaxEvalRows = int64_t{1} << 31;

void check_shape(const std::vector<int32_t>& tokens, int batch_size, int seq_len,
                 const std::string& split) {
  KILN_CHECK(batch_size > 0, "gpt_batches: expected batch_size > 0, got ", batch_size);
  KILN_CHECK(seq_len > 0, "gpt_batches: expected seq_len > 0, got ", seq_len);
  KILN_CHECK(tokens.size() >= static_cast<size_t>(seq_len) + 1, "gpt_batches: corpus split '",
             split, "' has ", tokens.size(),
             " tokens; expected at least seq_len + 1 = ", static_cast<int64_t>(seq_len) + 1);
}

void resize(GptBatch& out, int batch_size, int seq_len) {
  out.batch_size = batch_size;
  out.seq_len = seq_len;
  const size_t size = static_cast<size_t>(batch_size) * seq_len;
  out.inputs.resize(size);
  out.targets.resize(size);
}

// Row `row` of `out` = tokens[offset, offset + T) and, one later, tokens[offset + 1, offset + T].
void copy_row(const std::vector<int32_t>& tokens, int64_t offset, int row, GptBatch& out) {
  const auto* first = tokens.data() + offset;
  const size_t at = static_cast<size_t>(row) * out.seq_len;
  std::copy(first, first + out.seq_len, out.inputs.data() + at);
  std::copy(first + 1, first + 1 + out.seq_len, out.targets.data() + at);
}

}  // namespace

GptBatches::GptBatches(std::vector<int32_t> tokens, int batch_size, int seq_len, uint64_t seed,
                       std::string split)
    : tokens_(std::move(tokens)), batch_size_(batch_size), seq_len_(seq_len), seed_(seed) {
  check_shape(tokens_, batch_size, seq_len, split);
}

int64_t GptBatches::row_offset(uint64_t step, int row) const {
  // Modulo bias is below (n - T) / 2^64: negligible for any corpus that fits in memory.
  const uint64_t starts = tokens_.size() - static_cast<size_t>(seq_len_);
  return static_cast<int64_t>(random_bits(derive_seed(seed_, step), row) % starts);
}

void GptBatches::fill(uint64_t step, GptBatch& out) const {
  resize(out, batch_size_, seq_len_);
  for (int row = 0; row < batch_size_; ++row) copy_row(tokens_, row_offset(step, row), row, out);
}

GptBatch GptBatches::batch(uint64_t step) const {
  GptBatch out;
  fill(step, out);
  return out;
}

GptEvalBatches::GptEvalBatches(std::vector<int32_t> tokens, int batch_size, int seq_len,
                               int num_batches, std::string split)
    : tokens_(std::move(tokens)),
      batch_size_(batch_size),
      seq_len_(seq_len),
      num_batches_(num_batches) {
  check_shape(tokens_, batch_size, seq_len, split);
  KILN_CHECK(num_batches > 0, "gpt_batches: expected num_batches > 0 for split '", split, "', got ",
             num_batches);
  KILN_CHECK(static_cast<int64_t>(num_batches) * batch_size <= kMaxEvalRows,
             "gpt_batches: expected num_batches * batch_size <= ", kMaxEvalRows, ", got ",
             static_cast<int64_t>(num_batches) * batch_size);
}

int64_t GptEvalBatches::window_count() const {
  return static_cast<int64_t>((tokens_.size() - 1) / static_cast<size_t>(seq_len_));
}

void GptEvalBatches::window(int64_t k, int32_t* inputs, int32_t* targets) const {
  KILN_CHECK(k >= 0 && k < window_count(), "gpt_batches: expected a window index in [0, ",
             window_count(), "), got ", k);
  const auto* first = tokens_.data() + k * seq_len_;
  std::copy(first, first + seq_len_, inputs);
  std::copy(first + 1, first + 1 + seq_len_, targets);
}

void GptEvalBatches::fill(int index, GptBatch& out) const {
  KILN_CHECK(index >= 0 && index < num_batches_,
             "gpt_batches: expected an eval batch index in [0, ", num_batches_, "), got ", index);
  resize(out, batch_size_, seq_len_);
  const int64_t rows_total = static_cast<int64_t>(num_batches_) * batch_size_;
  // floor(j * count / rows_total) without overflowing j * count: split count into
  // q * rows_total + r; then j * r < rows_total^2 <= 2^62.
  const int64_t q = window_count() / rows_total;
  const int64_t r = window_count() % rows_total;
  for (int row = 0; row < batch_size_; ++row) {
    const int64_t j = static_cast<int64_t>(index) * batch_size_ + row;
    const int64_t k = j * q + j * r / rows_total;
    copy_row(tokens_, k * seq_len_, row, out);
  }
}

GptBatch GptEvalBatches::batch(int index) const {
  GptBatch out;
  fill(index, out);
  return out;
}

}  // namespace kiln
