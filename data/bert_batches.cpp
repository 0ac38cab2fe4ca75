// BertBatches and BertEvalSet: choosing instances, masking them and padding the rows.
#include "data/bert_batches.h"

#include <algorithm>
#include <utility>

#include "base/error.h"
#include "base/rng.h"

namespace kiln {

BertBatch rows_of(const BertBatch& batch, int begin, int end) {
  const std::ptrdiff_t T = batch.seq_len;
  auto part = [&](const std::vector<int32_t>& v, std::ptrdiff_t width) {
    return std::vector<int32_t>(v.begin() + begin * width, v.begin() + end * width);
  };
  BertBatch out;
  out.batch_size = end - begin;
  out.seq_len = batch.seq_len;
  out.input_ids = part(batch.input_ids, T);
  out.token_type_ids = part(batch.token_type_ids, T);
  out.attention_mask = part(batch.attention_mask, T);
  out.mlm_labels = part(batch.mlm_labels, T);
  out.nsp_labels = part(batch.nsp_labels, 1);
  return out;
}
namespace {

void check_instances(const BertInstances& instances, int batch_size, int seq_len,
                     const std::string& split) {
  KILN_CHECK(batch_size > 0, "bert_batches: expected batch_size > 0, got ", batch_size);
  KILN_CHECK(!instances.empty(), "bert_batches: split '", split,
             "' has no instances; expected at least one");
  for (size_t k = 0; k < instances.size(); ++k) {
    KILN_CHECK(instances[k].size() <= seq_len, "bert_batches: split '", split, "' instance ", k,
               " has ", instances[k].size(), " tokens; expected at most max_seq_len = ", seq_len);
  }
}

void resize(BertBatch& out, int batch_size, int seq_len) {
  out.batch_size = batch_size;
  out.seq_len = seq_len;
  const size_t size = static_cast<size_t>(batch_size) * seq_len;
  out.input_ids.resize(size);
  out.token_type_ids.resize(size);
  out.attention_mask.resize(size);
  out.mlm_labels.resize(size);
  out.nsp_labels.resize(static_cast<size_t>(batch_size));
}

// Row `row` of `out`: the masked instance, then padding to seq_len.
void write_row(const BertMasker& masker, const BertInstanceView& instance, uint64_t mask_seed,
               int row, BertBatch& out) {
  const size_t at = static_cast<size_t>(row) * out.seq_len;
  const int n = instance.size();
  int32_t* ids = out.input_ids.data() + at;
  int32_t* labels = out.mlm_labels.data() + at;
  masker.mask(instance, mask_seed, ids, labels);
  std::fill(ids + n, ids + out.seq_len, masker.special().pad);
  std::fill(labels + n, labels + out.seq_len, kMlmIgnoreLabel);
  int32_t* types = out.token_type_ids.data() + at;
  std::fill(types, types + instance.b_start, 0);
  std::fill(types + instance.b_start, types + n, 1);
  std::fill(types + n, types + out.seq_len, 0);
  int32_t* attention = out.attention_mask.data() + at;
  std::fill(attention, attention + n, 1);
  std::fill(attention + n, attention + out.seq_len, 0);
  out.nsp_labels[static_cast<size_t>(row)] = instance.is_random_next ? 1 : 0;
}

}  // namespace

BertBatches::BertBatches(BertInstances instances, BertSpecialTokens special,
                         const BertExampleOptions& options, int batch_size, uint64_t seed,
                         std::string split)
    : instances_(std::move(instances)),
      masker_(std::move(special), options),
      batch_size_(batch_size),
      seq_len_(options.max_seq_len),
      seed_(seed) {
  check_instances(instances_, batch_size, seq_len_, split);
}

size_t BertBatches::instance_index(uint64_t step, int row) const {
  // Modulo bias is below size() / 2^64: negligible.
  return static_cast<size_t>(random_bits(derive_seed(seed_, step), static_cast<uint64_t>(row)) %
                             instances_.size());
}

void BertBatches::fill(uint64_t step, BertBatch& out) const {
  resize(out, batch_size_, seq_len_);
  const uint64_t step_seed = derive_seed(seed_, step);
  for (int row = 0; row < batch_size_; ++row) {
    // derive_seed hashes step_seed differently from random_bits(step_seed, row) above, so the
    // mask is independent of the choice of instance.
    write_row(masker_, instances_[instance_index(step, row)],
              derive_seed(step_seed, static_cast<uint64_t>(row)), row, out);
  }
}

BertBatch BertBatches::batch(uint64_t step) const {
  BertBatch out;
  fill(step, out);
  return out;
}

BertEvalSet::BertEvalSet(BertInstances instances, BertSpecialTokens special,
                         const BertExampleOptions& options, int batch_size, int num_examples,
                         uint64_t seed, std::string split)
    : instances_(std::move(instances)),
      masker_(std::move(special), options),
      batch_size_(batch_size),
      seq_len_(options.max_seq_len),
      num_examples_(num_examples),
      seed_(seed) {
  check_instances(instances_, batch_size, seq_len_, split);
  KILN_CHECK(num_examples > 0, "bert_batches: expected num_examples > 0 for split '", split,
             "', got ", num_examples);
}

int BertEvalSet::num_batches() const {
  return (num_examples_ + batch_size_ - 1) / batch_size_;
}

void BertEvalSet::fill(int index, BertBatch& out) const {
  KILN_CHECK(index >= 0 && index < num_batches(),
             "bert_batches: expected an eval batch index in [0, ", num_batches(), "), got ", index);
  const int first = index * batch_size_;
  const int rows = std::min(batch_size_, num_examples_ - first);
  resize(out, rows, seq_len_);
  // floor(j * n / num_examples) without overflowing j * n: split n into q * num_examples + r;
  // then j * r < num_examples^2 < 2^62.
  const auto total = static_cast<uint64_t>(num_examples_);
  const uint64_t q = instances_.size() / total;
  const uint64_t r = instances_.size() % total;
  for (int row = 0; row < rows; ++row) {
    const auto j = static_cast<uint64_t>(first + row);
    write_row(masker_, instances_[j * q + j * r / total], derive_seed(seed_, j), row, out);
  }
}

BertBatch BertEvalSet::batch(int index) const {
  BertBatch out;
  fill(index, out);
  return out;
}

}  // namespace kiln
