// WordPieceTokenizer and train_wordpiece: BERT's basic tokenizer rules, greedy WordPiece,
// vocab.txt errors, serialisation, the real bert-base-uncased vocabulary, and training.
#include "data/wordpiece.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "data/bert_normalizer.h"
#include "data/wordpiece_trainer.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using Pieces = std::vector<std::string>;
using Ids = std::vector<int32_t>;

// Ids 0..4 are the special tokens, so "un" is 5, "##aff" 6, and so on.
std::vector<std::string> test_vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]",  "[MASK]", "un", "##aff", "##able", "hello", ",",
          "world", "!",     "$",     "^",      "中",     "文", "a",     "##a",    "Hello", "Héllo",
          ".",     "—",     "want",  "##want", "##ed",   "wa", "runn",  "##ing",  "##b"};
}

WordPieceTokenizer uncased() {
  return WordPieceTokenizer::from_tokens(test_vocab(), true);
}
WordPieceTokenizer cased() {
  return WordPieceTokenizer::from_tokens(test_vocab(), false);
}

TEST(WordPieceTest, GreedyLongestMatchFirst) {
  const WordPieceTokenizer tokenizer = uncased();
  EXPECT_EQ(tokenizer.encode("unaffable"), (Ids{5, 6, 7}));
  EXPECT_EQ(tokenizer.tokenize("unaffable"), (Pieces{"un", "##aff", "##able"}));
  // "want" beats "wa" at the start; "##want" then "##ed" continue.
  EXPECT_EQ(tokenizer.tokenize("unwanted running"),
            (Pieces{"un", "##want", "##ed", "runn", "##ing"}));
  EXPECT_EQ(tokenizer.tokenize(""), Pieces{});
  EXPECT_EQ(tokenizer.tokenize(" \t\n "), Pieces{});
}

TEST(WordPieceTest, UnknownForUnsplittableAndOverlongWords) {
  const WordPieceTokenizer tokenizer = uncased();
  // One [UNK] per word that cannot be split completely, never a partial split.
  EXPECT_EQ(tokenizer.tokenize("unwantedx running"), (Pieces{"[UNK]", "runn", "##ing"}));
  EXPECT_EQ(tokenizer.encode("xyz hello"), (Ids{1, 8}));
  EXPECT_EQ(tokenizer.encode("ab"), (Ids{16, 28}));
  const std::vector<int32_t> hundred = tokenizer.encode(std::string(kDefaultMaxWordChars, 'a'));
  ASSERT_EQ(hundred.size(), static_cast<size_t>(kDefaultMaxWordChars));
  EXPECT_EQ(hundred[0], 16);
  EXPECT_EQ(hundred[99], 17);
  EXPECT_EQ(tokenizer.encode(std::string(kDefaultMaxWordChars + 1, 'a') + " a"), (Ids{1, 16}));
  // The limit counts characters, not bytes: 100 two-byte "á" are 100 pieces.
  std::string accented;
  for (int i = 0; i < kDefaultMaxWordChars; ++i) accented += "\u00e1";
  EXPECT_EQ(tokenizer.encode(accented).size(), static_cast<size_t>(kDefaultMaxWordChars));
}

