// The JSON parser and writer: every kind of value, escapes and surrogates, exact numbers,
// round trips, Python's indented layout, and errors with byte offsets.
#include "io/json.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "base/error.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

std::string parse_error(std::string_view text) {
  return error_of([&] { json::parse(text, "t.json"); });
}

TEST(JsonTest, ParsesEveryKind) {
  json::Value v = json::parse(
      R"( {"n": null, "t": true, "f": false, "i": -42, "x": 1.5e-3, "s": "hi",
           "a": [1, [2], {}], "o": {"k": "v"}} )",
      "t.json");
  EXPECT_TRUE(v.at("n").is_null());
  EXPECT_TRUE(v.at("t").as_bool());
  EXPECT_FALSE(v.at("f").as_bool());
  EXPECT_EQ(v.at("i").as_int(), -42);
  EXPECT_TRUE(v.at("i").is_integer());
  EXPECT_DOUBLE_EQ(v.at("x").as_number(), 1.5e-3);
  EXPECT_FALSE(v.at("x").is_integer());
  EXPECT_EQ(v.at("s").as_string(), "hi");
  ASSERT_EQ(v.at("a").as_array().size(), 3u);
  EXPECT_EQ(v.at("a").as_array()[1].as_array()[0].as_int(), 2);
  EXPECT_EQ(v.at("o").at("k").as_string(), "v");
  EXPECT_EQ(v.find("missing"), nullptr);
  // Members keep file order.
  EXPECT_EQ(v.as_object()[0].first, "n");
  EXPECT_EQ(v.as_object()[7].first, "o");
}

TEST(JsonTest, IntegersAreExactBeyondDoublePrecision) {
  json::Value v = json::parse("[9007199254740993, -9223372036854775808, 1e2, 1.0]", "t");
  EXPECT_EQ(v.as_array()[0].as_int(), 9007199254740993);  // 2^53 + 1
  EXPECT_EQ(v.as_array()[1].as_int(), INT64_MIN);
  EXPECT_FALSE(v.as_array()[2].is_integer());  // an exponent makes it a float, as in Python
  EXPECT_FALSE(v.as_array()[3].is_integer());
  EXPECT_DOUBLE_EQ(json::parse("18446744073709551616", "t").as_number(), 18446744073709551616.0);
}

TEST(JsonTest, StringEscapesAndSurrogatePairs) {
  json::Value v = json::parse(R"("a\"b\\c\/d\b\f\n\r\t\u00e9\u4e2d\ud83d\ude00")", "t");
  EXPECT_EQ(v.as_string(), "a\"b\\c/d\b\f\n\r\t\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80");
  EXPECT_EQ(json::parse("\"\xE4\xB8\xAD\"", "t").as_string(), "\xE4\xB8\xAD");  // raw UTF-8
}

TEST(JsonTest, WriteRoundTripsAndQuotes) {
  json::Value v = json::Value::object();
  v.set("name", json::Value::string("tab\there \"q\" \x01 \xC3\xA9"));
  v.set("eps", json::Value::number(1e-5));
  v.set("big", json::Value::integer(INT64_MAX));
  v.set("third", json::Value::number(1.0 / 3.0));
  v.set("whole", json::Value::number(100.0));
  v.set("list", json::Value::array({json::Value::boolean(true), json::Value()}));
  v.set("empty", json::Value::object());
  const std::string compact = json::write(v);
  EXPECT_EQ(compact,
            "{\"name\":\"tab\\there \\\"q\\\" \\u0001 \xC3\xA9\",\"eps\":1e-05,"
            "\"big\":9223372036854775807,\"third\":0.3333333333333333,\"whole\":100.0,"
            "\"list\":[true,null],\"empty\":{}}");
  EXPECT_EQ(json::parse(compact, "t"), v);
  EXPECT_EQ(json::parse(json::write(v, 2), "t"), v);
}

TEST(JsonTest, QuoteEscapesLikePython) {
  const std::string text = "/\"\\\n\x01\x7F \xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";
  // ensure_ascii=False: UTF-8 and DEL as is; '/' is never escaped.
  EXPECT_EQ(json::quote(text), "\"/\\\"\\\\\\n\\u0001\x7F \xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\"");
  // ensure_ascii=True: json.dumps("/\"\\\n\x01\x7f é中😀") in Python.
  EXPECT_EQ(json::quote(text, /*ascii_only=*/true),
            R"("/\"\\\n\u0001\u007f \u00e9\u4e2d\ud83d\ude00")");
  EXPECT_EQ(json::parse(json::quote(text, true), "t").as_string(), text);
  // A byte that is not UTF-8 becomes U+FFFD either way.
  EXPECT_EQ(json::quote("a\xFF"
                        "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(json::quote("a\xFF"
                        "b",
                        true),
            R"("a\ufffdb")");
}

TEST(JsonTest, IndentedLayoutIsPythons) {
  json::Value v = json::Value::object();
  v.set("a", json::Value::array({json::Value::integer(1), json::Value::integer(2)}));
  v.set("b", json::Value::object());
  v.set("c", json::Value::array());
  // json.dumps({"a": [1, 2], "b": {}, "c": []}, indent=2)
  EXPECT_EQ(json::write(v, 2), "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}");
}

