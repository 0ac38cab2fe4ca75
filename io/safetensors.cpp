// Reading and writing safetensors files: header validation with byte offsets, the exact
// half/bfloat16 conversions, and per-tensor reads.
#include "io/safetensors.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "io/atomic_write.h"
#include "io/json.h"

namespace kiln {
namespace {

// The format is little-endian; kiln reads the data section with memcpy.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

// The reference implementation refuses larger headers; so does kiln, before allocating one.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::string_view kMetadataKey = "__metadata__";

struct DTypeInfo {
  std::string_view name;
  int size;
};
// Every dtype the format defines (safetensors 0.4), so a file that also holds integer buffers
// (position_ids) still opens; read_floats converts only the float ones kiln needs.
constexpr std::array<DTypeInfo, 15> kDTypes = {{{"BOOL", 1},
                                                {"U8", 1},
                                                {"I8", 1},
                                                {"F8_E5M2", 1},
                                                {"F8_E4M3", 1},
                                                {"I16", 2},
                                                {"U16", 2},
                                                {"F16", 2},
                                                {"BF16", 2},
                                                {"I32", 4},
                                                {"U32", 4},
                                                {"F32", 4},
                                                {"F64", 8},
                                                {"I64", 8},
                                                {"U64", 8}}};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Element count of `shape`, or -1 when it overflows 2^62 (no real file comes close).
int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > (int64_t{1} << 62) / d) return -1;
    n *= d;
  }
  return n;
}

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// One header entry, checked field by field; `data_size` bounds the offsets.
SafetensorsEntry parse_entry(const std::string& name, const json::Value& v, uint64_t data_size) {
  const std::string where = v.where() + ": tensor '" + name + "'";
  KILN_CHECK(v.kind() == json::Value::Kind::kObject, where,
             ": expected an object {dtype, shape, data_offsets}, got ", v.describe());
  auto field = [&](const char* key) -> const json::Value& {
    const json::Value* f = v.find(key);
    KILN_CHECK(f != nullptr, where, ": expected the field \"", key, "\", got none");
    return *f;
  };
  SafetensorsEntry e;
  e.name = name;
  e.header_offset = v.offset();
  const json::Value& dtype = field("dtype");
  KILN_CHECK(
      dtype.kind() == json::Value::Kind::kString && safetensors_dtype_size(dtype.as_string()),
      where, ": expected a safetensors dtype (F32, F16, BF16, F64, I64, ...), got ",
      dtype.describe());
  e.dtype = dtype.as_string();
  const json::Value& shape = field("shape");
  KILN_CHECK(shape.kind() == json::Value::Kind::kArray, where,
             ": expected \"shape\" as an array of sizes, got ", shape.describe());
  for (const json::Value& d : shape.as_array()) {
    KILN_CHECK(d.is_integer() && d.as_int() >= 0, where,
               ": expected \"shape\" sizes as integers >= 0, got ", d.describe());
    e.shape.push_back(d.as_int());
  }
  const json::Value& offsets = field("data_offsets");
  bool pair = offsets.kind() == json::Value::Kind::kArray && offsets.as_array().size() == 2 &&
              offsets.as_array()[0].is_integer() && offsets.as_array()[1].is_integer() &&
              offsets.as_array()[0].as_int() >= 0 &&
              offsets.as_array()[0].as_int() <= offsets.as_array()[1].as_int();
  KILN_CHECK(
      pair, where, ": expected \"data_offsets\" as [begin, end] with 0 <= begin <= end, got ",
      offsets.kind() == json::Value::Kind::kArray ? json::write(offsets) : offsets.describe());
  e.begin = static_cast<uint64_t>(offsets.as_array()[0].as_int());
  e.end = static_cast<uint64_t>(offsets.as_array()[1].as_int());
  const int64_t numel = checked_numel(e.shape);
  KILN_CHECK(numel >= 0, where, ": expected a shape of fewer than 2^62 elements, got ",
             shape_text(e.shape));
  uint64_t expected = 0;  // overflow-checked: 2^61 eight-byte elements would wrap to 0 bytes
  KILN_CHECK(
      !__builtin_mul_overflow(static_cast<uint64_t>(numel),
                              static_cast<uint64_t>(safetensors_dtype_size(e.dtype)), &expected),
      where, ": expected a shape whose size in bytes fits 64 bits, got ", e.dtype, " ",
      shape_text(e.shape));
  KILN_CHECK(e.end - e.begin == expected, where, ": expected data_offsets spanning ", expected,
             " bytes (", e.dtype, " ", shape_text(e.shape), "), got [", e.begin, ", ", e.end, "] (",
             e.end - e.begin, " bytes)");
  KILN_CHECK(e.end <= data_size, where, ": expected data_offsets within the data section (",
             data_size, " bytes), got [", e.begin, ", ", e.end, "] (a truncated file?)");
  return e;
}

}  // namespace

