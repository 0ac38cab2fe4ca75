// BpeTokenizer: reading vocab.json and merges.txt, the merge loop with its word cache,
// decoding, and the text forms (HF files and kiln's serialised form).
#include "data/bpe.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <mutex>
#include <shared_mutex>

#include "base/error.h"
#include "data/corpus.h"
#include "data/gpt2_pretokenizer.h"
#include "io/json.h"
#include "io/utf8.h"

namespace kiln {
namespace {

constexpr std::string_view kSerializedWhere = "bpe_tokenizer: serialized form";
// Long pre-tokens (runs of digits, base64 blobs) rarely repeat; caching them only costs memory.
constexpr size_t kMaxCachedWordBytes = 64;
constexpr size_t kMaxCachedWords = size_t{1} << 18;

uint64_t pair_key(int32_t left, int32_t right) {
  return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
}

// At most 40 bytes of `text` in quotes, for messages.
std::string quoted(std::string_view text) {
  // Built by appending: GCC 12 warns (-Wrestrict, falsely) on "'" + std::string(...).
  std::string out = "'";
  out.append(text.substr(0, 40));
  out += text.size() > 40 ? "...'" : "'";
  return out;
}

// Spelled tokens in id order from vocab.json, {"token": id, ...}; ids must be 0..n-1, each once.
std::vector<std::string> read_vocab_json(std::string_view text, std::string_view name) {
  const json::Value vocab = json::parse(text, name);
  const json::Value::Object& entries = vocab.as_object();
  const auto n = static_cast<int64_t>(entries.size());
  std::vector<std::string> tokens(entries.size());
  std::vector<bool> filled(entries.size(), false);
  for (const auto& [token, id_value] : entries) {
    const int64_t id = id_value.as_int();
    KILN_CHECK(id >= 0 && id < n, id_value.where(), ": expected ids 0..", n - 1, " for ", n,
               " tokens, got id ", id, " for ", quoted(token));
    KILN_CHECK(!filled[id], id_value.where(), ": expected each id once, got id ", id, " for both ",
               quoted(tokens[id]), " and ", quoted(token));
    filled[id] = true;
    tokens[id] = token;
  }
  return tokens;
}

// Spelled tokens to raw bytes; `where(id)` names the token's place in messages.
template <typename Where>
std::vector<std::string> unspell_all(const std::vector<std::string>& spelled, Where where) {
  std::vector<std::string> bytes(spelled.size());
  for (size_t id = 0; id < spelled.size(); ++id) {
    auto unspelled = gpt2_unspell(spelled[id]);
    KILN_CHECK(unspelled && !unspelled->empty(), where(id),
               ": expected a non-empty token spelled with GPT-2's bytes_to_unicode characters, "
               "got ",
               quoted(spelled[id]));
    bytes[id] = std::move(*unspelled);
  }
  return bytes;
}

// Merges from "a b" lines of spelled tokens; line numbers start at `first_line`. A first line
// starting "#version" is skipped when `allow_version`; empty lines are skipped, as GPT-2's
// loader ignores them too.
std::vector<std::pair<int32_t, int32_t>> parse_merges(
    std::string_view text, std::string_view name, size_t first_line, bool allow_version,
    const std::unordered_map<std::string, int32_t>& spelled_ids) {
  std::vector<std::pair<int32_t, int32_t>> merges;
  size_t line_no = first_line;
  for (size_t begin = 0; begin < text.size(); ++line_no) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (allow_version && line_no == first_line && line.starts_with("#version"))) {
      continue;
    }
    const size_t space = line.find(' ');
    KILN_CHECK(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
                   line.find(' ', space + 1) == std::string_view::npos,
               name, ": line ", line_no,
               ": expected a merge 'left right' (two tokens, one space), got ", quoted(line));
    const std::string left(line.substr(0, space));
    const std::string right(line.substr(space + 1));
    const auto left_it = spelled_ids.find(left);
    const auto right_it = spelled_ids.find(right);
    KILN_CHECK(left_it != spelled_ids.end() && right_it != spelled_ids.end(), name, ": line ",
               line_no, ": expected tokens of the vocabulary, got ",
               quoted(left_it == spelled_ids.end() ? left : right), " in merge ", quoted(line));
    KILN_CHECK(spelled_ids.contains(left + right), name, ": line ", line_no,
               ": expected the merged token ", quoted(left + right),
               " in the vocabulary, got a merge ", quoted(line), " whose result is missing");
    merges.emplace_back(left_it->second, right_it->second);
  }
  return merges;
}

