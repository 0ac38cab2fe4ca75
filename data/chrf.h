// Corpus chrF as sacreBLEU computes it by default (chrF2): character n-grams of orders 1..6
// with whitespace removed, precision and recall averaged over the orders, F-beta with beta 2.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

inline constexpr int kChrfOrder = 6;

// Per order n = 1..6: hypothesis n-grams, reference n-grams, matches (min of the two counts).
struct ChrfStatistics {
  std::array<int64_t, kChrfOrder> hypothesis{}, reference{}, matches{};
};

// The statistics of one hypothesis against one reference (whitespace removed first, with
// Python's str.split notion of whitespace; n-grams are of code points).
ChrfStatistics chrf_statistics(const std::string& hypothesis, const std::string& reference);

// sacreBLEU's default ('effective order') chrF of summed statistics, 0-100: precision and
// recall averaged over the orders where both the hypothesis and the reference have n-grams,
// then (1 + beta^2) P R / (beta^2 P + R), 0 when P + R is 0.
double chrf_score(const ChrfStatistics& s, double beta = 2.0);

// hypotheses[i] against references[r][i] for every stream r (sacreBLEU's layout). With several
// references each sentence keeps the statistics of its best-scoring one, then the corpus sums.
double corpus_chrf(const std::vector<std::string>& hypotheses,
                   const std::vector<std::vector<std::string>>& references);

}  // namespace kiln
