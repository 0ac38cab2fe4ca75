// Finding the tokenizer a path holds, saving one, and the one JSON piece the tokenizer
// commands need: one string member of a JSON Lines object.
#include "train/tokenizer_files.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "data/corpus.h"
#include "io/atomic_write.h"
#include "io/hdf5_file.h"
#include "io/json.h"
#include "train/checkpoint.h"

namespace kiln {
namespace fs = std::filesystem;
namespace {

// Every HDF5 file starts with these 8 bytes (at offset 0 unless a user block precedes them,
// which kiln never writes).
constexpr std::string_view kHdf5Signature = "\x89HDF\r\n\x1a\n";

// A casing choice makes sense only for a bare WordPiece vocabulary.
void check_no_casing(std::optional<bool> lowercase, const std::string& path, const char* kind) {
  KILN_CHECK(!lowercase.has_value(), path, ": expected no --lowercase/--cased for ", kind,
             " (it fixes its own casing), got --", *lowercase ? "lowercase" : "cased");
}

// First `n` bytes of a file (fewer if it is shorter).
std::string read_prefix(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  KILN_CHECK(in, path, ": expected a readable file, got ", std::strerror(errno));
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

// Reads only /tokenizer: the weights of a large checkpoint are not needed.
Tokenizer from_checkpoint(const std::string& path) {
  Hdf5File file(path, Hdf5File::Mode::kRead);
  KILN_CHECK(file.has_attribute("format") && file.string_attribute("format") == kCheckpointFormat,
             path, ": expected a kiln checkpoint (root attribute format = '", kCheckpointFormat,
             "'), got another HDF5 file");
  KILN_CHECK(file.has("/tokenizer"), path, ": expected a /tokenizer dataset, got none");
  try {
    return Tokenizer::from_serialized(file.read_string("/tokenizer"));
  } catch (const Error& e) {
    throw Error(path + ":/tokenizer: " + e.what());
  }
}

Tokenizer from_bpe_files(const fs::path& vocab, const fs::path& merges) {
  return Tokenizer(BpeTokenizer::from_files(vocab.string(), merges.string()));
}

// One file of a BPE tokenizer, its vocabulary (`is_vocab`) or its merges: the other lives
// beside it, OpenAI's names (encoder.json, vocab.bpe) pairing with each other first.
Tokenizer from_bpe_half(const fs::path& path, bool is_vocab) {
  const bool openai = path.filename() == "encoder.json" || path.filename() == "vocab.bpe";
  std::vector<std::string> partners = is_vocab
                                          ? std::vector<std::string>{"vocab.bpe", "merges.txt"}
                                          : std::vector<std::string>{"encoder.json", "vocab.json"};
  if (!openai) std::swap(partners[0], partners[1]);
  for (const std::string& partner : partners) {
    const fs::path other = path.parent_path() / partner;
    if (fs::is_regular_file(other))
      return is_vocab ? from_bpe_files(path, other) : from_bpe_files(other, path);
  }
  throw Error(detail::concat(path.string(), ": expected ", partners[0], " or ", partners[1],
                             " beside this BPE ", is_vocab ? "vocabulary" : "merges file",
                             ", got neither"));
}

// tokenizer_config.json's "do_lower_case", if the file and the key are there.
std::optional<bool> do_lower_case(const fs::path& dir) {
  const fs::path path = dir / "tokenizer_config.json";
  if (!fs::is_regular_file(path)) return std::nullopt;
  const json::Value config = json::parse(read_text_file(path.string()), path.string());
  const json::Value* lower = config.find("do_lower_case");
  if (lower == nullptr) return std::nullopt;
  return lower->as_bool();
}

Tokenizer from_folder(const std::string& path, std::optional<bool> lowercase) {
  const fs::path dir(path);
  auto has = [&](const char* name) { return fs::is_regular_file(dir / name); };
  if (has("vocab.json") && has("merges.txt")) {
    check_no_casing(lowercase, path, "a BPE tokenizer");
    return from_bpe_files(dir / "vocab.json", dir / "merges.txt");
  }
  if (has("encoder.json") && has("vocab.bpe")) {
    check_no_casing(lowercase, path, "a BPE tokenizer");
    return from_bpe_files(dir / "encoder.json", dir / "vocab.bpe");
  }
  if (has("vocab.txt")) {
    bool lower = lowercase ? *lowercase : do_lower_case(dir).value_or(false);
    return Tokenizer(WordPieceTokenizer::from_vocab_file((dir / "vocab.txt").string(), lower));
  }
  throw Error(path +
              ": expected a tokenizer folder holding vocab.json + merges.txt, encoder.json + "
              "vocab.bpe (BPE) or vocab.txt (WordPiece), got none of them");
}

}  // namespace

Tokenizer load_tokenizer(const std::string& path, std::optional<bool> lowercase) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return from_folder(path, lowercase);
  KILN_CHECK(fs::is_regular_file(path, ec), path,
             ": expected a tokenizer file or folder, got no such file");
  if (read_prefix(path, kHdf5Signature.size()) == kHdf5Signature) {
    check_no_casing(lowercase, path, "a checkpoint's tokenizer");
    return from_checkpoint(path);
  }
  const std::string text = read_text_file(path);
  // "kiln-<kind>-tokenizer v<N>": any version, so that a newer one gets from_serialized's
  // message naming its header rather than being read as a vocab.txt.
  const std::string_view first_line = std::string_view(text).substr(0, text.find('\n'));
  if (first_line.starts_with("kiln-") && first_line.find("tokenizer v") != std::string::npos) {
    check_no_casing(lowercase, path, "a saved kiln tokenizer");
    try {
      return Tokenizer::from_serialized(text);
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
  }
  const size_t first = text.find_first_not_of(" \t\r\n");
  const bool vocab_json = first != std::string::npos && text[first] == '{';
  const std::string name = fs::path(path).filename().string();
  if (vocab_json || first_line.starts_with("#version") || name == "merges.txt" ||
      name == "vocab.bpe") {
    check_no_casing(lowercase, path, "a BPE tokenizer");
    return from_bpe_half(path, vocab_json);
  }
  return Tokenizer(WordPieceTokenizer::from_vocab_file(path, lowercase.value_or(false)));
}

void save_tokenizer(const Tokenizer& tokenizer, const std::string& path) {
  io::atomic_write(path, tokenizer.serialize());
}

std::string json_string_member(std::string_view line, std::string_view key,
                               std::string_view where) {
  const json::Value object = json::parse(line, where);
  const json::Value* member = object.find(key);
  KILN_CHECK(member != nullptr, where, ": expected a member \"", key,
             "\", got an object without one");
  KILN_CHECK(member->kind() == json::Value::Kind::kString, member->where(), ": expected \"", key,
             "\" to be a string, got ", member->describe());
  return member->as_string();
}

}  // namespace kiln
