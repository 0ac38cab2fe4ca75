// safetensors: reading hand-built files, writer round trips, the exact half and bfloat16
// conversions (all 65536 patterns against an independent formula), and every malformed-file
// error with its message.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    path_ = (dir_ / "m.safetensors").string();
  }

  // A file of the 8-byte length of `header`, `header` itself, then `data`, built by hand.
  void write_raw(const std::string& header, const std::string& data,
                 uint64_t declared_length = UINT64_MAX) {
    const uint64_t n = declared_length == UINT64_MAX ? header.size() : declared_length;
    std::ofstream out(path_, std::ios::binary);
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
    out << header << data;
  }
  std::string open_error() {
    return error_of([&] { SafetensorsReader reader(path_); });
  }

  std::string path_;
};

std::string f32_bytes(std::vector<float> v) {
  std::string b(v.size() * 4, '\0');
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST_F(SafetensorsTest, ReadsAHandBuiltFile) {
  // Two F32 tensors and an F16 one, with metadata, written out of order in the header.
  const std::string half_bytes("\x00\x3C\x00\xC0\x01\x00", 6);  // 1.0, -2.0, 2^-24
  write_raw(R"({"b":{"dtype":"F16","shape":[3],"data_offsets":[24,30]},)"
            R"("__metadata__":{"format":"pt"},)"
            R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
            R"("s":{"dtype":"F32","shape":[],"data_offsets":[30,34]},)"
            R"("z":{"dtype":"F32","shape":[0,4],"data_offsets":[34,34]}}  )",
            f32_bytes({1, 2, 3, 4, 5, 6}) + half_bytes + f32_bytes({7.5f}));
  SafetensorsReader reader(path_);
  ASSERT_EQ(reader.entries().size(), 4u);
  EXPECT_EQ(reader.entries()[0].name, "a");  // in data order
  EXPECT_EQ(reader.entries()[1].name, "b");
  EXPECT_EQ(reader.find("a")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(reader.find("b")->dtype, "F16");
  EXPECT_EQ(reader.find("missing"), nullptr);
  EXPECT_EQ(reader.metadata().at("format"), "pt");
  EXPECT_EQ(reader.read_floats("a"), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(reader.read_floats("b"), (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)}));
  EXPECT_EQ(reader.read_floats("s"), (std::vector<float>{7.5f}));
  EXPECT_TRUE(reader.read_floats("z").empty());
}

TEST_F(SafetensorsTest, WriterRoundTripsEveryFloatDtype) {
  const std::vector<float> values = {0.0f, -1.5f, 3.140625f, 1e-3f, 65504.0f, -0.0f};
  const std::string f32 = encode_floats(values, "F32"), f16 = encode_floats(values, "F16"),
                    bf16 = encode_floats(values, "BF16");
  write_safetensors(
      path_,
      {{"w.f32", "F32", {2, 3}, f32}, {"w.f16", "F16", {6}, f16}, {"w.bf16", "BF16", {3, 2}, bf16}},
      {{"format", "pt"}});
  // The data starts 8-byte aligned, as the reference writer pads its header.
  std::ifstream in(path_, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(fs::file_size(path_), 8 + n + f32.size() + f16.size() + bf16.size());

  SafetensorsReader reader(path_);
  EXPECT_EQ(reader.read_floats("w.f32"), values);
  std::vector<float> half = reader.read_floats("w.f16"), bf = reader.read_floats("w.bf16");
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(half[i], half_to_float(float_to_half(values[i])));
    EXPECT_EQ(bf[i], bfloat16_to_float(float_to_bfloat16(values[i])));
  }
  EXPECT_EQ(half[2], 3.140625f);  // representable: exact
  EXPECT_EQ(bf[1], -1.5f);
  EXPECT_EQ(reader.find("w.bf16")->shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(reader.metadata().at("format"), "pt");
}

// binary16 by its definition: (-1)^s 2^(e-15) (1 + m/1024), or 2^-14 (m/1024) when e = 0.
double half_by_definition(uint16_t bits) {
  const int s = bits >> 15, e = (bits >> 10) & 0x1F, m = bits & 0x3FF;
  double magnitude = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return s ? -magnitude : magnitude;
}

TEST(HalfFloatTest, EveryHalfConvertsExactly) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = half_to_float(h);
    const int e = (bits >> 10) & 0x1F;
    if (e == 0x1F) {
      if ((bits & 0x3FF) == 0) {
        EXPECT_TRUE(std::isinf(f) && std::signbit(f) == bool(bits >> 15)) << bits;
      } else {
        EXPECT_TRUE(std::isnan(f)) << bits;
      }
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), half_by_definition(h)) << bits;
    EXPECT_EQ(std::signbit(f), bool(bits >> 15)) << bits;
    EXPECT_EQ(float_to_half(f), h) << bits;  // every half survives the trip back
  }
}

TEST(HalfFloatTest, FloatToHalfRoundsToNearestEven) {
  const float ulp1 = std::ldexp(1.0f, -10);                   // half's spacing at 1
  EXPECT_EQ(float_to_half(1.0f + ulp1 / 2), 0x3C00);          // tie: to even (1.0)
  EXPECT_EQ(float_to_half(1.0f + 3 * ulp1 / 2), 0x3C02);      // tie: to even (1 + 2 ulp)
  EXPECT_EQ(float_to_half(1.0f + ulp1 / 2 + 1e-7f), 0x3C01);  // above the tie: up
  EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);                 // 65504, the largest half
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);                 // tie rounds to infinity
  EXPECT_EQ(float_to_half(1e10f), 0x7C00);
  EXPECT_EQ(float_to_half(-1e10f), 0xFC00);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and 2^-24: 0
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -24)), 0x0002);  // tie between 1 and 2 ulp: 2
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(std::ldexp(1023.0f, -24) + std::ldexp(1.0f, -25)),
            0x0400);  // the largest subnormal rounds up into the smallest normal
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(HalfFloatTest, Bfloat16IsTheUpperHalfOfFloat32) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const float f = bfloat16_to_float(static_cast<uint16_t>(bits));
    ASSERT_EQ(std::bit_cast<uint32_t>(f), bits << 16) << bits;
  }
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie: to even
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie: to even
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(std::nanf("")))));
}