// A 150-character word: [UNK] at Hugging Face's limit (100), pieces at google-research/bert's
// (200); the limit survives serialisation, and forms without it read back as 100.
TEST(WordPieceTest, LongestWordLimitIsASetting) {
  const WordPieceTokenizer hf = uncased();
  EXPECT_EQ(hf.max_word_chars(), 100);
  const std::string word(150, 'a');
  EXPECT_EQ(hf.encode(word + " a"), (Ids{1, 16}));

  const WordPieceTokenizer google = hf.with_max_word_chars(200);
  EXPECT_EQ(google.max_word_chars(), 200);
  const std::vector<int32_t> pieces = google.encode(word);
  ASSERT_EQ(pieces.size(), 150u);  // "a" then 149 "##a"
  EXPECT_EQ(pieces.front(), 16);
  EXPECT_EQ(std::count(pieces.begin(), pieces.end(), 17), 149);
  EXPECT_EQ(google.encode(std::string(201, 'a')), Ids{1});
  EXPECT_EQ(hf.max_word_chars(), 100);  // with_max_word_chars made a copy

  // Serialised with the limit when it is not the default; the default form is unchanged.
  const std::string serialized = google.serialize();
  EXPECT_TRUE(serialized.starts_with(
      "kiln-wordpiece-tokenizer v1\nlowercase\nmax_word_chars 200\n29\n[PAD]\n"))
      << serialized.substr(0, 80);
  const WordPieceTokenizer restored = WordPieceTokenizer::from_serialized(serialized);
  EXPECT_EQ(restored.max_word_chars(), 200);
  EXPECT_EQ(restored.encode(word), pieces);
  EXPECT_EQ(restored.fingerprint(), google.fingerprint());
  EXPECT_NE(google.fingerprint(), hf.fingerprint());  // it changes tokenization
  EXPECT_EQ(hf.with_max_word_chars(100).serialize(), hf.serialize());
  EXPECT_EQ(hf.serialize().find("max_word_chars"), std::string::npos);
  EXPECT_EQ(WordPieceTokenizer::from_serialized(hf.serialize()).max_word_chars(), 100);

  EXPECT_EQ(error_of([&] { hf.with_max_word_chars(0); }),
            "wordpiece: expected max_word_chars >= 1, got 0");
  EXPECT_NE(error_of([] {
              WordPieceTokenizer::from_serialized(
                  "kiln-wordpiece-tokenizer v1\ncased\nmax_word_chars x\n1\n");
            }).find("expected 'max_word_chars <n>' with n >= 1 on line 3, got 'max_word_chars x'"),
            std::string::npos);
  // The trainer counts words up to its limit and returns a tokenizer with that limit.
  const WordPieceTokenizer trained =
      train_wordpiece({word + " b"}, 100, true, WordPieceScore::kFrequency, 200);
  EXPECT_EQ(trained.max_word_chars(), 200);
  EXPECT_EQ(trained.tokenize(word), Pieces{word});  // the long word was learned whole
  EXPECT_EQ(train_wordpiece({word + " b"}, 100, true).tokenize(word), Pieces{"[UNK]"});
}

TEST(WordPieceTest, LowercasingStripsAccents) {
  const WordPieceTokenizer tokenizer = uncased();
  EXPECT_EQ(tokenizer.tokenize("H\u00e9llo"), Pieces{"hello"});   // precomposed é
  EXPECT_EQ(tokenizer.tokenize("HE\u0301LLO"), Pieces{"hello"});  // E + combining acute
  EXPECT_EQ(tokenizer.tokenize("\u00c1\u00c0\u00c2\u00c4"), (Pieces{"a", "##a", "##a", "##a"}));
  EXPECT_EQ(tokenizer.encode("HELLO World"), (Ids{8, 10}));
}

TEST(WordPieceTest, CasedModeKeepsCaseAndAccents) {
  const WordPieceTokenizer tokenizer = cased();
  EXPECT_FALSE(tokenizer.lowercase());
  EXPECT_EQ(tokenizer.tokenize("H\u00e9llo Hello hello"), (Pieces{"Héllo", "Hello", "hello"}));
  EXPECT_EQ(tokenizer.tokenize("HELLO \u00e1"), (Pieces{"[UNK]", "[UNK]"}));
  // Punctuation still splits.
  EXPECT_EQ(tokenizer.tokenize("Hello,world!"), (Pieces{"Hello", ",", "world", "!"}));
}

