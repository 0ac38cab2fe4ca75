// Token caches: token ids saved to a binary file keyed by a fingerprint of the text and the
// tokenizer, so a second run skips tokenising. Layout, all little-endian:
//   "KILNTOK\0" | u32 version | u64 fingerprint | u64 count | count x int32 ids
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kiln {

inline constexpr uint32_t kTokenCacheVersion = 1;
inline constexpr uint64_t kTokenCacheHeaderBytes = 28;

// The key for ids of text with fingerprint `text` under a tokenizer with fingerprint
// `tokenizer` (e.g. Corpus::fingerprint() and CharTokenizer::fingerprint()). Keep one file
// per split: the key says which text, the path says which split.
uint64_t token_cache_fingerprint(uint64_t text, uint64_t tokenizer);

// Writes "<path>.tmp", fsyncs it, then renames it over `path`, so a crash never leaves a
// half-written cache. Creates missing parent directories. Errors name the path and OS error.
void save_token_cache(const std::string& path, uint64_t fingerprint, std::span<const int32_t> ids);

// The cached ids; std::nullopt when the file is missing or stale (another fingerprint or
// format version). A truncated or corrupt file is an error naming the path and byte offset.
std::optional<std::vector<int32_t>> load_token_cache(const std::string& path, uint64_t fingerprint);

// The cached ids when fresh; otherwise the ids from `builder`, saved to `path` for next time.
std::vector<int32_t> load_or_build(const std::string& path, uint64_t fingerprint,
                                   const std::function<std::vector<int32_t>()>& builder);

}  // namespace kiln
