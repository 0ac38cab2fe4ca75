// WordPieceTokenizer: vocabulary loading and checks, greedy longest-match-first WordPiece,
// decode and serialisation.
#include "data/wordpiece.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "base/error.h"
#include "data/bert_normalizer.h"
#include "data/corpus.h"
#include "io/utf8.h"

namespace kiln {
namespace {

// Byte offset of the first malformed UTF-8 sequence in `text`, or npos.
size_t find_invalid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    if (!c.ok()) return pos;
    pos += c.length;
  }
  return std::string_view::npos;
}

// The lines of `text` without their "\n" (or "\r\n"); a final newline ends the last line
// rather than starting an empty one.
std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.emplace_back(line);
    begin = end + 1;
  }
  return lines;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> tokens, bool lowercase,
                                       std::string_view source,
                                       const std::function<std::string(size_t)>& locate)
    : tokens_(std::move(tokens)), lowercase_(lowercase) {
  KILN_CHECK(tokens_.size() < static_cast<size_t>(INT32_MAX), source,
             ": expected fewer than 2^31 tokens, got ", tokens_.size());
  ids_.reserve(tokens_.size());
  is_continuation_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& token = tokens_[i];
    KILN_CHECK(!token.empty(), locate(i), ": expected a token, got an empty one (id ", i, ")");
    KILN_CHECK(token.find_first_of("\r\n") == std::string::npos, locate(i),
               ": expected a token without line breaks, got one (id ", i, ")");
    const size_t bad = find_invalid_utf8(token);
    KILN_CHECK(bad == std::string::npos, locate(i), ": expected valid UTF-8, got a malformed ",
               "sequence at byte ", bad, " of the token (id ", i, ")");
    const auto [it, inserted] = ids_.emplace(token, static_cast<int32_t>(i));
    KILN_CHECK(inserted, locate(i), ": expected distinct tokens, got '", token, "' again (id ", i,
               "; first at ", locate(it->second), ", id ", it->second, ")");
    is_continuation_.push_back(token.starts_with(kContinuationPrefix) ? 1 : 0);
    max_token_bytes_ = std::max(max_token_bytes_, token.size());
  }
  for (size_t s = 0; s < kWordPieceSpecialTokens.size(); ++s) {
    special_ids_[s] = token_id(kWordPieceSpecialTokens[s]);
    KILN_CHECK(special_ids_[s] >= 0, source, ": expected the special token ",
               kWordPieceSpecialTokens[s], " in the vocabulary (", tokens_.size(),
               " tokens), got none");
  }
}

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const std::string& path, bool lowercase) {
  // Line numbers in messages count from 1 like an editor's; ids count from 0.
  return WordPieceTokenizer(split_lines(read_text_file(path)), lowercase, path,
                            [&](size_t i) { return detail::concat(path, ":", i + 1); });
}

WordPieceTokenizer WordPieceTokenizer::from_tokens(std::vector<std::string> tokens,
                                                   bool lowercase) {
  return WordPieceTokenizer(std::move(tokens), lowercase, "wordpiece: tokens",
                            [](size_t i) { return detail::concat("wordpiece: token ", i); });
}

WordPieceTokenizer WordPieceTokenizer::from_serialized(std::string_view serialized) {
  constexpr std::string_view kWhere = "wordpiece: serialized form";
  constexpr std::string_view kLimitKey = "max_word_chars ";
  std::vector<std::string> lines = split_lines(serialized);
  const auto line = [&](size_t i) { return i < lines.size() ? lines[i] : std::string(); };
  KILN_CHECK(line(0) == kWordPieceHeader, kWhere, ": expected a first line '", kWordPieceHeader,
             "', got '", line(0).substr(0, 40), line(0).size() > 40 ? "...'" : "'");
  KILN_CHECK(line(1) == "lowercase" || line(1) == "cased", kWhere,
             ": expected 'lowercase' or 'cased' on line 2, got '", line(1).substr(0, 40), "'");
  // A whole line holding a non-negative decimal number, or nullopt.
  const auto number = [](const std::string& text) -> std::optional<size_t> {
    size_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
  };
  // The optional limit line (absent: the default, as in forms written before it existed).
  size_t header = 3, max_word_chars = kDefaultMaxWordChars;
  if (line(2).starts_with(kLimitKey)) {
    const std::optional<size_t> limit = number(line(2).substr(kLimitKey.size()));
    KILN_CHECK(limit && *limit >= 1 && *limit <= INT32_MAX, kWhere,
               ": expected 'max_word_chars <n>' with n >= 1 on line 3, got '",
               line(2).substr(0, 40), "'");
    max_word_chars = *limit;
    header = 4;
  }
  const std::optional<size_t> vocab_size = number(line(header - 1));
  KILN_CHECK(vocab_size, kWhere, ": expected a vocabulary size on line ", header, ", got '",
             line(header - 1).substr(0, 40), "'");
  KILN_CHECK(
      lines.size() >= header && lines.size() - header == *vocab_size && serialized.ends_with('\n'),
      kWhere, ": expected ", *vocab_size, " newline-terminated tokens after the header, got ",
      lines.size() < header ? 0 : lines.size() - header, " lines");
  const bool lowercase = line(1) == "lowercase";
  lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(header));
  WordPieceTokenizer tokenizer(std::move(lines), lowercase, kWhere, [&](size_t i) {
    return detail::concat(kWhere, ": line ", i + header + 1);
  });
  tokenizer.max_word_chars_ = static_cast<int>(max_word_chars);
  return tokenizer;
}

