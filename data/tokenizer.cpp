// Dispatch from the Tokenizer handle to the concrete tokenizers.
#include "data/tokenizer.h"

#include "base/error.h"

namespace kiln {

Tokenizer Tokenizer::from_serialized(std::string_view serialized) {
  std::string_view header = serialized.substr(0, serialized.find('\n'));
  if (header == kCharTokenizerHeader) return Tokenizer(CharTokenizer::from_serialized(serialized));
  if (header == kWordPieceHeader) return Tokenizer(WordPieceTokenizer::from_serialized(serialized));
  if (header == kBpeTokenizerHeader) return Tokenizer(BpeTokenizer::from_serialized(serialized));
  throw Error("tokenizer: expected a header line naming a kiln tokenizer (\"" +
              std::string(kCharTokenizerHeader) + "\", ...), got \"" +
              std::string(header.substr(0, 60)) + "\"");
}

std::string Tokenizer::kind() const {
  return std::visit(
      [](const auto& t) -> std::string {
        using T = std::decay_t<decltype(t)>;
        if constexpr (std::is_same_v<T, CharTokenizer>) return "char";
        if constexpr (std::is_same_v<T, WordPieceTokenizer>) return "wordpiece";
        return "bpe";
      },
      tokenizer_);
}

int Tokenizer::vocab_size() const {
  return std::visit([](const auto& t) { return t.vocab_size(); }, tokenizer_);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, std::string_view where,
                                       uint64_t base_offset) const {
  return std::visit(
      [&](const auto& t) {
        // Byte-level BPE accepts any bytes, so it has nothing to report a position for.
        if constexpr (std::is_same_v<std::decay_t<decltype(t)>, BpeTokenizer>)
          return t.encode(text);
        else
          return t.encode(text, where, base_offset);
      },
      tokenizer_);
}

std::vector<int32_t> Tokenizer::encode_split(const Corpus& corpus, Split split) const {
  std::vector<int32_t> ids;
  for (const CorpusPiece& piece : corpus.pieces(split)) {
    std::vector<int32_t> more = encode(piece.text, piece.source, piece.source_offset);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  return std::visit([&](const auto& t) { return t.decode(ids); }, tokenizer_);
}

std::string Tokenizer::serialize() const {
  return std::visit([](const auto& t) { return t.serialize(); }, tokenizer_);
}

uint64_t Tokenizer::fingerprint() const {
  return std::visit([](const auto& t) { return t.fingerprint(); }, tokenizer_);
}

}  // namespace kiln
