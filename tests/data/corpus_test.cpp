// Corpus: file loading, concatenation, split boundaries, source offsets, errors, fingerprint.
#include "data/corpus.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"

namespace kiln {
namespace {

using CorpusTest = ScratchDirTest;

TEST_F(CorpusTest, ConcatenatesFilesWithNewlineWhereMissing) {
  const std::string a = write("a.txt", "one");
  const std::string b = write("b.txt", "two\n");
  const std::string empty = write("empty.txt", "");
  const std::string c = write("c.txt", "three");
  const Corpus corpus = Corpus::from_files({a, b, empty, c}, 0.0);
  EXPECT_EQ(corpus.text(Split::kTrain), "one\ntwo\nthree\n");
  EXPECT_EQ(corpus.text(Split::kValidation), "");

  const std::vector<CorpusPiece> pieces = corpus.pieces(Split::kTrain);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].text, "one\n");
  EXPECT_EQ(pieces[0].source, a);
  EXPECT_EQ(pieces[1].text, "two\n");
  EXPECT_EQ(pieces[1].source, b);
  EXPECT_EQ(pieces[2].text, "three\n");
  EXPECT_EQ(pieces[2].source, c);
  for (const auto& piece : pieces) EXPECT_EQ(piece.source_offset, 0u);
  EXPECT_TRUE(corpus.pieces(Split::kValidation).empty());
}

TEST_F(CorpusTest, LastFractionGoesToValidation) {
  const Corpus corpus = Corpus::from_text("0123456789", 0.2);
  EXPECT_EQ(corpus.text(Split::kTrain), "01234567");
  EXPECT_EQ(corpus.text(Split::kValidation), "89");
  // 0.25 of 10 bytes rounds to 3 (llround of 2.5 rounds half away from zero).
  EXPECT_EQ(Corpus::from_text("0123456789", 0.25).text(Split::kValidation), "789");
}

TEST_F(CorpusTest, SplitMovesBackToCharacterBoundary) {
  // "aaaa" then é (2 bytes) then "b": a 2/7 fraction lands inside é, which stays whole.
  const Corpus corpus = Corpus::from_text("aaaa\u00e9b", 2.0 / 7.0);
  EXPECT_EQ(corpus.text(Split::kTrain), "aaaa");
  EXPECT_EQ(corpus.text(Split::kValidation), "\u00e9b");
  // A 3-byte character: 6 bytes, fraction 2/6 puts the split on its last byte.
  const Corpus dash = Corpus::from_text("ab\u2014c", 2.0 / 6.0);
  EXPECT_EQ(dash.text(Split::kTrain), "ab");
  EXPECT_EQ(dash.text(Split::kValidation), "\u2014c");
}

TEST_F(CorpusTest, SplitPiecesKeepTheirFileOffsets) {
  const std::string a = write("a.txt", "abcdefghi\n");  // 10 bytes
  const std::string b = write("b.txt", "0123456789");   // 10 bytes + "\n"
  // 21 bytes; validation = the last llround(21 * 0.4) = 8 bytes, from byte 3 of b.txt on.
  const Corpus corpus = Corpus::from_files({a, b}, 0.4);
  EXPECT_EQ(corpus.text(Split::kTrain), "abcdefghi\n012");
  EXPECT_EQ(corpus.text(Split::kValidation), "3456789\n");

  const std::vector<CorpusPiece> train = corpus.pieces(Split::kTrain);
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(train[1].text, "012");
  EXPECT_EQ(train[1].source, b);
  EXPECT_EQ(train[1].source_offset, 0u);
  const std::vector<CorpusPiece> validation = corpus.pieces(Split::kValidation);
  ASSERT_EQ(validation.size(), 1u);
  EXPECT_EQ(validation[0].text, "3456789\n");
  EXPECT_EQ(validation[0].source, b);
  EXPECT_EQ(validation[0].source_offset, 3u);
}

