// Byte-level BPE: GPT-2's pre-tokenizer and byte map, encoding against ids checked with an
// independent Python re-implementation of OpenAI's encoder.py, round trips, file formats,
// error messages, and training.
#include "data/bpe.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "data/bpe_trainer.h"
#include "data/corpus.h"
#include "data/gpt2_pretokenizer.h"
#include "io/utf8.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

fs::path repo_root() {
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

// GPT-2's tokenizer from corpora/gpt2/ (scripts/gpt2_tokenizer.sh), loaded once.
const BpeTokenizer* gpt2() {
  static const BpeTokenizer* tokenizer = [] {
    const fs::path dir = repo_root() / "corpora" / "gpt2";
    if (!fs::exists(dir / "encoder.json") || !fs::exists(dir / "vocab.bpe")) {
      return static_cast<BpeTokenizer*>(nullptr);
    }
    return new BpeTokenizer(
        BpeTokenizer::from_files((dir / "encoder.json").string(), (dir / "vocab.bpe").string()));
  }();
  return tokenizer;
}

#define SKIP_WITHOUT_GPT2() \
  if (gpt2() == nullptr) GTEST_SKIP() << "corpora/gpt2/ is missing: run scripts/gpt2_tokenizer.sh"

std::vector<int32_t> ids(std::initializer_list<int32_t> list) {
  return list;
}

// A tiny vocabulary: the 256 bytes, "ab", "abc"; merges (a, b) and (ab, c).
BpeTokenizer tiny() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, static_cast<char>(b));
  tokens.push_back("ab");
  tokens.push_back("abc");
  return BpeTokenizer::from_tokens(tokens, {{'a', 'b'}, {256, 'c'}});
}

std::string random_utf8(std::mt19937& rng, int length) {
  // Mostly ASCII with many spaces, apostrophes and newlines, so every regex branch is hit.
  static const std::string kAscii = "aZ9 '\n\t.,!sStTrevlmd  ";
  std::string out;
  for (int i = 0; i < length; ++i) {
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    char32_t cp = 0;
    if (kind < 5) {
      cp = kAscii[std::uniform_int_distribution<size_t>(0, kAscii.size() - 1)(rng)];
    } else if (kind < 7) {
      cp = std::uniform_int_distribution<char32_t>(0, 0x7F)(rng);
    } else if (kind == 7) {
      cp = std::uniform_int_distribution<char32_t>(0x80, 0x7FF)(rng);
    } else if (kind == 8) {
      cp = std::uniform_int_distribution<char32_t>(0x800, 0xFFFF)(rng);
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0x3000;  // ideographic space, not a surrogate
    } else {
      cp = std::uniform_int_distribution<char32_t>(0x10000, 0x10FFFF)(rng);
    }
    append_utf8(cp, out);  // io/utf8 has its own tests
  }
  return out;
}

using Pieces = std::vector<std::string_view>;

