// The single place tensor memory comes from: 64-byte aligned float/int storage. Blocks of
// 1 MiB or more are cached after their last owner lets go and handed out again for the same size.
#pragma once

#include <cstddef>
#include <memory>

namespace kiln {

inline constexpr std::size_t kAlignment = 64;

// Returns `bytes` of 64-byte aligned, uninitialised memory (possibly a reused block holding old
// values), released when the last owner goes.
std::shared_ptr<void> allocate_bytes(std::size_t bytes);

}  // namespace kiln