TEST_F(CorpusTest, SeparateValidationFiles) {
  const std::string train = write("train.txt", "hello\n");
  const std::string validation = write("valid.txt", "world");
  const Corpus corpus =
      Corpus::from_files(std::vector<std::string>{train}, std::vector<std::string>{validation});
  EXPECT_EQ(corpus.text(Split::kTrain), "hello\n");
  EXPECT_EQ(corpus.text(Split::kValidation), "world\n");
  ASSERT_EQ(corpus.pieces(Split::kValidation).size(), 1u);
  EXPECT_EQ(corpus.pieces(Split::kValidation)[0].source, validation);

  const std::string empty = write("empty.txt", "");
  EXPECT_NE(error_of([&] {
              Corpus::from_files(std::vector<std::string>{train}, std::vector<std::string>{empty});
            }).find("corpus: expected a non-empty validation corpus, got 0 bytes from 1 file(s)"),
            std::string::npos);
}

TEST_F(CorpusTest, MissingFileNamesPathAndOsError) {
  const std::string missing = (dir_ / "nope.txt").string();
  EXPECT_EQ(error_of([&] { Corpus::from_files({missing}, 0.1); }),
            "corpus: cannot open '" + missing + "': No such file or directory");
  EXPECT_NE(error_of([&] {
              read_text_file(dir_.string());
            }).find("corpus: cannot read '" + dir_.string() + "'"),
            std::string::npos);
}

TEST_F(CorpusTest, EmptyCorpusIsAnError) {
  const std::string a = write("a.txt", "");
  const std::string b = write("b.txt", "");
  EXPECT_EQ(
      error_of([&] {
        Corpus::from_files({a, b}, 0.1);
      }),
      "corpus: expected a non-empty corpus, got 0 bytes from 2 file(s): '" + a + "', '" + b + "'");
  EXPECT_NE(error_of([] {
              Corpus::from_text("", 0.1, "mem");
            }).find("expected a non-empty corpus, got 0 bytes from 'mem'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              Corpus::from_files(std::vector<std::string>{}, 0.1);
            }).find("expected at least one file"),
            std::string::npos);
}

TEST_F(CorpusTest, RejectsFractionOutsideRange) {
  EXPECT_EQ(error_of([] { Corpus::from_text("abc", 1.0); }),
            "corpus: expected validation_fraction in [0, 1), got 1");
  EXPECT_NE(error_of([] { Corpus::from_text("abc", -0.5); }).find("got -0.5"), std::string::npos);
  EXPECT_NE(error_of([] { Corpus::from_text("abc", std::nan("")); }).find("in [0, 1)"),
            std::string::npos);
}

TEST_F(CorpusTest, FractionLeavingAnEmptySplitIsAnError) {
  EXPECT_NE(error_of([] { Corpus::from_text("ab", 0.1); }).find("leaves an empty validation split"),
            std::string::npos);
  // 0.9 of "é" (2 bytes) rounds to 2 bytes: the whole text would be validation.
  EXPECT_NE(error_of([] { Corpus::from_text("\u00e9", 0.9); }).find("leaves an empty train split"),
            std::string::npos);
}

TEST_F(CorpusTest, FingerprintCoversBytesAndSplitPoint) {
  const uint64_t base = Corpus::from_text("hello world", 0.5).fingerprint();
  EXPECT_EQ(Corpus::from_text("hello world", 0.5, "other name").fingerprint(), base);
  EXPECT_NE(Corpus::from_text("hello worle", 0.5).fingerprint(), base);
  EXPECT_NE(Corpus::from_text("hello world", 0.3).fingerprint(), base);
  // The same bytes from a file (which gains a final newline) match from_text of those bytes.
  const std::string path = write("h.txt", "hello world");
  EXPECT_EQ(Corpus::from_files({path}, 0.0).fingerprint(),
            Corpus::from_text("hello world\n", 0.0).fingerprint());
}

}  // namespace
}  // namespace kiln
