// allocate_bytes: alignment, and the reuse of large blocks by exact size.
#include "autograd/allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace kiln {
namespace {

bool aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % kAlignment == 0;
}

TEST(AllocatorTest, SmallAndLargeBlocksAreAlignedAndWritable) {
  for (std::size_t bytes :
       {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{3} << 20}) {
    std::shared_ptr<void> block = allocate_bytes(bytes);
    ASSERT_NE(block.get(), nullptr);
    EXPECT_TRUE(aligned(block.get())) << bytes;
    std::memset(block.get(), 0xAB, bytes);
  }
}

TEST(AllocatorTest, ALargeBlockIsReusedForTheSameSizeOnly) {
  const std::size_t bytes = (std::size_t{5} << 20) + 12;  // rounded up to the alignment
  void* first = nullptr;
  {
    std::shared_ptr<void> block = allocate_bytes(bytes);
    first = block.get();
  }
  // Another size does not take the cached block; the same size (after rounding) does.
  std::shared_ptr<void> other = allocate_bytes(std::size_t{6} << 20);
  EXPECT_NE(other.get(), first);
  std::shared_ptr<void> again = allocate_bytes(bytes + 20);
  EXPECT_EQ(again.get(), first);
  // While it is owned, the same size gets a different block.
  std::shared_ptr<void> second = allocate_bytes(bytes);
  EXPECT_NE(second.get(), first);
}

}  // namespace
}  // namespace kiln