TEST(WordPieceTest, SplitsPunctuationAndCjk) {
  const WordPieceTokenizer tokenizer = uncased();
  EXPECT_EQ(tokenizer.tokenize("hello,world!"), (Pieces{"hello", ",", "world", "!"}));
  // "$" and "^" are symbols (Sc, Sk) in Unicode but punctuation to BERT.
  EXPECT_EQ(tokenizer.tokenize("$hello^^"), (Pieces{"$", "hello", "^", "^"}));
  EXPECT_EQ(tokenizer.tokenize("hello\u2014world."), (Pieces{"hello", "—", "world", "."}));
  // Each CJK ideograph is a word; kana are not CJK ideographs, so "ああ" stays one word.
  EXPECT_EQ(tokenizer.tokenize("hello\u4e2d\u6587world"), (Pieces{"hello", "中", "文", "world"}));
  EXPECT_EQ(tokenizer.tokenize("\u3042\u3042"), Pieces{"[UNK]"});
  // A sign that is neither punctuation nor ASCII stays inside the word.
  EXPECT_EQ(tokenizer.tokenize("a\u00b0a"), Pieces{"[UNK]"});
}

TEST(WordPieceTest, RemovesControlCharactersAndNormalisesWhitespace) {
  const WordPieceTokenizer tokenizer = uncased();
  // Dropped characters join their neighbours: NUL, U+0001, U+FFFD, ZERO WIDTH SPACE (Cf),
  // form feed (Cc, not whitespace to BERT), a private-use character (Co).
  EXPECT_EQ(tokenizer.tokenize(std::string("hel\0lo", 6)), Pieces{"hello"});
  EXPECT_EQ(tokenizer.tokenize("hel\x01lo wor\ufffdld"), (Pieces{"hello", "world"}));
  EXPECT_EQ(bert_basic_tokenize("hel\u200blo\fwor\ue000ld", true), Pieces{"helloworld"});
  // Tab, newline, CR, no-break space, ideographic space (Zs) and LINE SEPARATOR all split.
  EXPECT_EQ(tokenizer.tokenize("\thello\r\nworld\u00a0hello\u3000world\u2028hello  "),
            (Pieces{"hello", "world", "hello", "world", "hello"}));
}

TEST(WordPieceTest, InvalidUtf8NamesWhereAndOffset) {
  const WordPieceTokenizer tokenizer = uncased();
  EXPECT_EQ(error_of([&] { tokenizer.encode("hello \xff", "doc.txt", 10); }),
            "doc.txt: byte offset 16: expected valid UTF-8, got a malformed sequence starting "
            "with 0xFF");
  EXPECT_NE(error_of([&] { tokenizer.encode("ab\xc3"); }).find("text: byte offset 2:"),
            std::string::npos);
}

TEST(WordPieceTest, SpecialIdsLookupAndDecode) {
  const WordPieceTokenizer tokenizer = uncased();
  EXPECT_EQ(tokenizer.vocab_size(), 29);
  EXPECT_EQ(tokenizer.pad_id(), 0);
  EXPECT_EQ(tokenizer.unk_id(), 1);
  EXPECT_EQ(tokenizer.cls_id(), 2);
  EXPECT_EQ(tokenizer.sep_id(), 3);
  EXPECT_EQ(tokenizer.mask_id(), 4);
  EXPECT_EQ(tokenizer.token_id("##aff"), 6);
  EXPECT_EQ(tokenizer.token_id("aff"), -1);
  EXPECT_EQ(tokenizer.token(7), "##able");
  EXPECT_TRUE(tokenizer.is_continuation(6));
  EXPECT_FALSE(tokenizer.is_continuation(5));
  EXPECT_EQ(error_of([&] { tokenizer.token(29); }), "wordpiece: expected an id in [0, 29), got 29");
  // "[MASK]" in text is plain text, as in the original BERT tokenizer.
  EXPECT_EQ(tokenizer.tokenize("[MASK]"), (Pieces{"[UNK]", "[UNK]", "[UNK]"}));

  EXPECT_EQ(tokenizer.decode(tokenizer.encode("Unaffable, hello world!")),
            "unaffable , hello world !");
  EXPECT_EQ(tokenizer.decode(Ids{2, 5, 6, 7, 3}), "[CLS] unaffable [SEP]");
  EXPECT_EQ(tokenizer.decode(Ids{6, 7}), "##affable");
  EXPECT_EQ(tokenizer.decode(Ids{}), "");
  EXPECT_EQ(error_of([&] {
              tokenizer.decode(Ids{5, -1});
            }),
            "wordpiece: expected an id in [0, 29), got -1");
}