std::unordered_map<std::string, int32_t> ids_by_spelling(const std::vector<std::string>& spelled) {
  std::unordered_map<std::string, int32_t> ids;
  for (size_t id = 0; id < spelled.size(); ++id) ids.emplace(spelled[id], static_cast<int32_t>(id));
  return ids;
}

// Checks the tokens (non-empty, distinct, all 256 single bytes) and the merges (ids in range,
// result in the vocabulary), and finds each merge's result. Messages start with `where`.
std::vector<BpeTokenizer::Merge> resolve_merges(
    const std::vector<std::string>& token_bytes,
    const std::vector<std::pair<int32_t, int32_t>>& merges, std::string_view where) {
  std::unordered_map<std::string_view, int32_t> ids;
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    KILN_CHECK(!token_bytes[id].empty(), where,
               ": expected non-empty tokens, got an empty token with id ", id);
    const auto [it, inserted] = ids.emplace(token_bytes[id], static_cast<int32_t>(id));
    KILN_CHECK(inserted, where, ": expected distinct tokens, got ",
               quoted(gpt2_spell_bytes(token_bytes[id])), " as ids ", it->second, " and ", id);
  }
  for (int byte = 0; byte < 256; ++byte) {
    const std::string single(1, static_cast<char>(byte));
    KILN_CHECK(ids.contains(single), where,
               ": expected all 256 single-byte tokens, got none for byte ", byte, " (spelled ",
               quoted(gpt2_spell_bytes(single)), ")");
  }
  std::vector<BpeTokenizer::Merge> resolved;
  resolved.reserve(merges.size());
  const auto n = static_cast<int32_t>(token_bytes.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto [left, right] = merges[rank];
    KILN_CHECK(left >= 0 && left < n && right >= 0 && right < n, where, ": merge ", rank,
               ": expected ids in [0, ", n, "), got (", left, ", ", right, ")");
    const auto it = ids.find(token_bytes[left] + token_bytes[right]);
    KILN_CHECK(it != ids.end(), where, ": merge ", rank, ": expected the merged token ",
               quoted(gpt2_spell_bytes(token_bytes[left] + token_bytes[right])),
               " in the vocabulary, got none");
    resolved.push_back({left, right, it->second});
  }
  return resolved;
}

}  // namespace

// Readers share a lock; the rare miss takes it exclusively to insert.
struct BpeTokenizer::WordCache {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::shared_mutex mutex;
  std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> ids;
};

BpeTokenizer::BpeTokenizer(std::vector<std::string> token_bytes, std::vector<Merge> merges)
    : token_bytes_(std::move(token_bytes)),
      byte_ids_(256, -1),
      merges_(std::move(merges)),
      cache_(std::make_shared<WordCache>()) {
  for (size_t id = 0; id < token_bytes_.size(); ++id) {
    ids_by_bytes_.emplace(token_bytes_[id], static_cast<int32_t>(id));
    if (token_bytes_[id].size() == 1) {
      byte_ids_[static_cast<unsigned char>(token_bytes_[id][0])] = static_cast<int32_t>(id);
    }
  }
  // A later duplicate overrides the earlier rank, as in GPT-2's dict(zip(merges, ranks)).
  for (size_t rank = 0; rank < merges_.size(); ++rank) {
    const Merge& m = merges_[rank];
    rules_[pair_key(m.left, m.right)] = {static_cast<int32_t>(rank), m.merged};
  }
}

BpeTokenizer BpeTokenizer::from_files(const std::string& vocab_json_path,
                                      const std::string& merges_path) {
  // Read in order, so a missing vocabulary is reported before a missing merges file.
  const std::string vocab_json = read_text_file(vocab_json_path);
  const std::string merges_txt = read_text_file(merges_path);
  return from_strings(vocab_json, merges_txt, vocab_json_path, merges_path);
}

