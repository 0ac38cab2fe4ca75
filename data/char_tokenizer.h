// CharTokenizer: one token per Unicode code point, the vocabulary being the sorted distinct
// code points of the corpus. Serialises to a small text form so checkpoints can carry it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/corpus.h"

namespace kiln {

inline constexpr std::string_view kCharTokenizerHeader = "kiln-char-tokenizer v1";

class CharTokenizer {
 public:
  // Vocabulary of every character in `text`; invalid UTF-8 is an error naming `where` and
  // the byte offset (`base_offset` + offset in `text`).
  static CharTokenizer from_text(std::string_view text, std::string_view where = "text",
                                 uint64_t base_offset = 0);
  // Vocabulary of every character in both splits; errors name the file and its byte offset.
  static CharTokenizer from_corpus(const Corpus& corpus);
  // Code points must be strictly increasing valid scalar values (not surrogates).
  static CharTokenizer from_code_points(std::vector<char32_t> code_points);
  // Inverse of serialize(); errors say what was expected in the serialised form.
  static CharTokenizer from_serialized(std::string_view serialized);

  int vocab_size() const { return static_cast<int>(code_points_.size()); }
  // The code point of each id, in id order (ascending).
  const std::vector<char32_t>& code_points() const { return code_points_; }

  // Ids of the characters of `text`; an unknown character or invalid UTF-8 is an error naming
  // the character, `where` and the byte offset (`base_offset` + offset in `text`).
  std::vector<int32_t> encode(std::string_view text, std::string_view where = "text",
                              uint64_t base_offset = 0) const;
  // Ids of one split of `corpus`, with errors naming the file and its byte offset.
  std::vector<int32_t> encode_split(const Corpus& corpus, Split split) const;
  // UTF-8 text of `ids`; an id outside [0, vocab_size) is an error.
  std::string decode(std::span<const int32_t> ids) const;

  // "kiln-char-tokenizer v1\n<vocab_size>\n" then the vocabulary as UTF-8, in id order.
  std::string serialize() const;
  // FNV-1a of serialize(): equal fingerprints mean the same id for every character.
  uint64_t fingerprint() const;

 private:
  explicit CharTokenizer(std::vector<char32_t> code_points);
  // Appends the ids of `text` to `ids`.
  void encode_into(std::string_view text, std::string_view where, uint64_t base_offset,
                   std::vector<int32_t>& ids) const;

  std::vector<char32_t> code_points_;
  // Id of each ASCII character (-1 if absent): most text is ASCII, so skip the search.
  std::vector<int32_t> ascii_ids_;
};

}  // namespace kiln
