// `kiln tokenizer train|encode` and `kiln embed` as a user runs them: trained and downloaded
// tokenizers over JSON lines, error messages, and a tiny BERT (and BERT classifier)
// checkpoint's embedding.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/tokenizer.h"
#include "io/json.h"
#include "tests/cli/run_helpers.h"
#include "tests/scratch_dir.h"

namespace {
namespace fs = std::filesystem;

using kiln::cli_test::CommandResult;

fs::path repo_root() {
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

// The numbers of the JSON array that follows `key` in `line` ("[1, 2]" -> {1, 2}).
// The numbers of array `key` in the JSON object on `line` (empty when absent).
std::vector<double> numbers_after(const std::string& line, const std::string& key) {
  const kiln::json::Value object = kiln::json::parse(line, "output");
  const kiln::json::Value* array = object.find(key);
  std::vector<double> values;
  if (array != nullptr)
    for (const kiln::json::Value& v : array->as_array()) values.push_back(v.as_number());
  return values;
}

std::vector<int32_t> ids_of(const std::string& line) {
  std::vector<int32_t> ids;
  for (double v : numbers_after(line, "ids")) ids.push_back(static_cast<int32_t>(v));
  return ids;
}

// The lines of `text`.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class TokenizerCliTest : public kiln::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    std::ofstream corpus(dir_ / "corpus.txt");
    for (int i = 0; i < 50; ++i)
      corpus << "to be or not to be that is the question\n"
             << "a \"quoted\"\tcafé line/ " << i % 7 << "\n\n";
  }

  // Runs `kiln <args>` with `input` on stdin, capturing both output streams.
  CommandResult kiln(const std::string& args, const std::string& input = "") {
    const fs::path stdin_path = dir_ / "stdin.txt";
    std::ofstream(stdin_path, std::ios::binary) << input;
    return kiln::cli_test::kiln_via("", args + " < '" + stdin_path.string() + "'");
  }

  // Trains a tokenizer of `type` on the corpus; returns its path.
  std::string train(const std::string& type, const std::string& options) {
    const std::string out = (dir_ / (type + ".tok")).string();
    CommandResult r = kiln("tokenizer train --type " + type + " " + options + " --out " + out +
                           " " + (dir_ / "corpus.txt").string());
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("trained a " + type + " tokenizer of"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(out));
    EXPECT_FALSE(fs::exists(out + ".tmp"));
    return out;
  }

  // Trains a tiny BERT for 2 steps; returns its checkpoint.
  std::string tiny_bert() {
    {
      std::ofstream docs(dir_ / "docs.txt");
      for (int d = 0; d < 40; ++d) {
        for (int s = 0; s < 4; ++s)
          docs << "document " << d % 9 << " says thing " << s << " about topic " << d % 5 << ".\n";
        docs << "\n";
      }
    }
    std::ofstream(dir_ / "bert.yaml")
        << "run: {name: bert, out_dir: " << (dir_ / "bert").string() << "}\n"
        << "data: {train_files: [" << (dir_ / "docs.txt").string()
        << "], val_fraction: 0.2, tokenizer_vocab_size: 120, max_predictions_per_seq: 4}\n"
        << "model: {arch: bert, n_layer: 1, n_head: 2, d_model: 16, max_seq_len: 32}\n"
        << "train: {batch_size: 4, seq_len: 24, max_steps: 2, optimizer: {lr: 1.0e-3}}\n"
        << "eval: {every: 0}\n";
    CommandResult r = kiln("train " + (dir_ / "bert.yaml").string());
    EXPECT_EQ(r.exit_code, 0) << r.out;
    const std::string checkpoint = (dir_ / "bert" / "ckpt-00000002.h5").string();
    EXPECT_TRUE(fs::exists(checkpoint)) << r.out;
    return checkpoint;
  }
};

TEST_F(TokenizerCliTest, EveryCommandHasHelp) {
  for (const char* command : {"tokenizer", "tokenizer train", "tokenizer encode", "embed"}) {
    CommandResult r = kiln(std::string(command) + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_EQ(r.out.rfind("usage: kiln " + std::string(command), 0), 0u)
        << command << ": " << r.out;
  }
  CommandResult r = kiln("tokenizer decode");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out,
            "error: kiln tokenizer: expected train or encode (see 'kiln tokenizer --help'), got "
            "'decode'\n");
}

