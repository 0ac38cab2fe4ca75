// sacreBLEU's default BLEU: the 13a tokeniser written from the mteval-v13a rules, clipped
// n-gram counts, the closest reference length and the 'exp' smoothing of zero counts.
#include "data/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <unordered_map>

#include "base/error.h"
#include "io/utf8.h"

namespace kiln {
namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t pos = 0;
  for (std::size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size())
    out.append(s, pos, hit - pos).append(to);
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The first rule's class [\{-\~\[-\` -\&\(-\+\:-\@\/]: ASCII symbols and punctuation except
// the apostrophe, '-', '.' and ','.
bool is_split_symbol(char c) {
  return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
         (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

// Each rewrite below is one of mteval-v13a's regular expressions, applied as Python's re.sub
// does: left to right, a match consumes its characters, matches never overlap. Working on
// UTF-8 bytes matches working on code points: every test is on an ASCII byte, and a non-digit
// code point ends with a non-digit byte.
std::string split_symbols(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (is_split_symbol(c)) {
      out += ' ';
      out += c;
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// ([^0-9])([\.,]) -> "\1 \2 "
std::string split_after_non_digit(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_digit(s[i]) && i + 1 < s.size() && (s[i + 1] == '.' || s[i + 1] == ',')) {
      out += s[i];
      out += ' ';
      out += s[i + 1];
      out += ' ';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// ([\.,])([^0-9]) -> " \1 \2"
std::string split_before_non_digit(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((s[i] == '.' || s[i] == ',') && i + 1 < s.size() && !is_digit(s[i + 1])) {
      out += ' ';
      out += s[i];
      out += ' ';
      out += s[i + 1];
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// ([0-9])(-) -> "\1 \2 "
std::string split_dash_after_digit(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_digit(s[i]) && i + 1 < s.size() && s[i + 1] == '-') {
      out += s[i];
      out += " - ";
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Python's ' '.join(s.split()): words separated by one space, no leading or trailing space.
std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> words;
  std::string word;
  for (std::size_t i = 0; i < s.size();) {
    Utf8Char c = decode_utf8(s, i);
    const int len = std::min<int>(c.length, static_cast<int>(s.size() - i));
    if (c.ok() && is_python_space(c.code_point)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.append(s.substr(i, static_cast<std::size_t>(len)));
    }
    i += static_cast<std::size_t>(len);
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

using NgramCounts = std::map<std::vector<std::string_view>, int64_t>;

// Every n-gram of orders 1..4 of `words` with its count.
NgramCounts count_ngrams(const std::vector<std::string>& words) {
  NgramCounts counts;
  for (std::size_t n = 1; n <= 4; ++n)
    for (std::size_t i = 0; i + n <= words.size(); ++i) {
      std::vector<std::string_view> key(words.begin() + i, words.begin() + i + n);
      ++counts[key];
    }
  return counts;
}

}  // namespace

bool is_python_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string tokenize_13a(std::string_view text) {
  std::string line(text);
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  line = " " + line + " ";
  line = split_dash_after_digit(split_before_non_digit(split_after_non_digit(split_symbols(line))));
  std::string out;
  for (const std::string& w : split_words(line)) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

BleuScore bleu_from_statistics(const std::array<int64_t, 4>& correct,
                               const std::array<int64_t, 4>& total, int64_t hypothesis_length,
                               int64_t reference_length) {
  BleuScore s;
  s.correct = correct;
  s.total = total;
  s.hypothesis_length = hypothesis_length;
  s.reference_length = reference_length;
  s.brevity_penalty =
      hypothesis_length < reference_length
          ? (hypothesis_length > 0
                 ? std::exp(1.0 - double(reference_length) / double(hypothesis_length))
                 : 0.0)
          : 1.0;
  double smooth = 1.0;
  for (int n = 0; n < 4; ++n) {
    if (total[n] == 0) break;
    if (correct[n] == 0) {
      smooth *= 2;  // 'exp': halve the pseudo-count at each further order without a match
      s.precisions[n] = 100.0 / (smooth * double(total[n]));
    } else {
      s.precisions[n] = 100.0 * double(correct[n]) / double(total[n]);
    }
  }
  // sacreBLEU's my_log: log(0) is -9999999999, so an order left at 0 makes the score 0.
  double log_sum = 0;
  for (double p : s.precisions) log_sum += p == 0.0 ? -9999999999.0 : std::log(p);
  s.score = s.brevity_penalty * std::exp(log_sum / 4);
  return s;
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& references) {
  KILN_CHECK(!references.empty(), "corpus_bleu: expected at least one reference stream, got 0");
  for (std::size_t r = 0; r < references.size(); ++r)
    KILN_CHECK(references[r].size() == hypotheses.size(), "corpus_bleu: expected ",
               hypotheses.size(), " lines in reference stream ", r, " (one per hypothesis), got ",
               references[r].size());
  std::array<int64_t, 4> correct{}, total{};
  int64_t hyp_len = 0, ref_len = 0;
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    const std::vector<std::string> hyp = split_words(tokenize_13a(hypotheses[i]));
    // The references' n-gram counts: for each n-gram the largest count in any reference.
    std::vector<std::vector<std::string>> refs;
    for (const auto& stream : references) refs.push_back(split_words(tokenize_13a(stream[i])));
    NgramCounts ref_max;
    int64_t closest = -1, closest_diff = -1;
    const auto h = static_cast<int64_t>(hyp.size());
    for (const auto& ref : refs) {
      for (const auto& [gram, count] : count_ngrams(ref))
        ref_max[gram] = std::max(ref_max[gram], count);
      // The closest reference length; on a tie the shorter one.
      const auto len = static_cast<int64_t>(ref.size());
      const int64_t diff = std::abs(h - len);
      if (closest_diff < 0 || diff < closest_diff || (diff == closest_diff && len < closest)) {
        closest_diff = diff;
        closest = len;
      }
    }
    for (const auto& [gram, count] : count_ngrams(hyp)) {
      const std::size_t n = gram.size() - 1;
      auto it = ref_max.find(gram);
      correct[n] += std::min(count, it == ref_max.end() ? 0 : it->second);
    }
    for (int64_t n = 1; n <= 4; ++n) total[n - 1] += std::max<int64_t>(0, h - n + 1);
    hyp_len += h;
    ref_len += closest;
  }
  return bleu_from_statistics(correct, total, hyp_len, ref_len);
}

}  // namespace kiln
