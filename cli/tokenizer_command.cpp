// kiln tokenizer train --type char|wordpiece|bpe [--vocab-size N] --out PATH FILE...
// kiln tokenizer encode --tokenizer PATH [--lowercase|--cased] [--max-word-chars N]  (stdin)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "data/bert_documents.h"
#include "data/bpe_trainer.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "data/wordpiece_trainer.h"
#include "io/json.h"
#include "train/tokenizer_files.h"

namespace kiln::cli {
namespace {

// --lowercase / --cased, or nullopt when neither is given.
struct Casing {
  bool lowercase = false, cased = false;
};

std::optional<bool> casing(const Casing& c, const std::string& command) {
  KILN_CHECK(!(c.lowercase && c.cased), "kiln ", command,
             ": expected --lowercase or --cased, got both");
  if (c.lowercase) return true;
  if (c.cased) return false;
  return std::nullopt;
}

struct TrainOptions {
  std::string type, out;
  long long vocab_size = 0;
  bool has_vocab_size = false;
  std::vector<std::string> files;
  Casing casing;
};

struct EncodeOptions {
  std::string tokenizer;
  long long max_word_chars = 0;
  bool has_max_word_chars = false;
  std::vector<std::string> extra;
  Casing casing;
};

void train_tokenizer(const TrainOptions& o) {
  const std::string command = "tokenizer train";
  const std::string& type = o.type;
  const std::string& out = o.out;
  const std::vector<std::string>& files = o.files;
  KILN_CHECK(!files.empty(), "kiln ", command,
             ": expected at least one FILE to learn from, got none", " (see 'kiln ", command,
             " --help')");
  const std::optional<bool> lowercase = casing(o.casing, command);
  KILN_CHECK(type == "wordpiece" || !lowercase, "kiln ", command,
             ": expected --lowercase/--cased only with --type wordpiece, got --type ", type);
  int vocab_size = 0;
  if (type == "char") {
    KILN_CHECK(!o.has_vocab_size, "kiln ", command,
               ": expected no --vocab-size for --type char (its vocabulary is the text's "
               "characters), got --vocab-size ",
               o.vocab_size);
  } else {
    KILN_CHECK(o.has_vocab_size, "kiln ", command, ": expected --vocab-size for --type ", type,
               ", got none");
    vocab_size = static_cast<int>(o.vocab_size);
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
}

// The token of `id` as its vocabulary spells it.
std::string token_text(const Tokenizer& tokenizer, int32_t id) {
  if (const auto* wordpiece = tokenizer.as<WordPieceTokenizer>()) return wordpiece->token(id);
  if (const auto* bpe = tokenizer.as<BpeTokenizer>()) return bpe->token(id);
  return tokenizer.decode(std::span<const int32_t>(&id, 1));
}

void encode_lines(const EncodeOptions& o) {
  const std::string command = "tokenizer encode";
  KILN_CHECK(o.extra.empty(), "kiln ", command,
             ": expected JSON lines on stdin and no arguments, got \"",
             o.extra.empty() ? "" : o.extra[0], "\"");
  // Built in one expression: assigning a new tokenizer over the loaded one made GCC 12 warn
  // (falsely) about an uninitialised variant member.
  const Tokenizer tokenizer = [&] {
    Tokenizer loaded = load_tokenizer(o.tokenizer, casing(o.casing, command));
    if (!o.has_max_word_chars) return loaded;
    const auto* wordpiece = loaded.as<WordPieceTokenizer>();
    KILN_CHECK(wordpiece, "kiln ", command, ": expected --max-word-chars only for a WordPiece ",
               "tokenizer, got a ", loaded.kind(), " tokenizer");
    return Tokenizer(wordpiece->with_max_word_chars(
        static_cast<int>(std::min<long long>(o.max_word_chars, INT32_MAX))));
  }();
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
}

void add_casing_flags(CLI::App& app, Casing& c, const std::string& lowercase,
                      const std::string& cased) {
  app.add_flag("--lowercase", c.lowercase, lowercase);
  app.add_flag("--cased", c.cased, cased);
}

void add_train_subcommand(CLI::App& tokenizer) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* train = tokenizer.add_subcommand(
      "train", "learn a char, WordPiece or BPE tokenizer from text files and save it");
  train->add_option("FILE", o->files, "the text to learn from");
  train
      ->add_option("--type", o->type,
                   "char: one token per character of the text (no --vocab-size); wordpiece: "
                   "BERT's WordPiece, learned from the text's lines (blank lines skipped); bpe: "
                   "GPT-2 style byte-level BPE (N >= 257: 256 bytes and <|endoftext|>)")
      ->required()
      ->type_name("char|wordpiece|bpe")
      ->check(one_of({"char", "wordpiece", "bpe"}));
  CLI::Option* vocab_size = train
                                ->add_option("--vocab-size", o->vocab_size,
                                             "the vocabulary size to learn (wordpiece, bpe)")
                                ->type_name("N")
                                ->default_str("")
                                ->check(integer_in(1, 1 << 24));
  train->add_option("--out", o->out, "where to save the tokenizer")->required()->type_name("PATH");
  add_casing_flags(*train, o->casing,
                   "wordpiece: uncased, lower-cases and strips accents (the default)",
                   "wordpiece: keep case and accents");
  train->footer(
      "Learns a tokenizer from the text of FILE... and saves it to PATH in kiln's format (usable\n"
      "by 'kiln tokenizer encode --tokenizer PATH'). The same files and size give the tokenizer\n"
      "'kiln train' would build for data.tokenizer and data.tokenizer_vocab_size.");
  train->callback([o, vocab_size] {
    o->has_vocab_size = vocab_size->count() > 0;
    train_tokenizer(*o);
  });
}

void add_encode_subcommand(CLI::App& tokenizer) {
  auto o = std::make_shared<EncodeOptions>();
  CLI::App* encode =
      tokenizer.add_subcommand("encode", "tokenize JSON lines {\"text\": ...} from stdin");
  encode
      ->add_option("--tokenizer", o->tokenizer,
                   "a tokenizer saved by 'kiln tokenizer train', a kiln checkpoint (.h5), a "
                   "folder with vocab.json + merges.txt or encoder.json + vocab.bpe (GPT-2 BPE), "
                   "one file of such a pair, the other beside it, a WordPiece vocab.txt, or a "
                   "folder holding one (and maybe tokenizer_config.json)")
      ->required()
      ->type_name("PATH");
  add_casing_flags(*encode, o->casing, "vocab.txt: uncased WordPiece, as bert-base-uncased",
                   "vocab.txt: cased WordPiece (the default, unless tokenizer_config.json sets "
                   "do_lower_case)");
  CLI::Option* max_word_chars =
      encode
          ->add_option("--max-word-chars", o->max_word_chars,
                       "WordPiece: longer words become [UNK] (default: the tokenizer's own, 100 "
                       "unless saved otherwise; google-research/bert uses 200)")
          ->type_name("N")
          ->default_str("")
          ->check(integer_in(1));
  encode->add_option("extra", o->extra)->group("");  // named in the error
  encode->footer(
      "Reads one JSON object a line from stdin and writes, for each, one line\n"
      "  {\"ids\": [...], \"tokens\": [...]}\n"
      "for the string member \"text\" (blank lines are skipped). Tokens are spelled as in the\n"
      "vocabulary: GPT-2's byte-level spelling for BPE (\"Ġworld\"), \"##\" pieces for\n"
      "WordPiece, characters for char.");
  encode->callback([o, max_word_chars] {
    o->has_max_word_chars = max_word_chars->count() > 0;
    encode_lines(*o);
  });
}

}  // namespace

void add_tokenizer_command(CLI::App& kiln) {
  CLI::App* tokenizer =
      kiln.add_subcommand("tokenizer", "train a tokenizer, or encode JSON lines with one");
  add_train_subcommand(*tokenizer);
  add_encode_subcommand(*tokenizer);
  tokenizer->footer("Run 'kiln tokenizer <train|encode> --help' for their options.");
  tokenizer->callback([tokenizer] {
    if (tokenizer->get_subcommands().empty()) {
      std::fputs(tokenizer->help("kiln").c_str(), stderr);
      exit_with(2);
    }
  });
}

}  // namespace kiln::cli
