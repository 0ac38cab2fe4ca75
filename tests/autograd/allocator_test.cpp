// The large-block cache behind tensor storage: a freed block serves the next request of its
// size, and the live/cached counters move by exactly the blocks involved.
#include <gtest/gtest.h>

#include <cstdint>

#include "autograd/allocator.h"
#include "autograd/tensor.h"

namespace kiln {
namespace {

constexpr int64_t kThreeMegabytes = 3 << 18;  // floats

// ASan builds take every block from malloc (allocator.cpp), so there is no cache to test.
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_WITHOUT_CACHE() GTEST_SKIP() << "AddressSanitizer build: no large-block cache"
#else
#define SKIP_WITHOUT_CACHE() (void)0
#endif

TEST(AllocatorTest, AFreedLargeBlockServesTheNextRequestOfItsSize) {
  SKIP_WITHOUT_CACHE();
  Tensor a = Tensor::empty({kThreeMegabytes});
  const float* where = a.data();
  const std::size_t cached_before = cached_tensor_bytes();
  a = Tensor();
  EXPECT_EQ(cached_tensor_bytes() - cached_before, std::size_t{3} << 20);
  Tensor b = Tensor::empty({kThreeMegabytes});
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(cached_tensor_bytes(), cached_before);
}

TEST(AllocatorTest, AReusedBlockIsWritableAndZerosAreZeros) {
  { Tensor dirty = Tensor::full({kThreeMegabytes}, 7.0f); }
  Tensor z = Tensor::zeros({kThreeMegabytes});  // reuses the dirty block
  for (float v : z.to_floats()) ASSERT_EQ(v, 0.0f);
  z.data()[kThreeMegabytes - 1] = 2.0f;
  EXPECT_EQ(z.data()[kThreeMegabytes - 1], 2.0f);
}

TEST(AllocatorTest, ReleasingTheCacheEmptiesIt) {
  SKIP_WITHOUT_CACHE();
  { Tensor a = Tensor::empty({kThreeMegabytes}); }
  EXPECT_GE(cached_tensor_bytes(), std::size_t{3} << 20);
  release_cached_tensor_blocks();
  EXPECT_EQ(cached_tensor_bytes(), 0u);
}

TEST(AllocatorTest, SmallTensorsAreNotCached) {
  const std::size_t cached_before = cached_tensor_bytes();
  { Tensor small = Tensor::empty({1000}); }
  EXPECT_EQ(cached_tensor_bytes(), cached_before);
}

TEST(AllocatorTest, LiveBytesCountLargeBlocksRoundedTo64Kilobytes) {
  SKIP_WITHOUT_CACHE();
  const std::size_t live_before = live_tensor_bytes();
  Tensor a = Tensor::empty({(1 << 18) + 1});  // 1 MB + 4 bytes -> 1 MB + 64 KB
  EXPECT_EQ(live_tensor_bytes() - live_before, (std::size_t{1} << 20) + (64 << 10));
}

// Blocks of 2 MB and more start on a huge-page boundary (allocator.cpp trims the mapping to
// one); smaller large blocks need not. Every byte of each is usable, the last included, and a
// released block is unmapped without touching its neighbours.
TEST(AllocatorTest, BlocksOfTwoMegabytesAndMoreStartOnAHugePageBoundary) {
  SKIP_WITHOUT_CACHE();
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  for (int64_t floats : {int64_t{1} << 19, kThreeMegabytes + 5, int64_t{5} << 18}) {
    Tensor a = Tensor::full({floats}, 1.0f);
    Tensor b = Tensor::full({floats}, 2.0f);  // a neighbour mapped right after
    for (const Tensor& t : {a, b})
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % kHugePage, 0u) << floats;
    a.data()[floats - 1] = 3.0f;
    EXPECT_EQ(a.data()[floats - 1], 3.0f);
    a = Tensor();
    release_cached_tensor_blocks();
    EXPECT_EQ(b.data()[0], 2.0f);
    EXPECT_EQ(b.data()[floats - 1], 2.0f);
  }
}

}  // namespace
}  // namespace kiln
