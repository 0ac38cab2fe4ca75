// GPT-2's byte-level text layer before BPE: the pre-tokenisation regex as a hand-written
// scanner over code points, and the bytes_to_unicode map that spells every byte as a
// printable character in vocabulary files (encoder.json, vocab.bpe).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// Splits text exactly like GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (\p{L} letters, \p{N} numbers, \s White_Space, per ICU). The pieces tile the text, so
// concatenating them gives it back. A byte that is not part of valid UTF-8 counts as one
// character that is neither letter, number nor space, so any byte string can be split.
class Gpt2Pretokenizer {
 public:
  explicit Gpt2Pretokenizer(std::string_view text) : text_(text) {}
  // The next piece (a view into the text), or std::nullopt when the text is used up.
  std::optional<std::string_view> next();

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// Every piece of `text`, in order.
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// bytes_to_unicode: the code point that spells byte b. Printable bytes ('!'..'~', U+00A1..
// U+00AC, U+00AE..U+00FF) spell themselves; the other 68 become U+0100 + n in byte order.
char32_t gpt2_byte_to_code_point(uint8_t byte);
// The inverse map: the byte spelled by `cp`, or std::nullopt if `cp` spells no byte.
std::optional<uint8_t> gpt2_code_point_to_byte(char32_t cp);
// The bytes in GPT-2's vocabulary order: printable ones first, then the rest (byte order).
// GPT-2's ids 0..255 are these single-byte tokens, in this order.
const std::array<uint8_t, 256>& gpt2_byte_order();

// `bytes` spelled with bytes_to_unicode, as UTF-8 ("\xC4\xA0world" for " world").
std::string gpt2_spell_bytes(std::string_view bytes);
// The bytes a spelled token stands for; std::nullopt if it is not valid UTF-8 or holds a
// character outside the map.
std::optional<std::string> gpt2_unspell(std::string_view spelled);

}  // namespace kiln
