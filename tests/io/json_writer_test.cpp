// json::Writer: layouts, escaping, exact numbers, refusal of NaN and misuse; every output is
// parsed back with json::parse.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "io/json.h"
#include "tests/error_of.h"

namespace kiln {
namespace {

TEST(JsonWriterTest, ThreeLayouts) {
  auto fill = [](json::Writer w) {
    w.begin_object().key("a").integer(1).key("b").begin_array().integer(2).boolean(true).null();
    w.end_array().key("c").begin_object().end_object().key("d").begin_array().end_array();
    return w.end_object().text();
  };
  EXPECT_EQ(fill(json::Writer::compact()), R"({"a":1,"b":[2,true,null],"c":{},"d":[]})");
  EXPECT_EQ(fill(json::Writer::spaced()), R"({"a": 1, "b": [2, true, null], "c": {}, "d": []})");
  EXPECT_EQ(fill(json::Writer::indented(2)),
            "{\n  \"a\": 1,\n  \"b\": [\n    2,\n    true,\n    null\n  ],\n  \"c\": {},\n"
            "  \"d\": []\n}");
}

TEST(JsonWriterTest, EscapesKeysAndStrings) {
  // Quote, backslash, the control characters with short escapes and without, DEL, non-ASCII.
  const std::string text = std::string("q\"b\\n\nt\tr\rf\fb\bz") + '\0' + "\x01\x1f\x7f é €😀";
  json::Writer w = json::Writer::compact();
  w.begin_object().key(text).string(text).end_object();
  EXPECT_EQ(w.text(), R"({"q\"b\\n\nt\tr\rf\fb\bz\u0000\u0001\u001f)"
                      "\x7f é €😀\":\""
                      R"(q\"b\\n\nt\tr\rf\fb\bz\u0000\u0001\u001f)"
                      "\x7f é €😀\"}");
  const json::Value back = json::parse(w.text(), "test");
  ASSERT_EQ(back.as_object().size(), 1u);
  EXPECT_EQ(back.as_object()[0].first, text);
  EXPECT_EQ(back.as_object()[0].second.as_string(), text);
  // ASCII-only output, as GPT-2's vocab.json: a surrogate pair above U+FFFF.
  json::Writer ascii = json::Writer::spaced().escape_non_ascii();
  ascii.begin_object().key("é").string("😀\x7f").end_object();
  EXPECT_EQ(ascii.text(), R"({"\u00e9": "\ud83d\ude00\u007f"})");
  EXPECT_EQ(json::parse(ascii.text(), "test").at("é").as_string(), "😀\x7f");
  // A byte that is not UTF-8 becomes U+FFFD, so the output stays valid JSON.
  json::Writer bad = json::Writer::compact();
  bad.string("a\xff");
  EXPECT_EQ(bad.text(), R"("a\ufffd")");
}

TEST(JsonWriterTest, APathWithQuotesGivesValidJson) {
  // kiln eval prints the checkpoint path: a path may hold any byte but NUL and may not be UTF-8.
  const std::string path = "runs/a \"quoted\" run\\ckpt-00000004.h5";
  json::Writer w = json::Writer::compact();
  w.begin_object().key("checkpoint").string(path).key("step").integer(4).end_object();
  const json::Value back = json::parse(w.text(), "eval output");
  EXPECT_EQ(back.at("checkpoint").as_string(), path);
  EXPECT_EQ(back.at("step").as_int(), 4);
}

TEST(JsonWriterTest, NumbersReadBackExactly) {
  const double values[] = {0.1,    1.0 / 3.0, 2.5,   -0.0, 1e300,
                           5e-324, 1234567,   100.0, 1e21, 3.4028234663852886e38};
  json::Writer w = json::Writer::compact();
  w.begin_array();
  for (double x : values) w.number(x);
  w.float32(0.1f).float32(16777217.0f).integer(std::numeric_limits<int64_t>::min());
  w.end_array();
  EXPECT_EQ(w.text().substr(0, 23), "[0.1,0.3333333333333333");
  EXPECT_NE(w.text().find(",100.0,"), std::string::npos) << w.text();  // stays a float
  EXPECT_NE(w.text().find(",0.1,16777216.0,-9223372036854775808]"), std::string::npos) << w.text();
  const json::Value back = json::parse(w.text(), "test");
  for (size_t i = 0; i < std::size(values); ++i)
    EXPECT_EQ(back.as_array()[i].as_number(), values[i]) << i;
  EXPECT_TRUE(std::signbit(back.as_array()[3].as_number()));
  EXPECT_EQ(static_cast<float>(back.as_array()[std::size(values)].as_number()), 0.1f);
}

TEST(JsonWriterTest, RefusesNonFiniteNumbersNamingTheMember) {
  json::Writer w = json::Writer::compact();
  w.begin_object().key("val_loss");
  EXPECT_EQ(error_of([&] { w.number(std::nan("")); }),
            "json: \"val_loss\": expected a finite number (JSON has no NaN or infinity), got nan");
  json::Writer a = json::Writer::compact();
  a.begin_array();
  EXPECT_EQ(error_of([&] { a.float32(-std::numeric_limits<float>::infinity()); }),
            "json: an array item: expected a finite number (JSON has no NaN or infinity), got "
            "-inf");
}

TEST(JsonWriterTest, RefusesMisuse) {
  json::Writer w = json::Writer::compact();
  w.begin_object();
  EXPECT_EQ(error_of([&] { w.integer(1); }),
            "json::Writer: expected a key before a value in an object, got none");
  EXPECT_EQ(error_of([&] { w.end_array(); }),
            "json::Writer: expected ']' to close an open '[', got none open");
  json::Writer a = json::Writer::compact();
  a.begin_array();
  EXPECT_EQ(error_of([&] { a.key("k"); }),
            "json::Writer: expected a key inside an object (once per value), got key \"k\"");
  json::Writer two = json::Writer::compact();
  two.integer(1);
  EXPECT_EQ(error_of([&] { two.integer(2); }),
            "json::Writer: expected one top-level value, got a second");
}

TEST(JsonWriterTest, WriteOfAValueUsesTheWriter) {
  const json::Value v = json::parse(R"({"b": [1, 2.5, "x"], "a": {"n": null}})", "test");
  EXPECT_EQ(json::write(v), R"({"b":[1,2.5,"x"],"a":{"n":null}})");
  json::Writer w = json::Writer::spaced();
  EXPECT_EQ(w.value(v).text(), R"({"b": [1, 2.5, "x"], "a": {"n": null}})");
}

}  // namespace
}  // namespace kiln
