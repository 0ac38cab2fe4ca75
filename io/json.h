// kiln's one JSON module: a value, a parser and a writer, for the Hugging Face files (config.json,
// safetensors headers), metrics.jsonl and the commands' output. Parse errors name the source
// and the byte offset; objects keep their members in file order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::json {

class Value {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;  // in file (or insertion) order, keys distinct

  Value() = default;  // null
  static Value boolean(bool b);
  static Value number(double x);
  // An integer number: written without a fraction, and exact up to 2^63 when parsed.
  static Value integer(int64_t x);
  static Value string(std::string s);
  static Value array(Array items = {});
  static Value object(Object members = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_integer() const { return kind_ == Kind::kNumber && is_integer_; }
  // "null", "true", "the number 1.5", "the string \"gelu\"", "an array", "an object".
  std::string describe() const;
  // Where the value starts: "<source>: byte offset N" ("json" for built values).
  std::string where() const;
  // The byte offset where the value starts in its source (0 for built values).
  uint64_t offset() const { return offset_; }

  // Typed access; the wrong kind is an error "<where>: expected X, got <describe()>".
  bool as_bool() const;
  double as_number() const;
  int64_t as_int() const;  // an integer number (no fraction or exponent) that fits int64
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;

  // The member `key` of an object, or null when absent (an error when this is not an object).
  const Value* find(std::string_view key) const;
  // The member `key`; an absent key is an error naming it.
  const Value& at(std::string_view key) const;
  // Appends (or replaces) member `key` of an object.
  Value& set(std::string key, Value value);
  // Appends an item to an array.
  Value& push_back(Value value);

  // Structural equality (numbers by value, object members in order); ignores source offsets.
  bool operator==(const Value& other) const;

 private:
  friend class Parser;
  [[noreturn]] void fail(std::string_view expected) const;

  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  bool is_integer_ = false;
  int64_t int_ = 0;
  double number_ = 0;
  std::string string_;
  Array array_;
  Object object_;
  // Where the value was parsed from, for messages; null for built values.
  std::shared_ptr<const std::string> source_;
  uint64_t offset_ = 0;
};

// Parses one JSON value (RFC 8259; surrounding whitespace allowed, nothing else after it).
// Errors read "<source>: byte offset N: expected X, got Y"; `base_offset` is added to every
// offset (e.g. 8 for a safetensors header, so offsets are file offsets).
Value parse(std::string_view text, std::string_view source, uint64_t base_offset = 0);

// Builds JSON text piece by piece: the one JSON writer (write() below uses it too). Strings and
// keys are escaped by quote(); a number is written so that it reads back exactly (shortest
// round-trip form, "2.0" for a whole double); NaN and infinities are refused with an error
// naming the member, since JSON has none (write null() for a missing value instead).
// Misuse (a value without its key in an object, an unbalanced end) is an error too.
class Writer {
 public:
  // {"a":1,"b":[1,2]}: one line, no spaces, as metrics.jsonl and safetensors headers use.
  static Writer compact() { return Writer(false, 0); }
  // {"a": 1, "b": [1, 2]}: one line, Python's json.dumps default, as the commands print.
  static Writer spaced() { return Writer(true, 0); }
  // Python's json.dumps(indent=n): one member or item per line.
  static Writer indented(int indent) { return Writer(true, indent); }

  // From now on, every character outside ' '..'~' is a \uXXXX escape (quote()'s ascii_only).
  Writer& escape_non_ascii() {
    ascii_only_ = true;
    return *this;
  }

  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  // The key of the next value; required before each value inside an object.
  Writer& key(std::string_view name);
  Writer& null();
  Writer& boolean(bool b);
  Writer& number(double x);
  // A float32 value in the shortest text that reads back as exactly that float.
  Writer& float32(float x);
  Writer& integer(int64_t x);
  Writer& string(std::string_view text);
  Writer& value(const Value& v);

  // The text so far; a complete document once every begin_* has its end_*.
  const std::string& text() const { return out_; }

 private:
  Writer(bool spaces, int indent) : spaces_(spaces), indent_(indent) {}
  void before_value();
  void check_finite(double x) const;
  void end(char open, char close);
  void newline(size_t depth);

  bool spaces_;
  int indent_;
  bool ascii_only_ = false;
  std::string out_;
  struct Level {
    char open;          // '{' or '['
    bool empty = true;  // nothing written inside yet
  };
  std::vector<Level> levels_;
  bool has_key_ = false;
  std::string last_key_;  // for the non-finite number message
};

// The value as JSON text: compact (no spaces, one line), or indented by `indent` spaces per
// level as Python's json.dumps(indent=...) writes it. Non-ASCII is written as UTF-8;
// numbers round-trip exactly; NaN and infinities are errors (JSON has none).
std::string write(const Value& value, int indent = 0);

// `text` as a JSON string literal with its quotes and escapes: control characters as \n, \t,
// ... or \u00XX, valid UTF-8 as is, and each byte that is not valid UTF-8 as \ufffd. With
// `ascii_only`, every character outside ' '..'~' is a \uXXXX escape (a surrogate pair above
// U+FFFF), as Python's json.dumps writes by default (GPT-2's vocab.json round-trips).
std::string quote(std::string_view text, bool ascii_only = false);

}  // namespace kiln::json
