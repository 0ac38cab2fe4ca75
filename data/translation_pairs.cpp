// The translation-pair reader, the Bible's chapter positions, teacher forcing and the
// length-grouped batches.
#include "data/translation_pairs.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <numeric>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "base/rng.h"

namespace kiln {
namespace {

// The 66 books in KJV order as diatheke names them, with their chapter counts (KJV
// versification, which both corpora use): 929 chapters in the Old Testament, 260 in the New.
struct Book {
  std::string_view name;
  int chapters;
};
constexpr std::array<Book, 66> kBooks = {{
    {"Genesis", 50},
    {"Exodus", 40},
    {"Leviticus", 27},
    {"Numbers", 36},
    {"Deuteronomy", 34},
    {"Joshua", 24},
    {"Judges", 21},
    {"Ruth", 4},
    {"I Samuel", 31},
    {"II Samuel", 24},
    {"I Kings", 22},
    {"II Kings", 25},
    {"I Chronicles", 29},
    {"II Chronicles", 36},
    {"Ezra", 10},
    {"Nehemiah", 13},
    {"Esther", 10},
    {"Job", 42},
    {"Psalms", 150},
    {"Proverbs", 31},
    {"Ecclesiastes", 12},
    {"Song of Solomon", 8},
    {"Isaiah", 66},
    {"Jeremiah", 52},
    {"Lamentations", 5},
    {"Ezekiel", 48},
    {"Daniel", 12},
    {"Hosea", 14},
    {"Joel", 3},
    {"Amos", 9},
    {"Obadiah", 1},
    {"Jonah", 4},
    {"Micah", 7},
    {"Nahum", 3},
    {"Habakkuk", 3},
    {"Zephaniah", 3},
    {"Haggai", 2},
    {"Zechariah", 14},
    {"Malachi", 4},
    {"Matthew", 28},
    {"Mark", 16},
    {"Luke", 24},
    {"John", 21},
    {"Acts", 28},
    {"Romans", 16},
    {"I Corinthians", 16},
    {"II Corinthians", 13},
    {"Galatians", 6},
    {"Ephesians", 6},
    {"Philippians", 4},
    {"Colossians", 4},
    {"I Thessalonians", 5},
    {"II Thessalonians", 3},
    {"I Timothy", 6},
    {"II Timothy", 4},
    {"Titus", 3},
    {"Philemon", 1},
    {"Hebrews", 13},
    {"James", 5},
    {"I Peter", 5},
    {"II Peter", 3},
    {"I John", 5},
    {"II John", 1},
    {"III John", 1},
    {"Jude", 1},
    {"Revelation of John", 22},
}};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
    fields.push_back(line.substr(start, tab - start));
  fields.push_back(line.substr(start));
  return fields;
}

// The longer side of a prepared pair: what a batch pads to.
int64_t pair_length(const TokenPair& p) {
  return static_cast<int64_t>(std::max(p.source.size(), p.target.size()));
}

int64_t shorter_side(const TokenPair& p) {
  return static_cast<int64_t>(std::min(p.source.size(), p.target.size()));
}

}  // namespace

std::vector<TranslationPair> read_translation_pairs(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  KILN_CHECK(in.good(), path,
             ": cannot open the translation pairs file; run "
             "scripts/prepare_corpus.sh es-en to write corpora/es-en.tsv");
  std::vector<TranslationPair> pairs;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> fields = split_tabs(line);
    KILN_CHECK(fields.size() == 3, path, ":", number,
               ": expected 3 tab-separated fields (reference, source, target), got ",
               fields.size());
    KILN_CHECK(!fields[0].empty() && !fields[1].empty() && !fields[2].empty(), path, ":", number,
               ": expected non-empty reference, source and target, got an empty ",
               fields[0].empty()   ? "reference"
               : fields[1].empty() ? "source"
                                   : "target");
    pairs.push_back({std::move(fields[0]), std::move(fields[1]), std::move(fields[2])});
  }
  return pairs;
}

