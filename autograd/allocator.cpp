// Aligned allocation for tensor storage, with a cache of large blocks.
#include "autograd/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace kiln {
namespace {

// Why cache: a training step allocates the same large buffers every step (activations, logits,
// their gradients). glibc serves blocks above its mmap threshold (at most 32 MiB) with fresh
// mappings and gives them back on free, so every step faulted in and zeroed them again:
// BERT-Mini's 39 MiB MLM logits and their gradient made ~28k page faults (110 MiB) a step.
// Smaller blocks stay with malloc, which recycles them itself.
constexpr std::size_t kCachedMinBytes = std::size_t{1} << 20;
// Freed blocks are kept while the cache holds at most this much; beyond it they are freed.
// A training step reuses exactly its own sizes, so the cache stays at one step's activations.
constexpr std::size_t kCacheLimitBytes = std::size_t{2} << 30;

class BlockCache {
 public:
  void* take(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(bytes);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_bytes_ -= bytes;
    return p;
  }

  // Keeps `p` for reuse, or frees it when the cache is full.
  void give(void* p, std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + bytes <= kCacheLimitBytes) {
        free_[bytes].push_back(p);
        cached_bytes_ += bytes;
        return;
      }
    }
    std::free(p);
  }

  // Frees every cached block (when the system runs out of memory).
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_bytes_ = 0;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;  // by exact rounded size
  std::size_t cached_bytes_ = 0;
};

// Never destroyed: tensors with static storage duration may be freed after any destructor.
BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache;
  return *cache;
}

}  // namespace

std::shared_ptr<void> allocate_bytes(std::size_t bytes) {
  // aligned_alloc needs a size that is a multiple of the alignment; never ask for zero.
  std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  if (rounded < kCachedMinBytes) {
    void* p = std::aligned_alloc(kAlignment, rounded);
    if (p == nullptr) throw std::bad_alloc();
    return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  }
  void* p = block_cache().take(rounded);
  if (p == nullptr) p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr) {
    block_cache().release();
    p = std::aligned_alloc(kAlignment, rounded);
  }
  if (p == nullptr) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [rounded](void* q) { block_cache().give(q, rounded); });
}

}  // namespace kiln
