// GPT-2's pre-tokenisation scanner (the regex, alternative by alternative) and the
// bytes_to_unicode map. Unicode classes come from ICU; ASCII uses a table.
#include "data/gpt2_pretokenizer.h"

#include <unicode/uchar.h>

#include "io/utf8.h"

namespace kiln {
namespace {

enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

struct CodePoint {
  char32_t value;
  CharClass cls;
  int length;  // bytes
};

constexpr std::array<CharClass, 128> make_ascii_classes() {
  std::array<CharClass, 128> classes{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      classes[c] = CharClass::kLetter;
    } else if (c >= '0' && c <= '9') {
      classes[c] = CharClass::kNumber;
    } else if (c == ' ' || (c >= '\t' && c <= '\r')) {
      classes[c] = CharClass::kSpace;
    } else {
      classes[c] = CharClass::kOther;
    }
  }
  return classes;
}
constexpr std::array<CharClass, 128> kAsciiClasses = make_ascii_classes();

CharClass classify(char32_t cp) {
  if (cp < 128) return kAsciiClasses[cp];
  const auto c = static_cast<UChar32>(cp);
  const uint32_t mask = U_GET_GC_MASK(c);
  if (mask & U_GC_L_MASK) return CharClass::kLetter;
  if (mask & U_GC_N_MASK) return CharClass::kNumber;
  // The regex module's \s is the White_Space property (U+0085, U+00A0, U+3000, ...).
  if (u_hasBinaryProperty(c, UCHAR_WHITE_SPACE)) return CharClass::kSpace;
  return CharClass::kOther;
}

constexpr CodePoint kInvalidByte{0xFFFD, CharClass::kOther, 1};

// Strict UTF-8 (no overlongs, surrogates or values above U+10FFFF); a byte that does not
// start a valid sequence is returned alone, so every byte string splits somehow.
CodePoint decode_at(std::string_view text, size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80) return {lead, kAsciiClasses[lead], 1};
  const Utf8Char c = decode_utf8(text, pos);
  if (!c.ok()) return kInvalidByte;
  return {c.code_point, classify(c.code_point), c.length};
}

// Length of the contraction ('s 't 're 've 'm 'll 'd, lowercase only) at `pos`, or 0.
size_t contraction_length(std::string_view text, size_t pos) {
  if (text[pos] != '\'' || pos + 1 >= text.size()) return 0;
  const char c1 = text[pos + 1];
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (pos + 2 >= text.size()) return 0;
  const char c2 = text[pos + 2];
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

// The class of the character after the ' ' at `pos`; kSpace when there is no ' ' there or
// nothing after it, which is also when no word can take the space.
CharClass class_after_space(std::string_view text, size_t pos) {
  if (text[pos] != ' ' || pos + 1 >= text.size()) return CharClass::kSpace;
  return decode_at(text, pos + 1).cls;
}

// End of the run of `cls` characters starting at `pos`.
size_t run_end(std::string_view text, size_t pos, CharClass cls) {
  while (pos < text.size()) {
    const CodePoint cp = decode_at(text, pos);
    if (cp.cls != cls) break;
    pos += cp.length;
  }
  return pos;
}

struct ByteMap {
  std::array<char32_t, 256> code_point{};
  std::array<int16_t, 324> byte{};  // indexed by code point; -1 where no byte
  std::array<uint8_t, 256> order{};
};

constexpr ByteMap make_byte_map() {
  ByteMap map;
  for (auto& b : map.byte) b = -1;
  const auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int next_id = 0;
  for (int b = 0; b < 256; ++b) {
    if (printable(b)) map.order[next_id++] = static_cast<uint8_t>(b);
  }
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    if (printable(b)) {
      map.code_point[b] = static_cast<char32_t>(b);
    } else {
      map.code_point[b] = static_cast<char32_t>(256 + extra++);
      map.order[next_id++] = static_cast<uint8_t>(b);
    }
    map.byte[map.code_point[b]] = static_cast<int16_t>(b);
  }
  return map;
}
constexpr ByteMap kByteMap = make_byte_map();

}  // namespace

std::optional<std::string_view> Gpt2Pretokenizer::next() {
  if (pos_ >= text_.size()) return std::nullopt;
  const size_t start = pos_;
  const CodePoint first = decode_at(text_, start);
  size_t end = 0;
  if (const size_t n = contraction_length(text_, start); n > 0) {
    end = start + n;
  } else if (const CharClass after = class_after_space(text_, start); after != CharClass::kSpace) {
    // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": one space joins the run after it.
    end = run_end(text_, start + 1, after);
  } else if (first.cls != CharClass::kSpace) {
    end = run_end(text_, start, first.cls);
  } else {
    // "\s+(?!\S)" backs off one character when the run is followed by a non-space, leaving
    // that character (often " ") to lead the next word; "\s+" takes a lone space.
    size_t last = start;
    end = start;
    int count = 0;
    while (end < text_.size()) {
      const CodePoint cp = decode_at(text_, end);
      if (cp.cls != CharClass::kSpace) break;
      last = end;
      end += cp.length;
      ++count;
    }
    if (end < text_.size() && count >= 2) end = last;
  }
  pos_ = end;
  return text_.substr(start, end - start);
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  Gpt2Pretokenizer pretokenizer(text);
  while (const auto piece = pretokenizer.next()) pieces.push_back(*piece);
  return pieces;
}

char32_t gpt2_byte_to_code_point(uint8_t byte) {
  return kByteMap.code_point[byte];
}

std::optional<uint8_t> gpt2_code_point_to_byte(char32_t cp) {
  if (cp >= kByteMap.byte.size() || kByteMap.byte[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(kByteMap.byte[cp]);
}

const std::array<uint8_t, 256>& gpt2_byte_order() {
  return kByteMap.order;
}

std::string gpt2_spell_bytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const char32_t cp = kByteMap.code_point[static_cast<unsigned char>(c)];
    append_utf8(cp, out);
  }
  return out;
}

std::optional<std::string> gpt2_unspell(std::string_view spelled) {
  std::string bytes;
  bytes.reserve(spelled.size());
  for (size_t pos = 0; pos < spelled.size();) {
    const CodePoint cp = decode_at(spelled, pos);
    if (cp.length == 1 && static_cast<unsigned char>(spelled[pos]) >= 0x80) return std::nullopt;
    const auto byte = gpt2_code_point_to_byte(cp.value);
    if (!byte) return std::nullopt;
    bytes += static_cast<char>(*byte);
    pos += cp.length;
  }
  return bytes;
}

}  // namespace kiln
