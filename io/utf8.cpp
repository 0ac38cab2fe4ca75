// UTF-8 encoding and strict decoding (RFC 3629, the Unicode standard's Table 3-7).
#include "io/utf8.h"

namespace kiln {

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

Utf8Char decode_utf8(std::string_view text, size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80) return {lead, 1, Utf8Error::kNone};
  Utf8Char c;
  if (lead >= 0xC2 && lead <= 0xDF) {
    c = {static_cast<char32_t>(lead & 0x1F), 2, Utf8Error::kNone};
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    c = {static_cast<char32_t>(lead & 0x0F), 3, Utf8Error::kNone};
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    c = {static_cast<char32_t>(lead & 0x07), 4, Utf8Error::kNone};
  } else {
    const bool stray = lead <= 0xBF;
    return {0, 1, stray ? Utf8Error::kStrayContinuation : Utf8Error::kInvalidByte};
  }
  if (pos + c.length > text.size()) return {0, c.length, Utf8Error::kTruncated};
  for (int i = 1; i < c.length; ++i) {
    if (!is_utf8_continuation(text[pos + i])) return {0, c.length, Utf8Error::kNotContinuation};
    c.code_point = (c.code_point << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  }
  constexpr char32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c.code_point < kMinForLength[c.length]) {
    c.error = Utf8Error::kOverlong;
  } else if (c.code_point > 0x10FFFF || (c.code_point >= 0xD800 && c.code_point <= 0xDFFF)) {
    c.error = Utf8Error::kNotScalar;
  }
  return c;
}

}  // namespace kiln