TEST(BpePretokenizerTest, SplitsLikeGpt2Regex) {
  EXPECT_EQ(gpt2_pretokenize("Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(gpt2_pretokenize("I'm don't"), (Pieces{"I", "'m", " don", "'t"}));
  // Contractions are lowercase only, and a quote run is one piece.
  EXPECT_EQ(gpt2_pretokenize("IT'S ''s 'x"), (Pieces{"IT", "'", "S", " ''", "s", " '", "x"}));
  EXPECT_EQ(gpt2_pretokenize("a  b"), (Pieces{"a", " ", " b"}));
  EXPECT_EQ(gpt2_pretokenize("a   "), (Pieces{"a", "   "}));
  EXPECT_EQ(gpt2_pretokenize("  \t\n x"), (Pieces{"  \t\n", " x"}));
  EXPECT_EQ(gpt2_pretokenize("a\t\tb"), (Pieces{"a", "\t", "\t", "b"}));
  EXPECT_EQ(gpt2_pretokenize("hi!!  ?"), (Pieces{"hi", "!!", " ", " ?"}));
  EXPECT_EQ(gpt2_pretokenize("3.14abc"), (Pieces{"3", ".", "14", "abc"}));
  EXPECT_EQ(gpt2_pretokenize(" "), (Pieces{" "}));
  EXPECT_EQ(gpt2_pretokenize(""), (Pieces{}));
}

TEST(BpePretokenizerTest, UsesUnicodeClasses) {
  // U+00A0 and U+3000 are White_Space; only U+0020 joins the next word.
  EXPECT_EQ(gpt2_pretokenize("x\u00a0y\u3000z"), (Pieces{"x", "\u00a0", "y", "\u3000", "z"}));
  // A combining mark (Mn) is not a letter; ½ (No), Ⅻ (Nl) and ٣ (Nd) are numbers.
  EXPECT_EQ(gpt2_pretokenize("e\u0301 \u00bd \u216b \u0663"),
            (Pieces{"e", "\u0301", " \u00bd", " \u216b", " \u0663"}));
  EXPECT_EQ(gpt2_pretokenize("x \u2028y"), (Pieces{"x", " ", "\u2028", "y"}));
  EXPECT_EQ(gpt2_pretokenize("\u00e9t\u00e9 \u4e2d\u6587"),
            (Pieces{"\u00e9t\u00e9", " \u4e2d\u6587"}));
  // Bytes that are not UTF-8 act as punctuation, so any bytes split and concatenate back.
  EXPECT_EQ(gpt2_pretokenize("a\xff\xfe b\xc3"), (Pieces{"a", "\xff\xfe", " b", "\xc3"}));
}

TEST(BpePretokenizerTest, ByteMapMatchesGpt2) {
  EXPECT_EQ(gpt2_byte_to_code_point('!'), U'!');
  EXPECT_EQ(gpt2_byte_to_code_point(0xFF), U'\u00ff');
  EXPECT_EQ(gpt2_byte_to_code_point(0x00), U'\u0100');
  EXPECT_EQ(gpt2_byte_to_code_point(' '), U'\u0120');   // the "Ġ" of " world"
  EXPECT_EQ(gpt2_byte_to_code_point('\n'), U'\u010a');  // "Ċ"
  EXPECT_EQ(gpt2_byte_to_code_point(0xAD), U'\u0143');  // the 68th and last unprintable byte
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(gpt2_code_point_to_byte(gpt2_byte_to_code_point(static_cast<uint8_t>(b))), b);
  }
  EXPECT_EQ(gpt2_code_point_to_byte(U' '), std::nullopt);
  EXPECT_EQ(gpt2_byte_order()[0], '!');
  EXPECT_EQ(gpt2_byte_order()[188], 0x00);
  EXPECT_EQ(gpt2_spell_bytes(" world\n"), "\u0120world\u010a");
  EXPECT_EQ(gpt2_unspell("\u0120world\u010a"), " world\n");
  EXPECT_EQ(gpt2_unspell("a b"), std::nullopt);
}

TEST(BpeTest, Gpt2VocabularyLoads) {
  SKIP_WITHOUT_GPT2();
  EXPECT_EQ(gpt2()->vocab_size(), 50257);
  EXPECT_EQ(gpt2()->merges().size(), 50000u);
  EXPECT_EQ(gpt2()->token_id("<|endoftext|>"), 50256);
  EXPECT_EQ(gpt2()->token_id("\u0120world"), 995);
  EXPECT_EQ(gpt2()->token_id("not a token"), std::nullopt);
  EXPECT_EQ(gpt2()->token(995), "\u0120world");
  EXPECT_EQ(gpt2()->token_bytes(995), " world");
  EXPECT_EQ(gpt2()->token(188), "\u0100");  // byte 0x00
}

// Every expectation below was computed with a standard-library Python copy of OpenAI's
// encoder.py (regex classes built from unicodedata) on the same encoder.json and vocab.bpe.
TEST(BpeTest, Gpt2EncodesLikeOpenAi) {
  SKIP_WITHOUT_GPT2();
  const BpeTokenizer& t = *gpt2();
  EXPECT_EQ(t.encode("Hello world"), ids({15496, 995}));
  EXPECT_EQ(t.encode("I'm"), ids({40, 1101}));
  EXPECT_EQ(t.encode("don't"), ids({9099, 470}));
  EXPECT_EQ(t.encode("they'll"), ids({9930, 1183}));
  EXPECT_EQ(t.encode("We're here, you've been, I'd go, it's OK; IT'S NOT"),
            ids({1135, 821, 994, 11,  345,  1053, 587,  11, 314, 1549,
                 467,  11,  340, 338, 7477, 26,   7283, 6,  50,  5626}));
  EXPECT_EQ(t.encode("2024 1,000,000"), ids({1238, 1731, 352, 11, 830, 11, 830}));
  EXPECT_EQ(t.encode("a   b"), ids({64, 220, 220, 275}));
  EXPECT_EQ(t.encode("Hello   "), ids({15496, 220, 220, 220}));
  EXPECT_EQ(t.encode("\n\n"), ids({628}));
  EXPECT_EQ(t.encode("Hello\n\nworld"), ids({15496, 198, 198, 6894}));
  EXPECT_EQ(t.encode("na\u00efve caf\u00e9 \u00dcn\u00efc\u00f6d\u00e9"),
            ids({2616, 38776, 40304, 49363, 77, 26884, 66, 9101, 67, 2634}));
  EXPECT_EQ(t.encode("\U0001F44D\U0001F3FD"), ids({41840, 235, 8582, 237, 121}));
  EXPECT_EQ(t.encode("\u65e5\u672c\u8a9e"), ids({33768, 98, 17312, 105, 45739, 252}));
  // Not special in encode: GPT-2 spells it out; callers append id 50256 themselves.
  EXPECT_EQ(t.encode("<|endoftext|>"), ids({27, 91, 437, 1659, 5239, 91, 29}));
  EXPECT_EQ(t.encode("x\u00a0y\u3000z"), ids({87, 1849, 88, 5099, 222, 89}));
  EXPECT_EQ(t.encode("e\u0301 \u00bd \u216b \u0663"),
            ids({68, 136, 223, 25208, 2343, 227, 104, 18923, 96}));
  EXPECT_EQ(t.encode(""), ids({}));
  EXPECT_EQ(t.decode(ids({15496, 995})), "Hello world");
  // Encoding twice (the second from the word cache) gives the same ids.
  EXPECT_EQ(t.encode("Hello world Hello world"), ids({15496, 995, 18435, 995}));
}

TEST(BpeTest, Gpt2RoundTripsCorpora) {
  SKIP_WITHOUT_GPT2();
  for (const char* name : {"kjv.txt", "fortunes.txt"}) {
    const fs::path path = repo_root() / "corpora" / name;
    if (!fs::exists(path)) {
      std::printf("[  SKIPPED ] %s is missing: run scripts/prepare_corpus.sh all\n", name);
      continue;
    }
    const std::string text = read_text_file(path.string());
    const std::vector<int32_t> encoded = gpt2()->encode(text);
    std::printf("[   INFO   ] %s: %zu bytes -> %zu tokens\n", name, text.size(), encoded.size());
    EXPECT_LT(encoded.size(), text.size() / 3) << name;
    EXPECT_TRUE(gpt2()->decode(encoded) == text) << name << " does not round-trip";
  }
}

TEST(BpeTest, RoundTripsRandomUtf8AndBytes) {
  SKIP_WITHOUT_GPT2();
  std::mt19937 rng(1234);
  for (int i = 0; i < 500; ++i) {
    const std::string text = random_utf8(rng, std::uniform_int_distribution<int>(0, 60)(rng));
    ASSERT_EQ(gpt2()->decode(gpt2()->encode(text)), text);
  }
  // Not UTF-8 at all: byte-level BPE still round-trips every byte.
  std::string bytes;
  for (int i = 0; i < 2000; ++i) bytes += static_cast<char>(rng() & 0xFF);
  EXPECT_EQ(gpt2()->decode(gpt2()->encode(bytes)), bytes);
  // A long word (one letter repeated) takes the O(n log n) merge path without the cache.
  const std::string long_word(100000, 'a');
  const std::vector<int32_t> encoded = gpt2()->encode(long_word);
  EXPECT_LE(encoded.size(), long_word.size() / 4);
  EXPECT_EQ(gpt2()->decode(encoded), long_word);
}

TEST(BpeTest, EncodesConcurrently) {
  // The word cache is shared between threads (and copies); results must not depend on it.
  std::mt19937 rng(99);
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i) texts.push_back(random_utf8(rng, 40));
  std::string training;
  for (const std::string& text : texts) training += text;
  const BpeTokenizer trained = train_bpe({training}, 600);
  // A fresh copy from the serialised form has its own, empty cache: the serial reference.
  const BpeTokenizer reference = BpeTokenizer::from_serialized(trained.serialize());
  std::vector<std::vector<int32_t>> expected;
  for (const std::string& text : texts) expected.push_back(reference.encode(text));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < texts.size() * 4; i += 3) {
        const size_t k = i % texts.size();
        if (trained.encode(texts[k]) != expected[k]) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(BpeTest, MergesApplyByRank) {
  const BpeTokenizer t = tiny();
  EXPECT_EQ(t.vocab_size(), 258);
  EXPECT_EQ(t.encode("abc"), ids({257}));
  EXPECT_EQ(t.encode("abab cab"), ids({256, 256, ' ', 'c', 256}));
  EXPECT_EQ(t.encode("acb"), ids({'a', 'c', 'b'}));
  EXPECT_EQ(t.decode(ids({257, ' ', 256})), "abc ab");
  EXPECT_EQ(error_of([&] {
              t.decode(ids({1, 258}));
            }),
            "bpe_tokenizer: expected ids in [0, 258), got 258 at position 1");
}

TEST(BpeTest, FileFormatsRoundTrip) {
  SKIP_WITHOUT_GPT2();
  // The writers reproduce OpenAI's files byte for byte.
  const fs::path dir = repo_root() / "corpora" / "gpt2";
  EXPECT_TRUE(gpt2()->to_vocab_json() == read_text_file((dir / "encoder.json").string()));
  EXPECT_TRUE(gpt2()->to_merges_txt() == read_text_file((dir / "vocab.bpe").string()));
  // Hugging Face's names for the same formats.
  const fs::path tmp = fs::temp_directory_path() / "kiln_bpe_test";
  fs::create_directories(tmp);
  std::ofstream(tmp / "vocab.json") << gpt2()->to_vocab_json();
  std::ofstream(tmp / "merges.txt") << gpt2()->to_merges_txt();
  const BpeTokenizer hf =
      BpeTokenizer::from_files((tmp / "vocab.json").string(), (tmp / "merges.txt").string());
  EXPECT_EQ(hf.fingerprint(), gpt2()->fingerprint());
  fs::remove_all(tmp);
  // kiln's serialised form.
  const std::string serialized = gpt2()->serialize();
  EXPECT_TRUE(serialized.starts_with("kiln-bpe-tokenizer v1\n50257 50000\n!\n\"\n"));
  const BpeTokenizer restored = BpeTokenizer::from_serialized(serialized);
  EXPECT_EQ(restored.fingerprint(), gpt2()->fingerprint());
  EXPECT_EQ(restored.encode("Hello world"), ids({15496, 995}));
  EXPECT_NE(tiny().fingerprint(), gpt2()->fingerprint());
}

TEST(BpeTest, ReadsJsonEscapes) {
  const BpeTokenizer t = tiny();
  std::string json = t.to_vocab_json();
  // "A" as \u0041 and "/" as "\/"; "\"" and "\\" are already escaped by the writer.
  json.replace(json.find("\"A\""), 3, "\"\\u0041\"");
  json.replace(json.find("\"/\""), 3, "\"\\/\"");
  ASSERT_NE(json.find("\"\\\"\": 34"), std::string::npos);
  ASSERT_NE(json.find("\"\\\\\": "), std::string::npos);
  const BpeTokenizer read = BpeTokenizer::from_strings(json, t.to_merges_txt());
  EXPECT_EQ(read.fingerprint(), t.fingerprint());
  // A surrogate pair decodes to one character (here rejected: it spells no byte).
  EXPECT_EQ(error_of([] { BpeTokenizer::from_strings("{\"\\ud83d\\udc4d\": 0}", "", "v.json"); }),
            "v.json: token id 0: expected a non-empty token spelled with GPT-2's "
            "bytes_to_unicode characters, got '\U0001F44D'");
}

TEST(BpeTest, MalformedVocabJsonNamesFileAndOffset) {
  const auto message = [](std::string_view json) {
    return error_of([&] { BpeTokenizer::from_strings(json, "", "enc.json"); });
  };
  // vocab.json goes through kiln's JSON parser (its syntax errors are tested in json_test);
  // these are the shapes and ids that only a vocabulary must have.
  EXPECT_EQ(message("{\"a\": 0, \"b\" 1}"),
            "enc.json: byte offset 13: expected ':' after a key, got '1'");
  EXPECT_EQ(message("[\"a\"]"), "enc.json: byte offset 0: expected an object, got an array");
  EXPECT_EQ(message("{\"a\": 0, \"a\": 1}"),
            "enc.json: byte offset 9: expected each key once, got a second \"a\"");
  EXPECT_EQ(message("{\"a\": 0, \"b\": 5}"),
            "enc.json: byte offset 14: expected ids 0..1 for 2 tokens, got id 5 for 'b'");
  EXPECT_EQ(message("{\"a\": 0, \"b\": -1}"),
            "enc.json: byte offset 14: expected ids 0..1 for 2 tokens, got id -1 for 'b'");
  EXPECT_EQ(message("{\"a\": 1, \"b\": 1}"),
            "enc.json: byte offset 14: expected each id once, got id 1 for both 'a' and 'b'");
  EXPECT_EQ(message("{\"a\": 1.5}"),
            "enc.json: byte offset 6: expected an integer, got the number 1.5");
  EXPECT_EQ(message("{\"a\": \"0\"}"),
            "enc.json: byte offset 6: expected an integer, got the string \"0\"");
  EXPECT_EQ(message("{} x"),
            "enc.json: byte offset 3: expected the end of the text after the value, got 'x'");
  EXPECT_EQ(message("{\"a\": 0}"),
            "enc.json: expected all 256 single-byte tokens, got none for byte 0 (spelled "
            "'\u0100')");
  // A missing file names its path.
  EXPECT_NE(error_of([] {
              BpeTokenizer::from_files("/nonexistent/encoder.json", "x");
            }).find("/nonexistent/encoder.json"),
            std::string::npos);
}

TEST(BpeTest, MalformedMergesNameFileAndLine) {
  const std::string json = tiny().to_vocab_json();
  const auto message = [&](std::string_view merges) {
    return error_of([&] { BpeTokenizer::from_strings(json, merges, "v.json", "vocab.bpe"); });
  };
  EXPECT_EQ(message("#version: 0.2\na b\nab\n"),
            "vocab.bpe: line 3: expected a merge 'left right' (two tokens, one space), got 'ab'");
  EXPECT_EQ(message("#version: 0.2\na  b\n"),
            "vocab.bpe: line 2: expected a merge 'left right' (two tokens, one space), got "
            "'a  b'");
  EXPECT_EQ(message("#version: 0.2\na b\nab zz\n"),
            "vocab.bpe: line 3: expected tokens of the vocabulary, got 'zz' in merge 'ab zz'");
  EXPECT_EQ(message("#version: 0.2\nb c\n"),
            "vocab.bpe: line 2: expected the merged token 'bc' in the vocabulary, got a merge "
            "'b c' whose result is missing");
  // Without a version line, line 1 is a merge; blank lines are skipped, as GPT-2 does.
  const BpeTokenizer t = BpeTokenizer::from_strings(json, "a b\n\nab c\n\n");
  EXPECT_EQ(t.encode("abc"), ids({257}));
}

TEST(BpeTest, SerializedFormErrorsNameLine) {
  const std::string good = tiny().serialize();
  EXPECT_EQ(BpeTokenizer::from_serialized(good).fingerprint(), tiny().fingerprint());
  EXPECT_EQ(error_of([] { BpeTokenizer::from_serialized("kiln-char-tokenizer v1\n"); }),
            "bpe_tokenizer: serialized form: line 1: expected 'kiln-bpe-tokenizer v1', got "
            "'kiln-char-tokenizer v1'");
  EXPECT_EQ(error_of([] { BpeTokenizer::from_serialized("kiln-bpe-tokenizer v1\n258\n"); }),
            "bpe_tokenizer: serialized form: line 2: expected '<vocab size> <merge count>', got "
            "'258'");
  EXPECT_EQ(error_of([&] { BpeTokenizer::from_serialized(good.substr(0, good.size() - 5)); }),
            "bpe_tokenizer: serialized form: expected 262 lines for 258 tokens and 2 merges, got "
            "261");
  EXPECT_EQ(error_of([&] { BpeTokenizer::from_serialized(good.substr(0, good.size() - 1)); }),
            "bpe_tokenizer: serialized form: expected a newline at the end, got none");
  std::string bad_merge = good;
  bad_merge.replace(bad_merge.rfind("ab c"), 4, "ab  ");
  EXPECT_EQ(error_of([&] { BpeTokenizer::from_serialized(bad_merge); }),
            "bpe_tokenizer: serialized form: line 262: expected a merge 'left right' (two tokens, "
            "one space), got 'ab  '");
}

TEST(BpeTrainerTest, TrainsDeterministicVocabulary) {
  const std::string text =
      "the cat sat on the mat. the cat ate the rat. that cat, the fat cat, sat; "
      "then the rat ran at the cat and the cat ran after that rat.\n";
  const BpeTokenizer a = train_bpe({text, "a second text about the cat"}, 280);
  const BpeTokenizer b = train_bpe({text, "a second text about the cat"}, 280);
  EXPECT_EQ(a.vocab_size(), 280);
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_EQ(a.token_id("<|endoftext|>"), 279);
  EXPECT_EQ(a.token_bytes(0), "!");  // GPT-2's byte order
  // " the" and " cat" are the most frequent words; both become single tokens.
  ASSERT_TRUE(a.token_id("\u0120the").has_value());
  ASSERT_TRUE(a.token_id("\u0120cat").has_value());
  EXPECT_EQ(a.encode(" the cat"), ids({*a.token_id("\u0120the"), *a.token_id("\u0120cat")}));
  const std::vector<int32_t> encoded = a.encode(text);
  EXPECT_LT(encoded.size(), text.size() / 2);
  EXPECT_EQ(a.decode(encoded), text);
  EXPECT_EQ(a.decode(a.encode("unseen w\u00f6rds \U0001F642")), "unseen w\u00f6rds \U0001F642");
  // The first merge is the most frequent pair; ties go to the smaller token bytes.
  EXPECT_EQ(a.token_bytes(a.merges()[0].merged), "at");
  // Survives its serialised form.
  EXPECT_EQ(BpeTokenizer::from_serialized(a.serialize()).encode(text), encoded);
}

TEST(BpeTrainerTest, StopsWhenPairsRunOut) {
  const BpeTokenizer t = train_bpe({"abab"}, 1000);
  // "abab" -> "ab" "ab" -> "abab": two merges, then the word is one token.
  EXPECT_EQ(t.vocab_size(), 259);
  EXPECT_EQ(t.encode("abab"), ids({257}));
  EXPECT_EQ(t.token_id("<|endoftext|>"), 258);
  EXPECT_EQ(error_of([] { train_bpe({"x"}, 256); }),
            "train_bpe: expected a vocab_size of at least 257 (256 bytes and <|endoftext|>), got "
            "256");
}

TEST(BpeTrainerTest, TrainsOnKjv) {
  const fs::path path = repo_root() / "corpora" / "kjv.txt";
  if (!fs::exists(path)) GTEST_SKIP() << path << " is missing";
  const std::string text = read_text_file(path.string());
  const BpeTokenizer t = train_bpe({text}, 8192);
  const std::vector<int32_t> encoded = t.encode(text);
  std::printf("[   INFO   ] kjv.txt: trained 8192 ids; %zu bytes -> %zu tokens\n", text.size(),
              encoded.size());
  EXPECT_EQ(t.vocab_size(), 8192);
  EXPECT_LT(encoded.size(), text.size() / 4);
  EXPECT_TRUE(t.decode(encoded) == text);
}

}  // namespace
}  // namespace kiln