TEST_F(SafetensorsTest, TruncatedFiles) {
  std::ofstream(path_, std::ios::binary) << "abc";
  EXPECT_EQ(open_error(), path_ +
                              ": expected at least 8 bytes (the header length), got a file of 3 "
                              "bytes (truncated?)");
  write_raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "", 1000);
  EXPECT_EQ(open_error(), path_ +
                              ": byte offset 0: expected a header length of at most the 54 bytes "
                              "after it, got 1000 (truncated, or not a safetensors file)");
  // The data section ends early: the offsets point past it.
  write_raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234");
  EXPECT_EQ(open_error(), path_ +
                              ": byte offset 13: tensor 'a': expected data_offsets within the data "
                              "section (4 bytes), got [0, 8] (a truncated file?)");
}

TEST_F(SafetensorsTest, BadHeaders) {
  write_raw(R"({"a": 1,})", "");
  EXPECT_EQ(open_error(), path_ + ": byte offset 16: expected '\"' starting a key, got '}'");
  write_raw("[1, 2]", "");
  EXPECT_EQ(open_error(),
            path_ + ": byte offset 8: expected the header to be a JSON object, got an array");
  write_raw(R"({"a": [1]})", "");
  EXPECT_EQ(open_error(), path_ +
                              ": byte offset 14: tensor 'a': expected an object {dtype, shape, "
                              "data_offsets}, got an array");
  write_raw(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", "1234");
  EXPECT_EQ(open_error(),
            path_ + ": byte offset 13: tensor 'a': expected the field \"dtype\", got none");
  write_raw(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", "1234");
  EXPECT_EQ(open_error(),
            path_ + ": byte offset 13: tensor 'a': expected the field \"shape\", got none");
  write_raw(R"({"a":{"dtype":"F32","shape":[1]}})", "1234");
  EXPECT_EQ(open_error(),
            path_ + ": byte offset 13: tensor 'a': expected the field \"data_offsets\", got none");
  write_raw(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "1234");
  EXPECT_EQ(open_error(), path_ +
                              ": byte offset 13: tensor 'a': expected \"shape\" sizes as integers "
                              ">= 0, got the number -1");
  write_raw(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "1234");
  EXPECT_EQ(open_error(), path_ +
                              ": byte offset 13: tensor 'a': expected \"data_offsets\" as [begin, "
                              "end] with 0 <= begin <= end, got [4,0]");
  write_raw(R"({"__metadata__":{"format":1}})", "");
  EXPECT_EQ(open_error(),
            path_ + ": byte offset 34: __metadata__.format: expected a string, got the number 1");
}

TEST_F(SafetensorsTest, UnknownDtypeIsRefused) {
  write_raw(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", "1234");
  EXPECT_EQ(open_error(), path_ +
                              ": byte offset 13: tensor 'a': expected a safetensors dtype (F32, "
                              "F16, BF16, F64, I64, ...), got the string \"Q4\"");
}

TEST_F(SafetensorsTest, OffsetsMustMatchDtypeAndShapeAndNotOverlap) {
  write_raw(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", std::string(24, 'x'));
  EXPECT_EQ(open_error(), path_ +
                              ": byte offset 13: tensor 'a': expected data_offsets spanning 24 "
                              "bytes (F32 [2, 3]), got [0, 20] (20 bytes)");
  write_raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"F16","shape":[2],"data_offsets":[6,10]}})",
            std::string(10, 'x'));
  EXPECT_EQ(open_error(), path_ +
                              ": byte offset 66: tensor 'b': expected data_offsets that do not "
                              "overlap another tensor's, got [6, 10] overlapping 'a' [0, 8]");
}

TEST_F(SafetensorsTest, OtherDtypesOpenButDoNotReadAsFloats) {
  write_raw(R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'));
  SafetensorsReader reader(path_);
  EXPECT_EQ(error_of([&] { reader.read_floats("ids"); }),
            path_ + ": byte offset 15: tensor 'ids': expected dtype F32, F16 or BF16, got I64");
  EXPECT_EQ(error_of([&] { reader.read_floats("nope"); }),
            path_ + ": expected a tensor 'nope', got none");
}

TEST_F(SafetensorsTest, WriterChecksItsInput) {
  const std::string four(4, 'x');
  EXPECT_EQ(error_of([&] {
              write_safetensors(path_, {{"a", "F32", {2}, four}});
            }),
            path_ + ": tensor 'a': expected 8 bytes for F32 [2], got 4");
  EXPECT_EQ(error_of([&] {
              write_safetensors(path_, {{"a", "F32", {1}, four}, {"a", "F32", {1}, four}});
            }),
            path_ +
                ": expected distinct tensor names other than __metadata__, got 'a' twice or "
                "reserved");
  EXPECT_EQ(error_of([&] {
              write_safetensors(path_, {{"a", "X9", {1}, four}});
            }),
            path_ + ": tensor 'a': expected a safetensors dtype, got 'X9'");
  const std::string missing = (dir_ / "no" / "such.st").string();
  EXPECT_EQ(error_of([&] { write_safetensors(missing, {}); }),
            missing + ": expected to create " + missing +
                ".tmp (does its folder exist?), got No such file or directory");
}

}  // namespace
}  // namespace kiln