WordPieceTokenizer WordPieceTokenizer::with_max_word_chars(int n) const {
  KILN_CHECK(n >= 1, "wordpiece: expected max_word_chars >= 1, got ", n);
  WordPieceTokenizer copy = *this;
  copy.max_word_chars_ = n;
  return copy;
}

size_t WordPieceTokenizer::token_index(int32_t id) const {
  KILN_CHECK(id >= 0 && id < vocab_size(), "wordpiece: expected an id in [0, ", vocab_size(),
             "), got ", id);
  return static_cast<size_t>(id);
}

int32_t WordPieceTokenizer::token_id(std::string_view token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

const std::string& WordPieceTokenizer::token(int32_t id) const {
  return tokens_[token_index(id)];
}

void WordPieceTokenizer::encode_word(std::string_view word, std::string& buffer,
                                     std::vector<int32_t>& ids) const {
  size_t chars = 0;
  for (char byte : word) chars += is_utf8_continuation(byte) ? 0 : 1;
  if (chars > static_cast<size_t>(max_word_chars_)) {
    ids.push_back(unk_id());
    return;
  }
  const size_t first_piece = ids.size();
  for (size_t start = 0; start < word.size();) {
    // Longest match first: shrink the candidate one code point at a time from the right.
    int32_t id = -1;
    size_t end = word.size();
    while (end > start) {
      const std::string_view piece = word.substr(start, end - start);
      if (start == 0) {
        if (piece.size() <= max_token_bytes_) id = token_id(piece);
      } else if (piece.size() + kContinuationPrefix.size() <= max_token_bytes_) {
        buffer.assign(kContinuationPrefix);
        buffer += piece;
        id = token_id(buffer);
      }
      if (id >= 0) break;
      do {
        --end;
      } while (end > start && is_utf8_continuation(word[end]));
    }
    if (id < 0) {
      // A word that cannot be split completely is one [UNK], not its pieces plus an [UNK].
      ids.resize(first_piece);
      ids.push_back(unk_id());
      return;
    }
    ids.push_back(id);
    start = end;
  }
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, std::string_view where,
                                                uint64_t base_offset) const {
  std::vector<int32_t> ids;
  std::string buffer;
  for (const std::string& word : bert_basic_tokenize(text, lowercase_, where, base_offset)) {
    encode_word(word, buffer, ids);
  }
  return ids;
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text, std::string_view where,
                                                      uint64_t base_offset) const {
  std::vector<std::string> pieces;
  for (int32_t id : encode(text, where, base_offset)) pieces.push_back(tokens_[id]);
  return pieces;
}

std::string WordPieceTokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& piece = token(ids[i]);
    if (i == 0) {
      text += piece;
    } else if (is_continuation(ids[i])) {
      text.append(piece, kContinuationPrefix.size());
    } else {
      text += ' ';
      text += piece;
    }
  }
  return text;
}

std::string WordPieceTokenizer::serialize() const {
  std::string out(kWordPieceHeader);
  out += lowercase_ ? "\nlowercase\n" : "\ncased\n";
  if (max_word_chars_ != kDefaultMaxWordChars)
    out += "max_word_chars " + std::to_string(max_word_chars_) + '\n';
  out += std::to_string(tokens_.size()) + '\n';
  for (const std::string& token : tokens_) out += token + '\n';
  return out;
}

uint64_t WordPieceTokenizer::fingerprint() const {
  return fnv1a_64(serialize());
}

}  // namespace kiln