TEST_F(TokenizerCliTest, TrainedTokenizersEncodeJsonLinesThatDecodeBack) {
  const std::string plain = "to be or not to be that is the question";
  for (const auto& [type, options] : std::vector<std::pair<std::string, std::string>>{
           {"char", ""}, {"wordpiece", "--vocab-size 200"}, {"bpe", "--vocab-size 300"}}) {
    SCOPED_TRACE(type);
    const std::string path = train(type, options);
    const kiln::Tokenizer tokenizer = kiln::Tokenizer::from_serialized(kiln::read_text_file(path));
    EXPECT_EQ(tokenizer.kind(), type);
    // Escapes in: \", \t, \u00e9 (é), \/ and a member before "text".
    CommandResult r = kiln("tokenizer encode --tokenizer " + path,
                           "{\"text\": \"" + plain + "\"}\n" +
                               "{\"id\": [1, {\"x\": null}], \"text\": \"a \\\"quoted\\\"\\tcaf"
                               "\\u00e9 line\\/\"}\n");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    std::vector<std::string> lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;
    std::vector<int32_t> ids = ids_of(lines[0]);
    ASSERT_FALSE(ids.empty()) << lines[0];
    EXPECT_EQ(tokenizer.decode(ids), plain);
    EXPECT_EQ(ids, tokenizer.encode(plain));
    EXPECT_EQ(ids_of(lines[1]), tokenizer.encode("a \"quoted\"\tcafé line/")) << lines[1];
    if (type != "wordpiece") {  // WordPiece decodes to its normalised pieces
      EXPECT_EQ(tokenizer.decode(ids_of(lines[1])), "a \"quoted\"\tcafé line/");
    }
  }
  // Tokens are the vocabulary's spellings, JSON-escaped.
  CommandResult r = kiln("tokenizer encode --tokenizer " + (dir_ / "char.tok").string(),
                         "{\"text\": \"a\\\"\\t\\u00e9\"}\n");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"tokens\": [\"a\", \"\\\"\", \"\\t\", \"é\"]}"), std::string::npos)
      << r.out;
}

TEST_F(TokenizerCliTest, TrainChecksItsOptions) {
  CommandResult r =
      kiln("tokenizer train --type bpe --out x.tok " + (dir_ / "corpus.txt").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("expected --vocab-size for --type bpe"), std::string::npos) << r.out;
  r = kiln("tokenizer train --type sentencepiece --vocab-size 10 --out x.tok a.txt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("--type: expected char, wordpiece or bpe"), std::string::npos) << r.out;
  r = kiln("tokenizer train --type char --cased --out x.tok a.txt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("only with --type wordpiece"), std::string::npos) << r.out;
  r = kiln("tokenizer train --type char --out " + (dir_ / "no" / "such" / "x.tok").string() + " " +
           (dir_ / "corpus.txt").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("does its folder exist?"), std::string::npos) << r.out;
}

TEST_F(TokenizerCliTest, MalformedJsonLineIsAnErrorNamingTheLine) {
  const std::string path = train("char", "");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"text\": \"to be\"", "stdin:3: byte offset 16: expected ',' or '}' after a member"},
      {"{\"txt\": \"to be\"}", "stdin:3: expected a member \"text\""},
      {"{\"text\": 12}",
       "stdin:3: byte offset 9: expected \"text\" to be a string, got the number 12"},
      {"{\"text\": \"\\ud83d\"}", "stdin:3: byte offset 10: expected a low surrogate"},
      {"{\"text\": \"\\q\"}", "stdin:3: byte offset 11: expected an escape"},
      {"[\"text\"]", "stdin:3: byte offset 0: expected an object, got an array"},
      {"{\"text\": \"a\", \"text\": \"b\"}", "stdin:3: byte offset 14: expected each key once"},
      {"{\"text\": \"to be\"} x", "stdin:3: byte offset 18: expected the end of the text"},
  };
  for (const auto& [line, message] : cases) {
    CommandResult r = kiln("tokenizer encode --tokenizer " + path,
                           "{\"text\": \"to be\"}\n\n" + line + "\n{\"text\": \"or not\"}\n");
    EXPECT_EQ(r.exit_code, 1) << line;
    std::vector<std::string> lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;  // the first line's answer, then the error
    EXPECT_EQ(lines[1].rfind("error: " + message, 0), 0u) << line << "\n" << r.out;
  }
  // A character the vocabulary lacks is named with the line.
  CommandResult r = kiln("tokenizer encode --tokenizer " + path, "{\"text\": \"to bX\"}\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("stdin:1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("U+0058"), std::string::npos) << r.out;
}

TEST_F(TokenizerCliTest, LoadErrorsNameThePath) {
  CommandResult r = kiln("tokenizer encode --tokenizer /nonexistent/tok");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out,
            "error: /nonexistent/tok: expected a tokenizer file or folder, got no such file\n");
  r = kiln("tokenizer encode --tokenizer " + dir_.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("expected a tokenizer folder holding"), std::string::npos) << r.out;
  r = kiln("tokenizer encode --lowercase --tokenizer " + train("char", ""));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("expected no --lowercase/--cased for a saved kiln tokenizer"),
            std::string::npos)
      << r.out;
}

