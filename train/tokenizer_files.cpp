// Finding the tokenizer a path holds, saving one, and the few JSON pieces the tokenizer
// commands need: a string literal out, one string (or boolean) member of an object in.
#include "train/tokenizer_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "data/corpus.h"
#include "train/checkpoint.h"
#include "train/hdf5_file.h"

namespace kiln {
namespace fs = std::filesystem;
namespace {

// Every HDF5 file starts with these 8 bytes (at offset 0 unless a user block precedes them,
// which kiln never writes).
constexpr std::string_view kHdf5Signature = "\x89HDF\r\n\x1a\n";

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid (truncated, overlong,
// a surrogate or beyond U+10FFFF).
int utf8_sequence_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  int n = 0;
  char32_t cp = 0, min = 0;
  if ((c & 0xE0) == 0xC0)
    n = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    n = 3, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0)
    n = 4, cp = c & 0x07, min = 0x10000;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (int k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A strict reader of one JSON object that keeps only what is asked for: it checks the whole
// text (so a malformed line is reported, not half-read) and remembers where a member's value
// starts. Nesting is limited so that hostile input cannot exhaust the stack.
class JsonReader {
 public:
  JsonReader(std::string_view text, std::string_view where) : text_(text), where_(where) {}

  // Checks that the text is one JSON object; the offset of the last `key` member's value
  // (duplicates: the last wins, as in Python), or npos.
  size_t member_offset(std::string_view key) {
    size_t found = std::string_view::npos;
    skip_space();
    expect('{', "'{' starting an object");
    skip_space();
    if (!consume('}')) {
      do {
        skip_space();
        if (peek() != '"') fail("a member name in double quotes");
        std::string name = parse_string();
        skip_space();
        expect(':', "':' after a member name");
        skip_space();
        if (name == key) found = pos_;
        skip_value(1);
        skip_space();
      } while (consume(','));
      expect('}', "',' or '}' after a member");
    }
    skip_space();
    if (pos_ != text_.size()) fail("the end of the line after the object");
    return found;
  }

  std::string string_at(size_t offset, std::string_view key) {
    pos_ = offset;
    if (peek() != '"') fail(detail::concat("\"", key, "\" to be a string"));
    return parse_string();
  }

  bool bool_at(size_t offset, std::string_view key) {
    pos_ = offset;
    if (text_.substr(pos_, 4) == "true") return true;
    if (text_.substr(pos_, 5) == "false") return false;
    fail(detail::concat("\"", key, "\" to be true or false"));
  }

 private:
  static constexpr int kMaxDepth = 256;

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool consume(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c, std::string_view what) {
    if (!consume(c)) fail(what);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  [[noreturn]] void fail(std::string_view expected) const {
    std::string got = pos_ >= text_.size() ? std::string("the end of the text")
                                           : json_quote(text_.substr(pos_, 12));
    // A line of JSON Lines is located by column; a multi-line file by line and column.
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i)
      if (text_[i] == '\n') ++line, line_start = i + 1;
    const size_t column = pos_ - line_start + 1;
    std::string at = text_.find('\n') == std::string_view::npos
                         ? detail::concat("column ", column)
                         : detail::concat("line ", line, ", column ", column);
    throw Error(detail::concat(where_, ": ", at, ": expected ", expected, ", got ", got));
  }

  void skip_value(int depth) {
    if (depth > kMaxDepth) fail("JSON nested at most 256 deep");
    char c = peek();
    if (c == '"') {
      parse_string();
    } else if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      skip_space();
      if (consume(close)) return;
      do {
        skip_space();
        if (close == '}') {
          if (peek() != '"') fail("a member name in double quotes");
          parse_string();
          skip_space();
          expect(':', "':' after a member name");
          skip_space();
        }
        skip_value(depth + 1);
        skip_space();
      } while (consume(','));
      expect(close, close == '}' ? "',' or '}' after a member" : "',' or ']' after an element");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      skip_number();
    } else {
      for (std::string_view literal : {"true", "false", "null"}) {
        if (text_.substr(pos_, literal.size()) == literal) {
          pos_ += literal.size();
          return;
        }
      }
      fail("a JSON value");
    }
  }

  void skip_digits() {
    if (!(peek() >= '0' && peek() <= '9')) fail("a digit");
    while (peek() >= '0' && peek() <= '9') ++pos_;
  }
  void skip_number() {
    consume('-');
    if (!consume('0')) skip_digits();
    if (consume('.')) skip_digits();
    if (consume('e') || consume('E')) {
      if (!consume('+')) consume('-');
      skip_digits();
    }
  }

  char32_t parse_hex4() {
    char32_t value = 0;
    for (int k = 0; k < 4; ++k) {
      char c = peek();
      int digit = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
      if (digit < 0) fail("4 hex digits after \\u");
      value = value << 4 | static_cast<char32_t>(digit);
      ++pos_;
    }
    return value;
  }

  // At an opening quote: the decoded string, the reader left after its closing quote.
  std::string parse_string() {
    std::string out;
    ++pos_;
    while (true) {
      if (pos_ >= text_.size()) fail("'\"' closing the string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("control characters in a string to be escaped");
      if (c >= 0x80) {
        int n = utf8_sequence_length(text_, pos_);
        if (n == 0) fail("UTF-8");
        out.append(text_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      ++pos_;
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          out += decode_unicode_escape();
          break;
        default:
          --pos_;
          fail("an escape (one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) after '\\'");
      }
    }
  }

  // After "\u": the UTF-8 of the code point, joining a surrogate pair (characters beyond the
  // Basic Multilingual Plane, such as emoji, are written as two escapes).
  std::string decode_unicode_escape() {
    char32_t cp = parse_hex4();
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      pos_ -= 6;
      fail("a high surrogate (\\uD800-\\uDBFF) before a low one");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") fail("\\u and a low surrogate after a high surrogate");
      pos_ += 2;
      char32_t low = parse_hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        pos_ -= 6;
        fail("a low surrogate (\\uDC00-\\uDFFF) after a high surrogate");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    std::string out;
    append_utf8(cp, out);
    return out;
  }

  std::string_view text_;
  std::string where_;
  size_t pos_ = 0;
};

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
  std::string text = read_text_file(path.string());
  JsonReader reader(text, path.string());
  size_t offset = reader.member_offset("do_lower_case");
  if (offset == std::string_view::npos) return std::nullopt;
  return reader.bool_at(offset, "do_lower_case");
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
  const std::string bytes = tokenizer.serialize();
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  KILN_CHECK(fd >= 0, tmp, ": expected to create the file (does its folder exist?), got ",
             std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  const bool ok = written == bytes.size() && ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok) ::unlink(tmp.c_str());
  KILN_CHECK(ok, tmp, ": expected to write and sync ", bytes.size(), " bytes, got ",
             std::strerror(error));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  KILN_CHECK(!ec, path, ": expected to rename ", tmp, " into place, got ", ec.message());
}

std::string json_quote(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  out.reserve(bytes.size() + 2);
  for (size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x80) {
      int n = utf8_sequence_length(bytes, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(bytes.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string json_string_member(std::string_view line, std::string_view key,
                               std::string_view where) {
  JsonReader reader(line, where);
  size_t offset = reader.member_offset(key);
  KILN_CHECK(offset != std::string_view::npos, where, ": expected a member \"", key,
             "\", got an object without one");
  return reader.string_at(offset, key);
}

}  // namespace kiln
