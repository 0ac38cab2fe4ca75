// BpeTokenizer: GPT-2's byte-level BPE. Loads OpenAI's encoder.json + vocab.bpe (or Hugging
// Face's vocab.json + merges.txt, the same formats), encodes exactly like GPT-2, and decodes
// ids back to the exact bytes. Training a new one lives in data/bpe_trainer.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kiln {

inline constexpr std::string_view kBpeTokenizerHeader = "kiln-bpe-tokenizer v1";
// GPT-2's document separator (id 50256). encode() treats it as plain text, like GPT-2's
// encoder; callers insert the id themselves.
inline constexpr std::string_view kEndOfText = "<|endoftext|>";

class BpeTokenizer {
 public:
  // A merge rule: tokens `left` and `right` side by side become `merged`.
  struct Merge {
    int32_t left;
    int32_t right;
    int32_t merged;
  };

  // Vocabulary from a JSON object {"token": id, ...} (tokens spelled with bytes_to_unicode,
  // ids 0..n-1 each once, all 256 single bytes present) and merges "a b", one a line after an
  // optional "#version" line, ranked by line order. Errors name the file and line or offset.
  static BpeTokenizer from_files(const std::string& vocab_json_path,
                                 const std::string& merges_path);
  // from_files on file contents; the names stand for the paths in messages.
  static BpeTokenizer from_strings(std::string_view vocab_json, std::string_view merges_txt,
                                   std::string_view vocab_name = "vocab.json",
                                   std::string_view merges_name = "merges.txt");
  // Tokens as raw bytes in id order (distinct, all 256 single bytes among them) and merges as
  // (left, right) ids in rank order; each merge's concatenation must be a token.
  static BpeTokenizer from_tokens(std::vector<std::string> token_bytes,
                                  const std::vector<std::pair<int32_t, int32_t>>& merges);
  // Inverse of serialize(); errors name the line of the serialised form.
  static BpeTokenizer from_serialized(std::string_view serialized);

  int vocab_size() const { return static_cast<int>(token_bytes_.size()); }
  // The id of a token spelled as in encoder.json ("Ġworld"), if there is one.
  std::optional<int32_t> token_id(std::string_view spelled_token) const;
  // The token of `id` spelled as in encoder.json; `id` must be in [0, vocab_size).
  std::string token(int32_t id) const;
  // The raw bytes `id` stands for (" world"); `id` must be in [0, vocab_size).
  const std::string& token_bytes(int32_t id) const;
  // Merge rules in rank order (rank 0 is applied first).
  const std::vector<Merge>& merges() const { return merges_; }

  // GPT-2's ids for `text`. Never fails: any byte string has an encoding.
  std::vector<int32_t> encode(std::string_view text) const;
  // Appends the ids of `text` to `ids`.
  void encode_into(std::string_view text, std::vector<int32_t>& ids) const;
  // The bytes of `ids` (decode(encode(x)) == x); an id outside [0, vocab_size) is an error.
  std::string decode(std::span<const int32_t> ids) const;

  // The vocabulary as encoder.json / vocab.json: {"token": id, ...} in id order.
  std::string to_vocab_json() const;
  // The merges as vocab.bpe / merges.txt: "#version: 0.2" then "a b" lines in rank order.
  std::string to_merges_txt() const;

  // "kiln-bpe-tokenizer v1\n<vocab_size> <merge count>\n", the spelled tokens one a line in
  // id order, then the merges "a b" one a line in rank order.
  std::string serialize() const;
  // FNV-1a of serialize(): equal fingerprints mean equal encodings of every text.
  uint64_t fingerprint() const;

 private:
  struct WordCache;
  // Merge rules by (left << 32 | right): their rank and the merged token.
  struct Rule {
    int32_t rank;
    int32_t merged;
  };

  BpeTokenizer(std::vector<std::string> token_bytes, std::vector<Merge> merges);
  // Appends the BPE ids of one pre-token.
  void encode_word(std::string_view word, std::vector<int32_t>& ids) const;
  // BPE of one pre-token without the cache: the merge loop.
  void merge_word(std::string_view word, std::vector<int32_t>& ids) const;

  std::vector<std::string> token_bytes_;
  std::unordered_map<std::string, int32_t> ids_by_bytes_;
  std::vector<int32_t> byte_ids_;  // id of each single-byte token, by byte value
  std::vector<Merge> merges_;
  std::unordered_map<uint64_t, Rule> rules_;
  // Pre-token -> ids, shared by copies (it depends only on the vocabulary and merges).
  std::shared_ptr<WordCache> cache_;
};

}  // namespace kiln