TEST(WordPieceTest, SerializationRoundTrips) {
  const WordPieceTokenizer tokenizer = uncased();
  const std::string serialized = tokenizer.serialize();
  EXPECT_EQ(serialized.substr(0, 60),
            "kiln-wordpiece-tokenizer v1\nlowercase\n29\n[PAD]\n[UNK]\n[CLS]\n[");
  const WordPieceTokenizer restored = WordPieceTokenizer::from_serialized(serialized);
  EXPECT_EQ(restored.tokens(), tokenizer.tokens());
  EXPECT_TRUE(restored.lowercase());
  EXPECT_EQ(restored.fingerprint(), tokenizer.fingerprint());
  EXPECT_EQ(restored.encode("Unaffable héllo"), tokenizer.encode("Unaffable héllo"));

  const WordPieceTokenizer restored_cased =
      WordPieceTokenizer::from_serialized(cased().serialize());
  EXPECT_FALSE(restored_cased.lowercase());
  // The flag changes tokenization, so it changes the fingerprint.
  EXPECT_NE(cased().fingerprint(), tokenizer.fingerprint());

  EXPECT_EQ(error_of([] { WordPieceTokenizer::from_serialized("kiln-char-tokenizer v1\n"); }),
            "wordpiece: serialized form: expected a first line 'kiln-wordpiece-tokenizer v1', got "
            "'kiln-char-tokenizer v1'");
  EXPECT_EQ(error_of([&] { WordPieceTokenizer::from_serialized(serialized.substr(0, 60)); }),
            "wordpiece: serialized form: expected 29 newline-terminated tokens after the header, "
            "got 4 lines");
  EXPECT_NE(error_of([] {
              WordPieceTokenizer::from_serialized("kiln-wordpiece-tokenizer v1\nupper\n1\n");
            }).find("expected 'lowercase' or 'cased' on line 2, got 'upper'"),
            std::string::npos);
}

using WordPieceFileTest = ScratchDirTest;

constexpr const char* kSpecials = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";

TEST_F(WordPieceFileTest, LoadsVocabFileWithIdsByLine) {
  const std::string path = write("vocab.txt", std::string(kSpecials) + "un\r\n##aff\n##able");
  const WordPieceTokenizer tokenizer = WordPieceTokenizer::from_vocab_file(path, true);
  EXPECT_EQ(tokenizer.vocab_size(), 8);
  EXPECT_EQ(tokenizer.token(5), "un");  // "\r\n" accepted
  EXPECT_EQ(tokenizer.encode("unaffable"), (Ids{5, 6, 7}));
}

TEST_F(WordPieceFileTest, VocabFileErrorsNamePathAndLine) {
  const std::string empty_line = write("a.txt", std::string(kSpecials) + "un\n\n##aff\n");
  EXPECT_EQ(error_of([&] { WordPieceTokenizer::from_vocab_file(empty_line, true); }),
            empty_line + ":7: expected a token, got an empty one (id 6)");
  const std::string duplicate = write("b.txt", std::string(kSpecials) + "un\n##aff\nun\n");
  EXPECT_EQ(error_of([&] { WordPieceTokenizer::from_vocab_file(duplicate, true); }),
            duplicate + ":8: expected distinct tokens, got 'un' again (id 7; first at " +
                duplicate + ":6, id 5)");
  const std::string no_mask = write("c.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n");
  EXPECT_EQ(error_of([&] { WordPieceTokenizer::from_vocab_file(no_mask, true); }),
            no_mask + ": expected the special token [MASK] in the vocabulary (5 tokens), got none");
  const std::string bad_utf8 = write("d.txt", std::string(kSpecials) + "a\xc3(\n");
  EXPECT_EQ(error_of([&] { WordPieceTokenizer::from_vocab_file(bad_utf8, true); }),
            bad_utf8 +
                ":6: expected valid UTF-8, got a malformed sequence at byte 1 of the token "
                "(id 5)");
  const std::string missing = (dir_ / "missing.txt").string();
  EXPECT_NE(error_of([&] { WordPieceTokenizer::from_vocab_file(missing, true); }).find(missing),
            std::string::npos);
  EXPECT_EQ(error_of([] {
              WordPieceTokenizer::from_tokens({"[PAD]", "a\nb"}, true);
            }),
            "wordpiece: token 1: expected a token without line breaks, got one (id 1)");
}

