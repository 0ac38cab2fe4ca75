// WordPieceTokenizer: BERT's tokenizer, the basic tokenizer of data/bert_normalizer.h then
// greedy longest-match-first WordPiece with "##" continuations, as in google-research/bert.
// Loads a standard vocab.txt and serialises to a small text form so checkpoints can carry it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln {

inline constexpr std::string_view kWordPieceHeader = "kiln-wordpiece-tokenizer v1";
// Marks a piece that continues a word rather than starting one.
inline constexpr std::string_view kContinuationPrefix = "##";
// A word longer than max_word_chars() code points becomes a single [UNK]. The default is
// Hugging Face BertTokenizer's 100; google-research/bert's tokenization.py uses 200.
inline constexpr int kDefaultMaxWordChars = 100;
// Every vocabulary must hold these; a trained one has them as ids 0..4 in this order.
inline constexpr std::array<std::string_view, 5> kWordPieceSpecialTokens = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

class WordPieceTokenizer {
 public:
  // A vocab.txt: one token per line, id = line number ("\r\n" line ends are accepted, the last
  // newline is optional). Empty, duplicate or invalid UTF-8 tokens are errors naming the path
  // and line; so is a missing special token.
  static WordPieceTokenizer from_vocab_file(const std::string& path, bool lowercase);
  // Token i gets id i; the same checks as from_vocab_file, naming the index. Tokens may not
  // hold line breaks.
  static WordPieceTokenizer from_tokens(std::vector<std::string> tokens, bool lowercase);
  // Inverse of serialize(); errors say what was expected in the serialised form.
  static WordPieceTokenizer from_serialized(std::string_view serialized);
  // This tokenizer with another longest-word limit (n >= 1 code points).
  WordPieceTokenizer with_max_word_chars(int n) const;

  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  // Whether text is lower-cased and stripped of accents first (an uncased vocabulary).
  bool lowercase() const { return lowercase_; }
  // Words longer than this many code points encode as one [UNK].
  int max_word_chars() const { return max_word_chars_; }
  // The id of `token` (a continuation piece spelled with its "##"), or -1.
  int32_t token_id(std::string_view token) const;
  // The token of `id`; an id outside [0, vocab_size) is an error.
  const std::string& token(int32_t id) const;
  // The tokens in id order.
  const std::vector<std::string>& tokens() const { return tokens_; }
  // Whether the token of `id` starts with "##" (continues a word: for whole-word masking).
  bool is_continuation(int32_t id) const { return is_continuation_[token_index(id)] != 0; }

  int32_t pad_id() const { return special_ids_[0]; }
  int32_t unk_id() const { return special_ids_[1]; }
  int32_t cls_id() const { return special_ids_[2]; }
  int32_t sep_id() const { return special_ids_[3]; }
  int32_t mask_id() const { return special_ids_[4]; }

  // The pieces of `text` (no [CLS]/[SEP] added; "[MASK]" written in text is not special).
  // Invalid UTF-8 is an error naming `where` and the byte offset (`base_offset` + offset).
  std::vector<std::string> tokenize(std::string_view text, std::string_view where = "text",
                                    uint64_t base_offset = 0) const;
  // The ids of tokenize(text).
  std::vector<int32_t> encode(std::string_view text, std::string_view where = "text",
                              uint64_t base_offset = 0) const;
  // The tokens joined by spaces with " ##" removed, as BERT's convert_tokens_to_string.
  std::string decode(std::span<const int32_t> ids) const;

  // "kiln-wordpiece-tokenizer v1\n" "lowercase\n" or "cased\n", "max_word_chars <n>\n" only
  // when n is not the default (so forms written before the setting existed read back as 100
  // and keep their fingerprints), "<vocab_size>\n", then each token and "\n", in id order.
  std::string serialize() const;
  // FNV-1a of serialize(): equal fingerprints mean equal tokenization.
  uint64_t fingerprint() const;

 private:
  // Lets a std::string_view find a std::string key without a copy.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  // Checks the vocabulary; `locate(i)` names token i in messages ("vocab.txt:13"), `source`
  // names the whole vocabulary.
  WordPieceTokenizer(std::vector<std::string> tokens, bool lowercase, std::string_view source,
                     const std::function<std::string(size_t)>& locate);
  size_t token_index(int32_t id) const;
  // Appends the ids of one basic-tokenizer word; `buffer` is scratch space.
  void encode_word(std::string_view word, std::string& buffer, std::vector<int32_t>& ids) const;

  std::vector<std::string> tokens_;
  bool lowercase_;
  int max_word_chars_ = kDefaultMaxWordChars;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;
  std::vector<uint8_t> is_continuation_;
  std::array<int32_t, kWordPieceSpecialTokens.size()> special_ids_{};
  // No piece is longer than this many bytes, so longer candidates need no lookup.
  size_t max_token_bytes_ = 0;
};

}  // namespace kiln
