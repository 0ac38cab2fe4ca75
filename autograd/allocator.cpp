// Aligned allocation for tensor storage.
#include "autograd/allocator.h"

#include <cstdlib>
#include <new>

namespace kiln {

std::shared_ptr<void> allocate_bytes(std::size_t bytes) {
  // aligned_alloc needs a size that is a multiple of the alignment; never ask for zero.
  std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace kiln