int bible_chapter_position(const std::string& reference) {
  // "Book C:V": the book is everything before the last space.
  const std::size_t space = reference.rfind(' ');
  const std::size_t colon = reference.find(':', space == std::string::npos ? 0 : space);
  KILN_CHECK(space != std::string::npos && colon != std::string::npos && colon > space + 1,
             "bible_chapter_position: expected a reference \"Book C:V\", got \"", reference, "\"");
  const std::string_view book(reference.data(), space);
  int chapter = 0;
  for (std::size_t i = space + 1; i < colon; ++i) {
    KILN_CHECK(reference[i] >= '0' && reference[i] <= '9' && chapter < 1000,
               "bible_chapter_position: expected a chapter number in \"", reference, "\"");
    chapter = chapter * 10 + (reference[i] - '0');
  }
  int before = 0;  // chapters of the books before this one
  for (const Book& b : kBooks) {
    if (b.name == book) {
      KILN_CHECK(chapter >= 1 && chapter <= b.chapters,
                 "bible_chapter_position: expected chapter 1 to ", b.chapters, " of ", b.name,
                 ", got \"", reference, "\"");
      return before + chapter;
    }
    before += b.chapters;
  }
  KILN_CHECK(false,
             "bible_chapter_position: expected a book name as diatheke prints it "
             "(\"Genesis\", \"I Samuel\", \"Revelation of John\"), got \"",
             book, "\" in \"", reference, "\"");
  return 0;
}

bool is_held_out_verse(const std::string& reference) {
  return bible_chapter_position(reference) % 20 == 0;
}

PreparedPairs prepare_pairs(const std::vector<TokenPair>& pairs, const PairLimits& limits) {
  KILN_CHECK(limits.max_seq_len >= 2,
             "prepare_pairs: expected max_seq_len >= 2 (a token and "
             "eos), got ",
             limits.max_seq_len);
  PreparedPairs out;
  const auto keep = static_cast<std::size_t>(limits.max_seq_len - 1);  // tokens before eos
  for (const TokenPair& p : pairs) {
    const bool too_long = p.source.size() > keep || p.target.size() > keep;
    if (too_long && limits.long_pairs == LongPairPolicy::kDrop) {
      ++out.dropped;
      continue;
    }
    out.truncated += too_long;
    TokenPair q;
    q.source.assign(p.source.begin(), p.source.begin() + std::min(keep, p.source.size()));
    q.target.assign(p.target.begin(), p.target.begin() + std::min(keep, p.target.size()));
    q.source.push_back(limits.eos_id);
    q.target.push_back(limits.eos_id);
    out.pairs.push_back(std::move(q));
  }
  return out;
}

PairBatch make_pair_batch(const std::vector<TokenPair>& pairs, const std::vector<int64_t>& indices,
                          int32_t pad_id) {
  PairBatch b;
  b.rows = static_cast<int64_t>(indices.size());
  b.pair_indices = indices;
  for (int64_t i : indices) {
    b.source_len = std::max<int64_t>(b.source_len, pairs[i].source.size());
    b.target_len = std::max<int64_t>(b.target_len, pairs[i].target.size());
  }
  const auto S = static_cast<std::size_t>(b.source_len), T = static_cast<std::size_t>(b.target_len);
  b.input_ids.assign(indices.size() * S, pad_id);
  b.attention_mask.assign(indices.size() * S, 0);
  b.decoder_input_ids.assign(indices.size() * T, pad_id);
  b.labels.assign(indices.size() * T, -100);
  for (std::size_t r = 0; r < indices.size(); ++r) {
    const TokenPair& p = pairs[indices[r]];
    std::copy(p.source.begin(), p.source.end(), b.input_ids.begin() + r * S);
    std::fill_n(b.attention_mask.begin() + r * S, p.source.size(), 1);
    std::copy(p.target.begin(), p.target.end(), b.labels.begin() + r * T);
    // Shifted right: position 0 is the start token (pad), position t is label t - 1.
    std::copy(p.target.begin(), p.target.end() - 1, b.decoder_input_ids.begin() + r * T + 1);
    b.source_tokens += static_cast<int64_t>(p.source.size());
    b.target_tokens += static_cast<int64_t>(p.target.size());
  }
  return b;
}