// A 150-character word is one [UNK] at the default limit (100) and pieces at 200.
TEST_F(TokenizerCliTest, MaxWordCharsSetsTheWordPieceLimit) {
  const std::string path = train("wordpiece", "--vocab-size 60");
  const std::string text = std::string(150, 't') + " be";  // 't' starts words and continues them
  const std::string input = "{\"text\": \"" + text + "\"}\n";
  const kiln::WordPieceTokenizer tokenizer =
      kiln::WordPieceTokenizer::from_serialized(kiln::read_text_file(path));
  const std::vector<int32_t> be = tokenizer.encode("be");
  CommandResult r = kiln("tokenizer encode --tokenizer " + path, input);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::vector<int32_t> want = {tokenizer.unk_id()};
  want.insert(want.end(), be.begin(), be.end());
  EXPECT_EQ(ids_of(r.out), want) << r.out;

  r = kiln("tokenizer encode --max-word-chars 200 --tokenizer " + path, input);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::vector<int32_t> ids = ids_of(r.out);
  EXPECT_EQ(ids, tokenizer.with_max_word_chars(200).encode(text));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tokenizer.unk_id()), 0) << r.out;
  EXPECT_EQ(tokenizer.decode(ids), text);  // pieces of the long word, then "be"

  r = kiln("tokenizer encode --max-word-chars 0 --tokenizer " + path, input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out,
            "error: kiln tokenizer encode: --max-word-chars: expected an integer >= 1, got 0\n");
  r = kiln("tokenizer encode --max-word-chars 200 --tokenizer " + train("char", ""), input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out,
            "error: kiln tokenizer encode: expected --max-word-chars only for a WordPiece "
            "tokenizer, got a char tokenizer\n");
}

TEST_F(TokenizerCliTest, BertBaseUncasedVocab) {
  const fs::path vocab = repo_root() / "corpora" / "bert-base-uncased-vocab.txt";
  if (!fs::exists(vocab))
    GTEST_SKIP() << "corpora/bert-base-uncased-vocab.txt is missing: run scripts/bert_vocab.sh";
  const std::string expected =
      "{\"ids\": [7592, 1010, 2088, 999], \"tokens\": [\"hello\", \",\", \"world\", \"!\"]}\n";
  const std::string input = "{\"text\": \"Hello, world!\"}\n";
  CommandResult r = kiln("tokenizer encode --lowercase --tokenizer " + vocab.string(), input);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, expected);

  // A Hugging Face folder: tokenizer_config.json says uncased.
  fs::create_directories(dir_ / "bert");
  fs::copy_file(vocab, dir_ / "bert" / "vocab.txt");
  std::ofstream(dir_ / "bert" / "tokenizer_config.json")
      << "{\n  \"do_lower_case\": true,\n  \"model_max_length\": 512\n}\n";
  r = kiln("tokenizer encode --tokenizer " + (dir_ / "bert").string(), input);
  EXPECT_EQ(r.out, expected);
  // Cased, "Hello" is not in the uncased vocabulary.
  r = kiln("tokenizer encode --cased --tokenizer " + (dir_ / "bert").string(), input);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"[UNK]\""), std::string::npos) << r.out;
}

TEST_F(TokenizerCliTest, Gpt2Files) {
  const fs::path gpt2 = repo_root() / "corpora" / "gpt2";
  if (!fs::exists(gpt2 / "encoder.json") || !fs::exists(gpt2 / "vocab.bpe"))
    GTEST_SKIP() << "corpora/gpt2/ is missing: run scripts/gpt2_tokenizer.sh";
  const std::string expected = "{\"ids\": [15496, 995], \"tokens\": [\"Hello\", \"Ġworld\"]}\n";
  for (const fs::path& path : {gpt2, gpt2 / "encoder.json", gpt2 / "vocab.bpe"}) {
    CommandResult r =
        kiln("tokenizer encode --tokenizer " + path.string(), "{\"text\": \"Hello world\"}\n");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out, expected) << path;
  }
  // A surrogate pair (U+1F600) is one character: its 4 UTF-8 bytes decode back.
  CommandResult r =
      kiln("tokenizer encode --tokenizer " + gpt2.string(), "{\"text\": \"\\ud83d\\ude00!\"}\n");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  kiln::BpeTokenizer bpe = kiln::BpeTokenizer::from_files((gpt2 / "encoder.json").string(),
                                                          (gpt2 / "vocab.bpe").string());
  EXPECT_EQ(bpe.decode(ids_of(r.out)), "\xF0\x9F\x98\x80!");
}

