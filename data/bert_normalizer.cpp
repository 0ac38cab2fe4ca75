// BERT's basic tokenizer: one pass that cleans and splits on whitespace and CJK, then per word
// the uncased normalisation (ICU) and the punctuation split. ASCII skips ICU entirely.
#include "data/bert_normalizer.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <array>
#include <cstdio>

#include "base/error.h"

namespace kiln {
namespace {

// What the cleaning pass does with a character.
enum class CharClass : uint8_t { kDrop, kSpace, kCjk, kKeep };

// The ranges of _is_chinese_char in google-research/bert: the CJK Unified Ideographs blocks
// and their extensions, not Hangul, Hiragana or Katakana, which are written with spaces.
bool is_cjk(UChar32 c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

CharClass classify_slow(UChar32 c) {
  if (c == '\t' || c == '\n' || c == '\r') return CharClass::kSpace;  // Cc, but whitespace
  if (c == 0 || c == 0xFFFD) return CharClass::kDrop;
  const uint32_t mask = U_GET_GC_MASK(c);
  if (mask & U_GC_C_MASK) return CharClass::kDrop;
  // Zs is BERT's whitespace; Zl and Zp (U+2028, U+2029) survive its cleaning but Python's
  // str.split() then splits on them, so they separate words too.
  if (mask & (U_GC_ZS_MASK | U_GC_ZL_MASK | U_GC_ZP_MASK)) return CharClass::kSpace;
  if (is_cjk(c)) return CharClass::kCjk;
  return CharClass::kKeep;
}

bool is_punctuation_slow(UChar32 c) {
  // BERT counts all non-alphanumeric printable ASCII ("$", "^", "`", ...) as punctuation.
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  return (U_GET_GC_MASK(c) & U_GC_P_MASK) != 0;
}

// Most text is ASCII: answer it from tables built once with the same functions.
struct AsciiTables {
  std::array<CharClass, 128> char_class;
  std::array<bool, 128> punctuation;
  AsciiTables() {
    for (UChar32 c = 0; c < 128; ++c) {
      char_class[c] = classify_slow(c);
      punctuation[c] = is_punctuation_slow(c);
    }
  }
};
const AsciiTables& ascii_tables() {
  static const AsciiTables tables;
  return tables;
}

CharClass classify(UChar32 c) {
  return c < 128 ? ascii_tables().char_class[c] : classify_slow(c);
}

bool is_punctuation(UChar32 c) {
  return c < 128 ? ascii_tables().punctuation[c] : is_punctuation_slow(c);
}

void append_utf8(UChar32 c, std::string& out) {
  char buffer[U8_MAX_LENGTH];
  int32_t length = 0;
  U8_APPEND_UNSAFE(buffer, length, c);
  out.append(buffer, static_cast<size_t>(length));
}

// The code point at text[*pos], advancing *pos past it.
UChar32 next_code_point(std::string_view text, size_t* pos, std::string_view where,
                        uint64_t base_offset) {
  const size_t start = *pos;
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  UChar32 c;
  U8_NEXT(bytes, *pos, text.size(), c);
  if (c < 0) {
    char got[8];
    std::snprintf(got, sizeof(got), "0x%02X", bytes[start]);
    throw Error(detail::concat(where, ": byte offset ", base_offset + start,
                               ": expected valid UTF-8, got a malformed sequence starting with ",
                               got));
  }
  return c;
}

// Lower-case, NFD, drop Mn. No recomposition: BERT's uncased vocabulary holds Hangul as
// conjoining jamo because of exactly this.
std::string lowercase_strip_accents(const std::string& word) {
  icu::UnicodeString text = icu::UnicodeString::fromUTF8(icu::StringPiece(word));
  text.toLower(icu::Locale::getRoot());
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  const icu::UnicodeString decomposed =
      U_SUCCESS(status) ? nfd->normalize(text, status) : icu::UnicodeString();
  KILN_CHECK(U_SUCCESS(status), "bert_normalizer: expected ICU's NFD normalisation to work, got ",
             u_errorName(status));
  std::string out;
  for (int32_t i = 0; i < decomposed.length();) {
    const UChar32 c = decomposed.char32At(i);
    i += U16_LENGTH(c);
    if ((U_GET_GC_MASK(c) & U_GC_MN_MASK) == 0) append_utf8(c, out);
  }
  return out;
}

// Normalises one whitespace-delimited word and appends its punctuation-split parts.
void split_word(std::string& word, bool ascii, bool lowercase, std::vector<std::string>& words) {
  if (lowercase) {
    if (ascii) {
      for (char& ch : word) {
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
      }
    } else {
      word = lowercase_strip_accents(word);
    }
  }
  std::string part;
  for (size_t pos = 0; pos < word.size();) {
    const size_t start = pos;
    const UChar32 c = next_code_point(word, &pos, "bert_normalizer", 0);
    if (is_punctuation(c)) {
      if (!part.empty()) words.push_back(std::move(part));
      part.clear();
      words.emplace_back(word, start, pos - start);
    } else {
      part.append(word, start, pos - start);
    }
  }
  if (!part.empty()) words.push_back(std::move(part));
}

}  // namespace

std::vector<std::string> bert_basic_tokenize(std::string_view text, bool lowercase,
                                             std::string_view where, uint64_t base_offset) {
  std::vector<std::string> words;
  std::string word;  // the current whitespace-delimited word, cleaned
  bool ascii = true;
  const auto flush = [&] {
    if (!word.empty()) split_word(word, ascii, lowercase, words);
    word.clear();
    ascii = true;
  };
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const UChar32 c = static_cast<unsigned char>(text[pos]) < 0x80
                          ? static_cast<unsigned char>(text[pos++])
                          : next_code_point(text, &pos, where, base_offset);
    switch (classify(c)) {
      case CharClass::kDrop:
        break;
      case CharClass::kSpace:
        flush();
        break;
      case CharClass::kCjk:
        // A word of its own, still normalised: NFD maps compatibility ideographs (U+F900...)
        // to unified ones.
        flush();
        word.append(text, start, pos - start);
        ascii = false;
        flush();
        break;
      case CharClass::kKeep:
        word.append(text, start, pos - start);
        ascii = ascii && c < 0x80;
        break;
    }
  }
  flush();
  return words;
}

}  // namespace kiln
