// Tokenizer: one handle over every kind kiln has (character, WordPiece, GPT-2 byte-level
// BPE), so tasks, checkpoints and commands work with any of them. The serialised form
// starts with a header line naming the kind, which is how from_serialized dispatches.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "data/bpe.h"
#include "data/char_tokenizer.h"
#include "data/corpus.h"
#include "data/wordpiece.h"

namespace kiln {

class Tokenizer {
 public:
  using Variant = std::variant<CharTokenizer, WordPieceTokenizer, BpeTokenizer>;
  explicit Tokenizer(Variant tokenizer) : tokenizer_(std::move(tokenizer)) {}

  // Inverse of serialize() for any kind; an unknown header is an error naming it.
  static Tokenizer from_serialized(std::string_view serialized);

  // "char", "wordpiece" or "bpe".
  std::string kind() const;
  int vocab_size() const;
  // Ids of `text`; errors (unknown character, invalid UTF-8) name `where` and the byte offset.
  std::vector<int32_t> encode(std::string_view text, std::string_view where = "text",
                              uint64_t base_offset = 0) const;
  // Ids of one split of `corpus`, errors naming the file and the offset in it.
  std::vector<int32_t> encode_split(const Corpus& corpus, Split split) const;
  std::string decode(std::span<const int32_t> ids) const;
  std::string serialize() const;
  uint64_t fingerprint() const;

  // The concrete tokenizer, or null when it is another kind.
  template <typename T>
  const T* as() const {
    return std::get_if<T>(&tokenizer_);
  }

 private:
  Variant tokenizer_;
};

}  // namespace kiln
