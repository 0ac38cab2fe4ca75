// FNV-1a (64-bit): a fixed, portable hash of bytes. Used wherever a hash must be the same in
// every build (tokenizer fingerprints, data splits, per-parameter initialisation streams),
// which std::hash, implementation-defined, does not promise.
#pragma once

#include <cstdint>
#include <string_view>

namespace kiln {

inline constexpr uint64_t kFnv1aBasis = 0xCBF29CE484222325ull;
inline constexpr uint64_t kFnv1aPrime = 0x100000001B3ull;

// FNV-1a of `bytes`, continuing from `hash` so that pieces can be chained.
constexpr uint64_t fnv1a_64(std::string_view bytes, uint64_t hash = kFnv1aBasis) {
  for (char byte : bytes) {
    hash ^= static_cast<unsigned char>(byte);
    hash *= kFnv1aPrime;
  }
  return hash;
}

}  // namespace kiln
