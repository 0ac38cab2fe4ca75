// UTF-8 encoding and strict decoding of one code point: the one copy the tokenizers, the JSON
// reader and the CLI share.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kiln {

// Why the bytes at a position are not one valid UTF-8 sequence.
enum class Utf8Error {
  kNone,
  kStrayContinuation,  // a continuation byte (0x80-0xBF) with no lead byte
  kInvalidByte,        // 0xC0, 0xC1 or 0xF5-0xFF, which never occur in UTF-8
  kTruncated,          // the text ends before the sequence does
  kNotContinuation,    // a byte after the lead byte is not a continuation byte
  kOverlong,           // a longer form than the code point needs
  kNotScalar,          // a surrogate (U+D800-U+DFFF) or above U+10FFFF
};

// One decoded sequence. On success `code_point` and `length` (1-4 bytes) describe it. On an
// error, `length` is the length the lead byte announces (1 for a stray or invalid byte) and,
// for kOverlong and kNotScalar, `code_point` is the value the bytes spell.
struct Utf8Char {
  char32_t code_point = 0;
  int length = 1;
  Utf8Error error = Utf8Error::kNone;
  bool ok() const { return error == Utf8Error::kNone; }
};

// Whether `byte` continues a sequence (10xxxxxx) rather than starting one.
inline bool is_utf8_continuation(char byte) {
  return (static_cast<unsigned char>(byte) & 0xC0) == 0x80;
}

// Appends the UTF-8 form of `cp`, which must be at most U+10FFFF.
void append_utf8(char32_t cp, std::string& out);

// Strictly decodes the sequence at text[pos] (pos < text.size()): no overlong forms,
// surrogates or code points above U+10FFFF, so each code point has exactly one spelling.
Utf8Char decode_utf8(std::string_view text, size_t pos);

}  // namespace kiln
