// CharTokenizer: vocabulary, UTF-8 round trips, error messages and serialisation.
#include "data/char_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "data/corpus.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

TEST(CharTokenizerTest, VocabularyIsSortedDistinctCharacters) {
  const CharTokenizer tokenizer = CharTokenizer::from_text("banana");
  EXPECT_EQ(tokenizer.vocab_size(), 3);
  EXPECT_EQ(tokenizer.code_points(), (std::vector<char32_t>{U'a', U'b', U'n'}));
  EXPECT_EQ(tokenizer.encode("nab"), (std::vector<int32_t>{2, 0, 1}));
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{1, 0, 2, 0}), "bana");
}

TEST(CharTokenizerTest, RoundTripsUnicode) {
  // One, two, three and four byte characters.
  const std::string text = "h\u00e9llo w\u00f6rld \u2014 \u65e5\u672c\u8a9e \U0001F642!";
  const CharTokenizer tokenizer = CharTokenizer::from_text(text);
  // h é l o ' ' w ö r d — 日 本 語 🙂 !
  EXPECT_EQ(tokenizer.vocab_size(), 15);
  const std::vector<int32_t> ids = tokenizer.encode(text);
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_EQ(tokenizer.decode(ids), text);
  EXPECT_EQ(ids[0], tokenizer.encode("h")[0]);
  EXPECT_EQ(tokenizer.encode(" ")[0], 0);  // U+0020 is the smallest code point
  EXPECT_EQ(tokenizer.encode("\U0001F642"), std::vector<int32_t>{14});
  EXPECT_EQ(tokenizer.code_points()[1], U'!');
  EXPECT_EQ(tokenizer.code_points()[14], U'\U0001F642');
}

