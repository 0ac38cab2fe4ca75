// train_bpe: word counting, then merges with incremental pair counts. Each merge touches only
// the words that hold the pair, so the cost is per occurrence, not per corpus pass.
#include "data/bpe_trainer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "base/error.h"
#include "data/gpt2_pretokenizer.h"
#include "io/fault_point.h"

namespace kiln {
namespace {

using PairKey = uint64_t;

PairKey pair_key(int32_t left, int32_t right) {
  return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
}
int32_t left_of(PairKey key) {
  return static_cast<int32_t>(key >> 32);
}
int32_t right_of(PairKey key) {
  return static_cast<int32_t>(key & 0xFFFFFFFFu);
}

// A distinct pre-token: its current symbols and how often it occurs.
struct Word {
  std::vector<int32_t> symbols;
  int64_t count;
};

struct HeapEntry {
  int64_t count;
  PairKey pair;
};

class Trainer {
 public:
  explicit Trainer(const std::vector<std::string_view>& texts) {
    const std::array<uint8_t, 256>& order = gpt2_byte_order();
    int32_t byte_ids[256];
    for (int id = 0; id < 256; ++id) {
      tokens_.emplace_back(1, static_cast<char>(order[id]));
      ids_.emplace(tokens_.back(), id);
      byte_ids[order[id]] = id;
    }
    std::unordered_map<std::string_view, int64_t> counts;
    for (std::string_view text : texts) {
      Gpt2Pretokenizer pretokenizer(text);
      while (const auto piece = pretokenizer.next()) {
        if (piece->size() > 1) ++counts[*piece];  // a single byte holds no pair
      }
    }
    words_.reserve(counts.size());
    for (const auto& [piece, count] : counts) {
      Word word{{}, count};
      for (const char c : piece) word.symbols.push_back(byte_ids[static_cast<unsigned char>(c)]);
      words_.push_back(std::move(word));
    }
    for (size_t w = 0; w < words_.size(); ++w) {
      const Word& word = words_[w];
      for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
        const PairKey key = pair_key(word.symbols[i], word.symbols[i + 1]);
        pair_counts_[key] += word.count;
        where_[key].push_back(static_cast<int32_t>(w));
      }
    }
    for (const auto& [key, count] : pair_counts_) heap_.push_back({count, key});
    std::make_heap(heap_.begin(), heap_.end(), lower());
  }

  // Merges until there are `merge_tokens` tokens or no pairs are left.
  void run(size_t merge_tokens) {
    while (tokens_.size() < merge_tokens && !heap_.empty()) {
      io::fault_point("tokenizer_training");  // for the kill-anywhere test: one merge at a time
      std::pop_heap(heap_.begin(), heap_.end(), lower());
      const HeapEntry top = heap_.back();
      heap_.pop_back();
      // Entries are pushed when a count rises and left alone when it falls, so an entry's
      // count is never below the pair's: a top entry that is still exact is the true best.
      const auto it = pair_counts_.find(top.pair);
      const int64_t actual = it == pair_counts_.end() ? 0 : it->second;
      if (actual != top.count) {
        if (actual > 0) push(top.pair, actual);
        continue;
      }
      merge(top.pair);
    }
  }

  BpeTokenizer finish() {
    tokens_.emplace_back(kEndOfText);
    return BpeTokenizer::from_tokens(std::move(tokens_), merges_);
  }

 private:
  // Heap order: fewer occurrences is lower; on a tie, later token bytes are lower.
  struct Lower {
    const std::vector<std::string>* tokens;
    bool operator()(const HeapEntry& a, const HeapEntry& b) const {
      if (a.count != b.count) return a.count < b.count;
      const std::string& a_left = (*tokens)[left_of(a.pair)];
      const std::string& b_left = (*tokens)[left_of(b.pair)];
      if (a_left != b_left) return a_left > b_left;
      return (*tokens)[right_of(a.pair)] > (*tokens)[right_of(b.pair)];
    }
  };
  Lower lower() const { return Lower{&tokens_}; }

  void push(PairKey pair, int64_t count) {
    heap_.push_back({count, pair});
    std::push_heap(heap_.begin(), heap_.end(), lower());
  }

  void merge(PairKey pair) {
    const int32_t left = left_of(pair);
    const int32_t right = right_of(pair);
    // Two merge paths can spell the same bytes ("a"+"bc", "ab"+"c"); they share one id.
    std::string merged_bytes = tokens_[left] + tokens_[right];
    int32_t merged = 0;
    if (const auto it = ids_.find(merged_bytes); it != ids_.end()) {
      merged = it->second;
    } else {
      merged = static_cast<int32_t>(tokens_.size());
      ids_.emplace(merged_bytes, merged);
      tokens_.push_back(std::move(merged_bytes));
    }
    merges_.emplace_back(left, right);

    std::vector<int32_t> affected = std::move(where_[pair]);
    where_.erase(pair);
    std::sort(affected.begin(), affected.end());
    affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
    std::unordered_set<PairKey> risen;  // pairs with the merged token: their counts only rise
    std::vector<int32_t> symbols;
    for (const int32_t w : affected) {
      Word& word = words_[w];
      symbols.clear();
      for (size_t i = 0; i < word.symbols.size(); ++i) {
        if (i + 1 < word.symbols.size() && word.symbols[i] == left &&
            word.symbols[i + 1] == right) {
          symbols.push_back(merged);
          ++i;
        } else {
          symbols.push_back(word.symbols[i]);
        }
      }
      if (symbols.size() == word.symbols.size()) continue;  // merged away by an earlier step
      // Words are short: re-counting all their pairs is simpler than patching neighbours.
      for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
        const PairKey key = pair_key(word.symbols[i], word.symbols[i + 1]);
        if ((pair_counts_[key] -= word.count) == 0) pair_counts_.erase(key);
      }
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const PairKey key = pair_key(symbols[i], symbols[i + 1]);
        pair_counts_[key] += word.count;
        if (symbols[i] == merged || symbols[i + 1] == merged) {
          where_[key].push_back(w);
          risen.insert(key);
        }
      }
      word.symbols.swap(symbols);
    }
    for (const PairKey key : risen) {
      if (const auto it = pair_counts_.find(key); it != pair_counts_.end()) push(key, it->second);
    }
  }

  std::vector<std::string> tokens_;  // bytes, by id
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<std::pair<int32_t, int32_t>> merges_;
  std::vector<Word> words_;
  std::unordered_map<PairKey, int64_t> pair_counts_;
  std::unordered_map<PairKey, std::vector<int32_t>> where_;  // words that may hold the pair
  std::vector<HeapEntry> heap_;
};

}  // namespace

BpeTokenizer train_bpe(const std::vector<std::string_view>& texts, int vocab_size) {
  KILN_CHECK(vocab_size >= 257, "train_bpe: expected a vocab_size of at least 257 (256 bytes and ",
             kEndOfText, "), got ", vocab_size);
  Trainer trainer(texts);
  trainer.run(static_cast<size_t>(vocab_size) - 1);
  return trainer.finish();
}

}  // namespace kiln