BpeTokenizer BpeTokenizer::from_strings(std::string_view vocab_json, std::string_view merges_txt,
                                        std::string_view vocab_name, std::string_view merges_name) {
  const std::vector<std::string> spelled = read_vocab_json(vocab_json, vocab_name);
  std::vector<std::string> bytes = unspell_all(
      spelled, [&](size_t id) { return detail::concat(vocab_name, ": token id ", id); });
  const auto spelled_ids = ids_by_spelling(spelled);
  const auto merges = parse_merges(merges_txt, merges_name, 1, true, spelled_ids);
  std::vector<Merge> resolved = resolve_merges(bytes, merges, vocab_name);
  return BpeTokenizer(std::move(bytes), std::move(resolved));
}

BpeTokenizer BpeTokenizer::from_tokens(std::vector<std::string> token_bytes,
                                       const std::vector<std::pair<int32_t, int32_t>>& merges) {
  std::vector<Merge> resolved = resolve_merges(token_bytes, merges, "bpe_tokenizer");
  return BpeTokenizer(std::move(token_bytes), std::move(resolved));
}

BpeTokenizer BpeTokenizer::from_serialized(std::string_view serialized) {
  std::vector<std::string_view> lines;
  for (size_t begin = 0; begin <= serialized.size();) {
    size_t end = serialized.find('\n', begin);
    if (end == std::string_view::npos) end = serialized.size();
    lines.push_back(serialized.substr(begin, end - begin));
    begin = end + 1;
  }
  KILN_CHECK(lines[0] == kBpeTokenizerHeader, kSerializedWhere, ": line 1: expected '",
             kBpeTokenizerHeader, "', got ", quoted(lines[0]));
  uint64_t vocab_size = 0, merge_count = 0;
  const std::string_view sizes = lines.size() > 1 ? lines[1] : std::string_view();
  const char* end = sizes.data() + sizes.size();
  const auto first = std::from_chars(sizes.data(), end, vocab_size);
  bool ok = first.ec == std::errc() && first.ptr < end && *first.ptr == ' ';
  if (ok) {
    const auto second = std::from_chars(first.ptr + 1, end, merge_count);
    ok = second.ec == std::errc() && second.ptr == end;
  }
  KILN_CHECK(ok, kSerializedWhere, ": line 2: expected '<vocab size> <merge count>', got ",
             quoted(sizes));
  KILN_CHECK(serialized.ends_with('\n'), kSerializedWhere,
             ": expected a newline at the end, got none");
  // Header, sizes, tokens and merges; the last element of `lines` is the "" after the final
  // newline.
  const size_t line_count = lines.size() - 1;
  KILN_CHECK(line_count == 2 + vocab_size + merge_count, kSerializedWhere, ": expected ",
             2 + vocab_size + merge_count, " lines for ", vocab_size, " tokens and ", merge_count,
             " merges, got ", line_count);
  const std::vector<std::string> spelled(lines.begin() + 2, lines.begin() + 2 + vocab_size);
  std::vector<std::string> bytes = unspell_all(
      spelled, [](size_t id) { return detail::concat(kSerializedWhere, ": line ", id + 3); });
  const size_t merges_begin = 2 + vocab_size;
  const std::string_view merge_text =
      merge_count == 0 ? std::string_view()
                       : serialized.substr(lines[merges_begin].data() - serialized.data());
  const auto merges =
      parse_merges(merge_text, kSerializedWhere, merges_begin + 1, false, ids_by_spelling(spelled));
  std::vector<Merge> resolved = resolve_merges(bytes, merges, kSerializedWhere);
  return BpeTokenizer(std::move(bytes), std::move(resolved));
}

std::optional<int32_t> BpeTokenizer::token_id(std::string_view spelled_token) const {
  const auto bytes = gpt2_unspell(spelled_token);
  if (!bytes) return std::nullopt;
  const auto it = ids_by_bytes_.find(*bytes);
  if (it == ids_by_bytes_.end()) return std::nullopt;
  return it->second;
}

std::string BpeTokenizer::token(int32_t id) const {
  return gpt2_spell_bytes(token_bytes(id));
}

