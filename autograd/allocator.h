// The single place tensor memory comes from: 64-byte aligned float/int storage. Blocks of
// 1 MB and more come from a cache of kernel mappings that reuses a freed block for the next
// request of its size (see allocator.cpp for why and what it measured).
#pragma once

#include <cstddef>
#include <memory>

namespace kiln {

inline constexpr std::size_t kAlignment = 64;

// Returns `bytes` of 64-byte aligned, uninitialised memory, freed when the last owner goes.
std::shared_ptr<void> allocate_bytes(std::size_t bytes);

// Bytes of tensor storage alive now, and the most alive at once since the last reset (for
// benchmarks: how much of the peak RSS is tensors rather than libraries and the heap's slack).
std::size_t live_tensor_bytes();
std::size_t peak_tensor_bytes();
void reset_peak_tensor_bytes();
// Bytes of freed large blocks kept for reuse (not counted as live).
std::size_t cached_tensor_bytes();
// Returns every cached block to the kernel: for blocks whose sizes will not be asked for again,
// such as the parameters' own, freed once they move into the arena.
void release_cached_tensor_blocks();

}  // namespace kiln
