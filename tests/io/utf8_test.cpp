// UTF-8: encoding every length, strict decoding, and each way a sequence can be invalid.
#include "io/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace kiln {
namespace {

std::string encode(char32_t cp) {
  std::string out;
  append_utf8(cp, out);
  return out;
}

TEST(Utf8Test, EncodesEachLength) {
  EXPECT_EQ(encode(U'A'), "A");
  EXPECT_EQ(encode(0x7F), "\x7F");
  EXPECT_EQ(encode(0x80), "\xC2\x80");
  EXPECT_EQ(encode(U'é'), "\xC3\xA9");
  EXPECT_EQ(encode(0x7FF), "\xDF\xBF");
  EXPECT_EQ(encode(0x800), "\xE0\xA0\x80");
  EXPECT_EQ(encode(U'€'), "\xE2\x82\xAC");
  EXPECT_EQ(encode(0xFFFF), "\xEF\xBF\xBF");
  EXPECT_EQ(encode(0x10000), "\xF0\x90\x80\x80");
  EXPECT_EQ(encode(U'😀'), "\xF0\x9F\x98\x80");
  EXPECT_EQ(encode(0x10FFFF), "\xF4\x8F\xBF\xBF");
  std::string out = "x";
  append_utf8(U'é', out);
  EXPECT_EQ(out, "x\xC3\xA9");  // appends
}

TEST(Utf8Test, DecodeRoundTripsEveryScalarValue) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string bytes = "a";  // decoding at an offset, not only at 0
    append_utf8(cp, bytes);
    const Utf8Char c = decode_utf8(bytes, 1);
    ASSERT_TRUE(c.ok()) << std::hex << static_cast<uint32_t>(cp);
    ASSERT_EQ(c.code_point, cp);
    ASSERT_EQ(c.length, static_cast<int>(bytes.size()) - 1);
  }
}

TEST(Utf8Test, DecodeReportsWhyBytesAreInvalid) {
  const auto error = [](std::string_view bytes) { return decode_utf8(bytes, 0).error; };
  EXPECT_EQ(error("\x80"), Utf8Error::kStrayContinuation);
  EXPECT_EQ(error("\xBF"), Utf8Error::kStrayContinuation);
  EXPECT_EQ(error("\xC0\x80"), Utf8Error::kInvalidByte);
  EXPECT_EQ(error("\xC1\xBF"), Utf8Error::kInvalidByte);
  EXPECT_EQ(error("\xF5\x80\x80\x80"), Utf8Error::kInvalidByte);
  EXPECT_EQ(error("\xFF"), Utf8Error::kInvalidByte);
  EXPECT_EQ(error("\xE2\x82"), Utf8Error::kTruncated);
  EXPECT_EQ(error("\xC3"), Utf8Error::kTruncated);
  EXPECT_EQ(error("\xE2\x28\xAC"), Utf8Error::kNotContinuation);
  EXPECT_EQ(error("\xF0\x9F\x98\x41"), Utf8Error::kNotContinuation);
  EXPECT_EQ(error("\xE0\x80\xAF"), Utf8Error::kOverlong);
  EXPECT_EQ(error("\xF0\x8F\xBF\xBF"), Utf8Error::kOverlong);
  EXPECT_EQ(error("\xED\xA0\x80"), Utf8Error::kNotScalar);      // U+D800
  EXPECT_EQ(error("\xF4\x90\x80\x80"), Utf8Error::kNotScalar);  // U+110000
}

TEST(Utf8Test, ErrorsCarryTheAnnouncedLengthAndSpelledValue) {
  Utf8Char c = decode_utf8("\xE2\x82", 0);
  EXPECT_EQ(c.length, 3);
  c = decode_utf8("\xE0\x80\xAF", 0);
  EXPECT_EQ(c.length, 3);
  EXPECT_EQ(c.code_point, U'/');
  c = decode_utf8("\xED\xA0\x80", 0);
  EXPECT_EQ(c.code_point, 0xD800u);
  c = decode_utf8("\x80", 0);
  EXPECT_EQ(c.length, 1);
}

TEST(Utf8Test, DecodesAtAPositionAndStopsAtTheEnd) {
  const std::string text = "a\xC3\xA9\xE2\x82";
  EXPECT_EQ(decode_utf8(text, 0).code_point, U'a');
  EXPECT_EQ(decode_utf8(text, 1).code_point, U'é');
  EXPECT_EQ(decode_utf8(text, 3).error, Utf8Error::kTruncated);  // reads nothing past the end
}

TEST(Utf8Test, ContinuationBytes) {
  EXPECT_TRUE(is_utf8_continuation('\x80'));
  EXPECT_TRUE(is_utf8_continuation('\xBF'));
  EXPECT_FALSE(is_utf8_continuation('a'));
  EXPECT_FALSE(is_utf8_continuation('\xC3'));
}

}  // namespace
}  // namespace kiln