PairBatches::PairBatches(std::vector<TokenPair> pairs, int64_t batch_tokens, int32_t pad_id,
                         uint64_t seed)
    : pairs_(std::move(pairs)), batch_tokens_(batch_tokens), pad_id_(pad_id), seed_(seed) {
  KILN_CHECK(!pairs_.empty(), "pair_batches: expected at least one sentence pair, got none");
  KILN_CHECK(batch_tokens > 0, "pair_batches: expected batch_tokens > 0, got ", batch_tokens);
  for (std::size_t i = 0; i < pairs_.size(); ++i)
    KILN_CHECK(!pairs_[i].source.empty() && !pairs_[i].target.empty(),
               "pair_batches: expected prepared pairs (non-empty source and labels), got an "
               "empty side in pair ",
               i);
  // The cut depends only on the sorted sequence of longer sides, the same in every epoch.
  std::vector<int64_t> lengths;
  for (const TokenPair& p : pairs_) lengths.push_back(pair_length(p));
  std::sort(lengths.begin(), lengths.end());
  cuts_.push_back(0);
  for (std::size_t i = 0; i < lengths.size();) {
    std::size_t end = i + 1;  // a batch holds at least one pair
    // Sorted ascending, so the batch's longest is its last: rows x lengths[end] <= budget.
    while (end < lengths.size() && static_cast<int64_t>(end - i + 1) * lengths[end] <= batch_tokens)
      ++end;
    cuts_.push_back(static_cast<int64_t>(end));
    i = end;
  }
}

void PairBatches::compute_epoch(uint64_t epoch) const {
  if (epoch == cached_epoch_) return;
  const uint64_t epoch_seed = derive_seed(seed_, epoch);
  const auto n = static_cast<int64_t>(pairs_.size());
  std::vector<uint64_t> tie(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) tie[i] = random_bits(epoch_seed, static_cast<uint64_t>(i));
  epoch_order_.resize(static_cast<std::size_t>(n));
  std::iota(epoch_order_.begin(), epoch_order_.end(), 0);
  // By longer side, then shorter side (less padding on the other side), then at random.
  std::sort(epoch_order_.begin(), epoch_order_.end(), [&](int64_t a, int64_t b) {
    const int64_t la = pair_length(pairs_[a]), lb = pair_length(pairs_[b]);
    if (la != lb) return la < lb;
    const int64_t sa = shorter_side(pairs_[a]), sb = shorter_side(pairs_[b]);
    if (sa != sb) return sa < sb;
    return tie[a] != tie[b] ? tie[a] < tie[b] : a < b;
  });
  // The batches' visiting order: sorted by a second stream of random keys.
  const uint64_t order_seed = derive_seed(epoch_seed, 1);
  epoch_batches_.resize(static_cast<std::size_t>(batches_per_epoch()));
  std::iota(epoch_batches_.begin(), epoch_batches_.end(), 0);
  std::sort(epoch_batches_.begin(), epoch_batches_.end(), [&](int64_t a, int64_t b) {
    const uint64_t ka = random_bits(order_seed, a), kb = random_bits(order_seed, b);
    return ka != kb ? ka < kb : a < b;
  });
  cached_epoch_ = epoch;
}

PairBatch PairBatches::batch(uint64_t step) const {
  const auto per_epoch = static_cast<uint64_t>(batches_per_epoch());
  compute_epoch(step / per_epoch);
  const int64_t b = epoch_batches_[step % per_epoch];
  std::vector<int64_t> indices(epoch_order_.begin() + cuts_[b],
                               epoch_order_.begin() + cuts_[b + 1]);
  return make_pair_batch(pairs_, indices, pad_id_);
}

std::vector<PairBatch> PairBatches::in_order() const {
  std::vector<int64_t> order(pairs_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const int64_t la = pair_length(pairs_[a]), lb = pair_length(pairs_[b]);
    return la != lb ? la < lb : shorter_side(pairs_[a]) < shorter_side(pairs_[b]);
  });
  std::vector<PairBatch> out;
  for (std::size_t b = 0; b + 1 < cuts_.size(); ++b)
    out.push_back(make_pair_batch(
        pairs_, std::vector<int64_t>(order.begin() + cuts_[b], order.begin() + cuts_[b + 1]),
        pad_id_));
  return out;
}

}  // namespace kiln
