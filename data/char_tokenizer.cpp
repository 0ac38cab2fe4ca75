// CharTokenizer: strict UTF-8 decoding, vocabulary building, encode/decode, serialisation.
#include "data/char_tokenizer.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <utility>

#include "base/error.h"
#include "io/utf8.h"

namespace kiln {
namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;

bool is_scalar_value(char32_t cp) {
  return cp <= kMaxCodePoint && (cp < 0xD800 || cp > 0xDFFF);
}

std::string hex(uint32_t value, int digits) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%0*X", digits, value);
  return buffer;
}

std::string byte_str(char byte) {
  return "0x" + hex(static_cast<unsigned char>(byte), 2);
}

// "'é' (U+00E9)"; control characters are shown escaped so the message stays on one line.
std::string describe_char(char32_t cp) {
  const std::string code = "U+" + hex(cp, 4);
  switch (cp) {
    case '\n':
      return "'\\n' (" + code + ")";
    case '\t':
      return "'\\t' (" + code + ")";
    case '\r':
      return "'\\r' (" + code + ")";
    default:
      break;
  }
  if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return code;
  std::string glyph;
  append_utf8(cp, glyph);
  return "'" + glyph + "' (" + code + ")";
}

// Strict UTF-8 (no overlongs, surrogates or values above U+10FFFF), so that every id sequence
// has exactly one byte representation and fingerprints are meaningful.
Utf8Char decode_strict(std::string_view text, size_t pos, std::string_view where,
                       uint64_t base_offset) {
  const Utf8Char c = decode_utf8(text, pos);
  if (c.ok()) return c;
  const std::string lead = byte_str(text[pos]);
  std::string got;
  switch (c.error) {
    case Utf8Error::kStrayContinuation:
      got = "a continuation byte " + lead + " with no lead byte";
      break;
    case Utf8Error::kInvalidByte:
      got = "the byte " + lead + ", which never occurs in UTF-8";
      break;
    case Utf8Error::kTruncated:
      got = "a sequence cut short: lead byte " + lead + " needs " + std::to_string(c.length) +
            " bytes, the text ends after " + std::to_string(text.size() - pos);
      break;
    case Utf8Error::kNotContinuation: {
      size_t bad = pos + 1;
      while (is_utf8_continuation(text[bad])) ++bad;
      got = "lead byte " + lead + " followed by " + byte_str(text[bad]) +
            ", which is not a continuation byte";
      break;
    }
    case Utf8Error::kOverlong:
      got = "an overlong encoding of U+" + hex(c.code_point, 4);
      break;
    default:
      got = "U+" + hex(c.code_point, 4) + ", which is not a Unicode scalar value";
  }
  throw Error(detail::concat(where, ": byte offset ", base_offset + pos,
                             ": expected valid UTF-8, got ", got));
}

// One bit per possible code point: marking is O(1) and the set comes out sorted.
class CodePointSet {
 public:
  CodePointSet() : bits_((kMaxCodePoint + 64) / 64, 0) {}
  void add_text(std::string_view text, std::string_view where, uint64_t base_offset) {
    for (size_t pos = 0; pos < text.size();) {
      const Utf8Char decoded = decode_strict(text, pos, where, base_offset);
      bits_[decoded.code_point / 64] |= uint64_t{1} << (decoded.code_point % 64);
      pos += decoded.length;
    }
  }
  std::vector<char32_t> sorted() const {
    std::vector<char32_t> code_points;
    for (char32_t cp = 0; cp <= kMaxCodePoint; ++cp) {
      if (bits_[cp / 64] >> (cp % 64) & 1) code_points.push_back(cp);
    }
    return code_points;
  }

 private:
  std::vector<uint64_t> bits_;
};

}  // namespace

CharTokenizer::CharTokenizer(std::vector<char32_t> code_points)
    : code_points_(std::move(code_points)), ascii_ids_(128, -1) {
  for (size_t id = 0; id < code_points_.size() && code_points_[id] < 128; ++id) {
    ascii_ids_[code_points_[id]] = static_cast<int32_t>(id);
  }
}

CharTokenizer CharTokenizer::from_text(std::string_view text, std::string_view where,
                                       uint64_t base_offset) {
  CodePointSet set;
  set.add_text(text, where, base_offset);
  return from_code_points(set.sorted());
}

CharTokenizer CharTokenizer::from_corpus(const Corpus& corpus) {
  CodePointSet set;
  for (Split split : {Split::kTrain, Split::kValidation}) {
    for (const CorpusPiece& piece : corpus.pieces(split)) {
      set.add_text(piece.text, piece.source, piece.source_offset);
    }
  }
  return from_code_points(set.sorted());
}