TEST_F(TokenizerCliTest, EmbedATinyBertCheckpoint) {
  const std::string checkpoint = tiny_bert();
  ASSERT_TRUE(fs::exists(checkpoint));

  CommandResult r = kiln("embed --checkpoint " + checkpoint + " --text 'Document 3 says thing'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const kiln::json::Value tokens = kiln::json::parse(r.out, "embed").at("tokens");
  ASSERT_GE(tokens.as_array().size(), 2u) << r.out;
  EXPECT_EQ(tokens.as_array().front().as_string(), "[CLS]");
  EXPECT_EQ(tokens.as_array().back().as_string(), "[SEP]");
  std::vector<int32_t> ids = ids_of(r.out);
  ASSERT_GE(ids.size(), 6u) << r.out;
  std::vector<double> shape = numbers_after(r.out, "last_hidden_state_shape");
  EXPECT_EQ(shape, (std::vector<double>{1, static_cast<double>(ids.size()), 16})) << r.out;
  std::vector<double> pooled = numbers_after(r.out, "pooled");
  ASSERT_EQ(pooled.size(), 16u) << r.out;
  for (double v : pooled) {
    EXPECT_GT(v, -1.0);
    EXPECT_LT(v, 1.0);
  }
  EXPECT_NE(pooled[0], pooled[1]);
  // Eval mode: the same text gives the same vector.
  EXPECT_EQ(kiln("embed --checkpoint " + checkpoint + " --text 'Document 3 says thing'").out,
            r.out);

  // The checkpoint's tokenizer also serves `tokenizer encode`.
  CommandResult encoded =
      kiln("tokenizer encode --tokenizer " + checkpoint, "{\"text\": \"Document 3 says thing\"}\n");
  ASSERT_EQ(encoded.exit_code, 0) << encoded.out;
  EXPECT_EQ(ids_of(encoded.out), std::vector<int32_t>(ids.begin() + 1, ids.end() - 1));

  std::string long_text;
  for (int i = 0; i < 31; ++i) long_text += "thing ";
  r = kiln("embed --checkpoint " + checkpoint + " --text '" + long_text + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("expected at most 30 WordPiece tokens"), std::string::npos) << r.out;
}

TEST_F(TokenizerCliTest, EmbedUsesTheEncoderOfAClassifierCheckpoint) {
  const std::string bert = tiny_bert();
  ASSERT_TRUE(fs::exists(bert));
  {
    std::ofstream labelled(dir_ / "labelled.jsonl");
    for (int i = 0; i < 12; ++i)
      labelled << "{\"text\": \"document " << i << " says thing\", \"label\": \""
               << (i % 2 ? "odd" : "even") << "\"}\n";
  }
  // One step with the encoder frozen: the classifier's bert.* are the BERT checkpoint's.
  std::ofstream(dir_ / "cls.yaml")
      << "run: {name: cls, out_dir: " << (dir_ / "cls").string() << "}\n"
      << "data: {train_files: [" << (dir_ / "labelled.jsonl").string()
      << "], labels: [even, odd]}\n"
      << "model: {init_from: " << bert << ", arch: bert-classifier}\n"
      << "train: {batch_size: 4, seq_len: 16, max_steps: 1, freeze: [\"bert.*\"], "
         "optimizer: {lr: 1.0e-3}}\n"
      << "eval: {every: 0}\n";
  CommandResult r = kiln("train " + (dir_ / "cls.yaml").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string classifier = (dir_ / "cls" / "ckpt-00000001.h5").string();
  ASSERT_TRUE(fs::exists(classifier)) << r.out;

  r = kiln("embed --checkpoint " + classifier + " --text 'Document 3 says thing'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(numbers_after(r.out, "pooled").size(), 16u) << r.out;
  EXPECT_EQ(r.out, kiln("embed --checkpoint " + bert + " --text 'Document 3 says thing'").out);
}

TEST_F(TokenizerCliTest, EmbedRefusesAGptCheckpoint) {
  std::ofstream(dir_ / "gpt.yaml")
      << "run: {name: gpt, out_dir: " << (dir_ / "gpt").string() << "}\n"
      << "data: {train_files: [" << (dir_ / "corpus.txt").string() << "]}\n"
      << "model: {n_layer: 1, n_head: 2, d_model: 16, "
         "max_seq_len: 16}\n"
      << "train: {batch_size: 2, seq_len: 16, max_steps: 1, "
         "optimizer: {lr: 1.0e-3}}\n"
      << "eval: {every: 0}\n";
  CommandResult r = kiln("train " + (dir_ / "gpt.yaml").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string checkpoint = (dir_ / "gpt" / "ckpt-00000001.h5").string();
  r = kiln("embed --checkpoint " + checkpoint + " --text hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "error: kiln embed: " + checkpoint +
                       ": expected model.arch bert or bert-classifier, got model.arch gpt\n");
}

}  // namespace
