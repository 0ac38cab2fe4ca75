// Aligned allocation for tensor storage.
#include "autograd/allocator.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace kiln {

namespace {

std::atomic<std::size_t> live_bytes{0}, peak_bytes{0};

}  // namespace

std::shared_ptr<void> allocate_bytes(std::size_t bytes) {
  // aligned_alloc needs a size that is a multiple of the alignment; never ask for zero.
  std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr) throw std::bad_alloc();
  const std::size_t live = live_bytes.fetch_add(rounded, std::memory_order_relaxed) + rounded;
  std::size_t peak = peak_bytes.load(std::memory_order_relaxed);
  while (live > peak && !peak_bytes.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  return std::shared_ptr<void>(p, [rounded](void* q) {
    live_bytes.fetch_sub(rounded, std::memory_order_relaxed);
    std::free(q);
  });
}

std::size_t live_tensor_bytes() {
  return live_bytes.load(std::memory_order_relaxed);
}

std::size_t peak_tensor_bytes() {
  return peak_bytes.load(std::memory_order_relaxed);
}

void reset_peak_tensor_bytes() {
  peak_bytes.store(live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace kiln
