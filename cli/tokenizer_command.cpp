// kiln tokenizer train --type char|wordpiece|bpe [--vocab-size N] --out PATH FILE...
// kiln tokenizer encode --tokenizer PATH [--lowercase|--cased] [--max-word-chars N]  (stdin)
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "base/error.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "data/bert_documents.h"
#include "data/bpe_trainer.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "data/wordpiece_trainer.h"
#include "io/json.h"
#include "train/tokenizer_files.h"

namespace kiln::cli {
namespace {

constexpr const char* kUsage =
    "usage: kiln tokenizer <train|encode> [options]\n"
    "\n"
    "  train   learn a char, WordPiece or BPE tokenizer from text files and save it\n"
    "  encode  tokenize JSON lines {\"text\": ...} from stdin\n"
    "\n"
    "Run 'kiln tokenizer <train|encode> --help' for their options.";

constexpr const char* kTrainUsage =
    "usage: kiln tokenizer train --type char|wordpiece|bpe [--vocab-size N] --out PATH FILE...\n"
    "                            [--lowercase|--cased]\n"
    "\n"
    "Learns a tokenizer from the text of FILE... and saves it to PATH in kiln's format (usable\n"
    "by 'kiln tokenizer encode --tokenizer PATH'). The same files and size give the tokenizer\n"
    "'kiln train' would build for data.tokenizer and data.tokenizer_vocab_size.\n"
    "  --type char       one token per character of the text (no --vocab-size)\n"
    "  --type wordpiece  BERT's WordPiece, learned from the text's lines (blank lines skipped)\n"
    "  --type bpe        GPT-2 style byte-level BPE (N >= 257: 256 bytes and <|endoftext|>)\n"
    "  --vocab-size N    the vocabulary size to learn (wordpiece, bpe)\n"
    "  --lowercase       wordpiece: uncased, lower-cases and strips accents (the default)\n"
    "  --cased           wordpiece: keep case and accents";

constexpr const char* kEncodeUsage =
    "usage: kiln tokenizer encode --tokenizer PATH [--lowercase|--cased] [--max-word-chars N]\n"
    "                             < input.jsonl\n"
    "\n"
    "Reads one JSON object a line from stdin and writes, for each, one line\n"
    "  {\"ids\": [...], \"tokens\": [...]}\n"
    "for the string member \"text\" (blank lines are skipped). Tokens are spelled as in the\n"
    "vocabulary: GPT-2's byte-level spelling for BPE (\"Ġworld\"), \"##\" pieces for\n"
    "WordPiece, characters for char. PATH may be:\n"
    "  a tokenizer saved by 'kiln tokenizer train', a kiln checkpoint (.h5),\n"
    "  a folder with vocab.json + merges.txt or encoder.json + vocab.bpe (GPT-2 BPE),\n"
    "  one file of such a pair, the other beside it,\n"
    "  a WordPiece vocab.txt, or a folder holding one (and maybe tokenizer_config.json).\n"
    "  --lowercase  vocab.txt: uncased WordPiece, as bert-base-uncased\n"
    "  --cased      vocab.txt: cased WordPiece (the default, unless tokenizer_config.json sets\n"
    "               do_lower_case)\n"
    "  --max-word-chars N  WordPiece: longer words become [UNK] (default: the tokenizer's own,\n"
    "               100 unless saved otherwise; google-research/bert uses 200)";

// --lowercase / --cased, or nullopt when neither is given.
std::optional<bool> casing(const Args& args, const std::string& command) {
  KILN_CHECK(!(args.has("lowercase") && args.has("cased")), "kiln ", command,
             ": expected --lowercase or --cased, got both");
  if (args.has("lowercase")) return true;
  if (args.has("cased")) return false;
  return std::nullopt;
}

int train_tokenizer(int argc, char** argv) {
  const std::string command = "tokenizer train";
  Args args(command, argc, argv, {"type", "vocab-size", "out"}, {"lowercase", "cased"});
  if (args.help()) {
    std::puts(kTrainUsage);
    return 0;
  }
  const std::string type = args.require("type");
  KILN_CHECK(type == "char" || type == "wordpiece" || type == "bpe", "kiln ", command,
             ": --type: expected char, wordpiece or bpe, got \"", type, "\"");
  const std::string out = args.require("out");
  const std::vector<std::string>& files = args.positionals();
  KILN_CHECK(!files.empty(), "kiln ", command,
             ": expected at least one FILE to learn from, got none", " (see 'kiln ", command,
             " --help')");
  const std::optional<bool> lowercase = casing(args, command);
  KILN_CHECK(type == "wordpiece" || !lowercase, "kiln ", command,
             ": expected --lowercase/--cased only with --type wordpiece, got --type ", type);
  int vocab_size = 0;
  if (type == "char") {
    KILN_CHECK(!args.has("vocab-size"), "kiln ", command,
               ": expected no --vocab-size for --type char (its vocabulary is the text's "
               "characters), got --vocab-size ",
               args.get("vocab-size"));
  } else {
    long long n = args.get_int("vocab-size", 0);
    KILN_CHECK(args.has("vocab-size"), "kiln ", command, ": expected --vocab-size for --type ",
               type, ", got none");
    KILN_CHECK(n > 0 && n <= (1 << 24), "kiln ", command,
               ": --vocab-size: expected a size in [1, 16777216], got ", n);
    vocab_size = static_cast<int>(n);
  }

  const auto start = std::chrono::steady_clock::now();
  const Corpus corpus = Corpus::from_files(files, 0.0);
  std::optional<Tokenizer> tokenizer;
  if (type == "char") {
    tokenizer.emplace(CharTokenizer::from_corpus(corpus));
  } else if (type == "wordpiece") {
    // Sentences as the BERT task reads them, so this matches what 'kiln train' would learn.
    std::vector<std::string> sentences;
    for (Document& document : split_documents(corpus.text(Split::kTrain)))
      for (std::string& sentence : document) sentences.push_back(std::move(sentence));
    tokenizer.emplace(train_wordpiece(sentences, vocab_size, lowercase.value_or(true)));
  } else {
    tokenizer.emplace(train_bpe({corpus.text(Split::kTrain)}, vocab_size));
  }
  save_tokenizer(*tokenizer, out);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("trained a %s tokenizer of %d tokens on %zu file(s) (%.2f MB) in %.2f s -> %s\n",
              type.c_str(), tokenizer->vocab_size(), files.size(),
              static_cast<double>(corpus.text(Split::kTrain).size()) / 1e6, seconds, out.c_str());
  return 0;
}

// The token of `id` as its vocabulary spells it.
std::string token_text(const Tokenizer& tokenizer, int32_t id) {
  if (const auto* wordpiece = tokenizer.as<WordPieceTokenizer>()) return wordpiece->token(id);
  if (const auto* bpe = tokenizer.as<BpeTokenizer>()) return bpe->token(id);
  return tokenizer.decode(std::span<const int32_t>(&id, 1));
}

int encode_lines(int argc, char** argv) {
  const std::string command = "tokenizer encode";
  Args args(command, argc, argv, {"tokenizer", "max-word-chars"}, {"lowercase", "cased"});
  if (args.help()) {
    std::puts(kEncodeUsage);
    return 0;
  }
  KILN_CHECK(args.positionals().empty(), "kiln ", command,
             ": expected JSON lines on stdin and no arguments, got \"", args.positionals()[0],
             "\"");
  Tokenizer tokenizer = load_tokenizer(args.require("tokenizer"), casing(args, command));
  if (args.has("max-word-chars")) {
    const auto* wordpiece = tokenizer.as<WordPieceTokenizer>();
    KILN_CHECK(wordpiece, "kiln ", command, ": expected --max-word-chars only for a WordPiece ",
               "tokenizer, got a ", tokenizer.kind(), " tokenizer");
    const long long n = args.get_int("max-word-chars", 0);
    KILN_CHECK(n >= 1 && n <= INT32_MAX, "kiln ", command,
               ": --max-word-chars: expected an integer >= 1, got ", n);
    tokenizer = Tokenizer(wordpiece->with_max_word_chars(static_cast<int>(n)));
  }
  std::string line, out;
  for (long long number = 1; std::getline(std::cin, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "stdin:" + std::to_string(number);
    const std::string text = json_string_member(line, "text", where);
    const std::vector<int32_t> ids = tokenizer.encode(text, where + ": \"text\"");
    json::Writer json = json::Writer::spaced();
    json.begin_object().key("ids").begin_array();
    for (int32_t id : ids) json.integer(id);
    json.end_array().key("tokens").begin_array();
    for (int32_t id : ids) json.string(token_text(tokenizer, id));
    out = json.end_array().end_object().text() + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    // A program feeding lines one at a time waits for each answer.
    std::fflush(stdout);
  }
  KILN_CHECK(!std::cin.bad(), "kiln ", command, ": expected to read stdin, got a read error");
  return 0;
}

}  // namespace

int tokenizer_command(int argc, char** argv) {
  if (argc == 0) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  const std::string sub = argv[0];
  if (sub == "--help" || sub == "-h") {
    std::puts(kUsage);
    return 0;
  }
  if (sub == "train") return train_tokenizer(argc - 1, argv + 1);
  if (sub == "encode") return encode_lines(argc - 1, argv + 1);
  throw Error("kiln tokenizer: expected train or encode (see 'kiln tokenizer --help'), got '" +
              sub + "'");
}

}  // namespace kiln::cli
