// Corpus BLEU as sacreBLEU computes it by default: mteval-v13a tokenisation, case-sensitive,
// n-grams up to 4 summed over the corpus, exponential brevity penalty, 'exp' smoothing.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// sacreBLEU's Tokenizer13a: drops "<skipped>", joins "-\n" line breaks, unescapes &quot;
// &amp; &lt; &gt;, splits off punctuation and symbols, splits '.' and ',' except between
// digits and '-' after a digit, then collapses whitespace (Python str.split's notion of it).
std::string tokenize_13a(std::string_view line);

// Whitespace as Python's str.isspace() sees it, for one code point.
bool is_python_space(char32_t cp);

struct BleuScore {
  double score = 0;                    // 0-100
  std::array<int64_t, 4> correct{};    // clipped n-gram matches, n = 1..4
  std::array<int64_t, 4> total{};      // hypothesis n-grams, n = 1..4
  std::array<double, 4> precisions{};  // 0-100, smoothed where correct is 0
  double brevity_penalty = 0;
  int64_t hypothesis_length = 0;  // tokens, summed over the corpus
  int64_t reference_length = 0;   // the closest reference's tokens, summed
};

// hypotheses[i] is scored against references[r][i] for every reference stream r (sacreBLEU's
// layout: one list per reference set). Every stream must have one line per hypothesis.
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& references);

// sacreBLEU's compute_bleu on the statistics: with 'exp' smoothing the k-th order (in 1..4
// order) whose match count is 0 gets precision 100 / (2^k * total); an order with no
// hypothesis n-gram at all stops the loop and leaves the score 0.
BleuScore bleu_from_statistics(const std::array<int64_t, 4>& correct,
                               const std::array<int64_t, 4>& total, int64_t hypothesis_length,
                               int64_t reference_length);

}  // namespace kiln
