// KvCache: each layer's keys and values of the positions a GPT has already processed, so that
// decoding one more token costs one position instead of the whole window (Gpt::forward_cached).
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/tensor.h"
#include "base/error.h"

namespace kiln::nn {

class KvCache {
 public:
  // An empty cache for `batch` sequences of up to `capacity` positions, in n_layer layers of
  // n_head heads of head_dim values. The buffers are allocated once, here.
  KvCache(int64_t n_layer, int64_t batch, int64_t n_head, int64_t capacity, int64_t head_dim) {
    KILN_CHECK(n_layer > 0 && batch > 0 && n_head > 0 && capacity > 0 && head_dim > 0,
               "KvCache: expected positive n_layer, batch, n_head, capacity and head_dim, got ",
               n_layer, ", ", batch, ", ", n_head, ", ", capacity, ", ", head_dim);
    for (int64_t l = 0; l < n_layer; ++l) {
      keys_.push_back(Tensor::zeros({batch, n_head, capacity, head_dim}));
      values_.push_back(Tensor::zeros({batch, n_head, capacity, head_dim}));
    }
  }

  int64_t n_layer() const { return static_cast<int64_t>(keys_.size()); }
  int64_t batch() const { return keys_[0].dim(0); }
  int64_t n_head() const { return keys_[0].dim(1); }
  int64_t capacity() const { return keys_[0].dim(2); }
  int64_t head_dim() const { return keys_[0].dim(3); }
  // Positions cached so far (the same for every sequence of the batch).
  int64_t length() const { return length_; }
  bool full() const { return length_ == capacity(); }
  // Forgets every position; the buffers are kept for reuse.
  void clear() { length_ = 0; }

  // Layer `layer`'s keys and values: [B, H, capacity, hd], positions [0, length) valid. Each
  // (sequence, head) is one contiguous [capacity, hd] slab, so its first n rows are a view.
  const Tensor& keys(int64_t layer) const { return keys_[static_cast<std::size_t>(layer)]; }
  const Tensor& values(int64_t layer) const { return values_[static_cast<std::size_t>(layer)]; }
  // Marks n more positions valid, after every layer has written them.
  void advance(int64_t n) {
    KILN_CHECK(n >= 0 && length_ + n <= capacity(), "KvCache: expected at most ",
               capacity() - length_, " more positions, got ", n);
    length_ += n;
  }

 private:
  std::vector<Tensor> keys_, values_;
  int64_t length_ = 0;
};

}  // namespace kiln::nn
