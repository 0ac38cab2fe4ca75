// The JSON value's accessors, a recursive-descent parser that reports byte offsets, and the
// writer (Writer, which write() and quote() serve).
#include "io/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>
#include <unordered_set>

#include "base/error.h"
#include "io/utf8.h"

namespace kiln::json {
namespace {

// Deeper nesting than any real config; the limit keeps hostile input off the stack's edge.
constexpr int kMaxDepth = 256;

const char* kind_name(Value::Kind kind) {
  static constexpr const char* kNames[] = {"null",     "a boolean", "a number",
                                           "a string", "an array",  "an object"};
  return kNames[static_cast<int>(kind)];
}

// Shortest text that reads back as exactly `x` (a double or a float), in a form JSON accepts.
template <typename T>
std::string format_number(T x) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, x);
  std::string text(buffer, end);
  // to_chars writes "1e+20" and "1e-05" (both valid JSON) but "100" for 100.0: keep it a float
  // for readers that care, as Python writes 100.0.
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

}  // namespace

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  return v;
}

Value Value::number(double x) {
  Value v;
  v.kind_ = Kind::kNumber;
  v.number_ = x;
  return v;
}

Value Value::integer(int64_t x) {
  Value v = number(static_cast<double>(x));
  v.is_integer_ = true;
  v.int_ = x;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.string_ = std::move(s);
  return v;
}

Value Value::array(Array items) {
  Value v;
  v.kind_ = Kind::kArray;
  v.array_ = std::move(items);
  return v;
}

Value Value::object(Object members) {
  Value v;
  v.kind_ = Kind::kObject;
  v.object_ = std::move(members);
  return v;
}

std::string Value::describe() const {
  switch (kind_) {
    case Kind::kBool:
      return bool_ ? "true" : "false";
    case Kind::kNumber:
      return "the number " + (is_integer_ ? std::to_string(int_) : format_number(number_));
    case Kind::kString:
      return "the string " + quote(string_.size() > 40 ? string_.substr(0, 40) + "..." : string_);
    default:
      return kind_name(kind_);
  }
}

std::string Value::where() const {
  if (!source_) return "json";
  return *source_ + ": byte offset " + std::to_string(offset_);
}

void Value::fail(std::string_view expected) const {
  throw Error(detail::concat(where(), ": expected ", expected, ", got ", describe()));
}

bool Value::as_bool() const {
  if (kind_ != Kind::kBool) fail("true or false");
  return bool_;
}

double Value::as_number() const {
  if (kind_ != Kind::kNumber) fail("a number");
  return number_;
}

int64_t Value::as_int() const {
  if (!is_integer()) fail("an integer");
  return int_;
}

const std::string& Value::as_string() const {
  if (kind_ != Kind::kString) fail("a string");
  return string_;
}

const Value::Array& Value::as_array() const {
  if (kind_ != Kind::kArray) fail("an array");
  return array_;
}

const Value::Object& Value::as_object() const {
  if (kind_ != Kind::kObject) fail("an object");
  return object_;
}

const Value* Value::find(std::string_view key) const {
  for (const Member& m : as_object())
    if (m.first == key) return &m.second;
  return nullptr;
}

const Value& Value::at(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr)
    throw Error(detail::concat(where(), ": expected the key ", quote(key), " in this object, got ",
                               "no such key"));
  return *v;
}

Value& Value::set(std::string key, Value value) {
  if (kind_ != Kind::kObject) fail("an object");
  for (Member& m : object_)
    if (m.first == key) return m.second = std::move(value);
  object_.emplace_back(std::move(key), std::move(value));
  return object_.back().second;
}

Value& Value::push_back(Value value) {
  if (kind_ != Kind::kArray) fail("an array");
  array_.push_back(std::move(value));
  return array_.back();
}

bool Value::operator==(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return bool_ == other.bool_;
    case Kind::kNumber:
      return is_integer_ && other.is_integer_ ? int_ == other.int_ : number_ == other.number_;
    case Kind::kString:
      return string_ == other.string_;
    case Kind::kArray:
      return array_ == other.array_;
    case Kind::kObject:
      return object_ == other.object_;
  }
  return false;
}

