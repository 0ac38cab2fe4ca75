// FNV-1a 64 against the published test vectors, and its chaining.
#include "base/hash.h"

#include <gtest/gtest.h>

#include <string>

namespace kiln {
namespace {

TEST(Fnv1aTest, MatchesPublishedVectors) {
  // From the FNV reference test suite (FNV-1a, 64-bit).
  EXPECT_EQ(fnv1a_64(""), 0xCBF29CE484222325ull);
  EXPECT_EQ(fnv1a_64("a"), 0xAF63DC4C8601EC8Cull);
  EXPECT_EQ(fnv1a_64("b"), 0xAF63DF4C8601F1A5ull);
  EXPECT_EQ(fnv1a_64("foobar"), 0x85944171F73967E8ull);
}

TEST(Fnv1aTest, HashesBytesNotCharsAndChains) {
  // Bytes >= 0x80 are taken unsigned whatever the signedness of char.
  const std::string high = "\xFF";
  EXPECT_EQ(fnv1a_64(high), (kFnv1aBasis ^ 0xFFull) * kFnv1aPrime);
  // An embedded NUL is a byte like any other.
  EXPECT_NE(fnv1a_64(std::string_view("a\0b", 3)), fnv1a_64("ab"));
  EXPECT_EQ(fnv1a_64("bar", fnv1a_64("foo")), fnv1a_64("foobar"));
  static_assert(fnv1a_64("a") == 0xAF63DC4C8601EC8Cull, "usable at compile time");
}

}  // namespace
}  // namespace kiln