const std::string& BpeTokenizer::token_bytes(int32_t id) const {
  KILN_CHECK(id >= 0 && id < vocab_size(), "bpe_tokenizer: expected an id in [0, ", vocab_size(),
             "), got ", id);
  return token_bytes_[id];
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  // English averages a little over four bytes a token.
  ids.reserve(text.size() / 3 + 16);
  encode_into(text, ids);
  return ids;
}

void BpeTokenizer::encode_into(std::string_view text, std::vector<int32_t>& ids) const {
  Gpt2Pretokenizer pretokenizer(text);
  while (const auto word = pretokenizer.next()) encode_word(*word, ids);
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.size() == 1) {
    ids.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::shared_lock lock(cache_->mutex);
    const auto it = cache_->ids.find(word);
    if (it != cache_->ids.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = ids.size();
  merge_word(word, ids);
  if (cacheable) {
    std::unique_lock lock(cache_->mutex);
    if (cache_->ids.size() < kMaxCachedWords) {
      cache_->ids.emplace(word, std::vector<int32_t>(ids.begin() + first, ids.end()));
    }
  }
}

void BpeTokenizer::merge_word(std::string_view word, std::vector<int32_t>& ids) const {
  // The symbols form a linked list; a min-heap holds candidate merges by (rank, position), so
  // a word of n bytes costs O(n log n) rather than GPT-2's O(n^2) rescans. Equal ranks go
  // left to right, which is GPT-2's "merge every occurrence of the best pair" order.
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
  };
  struct Candidate {
    int32_t rank;
    int32_t left;  // symbol index
    int32_t left_id;
    int32_t right_id;
    int32_t merged;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  const auto n = static_cast<int32_t>(word.size());
  std::vector<Symbol> symbols(n);
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = {byte_ids_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1};
  }
  std::vector<Candidate> heap;
  const auto consider = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    const int32_t left_id = symbols[left].id;
    const int32_t right_id = symbols[symbols[left].next].id;
    const auto it = rules_.find(pair_key(left_id, right_id));
    if (it == rules_.end()) return;
    heap.push_back({it->second.rank, left, left_id, right_id, it->second.merged});
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const Candidate c = heap.back();
    heap.pop_back();
    // Stale when either side has since merged: a symbol's id only ever changes by merging.
    Symbol& left = symbols[c.left];
    if (left.id != c.left_id || left.next < 0 || symbols[left.next].id != c.right_id) continue;
    Symbol& right = symbols[left.next];
    left.id = c.merged;
    right.id = -1;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = c.left;
    consider(left.prev);
    consider(c.left);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  text.reserve(ids.size() * 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    KILN_CHECK(ids[i] >= 0 && ids[i] < vocab_size(), "bpe_tokenizer: expected ids in [0, ",
               vocab_size(), "), got ", ids[i], " at position ", i);
    text += token_bytes_[ids[i]];
  }
  return text;
}

std::string BpeTokenizer::to_vocab_json() const {
  // ASCII-only, as Python's json.dumps writes GPT-2's vocab.json.
  json::Writer out = json::Writer::spaced().escape_non_ascii();
  out.begin_object();
  for (size_t id = 0; id < token_bytes_.size(); ++id)
    out.key(gpt2_spell_bytes(token_bytes_[id])).integer(static_cast<int64_t>(id));
  return out.end_object().text();
}

std::string BpeTokenizer::to_merges_txt() const {
  std::string out = "#version: 0.2\n";
  for (const Merge& m : merges_) {
    out += gpt2_spell_bytes(token_bytes_[m.left]) + ' ' + gpt2_spell_bytes(token_bytes_[m.right]);
    out += '\n';
  }
  return out;
}

std::string BpeTokenizer::serialize() const {
  std::string out(kBpeTokenizerHeader);
  out += '\n' + std::to_string(token_bytes_.size()) + ' ' + std::to_string(merges_.size()) + '\n';
  for (const std::string& bytes : token_bytes_) out += gpt2_spell_bytes(bytes) + '\n';
  // The merges part is merges.txt without its version line.
  const std::string merges = to_merges_txt();
  out.append(merges, merges.find('\n') + 1);
  return out;
}

uint64_t BpeTokenizer::fingerprint() const {
  return fnv1a_64(serialize());
}

}  // namespace kiln