// Recursive descent over the text; every value remembers where it started.
class Parser {
 public:
  Parser(std::string_view text, std::string_view source, uint64_t base_offset)
      : text_(text), source_(std::make_shared<const std::string>(source)), base_(base_offset) {}

  Value parse_document() {
    skip_space();
    Value v = parse_value(0);
    skip_space();
    if (pos_ < text_.size()) fail("the end of the text after the value");
    return v;
  }

 private:
  [[noreturn]] void fail_at(size_t offset, std::string_view expected, std::string_view got) const {
    throw Error(detail::concat(*source_, ": byte offset ", base_ + offset, ": expected ", expected,
                               ", got ", got));
  }
  // Fails at the current position, describing the byte found there.
  [[noreturn]] void fail(std::string_view expected) const {
    std::string got = "the end of the text";
    if (pos_ < text_.size()) {
      const auto byte = static_cast<unsigned char>(text_[pos_]);
      char buffer[16];
      std::snprintf(buffer, sizeof buffer, "byte 0x%02X", byte);
      got = byte >= 0x20 && byte < 0x7F ? "'" + std::string(1, text_[pos_]) + "'" : buffer;
    }
    fail_at(pos_, expected, got);
  }
  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  void expect(char c, std::string_view what) {
    if (!at(c)) fail(what);
    ++pos_;
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t'))
      ++pos_;
  }

  Value located(Value v, size_t offset) const {
    v.source_ = source_;
    v.offset_ = base_ + offset;
    return v;
  }

  Value parse_value(int depth) {
    if (depth > kMaxDepth) fail("at most " + std::to_string(kMaxDepth) + " levels of nesting");
    const size_t start = pos_;
    if (pos_ >= text_.size()) fail("a value");
    const char c = text_[pos_];
    if (c == '{') return located(parse_object(depth), start);
    if (c == '[') return located(parse_array(depth), start);
    if (c == '"') return located(Value::string(parse_string()), start);
    if (c == '-' || (c >= '0' && c <= '9')) return located(parse_number(), start);
    for (auto [word, value] :
         {std::pair{"true", Value::boolean(true)}, std::pair{"false", Value::boolean(false)},
          std::pair{"null", Value()}})
      if (text_.substr(pos_).starts_with(word)) {
        pos_ += std::string_view(word).size();
        return located(value, start);
      }
    fail("a value (object, array, string, number, true, false or null)");
  }

  Value parse_object(int depth) {
    Value v = Value::object();
    ++pos_;
    skip_space();
    if (at('}')) {
      ++pos_;
      return v;
    }
    // A set rather than Value::find: vocab.json objects hold tens of thousands of keys.
    std::unordered_set<std::string> keys;
    while (true) {
      const size_t key_offset = pos_;
      if (!at('"')) fail("'\"' starting a key");
      std::string key = parse_string();
      if (!keys.insert(key).second) fail_at(key_offset, "each key once", "a second " + quote(key));
      skip_space();
      expect(':', "':' after a key");
      skip_space();
      v.object_.emplace_back(std::move(key), parse_value(depth + 1));
      skip_space();
      if (at('}')) break;
      expect(',', "',' or '}' after a member");
      skip_space();
    }
    ++pos_;
    return v;
  }

  Value parse_array(int depth) {
    Value v = Value::array();
    ++pos_;
    skip_space();
    if (at(']')) {
      ++pos_;
      return v;
    }
    while (true) {
      v.array_.push_back(parse_value(depth + 1));
      skip_space();
      if (at(']')) break;
      expect(',', "',' or ']' after an item");
      skip_space();
    }
    ++pos_;
    return v;
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, exactly JSON's grammar.
  Value parse_number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    if (at('-')) ++pos_;
    if (at('0')) {
      ++pos_;
    } else if (digits() == 0) {
      fail("a digit");
    }
    bool integral = true;
    if (at('.')) {
      ++pos_;
      integral = false;
      if (digits() == 0) fail("a digit after '.'");
    }
    if (at('e') || at('E')) {
      ++pos_;
      integral = false;
      if (at('+') || at('-')) ++pos_;
      if (digits() == 0) fail("a digit in the exponent");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integral) {
      int64_t i = 0;
      if (std::from_chars(first, last, i).ec == std::errc()) return Value::integer(i);
      // Beyond int64: still a number, just not an exact integer.
    }
    double x = 0;
    auto [ptr, ec] = std::from_chars(first, last, x);
    if (ec != std::errc() || !std::isfinite(x))
      fail_at(start, "a number within double range", std::string(first, last));
    return Value::number(x);
  }

