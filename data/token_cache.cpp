// Token cache file I/O: the encoding (written with io::atomic_write) and the validating read.
#include "data/token_cache.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/rng.h"
#include "io/atomic_write.h"

namespace kiln {
namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'T', 'O', 'K', '\0'};

template <typename T>
void put_le(T value, unsigned char* out) {
  for (size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<unsigned char>(value >> (8 * i));
}

template <typename T>
T get_le(const unsigned char* in) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(in[i]) << (8 * i);
  return value;
}

// Converts between host order and the file's little-endian order (its own inverse).
void swap_to_little_endian(int32_t* ids, size_t count) {
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = 0; i < count; ++i) {
      const auto v = static_cast<uint32_t>(ids[i]);
      ids[i] = static_cast<int32_t>((v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) |
                                    (v << 24));
    }
  }
}

// Fills `out` or throws the truncation error for a field starting at `offset`.
void read_exact(std::FILE* file, void* out, size_t size, uint64_t offset, const char* what,
                const std::string& path) {
  const size_t got = std::fread(out, 1, size, file);
  KILN_CHECK(!std::ferror(file), "token_cache: cannot read '", path, "' at byte offset ", offset,
             ": ", std::strerror(errno));
  KILN_CHECK(got == size, "token_cache: '", path, "' is truncated at byte offset ", offset + got,
             ": expected ", what, " (", size, " bytes from offset ", offset, "), got ", got,
             " bytes");
}

}  // namespace

uint64_t token_cache_fingerprint(uint64_t text, uint64_t tokenizer) {
  // Mix the first key fully before the second goes in, so neither can cancel the other.
  return random_bits(random_bits(text, 0x746F6B656E73ull), tokenizer);
}

void save_token_cache(const std::string& path, uint64_t fingerprint, std::span<const int32_t> ids) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    KILN_CHECK(!ec, "token_cache: cannot create directory '", parent.string(), "' for '", path,
               "': ", ec.message());
  }
  unsigned char header[kTokenCacheHeaderBytes];
  std::memcpy(header, kMagic, 8);
  put_le<uint32_t>(kTokenCacheVersion, header + 8);
  put_le<uint64_t>(fingerprint, header + 12);
  put_le<uint64_t>(ids.size(), header + 20);
  // The ids are written from the caller's memory (a corpus can be hundreds of MB), except on
  // a big-endian host, which needs a swapped copy.
  std::vector<int32_t> swapped;
  if constexpr (std::endian::native == std::endian::big) {
    swapped.assign(ids.begin(), ids.end());
    swap_to_little_endian(swapped.data(), swapped.size());
    ids = swapped;
  }
  const std::string_view parts[] = {{reinterpret_cast<const char*>(header), sizeof header},
                                    {reinterpret_cast<const char*>(ids.data()), ids.size_bytes()}};
  io::atomic_write(path, parts);
}

std::optional<std::vector<int32_t>> load_token_cache(const std::string& path,
                                                     uint64_t fingerprint) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (file == nullptr && errno == ENOENT) return std::nullopt;
  KILN_CHECK(file != nullptr, "token_cache: cannot open '", path, "': ", std::strerror(errno));

  unsigned char header[kTokenCacheHeaderBytes];
  read_exact(file.get(), header, 8, 0, "the magic \"KILNTOK\\0\"", path);
  KILN_CHECK(std::memcmp(header, kMagic, 8) == 0, "token_cache: '", path,
             "': byte offset 0: expected the magic \"KILNTOK\\0\", got something else; this is "
             "not a kiln token cache (delete it to rebuild)");
  read_exact(file.get(), header + 8, 4, 8, "the format version", path);
  // Another version is a stale cache, not an error: it is rebuilt and overwritten.
  if (get_le<uint32_t>(header + 8) != kTokenCacheVersion) return std::nullopt;
  read_exact(file.get(), header + 12, 8, 12, "the fingerprint", path);
  if (get_le<uint64_t>(header + 12) != fingerprint) return std::nullopt;
  read_exact(file.get(), header + 20, 8, 20, "the token count", path);
  const auto count = get_le<uint64_t>(header + 20);

  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  KILN_CHECK(!ec, "token_cache: cannot stat '", path, "': ", ec.message());
  const uint64_t available = (file_size - kTokenCacheHeaderBytes) / sizeof(int32_t);
  KILN_CHECK(count <= available, "token_cache: '", path, "' is truncated at byte offset ",
             file_size, ": expected ", count, " token ids (", kTokenCacheHeaderBytes,
             " + 4 x count bytes), got room for ", available);
  const uint64_t expected_size = kTokenCacheHeaderBytes + count * sizeof(int32_t);
  KILN_CHECK(file_size == expected_size, "token_cache: '", path, "': byte offset ", expected_size,
             ": expected the end of the file after ", count, " token ids, got ",
             file_size - expected_size, " more bytes");

  std::vector<int32_t> ids(count);
  read_exact(file.get(), ids.data(), count * sizeof(int32_t), kTokenCacheHeaderBytes,
             "the token ids", path);
  swap_to_little_endian(ids.data(), ids.size());
  const auto negative = std::find_if(ids.begin(), ids.end(), [](int32_t id) { return id < 0; });
  KILN_CHECK(negative == ids.end(), "token_cache: '", path, "': byte offset ",
             kTokenCacheHeaderBytes + sizeof(int32_t) * (negative - ids.begin()),
             ": expected a token id >= 0, got ", *negative);
  return ids;
}

std::vector<int32_t> load_or_build(const std::string& path, uint64_t fingerprint,
                                   const std::function<std::vector<int32_t>()>& builder) {
  if (auto cached = load_token_cache(path, fingerprint)) return std::move(*cached);
  std::vector<int32_t> ids = builder();
  save_token_cache(path, fingerprint, ids);
  return ids;
}

}  // namespace kiln
