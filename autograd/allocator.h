// The single place tensor memory comes from: 64-byte aligned float/int storage.
// Kept apart so that pooling can be added later without touching any op.
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

}  // namespace kiln
