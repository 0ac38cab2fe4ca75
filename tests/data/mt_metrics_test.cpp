// BLEU and chrF as sacreBLEU computes them by default: the 13a tokeniser rule by rule, the
// sacreBLEU README's example (BLEU 48.53, chrF2 59.73), and hand-computed cases for the
// brevity penalty, 'exp' smoothing, short hypotheses and chrF's effective order.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/error.h"
#include "data/bleu.h"
#include "data/chrf.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

TEST(Tokenize13aTest, FollowsTheMtevalRules) {
  // '.' and ',' split off after a non-digit and before a non-digit.
  EXPECT_EQ(tokenize_13a("Hello, world."), "Hello , world .");
  // Between digits they stay; '$' is a symbol; '-' splits after a digit only.
  EXPECT_EQ(tokenize_13a("It costs $3,000.50 in 1990-1995."),
            "It costs $ 3,000.50 in 1990 - 1995 .");
  EXPECT_EQ(tokenize_13a("well-known"), "well-known");
  // Entities are unescaped first; '"' and '&' are symbols; the apostrophe is not.
  EXPECT_EQ(tokenize_13a("&quot;Don't&quot; he said &amp; left<skipped>"),
            "\" Don't \" he said & left");
  EXPECT_EQ(tokenize_13a("&lt;b&gt;"), "< b >");
  // "-\n" joins a hyphenated line break; other newlines are spaces.
  EXPECT_EQ(tokenize_13a("co-\noperate\nnow"), "cooperate now");
  // Matches do not overlap: in "e.g." the 'g' is free for the second '.'.
  EXPECT_EQ(tokenize_13a("e.g. 3.5, a,b"), "e . g . 3.5 , a , b");
  EXPECT_EQ(
      tokenize_13a("(a)[b]{c}:d;e?f!g/h@i#j%k*l+m=n<o>p^q_r`s|t~u"),
      "( a ) [ b ] { c } : d ; e ? f ! g / h @ i # j % k * l + m = n < o > p ^ q _ r ` s | t ~ u");
  // Non-ASCII letters are kept whole; Python's whitespace includes U+00A0.
  EXPECT_EQ(tokenize_13a("  Señor,\tJesús.\xC2\xA0"
                         "Amén  "),
            "Señor , Jesús . Amén");
  EXPECT_EQ(tokenize_13a(""), "");
}