  // After the opening quote: characters and escapes up to the closing quote, as UTF-8.
  std::string parse_string() {
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("'\"' closing the string");
      const char c = text_[pos_];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20)
        fail("a character or escape (no raw control bytes)");
      if (c == '\\') {
        parse_escape(out);
        continue;
      }
      const Utf8Char u = decode_utf8(text_, pos_);
      if (!u.ok()) fail("valid UTF-8");
      out.append(text_.substr(pos_, u.length));
      pos_ += u.length;
    }
    ++pos_;
    return out;
  }

  void parse_escape(std::string& out) {
    static constexpr std::string_view kLetters = "\"\\/bfnrt";
    static constexpr std::string_view kBytes = "\"\\/\b\f\n\r\t";
    const size_t start = pos_;
    ++pos_;
    if (pos_ >= text_.size()) fail("an escape after '\\'");
    const char e = text_[pos_];
    if (const size_t i = kLetters.find(e); i != std::string_view::npos) {
      out += kBytes[i];
      ++pos_;
      return;
    }
    if (e != 'u') fail("an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    ++pos_;
    char32_t unit = read_hex4();
    if (unit >= 0xDC00 && unit <= 0xDFFF)
      fail_at(start, "a \\u escape that is not a lone low surrogate",
              std::string(text_.substr(start, 6)));
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      if (!text_.substr(pos_).starts_with("\\u"))
        fail_at(start, "a low surrogate \\uDC00..\\uDFFF after a high surrogate",
                std::string(text_.substr(start, 12)));
      pos_ += 2;
      const char32_t low = read_hex4();
      if (low < 0xDC00 || low > 0xDFFF)
        fail_at(start, "a low surrogate \\uDC00..\\uDFFF after a high surrogate",
                std::string(text_.substr(start, 12)));
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(unit, out);
  }

  char32_t read_hex4() {
    char32_t value = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      if (pos_ >= text_.size()) fail("four hex digits after \\u");
      const char h = text_[pos_];
      int digit = h >= '0' && h <= '9'   ? h - '0'
                  : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                         : -1;
      if (digit < 0) fail("four hex digits after \\u");
      value = value * 16 + static_cast<char32_t>(digit);
    }
    return value;
  }

  std::string_view text_;
  std::shared_ptr<const std::string> source_;
  uint64_t base_;
  size_t pos_ = 0;
};

Value parse(std::string_view text, std::string_view source, uint64_t base_offset) {
  return Parser(text, source, base_offset).parse_document();
}