// The real bert-base-uncased vocab.txt, written by scripts/bert_vocab.sh; the expected ids
// were checked against google-research/bert's tokenization.py on the same file.
TEST(WordPieceTest, MatchesBertBaseUncased) {
  const fs::path vocab = fs::path(__FILE__).parent_path().parent_path().parent_path() / "corpora" /
                         "bert-base-uncased-vocab.txt";
  if (!fs::exists(vocab)) GTEST_SKIP() << vocab << " not found; run scripts/bert_vocab.sh";
  const WordPieceTokenizer tokenizer = WordPieceTokenizer::from_vocab_file(vocab.string(), true);
  EXPECT_EQ(tokenizer.vocab_size(), 30522);
  EXPECT_EQ(tokenizer.pad_id(), 0);
  EXPECT_EQ(tokenizer.unk_id(), 100);
  EXPECT_EQ(tokenizer.cls_id(), 101);
  EXPECT_EQ(tokenizer.sep_id(), 102);
  EXPECT_EQ(tokenizer.mask_id(), 103);
  EXPECT_EQ(tokenizer.encode("Hello, world!"), (Ids{7592, 1010, 2088, 999}));
  EXPECT_EQ(tokenizer.tokenize("unaffable"), (Pieces{"una", "##ffa", "##ble"}));
  EXPECT_EQ(tokenizer.encode("unaffable"), (Ids{14477, 20961, 3468}));
  EXPECT_EQ(tokenizer.encode("The quick brown fox jumped."),
            (Ids{1996, 4248, 2829, 4419, 5598, 1012}));
  EXPECT_EQ(tokenizer.encode("H\u00e9llo w\u00f6rld \u2014 na\u00efve caf\u00e9"),
            (Ids{7592, 2088, 1517, 15743, 7668}));
  EXPECT_EQ(tokenizer.encode("$100^2 isn't 3.14"),
            (Ids{1002, 2531, 1034, 1016, 3475, 1005, 1056, 1017, 1012, 2403}));
  // CJK ideographs one by one ("字" is not in the vocabulary); hiragana as a word whose
  // voiced mark NFD splits off and drops; Hangul as the conjoining jamo NFD leaves.
  EXPECT_EQ(tokenizer.encode("\u4e2d\u6587\u5b57 \u3072\u3089\u304c\u306a \ud55c"),
            (Ids{1746, 1861, 100, 1673, 30211, 30177, 30193, 1469, 30006, 30021}));
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("Unaffable jumping")), "unaffable jumping");
  // Accents in NFD (combining marks) give the same ids as in NFC.
  EXPECT_EQ(tokenizer.encode("He\u0301llo wo\u0308rld"), (Ids{7592, 2088}));
  EXPECT_EQ(tokenizer.encode("H\u00e9llo w\u00f6rld"), (Ids{7592, 2088}));
  // A zero-width space (format character) is dropped; a no-break space separates words.
  EXPECT_EQ(tokenizer.encode("hel\u200blo\u00a0world"), (Ids{7592, 2088}));
  // Emoji are symbols outside the vocabulary: one [UNK] each, not split into bytes.
  EXPECT_EQ(tokenizer.encode("I \U0001F600 emoji \u2764"),
            (Ids{1045, 100, 7861, 29147, 2072, 100}));
  // Control characters (BEL, NUL) vanish; a word of 101 characters is one [UNK].
  EXPECT_EQ(tokenizer.encode(std::string("a\u0007b") + '\0' + "c"), (Ids{5925}));
  EXPECT_EQ(tokenizer.encode(std::string(101, 'a') + " ok"), (Ids{100, 7929}));
}