TEST(JsonTest, SetReplacesAnExistingKey) {
  json::Value v = json::Value::object();
  v.set("k", json::Value::integer(1));
  v.set("k", json::Value::integer(2));
  EXPECT_EQ(v.as_object().size(), 1u);
  EXPECT_EQ(v.at("k").as_int(), 2);
}

TEST(JsonTest, SyntaxErrorsNameTheByteOffset) {
  EXPECT_EQ(parse_error(""), "t.json: byte offset 0: expected a value, got the end of the text");
  EXPECT_EQ(parse_error("{\"a\": 1,}"),
            "t.json: byte offset 8: expected '\"' starting a key, got '}'");
  EXPECT_EQ(parse_error("{\"a\" 1}"), "t.json: byte offset 5: expected ':' after a key, got '1'");
  EXPECT_EQ(parse_error("[1 2]"),
            "t.json: byte offset 3: expected ',' or ']' after an item, got '2'");
  EXPECT_EQ(parse_error("{\"a\": 1} x"),
            "t.json: byte offset 9: expected the end of the text after the value, got 'x'");
  EXPECT_EQ(parse_error("\"abc"),
            "t.json: byte offset 4: expected '\"' closing the string, got "
            "the end of the text");
  EXPECT_EQ(parse_error("\"a\nb\""),
            "t.json: byte offset 2: expected a character or escape (no "
            "raw control bytes), got byte 0x0A");
  EXPECT_EQ(parse_error("\"\\x\""),
            "t.json: byte offset 2: expected an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t "
            "\\uXXXX), got 'x'");
  EXPECT_EQ(parse_error("\"\\u12G4\""),
            "t.json: byte offset 5: expected four hex digits after \\u, got 'G'");
  EXPECT_EQ(parse_error("\"\\ud800x\""),
            "t.json: byte offset 1: expected a low surrogate \\uDC00..\\uDFFF after a high "
            "surrogate, got \\ud800x\"");
  EXPECT_EQ(parse_error("\"\\udc00\""),
            "t.json: byte offset 1: expected a \\u escape that is not a lone low surrogate, got "
            "\\udc00");
  EXPECT_EQ(parse_error("\"\xC3\x28\""),
            "t.json: byte offset 1: expected valid UTF-8, got byte 0xC3");
  EXPECT_EQ(parse_error("01"),
            "t.json: byte offset 1: expected the end of the text after the "
            "value, got '1'");
  EXPECT_EQ(parse_error("-"), "t.json: byte offset 1: expected a digit, got the end of the text");
  EXPECT_EQ(parse_error("1."),
            "t.json: byte offset 2: expected a digit after '.', got the end of "
            "the text");
  EXPECT_EQ(parse_error("1e"),
            "t.json: byte offset 2: expected a digit in the exponent, got the "
            "end of the text");
  EXPECT_EQ(parse_error("1e999"),
            "t.json: byte offset 0: expected a number within double range, got 1e999");
  EXPECT_EQ(parse_error("NaN"),
            "t.json: byte offset 0: expected a value (object, array, string, "
            "number, true, false or null), got 'N'");
  EXPECT_EQ(parse_error("{\"a\": 1, \"a\": 2}"),
            "t.json: byte offset 9: expected each key once, got a second \"a\"");
  EXPECT_EQ(parse_error(std::string(300, '[')),
            "t.json: byte offset 257: expected at most 256 levels of nesting, got '['");
}

TEST(JsonTest, BaseOffsetShiftsEveryOffset) {
  EXPECT_EQ(error_of([] { json::parse("[1,]", "f", 8); }),
            "f: byte offset 11: expected a value (object, array, string, number, true, false or "
            "null), got ']'");
  EXPECT_EQ(json::parse(" [1, 2]", "f", 8).as_array()[1].where(), "f: byte offset 13");
}

TEST(JsonTest, WrongKindErrorsNameTheValueAndOffset) {
  json::Value v = json::parse("{\"n\": \"12\", \"x\": 1.5}", "c.json");
  EXPECT_EQ(error_of([&] { v.at("n").as_int(); }),
            "c.json: byte offset 6: expected an integer, got the string \"12\"");
  EXPECT_EQ(error_of([&] { v.at("x").as_int(); }),
            "c.json: byte offset 17: expected an integer, got the number 1.5");
  EXPECT_EQ(error_of([&] { v.at("x").as_string(); }),
            "c.json: byte offset 17: expected a string, got the number 1.5");
  EXPECT_EQ(error_of([&] { v.at("missing"); }),
            "c.json: byte offset 0: expected the key \"missing\" in this object, got no such key");
  EXPECT_EQ(error_of([&] { v.as_array(); }),
            "c.json: byte offset 0: expected an array, got an object");
}

TEST(JsonTest, WriteRefusesNonFiniteNumbers) {
  EXPECT_EQ(
      error_of([] { json::write(json::Value::number(std::numeric_limits<double>::infinity())); }),
      "json: a value: expected a finite number (JSON has no NaN or infinity), got inf");
}

}  // namespace
}  // namespace kiln