TEST(CharTokenizerTest, UnknownCharacterNamesCharacterWhereAndOffset) {
  const CharTokenizer tokenizer = CharTokenizer::from_text("abc");
  const std::string message = error_of([&] { tokenizer.encode("ab\u00e9", "input.txt"); });
  EXPECT_EQ(message,
            "input.txt: byte offset 2: expected a character in the tokenizer's vocabulary "
            "(3 characters), got '\u00e9' (U+00E9)");
  EXPECT_NE(
      error_of([&] { tokenizer.encode("ab\u00e9", "f.txt", 100); }).find("f.txt: byte offset 102:"),
      std::string::npos);
  EXPECT_NE(error_of([&] { tokenizer.encode("a\n"); }).find("got '\\n' (U+000A)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { tokenizer.encode("a\x01"); }).find("got U+0001"), std::string::npos);
}

TEST(CharTokenizerTest, InvalidUtf8NamesByteOffset) {
  const auto message = [](const std::string& text) {
    return error_of([&] { CharTokenizer::from_text(text, "x.txt"); });
  };
  EXPECT_EQ(message("ab\xFF"),
            "x.txt: byte offset 2: expected valid UTF-8, got the byte 0xFF, which never occurs "
            "in UTF-8");
  EXPECT_NE(message("a\x80").find("x.txt: byte offset 1: expected valid UTF-8, got a "
                                  "continuation byte 0x80"),
            std::string::npos);
  EXPECT_NE(message("abc\xC3").find("byte offset 3: expected valid UTF-8, got a sequence cut "
                                    "short"),
            std::string::npos);
  EXPECT_NE(message("\xE2\x28\xA1")
                .find("byte offset 0: expected valid UTF-8, got lead byte "
                      "0xE2 followed by 0x28"),
            std::string::npos);
  EXPECT_NE(message("a\xE0\x80\x80").find("byte offset 1: expected valid UTF-8, got an overlong"),
            std::string::npos);
  EXPECT_NE(message("\xED\xA0\x80").find("got U+D800, which is not a Unicode scalar value"),
            std::string::npos);
  EXPECT_NE(message("\xF4\x90\x80\x80").find("got U+110000, which is not a Unicode scalar value"),
            std::string::npos);
  const CharTokenizer tokenizer = CharTokenizer::from_text("ab");
  EXPECT_NE(error_of([&] {
              tokenizer.encode("ab\xC3", "y.txt", 10);
            }).find("y.txt: byte offset 12: expected valid UTF-8"),
            std::string::npos);
}

TEST(CharTokenizerTest, SerializationRoundTrips) {
  const CharTokenizer tokenizer = CharTokenizer::from_text("b\na\u00e9\U0001F642");
  const std::string serialized = tokenizer.serialize();
  EXPECT_EQ(serialized, "kiln-char-tokenizer v1\n5\n\nab\u00e9\U0001F642");
  const CharTokenizer restored = CharTokenizer::from_serialized(serialized);
  EXPECT_EQ(restored.code_points(), tokenizer.code_points());
  EXPECT_EQ(restored.fingerprint(), tokenizer.fingerprint());
  EXPECT_EQ(restored.encode("a\n\U0001F642"), (std::vector<int32_t>{1, 0, 4}));
}

TEST(CharTokenizerTest, FromSerializedRejectsBadInput) {
  const auto message = [](const std::string& serialized) {
    return error_of([&] { CharTokenizer::from_serialized(serialized); });
  };
  EXPECT_EQ(message("kiln-bpe v1\n2\nab"),
            "char_tokenizer: serialized form: expected a first line 'kiln-char-tokenizer v1', got "
            "'kiln-bpe v1'");
  EXPECT_NE(message("kiln-char-tokenizer v1").find("expected a first line"), std::string::npos);
  EXPECT_NE(message("kiln-char-tokenizer v1\nx2\nab")
                .find("expected a vocabulary size on line 2, got 'x2'"),
            std::string::npos);
  EXPECT_NE(message("kiln-char-tokenizer v1\n2").find("expected a vocabulary size"),
            std::string::npos);
  EXPECT_EQ(message("kiln-char-tokenizer v1\n3\nab"),
            "char_tokenizer: serialized form: expected 3 characters after the header, got 2");
  EXPECT_NE(message("kiln-char-tokenizer v1\n2\nba")
                .find("expected strictly increasing code points, got U+0061 after U+0062"),
            std::string::npos);
  EXPECT_NE(message("kiln-char-tokenizer v1\n2\naa").find("strictly increasing"),
            std::string::npos);
  // The offset counts from the start of the serialised string: 23 + 2 header bytes.
  EXPECT_NE(message("kiln-char-tokenizer v1\n2\na\xFF")
                .find("serialized form: byte offset 26: expected valid UTF-8"),
            std::string::npos);
  EXPECT_NE(message("kiln-char-tokenizer v1\n0\n").find("expected at least one character"),
            std::string::npos);
}

TEST(CharTokenizerTest, FingerprintIsHashOfSerializedForm) {
  const CharTokenizer abc = CharTokenizer::from_text("abc");
  EXPECT_EQ(abc.fingerprint(), fnv1a_64(abc.serialize()));
  EXPECT_EQ(abc.fingerprint(), CharTokenizer::from_text("cbaabc").fingerprint());
  EXPECT_NE(abc.fingerprint(), CharTokenizer::from_text("abd").fingerprint());
  EXPECT_NE(abc.fingerprint(), CharTokenizer::from_text("ab").fingerprint());
  // FNV-1a reference values pin the hash so that caches stay valid across builds.
  EXPECT_EQ(fnv1a_64(""), 0xCBF29CE484222325ull);
  EXPECT_EQ(fnv1a_64("a"), 0xAF63DC4C8601EC8Cull);
}

TEST(CharTokenizerTest, DecodeRejectsIdsOutsideVocabulary) {
  const CharTokenizer tokenizer = CharTokenizer::from_text("ab");
  EXPECT_EQ(error_of([&] {
              tokenizer.decode(std::vector<int32_t>{0, 2});
            }),
            "char_tokenizer: expected ids in [0, 2), got 2 at position 1");
  EXPECT_NE(error_of([&] { tokenizer.decode(std::vector<int32_t>{-1}); }).find("got -1"),
            std::string::npos);
}

TEST(CharTokenizerTest, FromCodePointsValidates) {
  EXPECT_EQ(CharTokenizer::from_code_points({U'x', U'y'}).encode("yx"),
            (std::vector<int32_t>{1, 0}));
  EXPECT_NE(error_of([] { CharTokenizer::from_code_points({0xD800}); }).find("U+D800 at index 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { CharTokenizer::from_code_points({}); }).find("at least one"),
            std::string::npos);
}

TEST(CharTokenizerTest, CorpusErrorsNameSourceAndOffsetInIt) {
  // Validation starts at byte 10 of "doc"; the unknown 'é' sits at byte 10 + 2.
  const Corpus corpus = Corpus::from_text(std::string("aaaa bbbb ab\u00e9ba"), 0.4, "doc");
  ASSERT_EQ(corpus.text(Split::kValidation), "ab\u00e9ba");
  const CharTokenizer train_only = CharTokenizer::from_text(corpus.text(Split::kTrain));
  EXPECT_NE(error_of([&] {
              train_only.encode_split(corpus, Split::kValidation);
            }).find("doc: byte offset 12: expected a character in the tokenizer's vocabulary"),
            std::string::npos);

  const CharTokenizer full = CharTokenizer::from_corpus(corpus);
  EXPECT_EQ(full.vocab_size(), 4);  // ' ', a, b, é
  const std::vector<int32_t> train = full.encode_split(corpus, Split::kTrain);
  EXPECT_EQ(train, full.encode(corpus.text(Split::kTrain)));
  EXPECT_EQ(full.decode(full.encode_split(corpus, Split::kValidation)), "ab\u00e9ba");

  const Corpus bad = Corpus::from_text(std::string("abc\xFF"), 0.0, "mem");
  EXPECT_NE(error_of([&] {
              CharTokenizer::from_corpus(bad);
            }).find("mem: byte offset 3: expected valid UTF-8"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln
