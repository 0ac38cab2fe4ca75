// sacreBLEU's default chrF: character n-gram counts over code points, statistics summed over
// the corpus, and the 'effective order' average of precision and recall.
#include "data/chrf.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "base/error.h"
#include "data/bleu.h"
#include "io/utf8.h"

namespace kiln {
namespace {

// The code points of `s` other than whitespace, each as its UTF-8 bytes (an invalid byte
// stands for itself).
std::vector<std::string_view> characters(const std::string& s) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < s.size();) {
    Utf8Char c = decode_utf8(s, i);
    const auto len = static_cast<std::size_t>(std::min<int>(c.length, int(s.size() - i)));
    if (!(c.ok() && is_python_space(c.code_point))) out.emplace_back(s.data() + i, len);
    i += len;
  }
  return out;
}

// Each n-gram of order n (n consecutive characters of the whitespace-free text) with its count.
std::unordered_map<std::string, int64_t> ngrams(const std::vector<std::string_view>& chars, int n) {
  std::unordered_map<std::string, int64_t> counts;
  for (std::size_t i = 0; i + n <= chars.size(); ++i) {
    std::string key;
    for (int k = 0; k < n; ++k) key.append(chars[i + k]);
    ++counts[key];
  }
  return counts;
}

}  // namespace

ChrfStatistics chrf_statistics(const std::string& hypothesis, const std::string& reference) {
  const auto hyp = characters(hypothesis), ref = characters(reference);
  ChrfStatistics s;
  for (int n = 1; n <= kChrfOrder; ++n) {
    const auto h = ngrams(hyp, n), r = ngrams(ref, n);
    for (const auto& [gram, count] : h) {
      s.hypothesis[n - 1] += count;
      auto it = r.find(gram);
      if (it != r.end()) s.matches[n - 1] += std::min(count, it->second);
    }
    for (const auto& [gram, count] : r) s.reference[n - 1] += count;
  }
  return s;
}

double chrf_score(const ChrfStatistics& s, double beta) {
  double precision = 0, recall = 0;
  int effective_order = 0;
  for (int n = 0; n < kChrfOrder; ++n) {
    if (s.hypothesis[n] > 0 && s.reference[n] > 0) {
      precision += double(s.matches[n]) / double(s.hypothesis[n]);
      recall += double(s.matches[n]) / double(s.reference[n]);
      ++effective_order;
    }
  }
  if (effective_order == 0) return 0.0;
  precision /= effective_order;
  recall /= effective_order;
  if (precision + recall == 0) return 0.0;
  const double b2 = beta * beta;
  return 100.0 * (1 + b2) * precision * recall / (b2 * precision + recall);
}

double corpus_chrf(const std::vector<std::string>& hypotheses,
                   const std::vector<std::vector<std::string>>& references) {
  KILN_CHECK(!references.empty(), "corpus_chrf: expected at least one reference stream, got 0");
  for (std::size_t r = 0; r < references.size(); ++r)
    KILN_CHECK(references[r].size() == hypotheses.size(), "corpus_chrf: expected ",
               hypotheses.size(), " lines in reference stream ", r, " (one per hypothesis), got ",
               references[r].size());
  ChrfStatistics total;
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    ChrfStatistics best;
    double best_score = -1;
    for (const auto& stream : references) {
      ChrfStatistics s = chrf_statistics(hypotheses[i], stream[i]);
      const double score = chrf_score(s);
      if (score > best_score) {  // the first of equally good references, as sacreBLEU
        best_score = score;
        best = s;
      }
    }
    for (int n = 0; n < kChrfOrder; ++n) {
      total.hypothesis[n] += best.hypothesis[n];
      total.reference[n] += best.reference[n];
      total.matches[n] += best.matches[n];
    }
  }
  return chrf_score(total);
}

}  // namespace kiln