CharTokenizer CharTokenizer::from_code_points(std::vector<char32_t> code_points) {
  KILN_CHECK(!code_points.empty(), "char_tokenizer: expected at least one character, got none");
  for (size_t i = 0; i < code_points.size(); ++i) {
    KILN_CHECK(is_scalar_value(code_points[i]),
               "char_tokenizer: expected Unicode scalar values, got U+", hex(code_points[i], 4),
               " at index ", i);
    KILN_CHECK(i == 0 || code_points[i - 1] < code_points[i],
               "char_tokenizer: expected strictly increasing code points, got U+",
               hex(code_points[i], 4), " after U+", hex(code_points[i - 1], 4), " at index ", i);
  }
  return CharTokenizer(std::move(code_points));
}

CharTokenizer CharTokenizer::from_serialized(std::string_view serialized) {
  constexpr std::string_view kWhere = "char_tokenizer: serialized form";
  const size_t header_end = serialized.find('\n');
  const std::string_view header = serialized.substr(0, header_end);
  KILN_CHECK(header_end != std::string_view::npos && header == kCharTokenizerHeader, kWhere,
             ": expected a first line '", kCharTokenizerHeader, "', got '", header.substr(0, 40),
             header.size() > 40 ? "...'" : "'");

  const size_t size_begin = header_end + 1;
  const size_t size_end = serialized.find('\n', size_begin);
  const std::string_view size_line = size_end == std::string_view::npos
                                         ? serialized.substr(size_begin)
                                         : serialized.substr(size_begin, size_end - size_begin);
  uint64_t vocab_size = 0;
  const auto [end, ec] =
      std::from_chars(size_line.data(), size_line.data() + size_line.size(), vocab_size);
  KILN_CHECK(size_end != std::string_view::npos && ec == std::errc() &&
                 end == size_line.data() + size_line.size() && !size_line.empty(),
             kWhere, ": expected a vocabulary size on line 2, got '", size_line.substr(0, 40), "'");

  std::vector<char32_t> code_points;
  const std::string_view vocabulary = serialized.substr(size_end + 1);
  for (size_t pos = 0; pos < vocabulary.size();) {
    const Utf8Char decoded = decode_strict(vocabulary, pos, kWhere, size_end + 1);
    code_points.push_back(decoded.code_point);
    pos += decoded.length;
  }
  KILN_CHECK(code_points.size() == vocab_size, kWhere, ": expected ", vocab_size,
             " characters after the header, got ", code_points.size());
  return from_code_points(std::move(code_points));
}

std::vector<int32_t> CharTokenizer::encode(std::string_view text, std::string_view where,
                                           uint64_t base_offset) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  encode_into(text, where, base_offset, ids);
  return ids;
}

std::vector<int32_t> CharTokenizer::encode_split(const Corpus& corpus, Split split) const {
  std::vector<int32_t> ids;
  ids.reserve(corpus.text(split).size());
  for (const CorpusPiece& piece : corpus.pieces(split)) {
    encode_into(piece.text, piece.source, piece.source_offset, ids);
  }
  return ids;
}

void CharTokenizer::encode_into(std::string_view text, std::string_view where, uint64_t base_offset,
                                std::vector<int32_t>& ids) const {
  for (size_t pos = 0; pos < text.size();) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    Utf8Char decoded{byte, 1};
    int32_t id = -1;
    if (byte < 0x80) {
      id = ascii_ids_[byte];
    } else {
      decoded = decode_strict(text, pos, where, base_offset);
      const auto it =
          std::lower_bound(code_points_.begin(), code_points_.end(), decoded.code_point);
      if (it != code_points_.end() && *it == decoded.code_point) {
        id = static_cast<int32_t>(it - code_points_.begin());
      }
    }
    KILN_CHECK(id >= 0, where, ": byte offset ", base_offset + pos,
               ": expected a character in the tokenizer's vocabulary (", vocab_size(),
               " characters), got ", describe_char(decoded.code_point));
    ids.push_back(id);
    pos += decoded.length;
  }
}

std::string CharTokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  text.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    KILN_CHECK(ids[i] >= 0 && ids[i] < vocab_size(), "char_tokenizer: expected ids in [0, ",
               vocab_size(), "), got ", ids[i], " at position ", i);
    append_utf8(code_points_[ids[i]], text);
  }
  return text;
}

std::string CharTokenizer::serialize() const {
  std::string out(kCharTokenizerHeader);
  out += '\n' + std::to_string(code_points_.size()) + '\n';
  for (char32_t cp : code_points_) append_utf8(cp, out);
  return out;
}

uint64_t CharTokenizer::fingerprint() const {
  return fnv1a_64(serialize());
}

}  // namespace kiln