int safetensors_dtype_size(std::string_view dtype) {
  for (const DTypeInfo& d : kDTypes)
    if (d.name == dtype) return d.size;
  return 0;
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = uint32_t{bits} >> 15 << 31;
  uint32_t exponent = (bits >> 10) & 0x1F;
  uint32_t mantissa = bits & 0x3FF;
  if (exponent == 0x1F)  // infinity or NaN: the payload moves up with the mantissa
    return std::bit_cast<float>(sign | 0x7F800000u | mantissa << 13);
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal: mantissa * 2^-24. Normalise it, since float32 holds it as a normal number.
    int e = -14;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --e;
    }
    return std::bit_cast<float>(sign | static_cast<uint32_t>(e + 127) << 23 |
                                (mantissa & 0x3FF) << 13);
  }
  return std::bit_cast<float>(sign | (exponent - 15 + 127) << 23 | mantissa << 13);
}

float bfloat16_to_float(uint16_t bits) {
  return std::bit_cast<float>(uint32_t{bits} << 16);  // bfloat16 is float32's upper half
}

uint16_t float_to_half(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  const auto sign = static_cast<uint16_t>(f >> 16 & 0x8000);
  const uint32_t abs = f & 0x7FFFFFFF;
  if (abs >= 0x7F800000)  // infinity, or NaN kept quiet and non-zero
    return sign | (abs == 0x7F800000 ? 0x7C00 : 0x7E00 | (abs >> 13 & 0x3FF));
  const uint32_t exponent = abs >> 23;  // biased by 127
  // Round to nearest even: the dropped bits against half a unit in the last place. A carry out
  // of the mantissa correctly bumps the exponent (up to 0x7C00, infinity).
  auto round = [](uint32_t kept, uint32_t dropped, uint32_t half_unit) {
    return kept + (dropped > half_unit || (dropped == half_unit && (kept & 1)) ? 1 : 0);
  };
  if (exponent > 142) return sign | 0x7C00;  // >= 2^16: beyond the largest half
  if (exponent >= 113) {                     // normal half: exponent - 127 >= -14
    const uint32_t kept = (exponent - 112) << 10 | (abs >> 13 & 0x3FF);
    return sign | static_cast<uint16_t>(round(kept, abs & 0x1FFF, 0x1000));
  }
  // Subnormal half: (1.mantissa * 2^(exponent-127)) / 2^-24 = full >> (126 - exponent).
  const uint32_t shift = 126 - exponent;
  if (shift > 25) return sign;  // below 2^-25: rounds to zero
  const uint32_t full = (abs & 0x7FFFFF) | 0x800000;
  const uint32_t dropped = full & ((1u << shift) - 1);
  return sign | static_cast<uint16_t>(round(full >> shift, dropped, 1u << (shift - 1)));
}

uint16_t float_to_bfloat16(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  if ((f & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>(f >> 16 | 0x40);  // quiet NaN
  const uint32_t bias = 0x7FFF + (f >> 16 & 1);  // round to nearest even
  return static_cast<uint16_t>((f + bias) >> 16);
}

SafetensorsReader::SafetensorsReader(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path_, ec);
  KILN_CHECK(!ec, path_, ": expected a readable safetensors file, got ", ec.message());
  std::ifstream in(path_, std::ios::binary);
  KILN_CHECK(in, path_, ": expected a readable safetensors file, got one that cannot be opened");
  KILN_CHECK(size >= 8, path_, ": expected at least 8 bytes (the header length), got a file of ",
             size, " bytes (truncated?)");
  unsigned char length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  const uint64_t header_size = read_u64_le(length_bytes);
  KILN_CHECK(header_size <= size - 8, path_,
             ": byte offset 0: expected a header length of at most the ", size - 8,
             " bytes after it, got ", header_size, " (truncated, or not a safetensors file)");
  KILN_CHECK(header_size <= kMaxHeaderBytes, path_,
             ": byte offset 0: expected a header length of at most ", kMaxHeaderBytes, ", got ",
             header_size);
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  KILN_CHECK(in, path_, ": expected ", header_size, " header bytes, got fewer (truncated?)");
  data_start_ = 8 + header_size;
  const uint64_t data_size = size - data_start_;

  const json::Value root = json::parse(header, path_, 8);
  KILN_CHECK(root.kind() == json::Value::Kind::kObject, root.where(),
             ": expected the header to be a JSON object, got ", root.describe());
  for (const auto& [name, value] : root.as_object()) {
    if (name == kMetadataKey) {
      KILN_CHECK(value.kind() == json::Value::Kind::kObject, value.where(),
                 ": expected __metadata__ as an object of strings, got ", value.describe());
      for (const auto& [key, text] : value.as_object()) {
        KILN_CHECK(text.kind() == json::Value::Kind::kString, text.where(), ": __metadata__.", key,
                   ": expected a string, got ", text.describe());
        metadata_[key] = text.as_string();
      }
      continue;
    }
    entries_.push_back(parse_entry(name, value, data_size));
  }
  std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < entries_.size(); ++i) {
    const SafetensorsEntry &previous = entries_[i - 1], &e = entries_[i];
    KILN_CHECK(e.begin >= previous.end, path_, ": byte offset ", e.header_offset, ": tensor '",
               e.name, "': expected data_offsets that do not overlap another tensor's, got [",
               e.begin, ", ", e.end, "] overlapping '", previous.name, "' [", previous.begin, ", ",
               previous.end, "]");
  }
}