// A few fortunes-like lines, enough for merges beyond the alphabet.
std::vector<std::string> training_lines() {
  return {"The quick brown fox jumps over the lazy dog.",
          "The dog sleeps; the fox runs, jumping and running.",
          "Unaffable foxes — naïve dogs — jumped over the quickest hedges!",
          "Le café est fermé. Der Hund schläft. 中文 text.", "the the the then there these those"};
}

TEST(WordPieceTrainerTest, VocabularyHasRequestedSizeSpecialsFirst) {
  for (WordPieceScore score : {WordPieceScore::kLikelihood, WordPieceScore::kFrequency}) {
    const WordPieceTokenizer tokenizer = train_wordpiece(training_lines(), 120, true, score);
    ASSERT_EQ(tokenizer.vocab_size(), 120);
    for (size_t i = 0; i < kWordPieceSpecialTokens.size(); ++i) {
      EXPECT_EQ(tokenizer.token(static_cast<int32_t>(i)), kWordPieceSpecialTokens[i]);
    }
    // 23 word-initial characters, then 24 "##" ones (accents stripped), then the merges.
    const auto length = [&](int32_t id) {
      const std::string& piece = tokenizer.token(id);
      int chars = 0;
      for (size_t b = tokenizer.is_continuation(id) ? 2 : 0; b < piece.size(); ++b) {
        chars += (static_cast<unsigned char>(piece[b]) & 0xC0) != 0x80;
      }
      return chars;
    };
    EXPECT_EQ(tokenizer.token(5), "!");
    EXPECT_EQ(tokenizer.token(27), "\u6587");  // 文
    EXPECT_EQ(tokenizer.token(28), "##a");
    EXPECT_EQ(tokenizer.token(51), "##z");
    for (int32_t id = 5; id < 52; ++id) EXPECT_EQ(length(id), 1) << tokenizer.token(id);
    for (int32_t id = 52; id < 120; ++id) EXPECT_GE(length(id), 2) << tokenizer.token(id);
    for (const std::string& line : training_lines()) {
      for (int32_t id : tokenizer.encode(line)) EXPECT_NE(id, tokenizer.unk_id()) << line;
    }
  }
  // "the" is the most frequent word: frequency merges make it whole early.
  EXPECT_EQ(train_wordpiece(training_lines(), 60, true).tokenize("The"), Pieces{"the"});
}

TEST(WordPieceTrainerTest, IsDeterministicAndKeepsCase) {
  const WordPieceTokenizer a = train_wordpiece(training_lines(), 100, false);
  const WordPieceTokenizer b = train_wordpiece(training_lines(), 100, false);
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_FALSE(a.lowercase());
  EXPECT_GE(a.token_id("T"), 0);  // cased: "T" is a character of its own
  EXPECT_GE(a.token_id("##é"), 0);
  EXPECT_NE(a.fingerprint(), train_wordpiece(training_lines(), 100, true).fingerprint());
}

TEST(WordPieceTrainerTest, StopsWhenEveryWordIsOneToken) {
  const WordPieceTokenizer tokenizer = train_wordpiece({"ab ab abc"}, 1000, true);
  // 5 specials, a, ##b, ##c, then "ab" and "abc".
  EXPECT_EQ(tokenizer.tokens(),
            (Pieces{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "##b", "##c", "ab", "abc"}));
  EXPECT_EQ(tokenizer.tokenize("abc ab"), (Pieces{"abc", "ab"}));
}

TEST(WordPieceTrainerTest, RejectsTooSmallVocabularyAndEmptyText) {
  EXPECT_EQ(error_of([] { train_wordpiece({"ab ab abc"}, 7, true); }),
            "train_wordpiece: expected a vocab_size of at least 8 (5 special tokens and 3 "
            "characters), got 7");
  EXPECT_EQ(error_of([] {
              train_wordpiece({" ", "\n"}, 100, true);
            }),
            "train_wordpiece: expected text with at least one word, got 2 texts without any");
}

}  // namespace
}  // namespace kiln
