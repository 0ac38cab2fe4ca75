// WordPiece training: word counts, the character alphabet, then merges with incrementally
// maintained pair and piece counts (only the words holding the merged pair are revisited).
#include "data/wordpiece_trainer.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "base/error.h"
#include "data/bert_normalizer.h"
#include "io/fault_point.h"
#include "io/utf8.h"

namespace kiln {
namespace {

// Exact comparison of count / (count_a * count_b) scores: the products can pass 2^64.
__extension__ typedef unsigned __int128 Uint128;

// The characters of a non-empty `word` as pieces: the first as is, the others with "##".
std::vector<std::string> character_pieces(const std::string& word) {
  std::vector<std::string> pieces;
  for (size_t pos = 0; pos < word.size();) {
    size_t end = pos + 1;
    while (end < word.size() && is_utf8_continuation(word[end])) ++end;
    pieces.push_back((pos == 0 ? "" : "##") + word.substr(pos, end - pos));
    pos = end;
  }
  return pieces;
}

class Trainer {
 public:
  Trainer(const std::map<std::string, int64_t>& word_counts, WordPieceScore score) : score_(score) {
    for (std::string_view special : kWordPieceSpecialTokens) add_token(std::string(special));
    // The alphabet: word-initial characters, then "##" characters, each in code point order
    // (which UTF-8 byte order is).
    std::set<std::string> initial, continuation;
    for (const auto& [word, count] : word_counts) {
      const std::vector<std::string> pieces = character_pieces(word);
      initial.insert(pieces[0]);
      continuation.insert(pieces.begin() + 1, pieces.end());
    }
    for (const std::string& token : initial) add_token(token);
    for (const std::string& token : continuation) add_token(token);

    for (const auto& [word, count] : word_counts) {
      Word w{{}, count};
      for (const std::string& piece : character_pieces(word)) w.symbols.push_back(ids_.at(piece));
      words_.push_back(std::move(w));
      add_word_counts(static_cast<int32_t>(words_.size() - 1), +1, -1);
    }
    merged_at_.assign(words_.size(), -1);
  }

  size_t vocab_size() const { return tokens_.size(); }

  // Merges the best pair; false when no pair is left (every word is a single piece).
  bool merge_best() {
    int32_t best = -1;
    for (int32_t p = 0; p < static_cast<int32_t>(pairs_.size()); ++p) {
      if (pairs_[p].count > 0 && (best < 0 || better(pairs_[p], pairs_[best]))) best = p;
    }
    if (best < 0) return false;
    const int32_t a = pairs_[best].first;
    const int32_t b = pairs_[best].second;
    // b never starts a word, so it is a "##" piece: "un" + "##aff" -> "unaff".
    const std::string merged = tokens_[a] + tokens_[b].substr(2);
    const auto it = ids_.find(merged);
    // Another pair may already have produced the same string ("a" + "##bc" and "ab" + "##c").
    const int32_t c = it != ids_.end() ? it->second : add_token(merged);
    const std::vector<int32_t> words = std::move(pairs_[best].words);
    pairs_[best].words.clear();
    ++merges_;
    for (int32_t w : words) {
      if (merged_at_[w] == merges_) continue;  // listed twice
      merged_at_[w] = merges_;
      merge_in_word(w, a, b, c);
    }
    // Left-to-right merging leaves no (a, b) behind; a leftover would be picked forever.
    KILN_CHECK(pairs_[best].count == 0, "train_wordpiece: expected merge ", merges_,
               " to consume every '", tokens_[a], "' '", tokens_[b], "' pair, got ",
               pairs_[best].count, " left");
    return true;
  }

  std::vector<std::string> take_tokens() { return std::move(tokens_); }

 private:
  struct Word {
    std::vector<int32_t> symbols;
    int64_t count;
  };
  struct Pair {
    int32_t first, second;
    int64_t count = 0;           // occurrences, weighted by word count
    std::vector<int32_t> words;  // words that hold (or once held) the pair
  };

  int32_t add_token(std::string token) {
    const auto id = static_cast<int32_t>(tokens_.size());
    ids_.emplace(token, id);
    tokens_.push_back(std::move(token));
    token_counts_.push_back(0);
    return id;
  }

  bool better(const Pair& x, const Pair& y) const {
    if (score_ == WordPieceScore::kLikelihood) {
      // x.count / (ax * bx) > y.count / (ay * by), cross-multiplied.
      const Uint128 lhs =
          Uint128(x.count) * Uint128(token_counts_[y.first]) * Uint128(token_counts_[y.second]);
      const Uint128 rhs =
          Uint128(y.count) * Uint128(token_counts_[x.first]) * Uint128(token_counts_[x.second]);
      if (lhs != rhs) return lhs > rhs;
    }
    if (x.count != y.count) return x.count > y.count;
    return std::pair(x.first, x.second) < std::pair(y.first, y.second);
  }