const SafetensorsEntry* SafetensorsReader::find(std::string_view name) const {
  for (const SafetensorsEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::vector<float> SafetensorsReader::read_floats(std::string_view name) const {
  const SafetensorsEntry* e = find(name);
  KILN_CHECK(e != nullptr, path_, ": expected a tensor '", name, "', got none");
  KILN_CHECK(e->dtype == "F32" || e->dtype == "F16" || e->dtype == "BF16", path_, ": byte offset ",
             e->header_offset, ": tensor '", e->name, "': expected dtype F32, F16 or BF16, got ",
             e->dtype);
  std::string bytes(e->end - e->begin, '\0');
  std::ifstream in(path_, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(data_start_ + e->begin));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  KILN_CHECK(in, path_, ": byte offset ", data_start_ + e->begin, ": expected ", bytes.size(),
             " bytes of tensor '", e->name, "', got fewer (the file changed or was truncated)");
  const size_t width = static_cast<size_t>(safetensors_dtype_size(e->dtype));
  std::vector<float> values(bytes.size() / width);
  if (e->dtype == "F32") {
    // An empty vector's data() may be null, which memcpy must not get even for 0 bytes.
    if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
  }
  const bool half = e->dtype == "F16";
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, bytes.data() + 2 * i, 2);
    values[i] = half ? half_to_float(bits) : bfloat16_to_float(bits);
  }
  return values;
}

std::string encode_floats(const std::vector<float>& values, std::string_view dtype) {
  std::string bytes;
  if (dtype == "F32") {
    bytes.resize(values.size() * 4);
    if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }
  KILN_CHECK(dtype == "F16" || dtype == "BF16",
             "encode_floats: expected dtype F32, F16 or BF16, got ", dtype);
  bytes.resize(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t bits = dtype == "F16" ? float_to_half(values[i]) : float_to_bfloat16(values[i]);
    std::memcpy(bytes.data() + 2 * i, &bits, 2);
  }
  return bytes;
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json::Value header = json::Value::object();
  if (!metadata.empty()) {
    json::Value meta = json::Value::object();
    for (const auto& [key, text] : metadata) meta.set(key, json::Value::string(text));
    header.set(std::string(kMetadataKey), std::move(meta));
  }
  uint64_t offset = 0;
  for (const SafetensorsTensor& t : tensors) {
    const int size = safetensors_dtype_size(t.dtype);
    const int64_t numel = checked_numel(t.shape);
    KILN_CHECK(size > 0, path, ": tensor '", t.name, "': expected a safetensors dtype, got '",
               t.dtype, "'");
    KILN_CHECK(t.name != kMetadataKey && header.find(t.name) == nullptr, path,
               ": expected distinct tensor names other than __metadata__, got '", t.name,
               "' twice or reserved");
    KILN_CHECK(numel >= 0 && t.bytes.size() == static_cast<uint64_t>(numel) * size, path,
               ": tensor '", t.name, "': expected ", numel * size, " bytes for ", t.dtype, " ",
               shape_text(t.shape), ", got ", t.bytes.size());
    json::Value shape = json::Value::array();
    for (int64_t d : t.shape) shape.push_back(json::Value::integer(d));
    json::Value entry = json::Value::object();
    entry.set("dtype", json::Value::string(t.dtype));
    entry.set("shape", std::move(shape));
    entry.set(
        "data_offsets",
        json::Value::array({json::Value::integer(static_cast<int64_t>(offset)),
                            json::Value::integer(static_cast<int64_t>(offset + t.bytes.size()))}));
    header.set(t.name, std::move(entry));
    offset += t.bytes.size();
  }
  std::string text = json::write(header);
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  std::vector<std::string_view> parts = {std::string_view(reinterpret_cast<const char*>(length), 8),
                                         text};
  for (const SafetensorsTensor& t : tensors) parts.push_back(t.bytes);
  io::atomic_write(path, parts);
}

}  // namespace kiln
