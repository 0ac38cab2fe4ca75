// Token cache: exact file layout, fresh/stale/missing loads, corruption errors, load_or_build.
#include "data/token_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kFingerprint = 0x0123456789ABCDEFull;

class TokenCacheTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    path_ = (dir_ / "train.tokens").string();
  }

  std::string read_bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void write_bytes(const std::string& bytes) const {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
  }

  std::string path_;
};

TEST_F(TokenCacheTest, WritesTheDocumentedLayout) {
  save_token_cache(path_, kFingerprint, std::vector<int32_t>{1, 258, 0x7FFFFFFF});
  const std::string bytes = read_bytes();
  const std::string expected = std::string("KILNTOK\0", 8) +           // magic
                               std::string("\x01\0\0\0", 4) +          // version 1
                               "\xEF\xCD\xAB\x89\x67\x45\x23\x01" +    // fingerprint
                               std::string("\x03\0\0\0\0\0\0\0", 8) +  // count
                               std::string("\x01\0\0\0\x02\x01\0\0\xFF\xFF\xFF\x7F", 12);
  EXPECT_EQ(bytes, expected);
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(TokenCacheTest, RoundTripsIds) {
  std::vector<int32_t> ids(100000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i * 7919 % 50257);
  save_token_cache(path_, kFingerprint, ids);
  EXPECT_EQ(fs::file_size(path_), kTokenCacheHeaderBytes + 4 * ids.size());
  EXPECT_EQ(load_token_cache(path_, kFingerprint), ids);

  // Overwriting replaces the contents, including with an empty array.
  save_token_cache(path_, kFingerprint, std::vector<int32_t>{});
  EXPECT_EQ(load_token_cache(path_, kFingerprint), std::vector<int32_t>{});
}

TEST_F(TokenCacheTest, MissingOrStaleCacheIsNullopt) {
  EXPECT_EQ(load_token_cache(path_, kFingerprint), std::nullopt);
  save_token_cache(path_, kFingerprint, std::vector<int32_t>{5, 6});
  EXPECT_EQ(load_token_cache(path_, kFingerprint + 1), std::nullopt);
  // Another format version is stale too: it gets rebuilt rather than misread.
  std::string bytes = read_bytes();
  bytes[8] = 2;
  write_bytes(bytes);
  EXPECT_EQ(load_token_cache(path_, kFingerprint), std::nullopt);
}

TEST_F(TokenCacheTest, TruncatedFileNamesPathAndOffset) {
  save_token_cache(path_, kFingerprint, std::vector<int32_t>{1, 2, 3});
  const std::string bytes = read_bytes();

  write_bytes(bytes.substr(0, bytes.size() - 2));  // 38 of 40 bytes
  EXPECT_EQ(error_of([&] { load_token_cache(path_, kFingerprint); }),
            "token_cache: '" + path_ +
                "' is truncated at byte offset 38: expected 3 token ids (28 + 4 x count bytes), "
                "got room for 2");

  write_bytes(bytes.substr(0, 10));
  EXPECT_EQ(error_of([&] { load_token_cache(path_, kFingerprint); }),
            "token_cache: '" + path_ +
                "' is truncated at byte offset 10: expected the format version (4 bytes from "
                "offset 8), got 2 bytes");

  write_bytes(bytes.substr(0, 24));
  EXPECT_NE(error_of([&] {
              load_token_cache(path_, kFingerprint);
            }).find("is truncated at byte offset 24: expected the token count"),
            std::string::npos);

  write_bytes("KIL");
  EXPECT_NE(error_of([&] {
              load_token_cache(path_, kFingerprint);
            }).find("is truncated at byte offset 3: expected the magic"),
            std::string::npos);
}

TEST_F(TokenCacheTest, CorruptFileNamesPathAndOffset) {
  write_bytes("not a token cache at all, just text");
  EXPECT_NE(error_of([&] {
              load_token_cache(path_, kFingerprint);
            }).find("token_cache: '" + path_ + "': byte offset 0: expected the magic"),
            std::string::npos);

  save_token_cache(path_, kFingerprint, std::vector<int32_t>{1, 2});
  const std::string bytes = read_bytes();
  write_bytes(bytes + "xy");
  EXPECT_EQ(error_of([&] { load_token_cache(path_, kFingerprint); }),
            "token_cache: '" + path_ +
                "': byte offset 36: expected the end of the file after 2 token ids, got 2 more "
                "bytes");

  std::string negative = bytes;
  negative.replace(32, 4, std::string("\xFF\xFF\xFF\xFF", 4));
  write_bytes(negative);
  EXPECT_EQ(error_of([&] { load_token_cache(path_, kFingerprint); }),
            "token_cache: '" + path_ + "': byte offset 32: expected a token id >= 0, got -1");
}

TEST_F(TokenCacheTest, SaveCreatesParentDirectoriesAndReportsFailures) {
  const std::string nested = (dir_ / "a" / "b" / "val.tokens").string();
  save_token_cache(nested, kFingerprint, std::vector<int32_t>{9});
  EXPECT_EQ(load_token_cache(nested, kFingerprint), std::vector<int32_t>{9});

  // A regular file where a directory should be.
  const std::string blocked = (dir_ / "a" / "b" / "val.tokens" / "x.tokens").string();
  EXPECT_NE(error_of([&] {
              save_token_cache(blocked, kFingerprint, std::vector<int32_t>{1});
            }).find("token_cache: cannot create directory"),
            std::string::npos);
}

TEST_F(TokenCacheTest, LoadOrBuildSkipsTheBuilderWhenFresh) {
  int builds = 0;
  const auto builder = [&] {
    ++builds;
    return std::vector<int32_t>{4, 5, 6};
  };
  EXPECT_EQ(load_or_build(path_, kFingerprint, builder), (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(builds, 1);
  EXPECT_EQ(load_or_build(path_, kFingerprint, builder), (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(builds, 1);
  EXPECT_EQ(load_or_build(path_, kFingerprint ^ 1, builder), (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(builds, 2);
  // The rebuild replaced the stale file.
  EXPECT_EQ(load_token_cache(path_, kFingerprint ^ 1), (std::vector<int32_t>{4, 5, 6}));
}

TEST_F(TokenCacheTest, FingerprintDependsOnBothKeysAndOrder) {
  const uint64_t key = token_cache_fingerprint(1, 2);
  EXPECT_EQ(token_cache_fingerprint(1, 2), key);
  EXPECT_NE(token_cache_fingerprint(2, 1), key);
  EXPECT_NE(token_cache_fingerprint(1, 3), key);
  EXPECT_NE(token_cache_fingerprint(0, 2), key);
}

}  // namespace
}  // namespace kiln