  // Adds `sign` times word w's pieces and adjacent pairs to the counts. On adding, lists w
  // under each pair that holds piece `fresh`, the only pairs a merge can bring into w, or
  // under every pair if `fresh` is -1.
  void add_word_counts(int32_t w, int sign, int32_t fresh) {
    const Word& word = words_[w];
    const int64_t delta = sign * word.count;
    for (size_t i = 0; i < word.symbols.size(); ++i) {
      token_counts_[word.symbols[i]] += delta;
      if (i == 0) continue;
      const int32_t x = word.symbols[i - 1], y = word.symbols[i];
      const uint64_t key = uint64_t(uint32_t(x)) << 32 | uint32_t(y);
      auto [it, inserted] = pair_index_.emplace(key, static_cast<int32_t>(pairs_.size()));
      if (inserted) pairs_.push_back(Pair{x, y, 0, {}});
      Pair& pair = pairs_[it->second];
      pair.count += delta;
      if (sign > 0 && (fresh < 0 || x == fresh || y == fresh) &&
          (pair.words.empty() || pair.words.back() != w)) {
        pair.words.push_back(w);
      }
    }
  }

  // Replaces each (a, b) in word w, left to right, by c, keeping all counts current.
  void merge_in_word(int32_t w, int32_t a, int32_t b, int32_t c) {
    std::vector<int32_t>& symbols = words_[w].symbols;
    bool holds = false;
    for (size_t i = 1; i < symbols.size() && !holds; ++i) {
      holds = symbols[i - 1] == a && symbols[i] == b;
    }
    if (!holds) return;  // a stale listing: an earlier merge took the pair apart
    add_word_counts(w, -1, -1);
    std::vector<int32_t> merged;
    merged.reserve(symbols.size());
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && symbols[i] == a && symbols[i + 1] == b) {
        merged.push_back(c);
        ++i;
      } else {
        merged.push_back(symbols[i]);
      }
    }
    symbols = std::move(merged);
    add_word_counts(w, +1, c);
  }

  WordPieceScore score_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<int64_t> token_counts_;  // occurrences of each piece, weighted by word count
  std::vector<Word> words_;
  std::vector<Pair> pairs_;  // never shrinks: a pair's index stays valid
  std::unordered_map<uint64_t, int32_t> pair_index_;
  std::vector<int64_t> merged_at_;  // per word, the last merge that visited it
  int64_t merges_ = 0;
};

}  // namespace

WordPieceTokenizer train_wordpiece(const std::vector<std::string>& texts, int vocab_size,
                                   bool lowercase, WordPieceScore score, int max_word_chars) {
  // Sorted, so the alphabet and every tie are independent of hashing.
  std::map<std::string, int64_t> word_counts;
  {
    std::unordered_map<std::string, int64_t> counts;
    for (size_t t = 0; t < texts.size(); ++t) {
      const std::string where = detail::concat("train_wordpiece: text ", t);
      for (std::string& word : bert_basic_tokenize(texts[t], lowercase, where)) {
        size_t chars = 0;
        for (char byte : word) chars += is_utf8_continuation(byte) ? 0 : 1;
        if (chars <= static_cast<size_t>(max_word_chars)) ++counts[std::move(word)];
      }
    }
    word_counts.insert(counts.begin(), counts.end());
  }
  KILN_CHECK(!word_counts.empty(), "train_wordpiece: expected text with at least one word, got ",
             texts.size(), " texts without any");

  Trainer trainer(word_counts, score);
  const size_t base_size = trainer.vocab_size();
  KILN_CHECK(vocab_size >= 0 && static_cast<size_t>(vocab_size) >= base_size,
             "train_wordpiece: expected a vocab_size of at least ", base_size, " (",
             kWordPieceSpecialTokens.size(), " special tokens and ",
             base_size - kWordPieceSpecialTokens.size(), " characters), got ", vocab_size);
  while (trainer.vocab_size() < static_cast<size_t>(vocab_size) && trainer.merge_best()) {
    io::fault_point("tokenizer_training");  // for the kill-anywhere test: one merge at a time
  }
  return WordPieceTokenizer::from_tokens(trainer.take_tokens(), lowercase)
      .with_max_word_chars(max_word_chars);
}

}  // namespace kiln