TEST(BleuTest, SacreBleuReadmeExample) {
  const std::vector<std::string> sys = {"The dog bit the man.", "It wasn't surprising.",
                                        "The man had just bitten him."};
  const std::vector<std::vector<std::string>> refs = {
      {"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
      {"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."}};
  const BleuScore s = corpus_bleu(sys, refs);
  // sacreBLEU prints: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17
  // ref_len = 18). By hand: matches 14/17, 7/14, 5/11, 3/8; closest reference lengths 6, 5
  // (tie 5/5), 7; BP = exp(1 - 18/17) = 0.942873; 0.942873 * (82.353 * 50 * 45.455 * 37.5)^(1/4)
  // = 0.942873 * 51.471 = 48.531.
  EXPECT_EQ(s.correct, (std::array<int64_t, 4>{14, 7, 5, 3}));
  EXPECT_EQ(s.total, (std::array<int64_t, 4>{17, 14, 11, 8}));
  EXPECT_EQ(s.hypothesis_length, 17);
  EXPECT_EQ(s.reference_length, 18);
  EXPECT_NEAR(s.brevity_penalty, std::exp(1.0 - 18.0 / 17.0), 1e-12);
  EXPECT_NEAR(s.precisions[0], 100.0 * 14 / 17, 1e-9);
  EXPECT_NEAR(s.score, 48.53, 0.005);
  EXPECT_NEAR(corpus_chrf(sys, refs), 59.73, 0.005);  // sacreBLEU: chrF2 = 59.73
}

TEST(BleuTest, ExpSmoothingOfZeroCounts) {
  // "a b c d" against "a b x d": 1-grams 3/4, 2-grams 1/3 ("a b"), 3-grams 0/2, 4-grams 0/1.
  // 'exp' smoothing: the first zero order gets 100 / (2 * 2) = 25, the second 100 / (4 * 1)
  // = 25. BP = 1. BLEU = (75 * 33.33 * 25 * 25)^(1/4) = 1562500^(1/4) = 35.3553.
  const BleuScore s = corpus_bleu({"a b c d"}, {{"a b x d"}});
  EXPECT_NEAR(s.precisions[2], 25.0, 1e-12);
  EXPECT_NEAR(s.precisions[3], 25.0, 1e-12);
  EXPECT_NEAR(s.score, std::pow(1562500.0, 0.25), 1e-9);
  // Summed over a corpus, a second sentence's 4-gram match removes the smoothing.
  const BleuScore two = corpus_bleu({"a b c d", "e f g h"}, {{"a b x d", "e f g h"}});
  // 1: 7/8, 2: 4/6, 3: 2/4, 4: 1/2 -> (87.5 * 66.67 * 50 * 50)^(1/4) = 61.0
  EXPECT_NEAR(two.score, std::pow(87.5 * (200.0 / 3) * 50 * 50, 0.25), 1e-9);
}

TEST(BleuTest, BrevityPenaltyAndShortHypotheses) {
  // All n-grams match but the hypothesis is half the reference: BP = exp(1 - 8/4) = e^-1.
  EXPECT_NEAR(corpus_bleu({"a b c d"}, {{"a b c d e f g h"}}).score, 100.0 * std::exp(-1.0), 1e-9);
  // Longer than the reference: no penalty (the extra n-grams lower the precisions instead).
  // 1: 4/5, 2: 3/4, 3: 2/3, 4: 1/2 -> (80 * 75 * 66.67 * 50)^(1/4)
  EXPECT_NEAR(corpus_bleu({"a b c d e"}, {{"a b c d"}}).score,
              std::pow(80.0 * 75 * (200.0 / 3) * 50, 0.25), 1e-9);
  // Two tokens have no 3-grams: sacreBLEU stops there and the corpus score is 0.
  EXPECT_EQ(corpus_bleu({"a b"}, {{"a b"}}).score, 0.0);
  EXPECT_EQ(corpus_bleu({""}, {{"a b"}}).score, 0.0);
  // Case matters: "The Cat" matches neither "the" nor "cat". 1: 2/4, 2: 1/3, 3: 0/2 -> 25,
  // 4: 0/1 -> 25 (smoothed) -> (50 * 33.33 * 25 * 25)^(1/4) = 31.947.
  EXPECT_NEAR(corpus_bleu({"The Cat sat down"}, {{"the cat sat down"}}).score,
              std::pow(50.0 * (100.0 / 3) * 25 * 25, 0.25), 1e-9);
  EXPECT_NEAR(corpus_bleu({"the cat sat down"}, {{"the cat sat down"}}).score, 100.0, 1e-9);
  EXPECT_NE(error_of([] {
              corpus_bleu({"a", "b"}, {{"a"}});
            }).find("corpus_bleu: expected 2 lines in reference stream 0"),
            std::string::npos);
}

TEST(ChrfTest, HandComputedCases) {
  // "ab" against "a bc" -> "abc" (whitespace removed). Order 1: 2 hyp, 3 ref, 2 matches;
  // order 2: 1, 2, 1; orders 3-6: no hypothesis n-grams, left out (effective order 2).
  // P = (1 + 1) / 2 = 1, R = (2/3 + 1/2) / 2 = 7/12, F2 = 5 P R / (4 P + R) = 35/55 = 63.636.
  const ChrfStatistics s = chrf_statistics("ab", "a bc");
  EXPECT_EQ(s.hypothesis[0], 2);
  EXPECT_EQ(s.reference[1], 2);
  EXPECT_EQ(s.matches[1], 1);
  EXPECT_EQ(s.hypothesis[2], 0);
  EXPECT_NEAR(chrf_score(s), 100.0 * 35 / 55, 1e-9);
  EXPECT_NEAR(corpus_chrf({"ab"}, {{"a bc"}}), 100.0 * 35 / 55, 1e-9);
  // Whitespace does not count; characters are code points.
  EXPECT_EQ(corpus_chrf({"a b  c"}, {{"abc"}}), 100.0);
  const ChrfStatistics accents = chrf_statistics("señor", "señora");
  EXPECT_EQ(accents.hypothesis[0], 5);
  EXPECT_EQ(accents.matches[4], 1);
  EXPECT_EQ(corpus_chrf({"xyz"}, {{"abc"}}), 0.0);
}

}  // namespace
}  // namespace kiln