std::string quote(std::string_view text, bool ascii_only) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  const auto escape = [&out](unsigned unit) {
    char buffer[16];  // room for any unsigned, though units are at most 0xFFFF
    std::snprintf(buffer, sizeof buffer, "\\u%04x", unit);
    out += buffer;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      // A byte that starts no valid sequence becomes U+FFFD, so the output is always valid
      // JSON (a message may quote a prefix cut inside a character).
      const Utf8Char u = decode_utf8(text, i);
      if (!u.ok()) {
        out += "\\ufffd";
        continue;
      }
      if (!ascii_only) {
        out.append(text.substr(i, u.length));
      } else if (u.code_point < 0x10000) {
        escape(u.code_point);
      } else {  // a UTF-16 surrogate pair
        escape(0xD800 + ((u.code_point - 0x10000) >> 10));
        escape(0xDC00 + ((u.code_point - 0x10000) & 0x3FF));
      }
      i += u.length - 1;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
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
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (byte < 0x20 || (ascii_only && byte == 0x7F)) {
          escape(byte);
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void Writer::newline(size_t depth) {
  out_ += '\n';
  out_.append(static_cast<size_t>(indent_) * depth, ' ');
}

void Writer::before_value() {
  if (levels_.empty()) {
    KILN_CHECK(out_.empty(), "json::Writer: expected one top-level value, got a second");
    return;
  }
  Level& level = levels_.back();
  if (level.open == '{') {
    KILN_CHECK(has_key_, "json::Writer: expected a key before a value in an object, got none");
    has_key_ = false;
    return;  // key() wrote the separator
  }
  if (!level.empty) out_ += spaces_ && indent_ == 0 ? ", " : ",";
  level.empty = false;
  if (indent_ > 0) newline(levels_.size());
}

Writer& Writer::key(std::string_view name) {
  KILN_CHECK(!levels_.empty() && levels_.back().open == '{' && !has_key_,
             "json::Writer: expected a key inside an object (once per value), got key ",
             quote(name));
  Level& level = levels_.back();
  if (!level.empty) out_ += spaces_ && indent_ == 0 ? ", " : ",";
  level.empty = false;
  if (indent_ > 0) newline(levels_.size());
  out_ += quote(name, ascii_only_);
  out_ += spaces_ ? ": " : ":";
  has_key_ = true;
  last_key_ = name;
  return *this;
}

Writer& Writer::begin_object() {
  before_value();
  out_ += '{';
  levels_.push_back({'{'});
  return *this;
}

Writer& Writer::begin_array() {
  before_value();
  out_ += '[';
  levels_.push_back({'['});
  return *this;
}

void Writer::end(char open, char close) {
  KILN_CHECK(!levels_.empty() && levels_.back().open == open && !has_key_,
             "json::Writer: expected '", close, "' to close an open '", open, "', got none open");
  const bool empty = levels_.back().empty;
  levels_.pop_back();
  if (!empty && indent_ > 0) newline(levels_.size());
  out_ += close;
}

Writer& Writer::end_object() {
  end('{', '}');
  return *this;
}

Writer& Writer::end_array() {
  end('[', ']');
  return *this;
}

Writer& Writer::null() {
  before_value();
  out_ += "null";
  return *this;
}

Writer& Writer::boolean(bool b) {
  before_value();
  out_ += b ? "true" : "false";
  return *this;
}

void Writer::check_finite(double x) const {
  if (std::isfinite(x)) return;
  const std::string where = levels_.empty()              ? std::string("a value")
                            : levels_.back().open == '[' ? std::string("an array item")
                                                         : quote(last_key_);
  throw Error(detail::concat("json: ", where,
                             ": expected a finite number (JSON has no NaN or infinity), got ", x));
}

Writer& Writer::number(double x) {
  check_finite(x);
  before_value();
  out_ += format_number(x);
  return *this;
}

Writer& Writer::float32(float x) {
  check_finite(x);
  before_value();
  out_ += format_number(x);
  return *this;
}

Writer& Writer::integer(int64_t x) {
  before_value();
  out_ += std::to_string(x);
  return *this;
}

Writer& Writer::string(std::string_view text) {
  before_value();
  out_ += quote(text, ascii_only_);
  return *this;
}

Writer& Writer::value(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return null();
    case Value::Kind::kBool:
      return boolean(v.as_bool());
    case Value::Kind::kString:
      return string(v.as_string());
    case Value::Kind::kNumber:
      return v.is_integer() ? integer(v.as_int()) : number(v.as_number());
    case Value::Kind::kArray:
      begin_array();
      for (const Value& item : v.as_array()) value(item);
      return end_array();
    case Value::Kind::kObject:
      begin_object();
      for (const auto& [name, member] : v.as_object()) key(name).value(member);
      return end_object();
  }
  return *this;
}

std::string write(const Value& value, int indent) {
  Writer writer = indent > 0 ? Writer::indented(indent) : Writer::compact();
  return writer.value(value).text();
}

}  // namespace kiln::json
