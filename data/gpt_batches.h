// Next-token batches for GPT training and evaluation. A training batch is a pure function of
// (seed, step), so a resumed run continues with no data replay whatever the thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

// B rows of T tokens: targets[b, t] is the token after inputs[b, t].
struct GptBatch {
  int batch_size = 0;
  int seq_len = 0;
  std::vector<int32_t> inputs;   // (B, T)
  std::vector<int32_t> targets;  // (B, T)
};

// Training batches: row r of batch `step` is tokens[o, o + T] with
// o = random_bits(derive_seed(seed, step), r) % (n - T).
class GptBatches {
 public:
  // `split` names the tokens in errors; they must number at least seq_len + 1.
  GptBatches(std::vector<int32_t> tokens, int batch_size, int seq_len, uint64_t seed,
             std::string split = "train");

  // Offset of the first token of row `row` of batch `step`.
  int64_t row_offset(uint64_t step, int row) const;
  // Refills `out` (reusing its buffers) with batch `step`.
  void fill(uint64_t step, GptBatch& out) const;
  GptBatch batch(uint64_t step) const;

  int batch_size() const { return batch_size_; }
  int seq_len() const { return seq_len_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }

 private:
  std::vector<int32_t> tokens_;
  int batch_size_;
  int seq_len_;
  uint64_t seed_;
};

// Evaluation data: all non-overlapping windows of a split, and a fixed set of batches drawn
// from them that is the same on every call, run and resume.
class GptEvalBatches {
 public:
  // `num_batches` batches of `batch_size` windows; the split needs at least seq_len + 1 tokens.
  GptEvalBatches(std::vector<int32_t> tokens, int batch_size, int seq_len, int num_batches,
                 std::string split = "validation");

  // Windows k = 0 .. window_count() - 1 start at k * T; each needs T + 1 tokens, so this is
  // (n - 1) / T and the windows' inputs cover tokens [0, window_count() * T).
  int64_t window_count() const;
  // Writes T inputs (tokens[k*T, k*T + T)) and T targets (the same, one token later).
  void window(int64_t k, int32_t* inputs, int32_t* targets) const;

  int num_batches() const { return num_batches_; }
  // Batch `index` in [0, num_batches): row r is window floor(j * window_count() / (num_batches
  // * B)) with j = index * B + r, so the batches spread evenly over the whole split (windows
  // repeat only when the split has fewer than num_batches * B of them).
  void fill(int index, GptBatch& out) const;
  GptBatch batch(int index) const;

 private:
  std::vector<int32_t> tokens_;
  int batch_size_;
  int seq_len_;
  int num_batches_;
};

}  // namespace kiln
