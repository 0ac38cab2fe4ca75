// The safetensors format (Hugging Face's model.safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {...}}, then the raw little-endian data, offsets counted from its start.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// One tensor as the header describes it.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;           // "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;  // [] for a scalar
  uint64_t begin = 0;          // byte offsets into the data section, end - begin = bytes
  uint64_t end = 0;
  uint64_t header_offset = 0;  // file offset of the entry in the header, for messages
};

// Bytes per element of a safetensors dtype, or 0 for a name the format does not define.
int safetensors_dtype_size(std::string_view dtype);

// IEEE binary16 and bfloat16 bit patterns -> float32. Exact: every half and bfloat16 value
// (subnormals, infinities, NaN payloads' sign) is a float32 value.
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);
// float32 -> binary16 / bfloat16, rounding to nearest even (overflow gives infinity).
uint16_t float_to_half(float x);
uint16_t float_to_bfloat16(float x);

// Reads the header of a safetensors file once, validating every entry against the file's
// size; tensors are then read one at a time, so a large file never sits in memory twice.
class SafetensorsReader {
 public:
  // Errors name the path and a byte offset: a truncated file, a header length beyond the file,
  // a header that is not a JSON object, an entry without dtype/shape/data_offsets, an unknown
  // dtype, offsets outside the data, overlapping, or disagreeing with dtype and shape.
  explicit SafetensorsReader(std::string path);

  const std::string& path() const { return path_; }
  // Every tensor, in the order of their data (data_offsets begin).
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  // The entry called `name`, or null.
  const SafetensorsEntry* find(std::string_view name) const;
  // "__metadata__" (string -> string); empty when the header has none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The values of tensor `name` as float32, row-major; F32, F16 and BF16 are converted
  // exactly, other dtypes (and a missing name) are errors naming the tensor.
  std::vector<float> read_floats(std::string_view name) const;

 private:
  std::string path_;
  uint64_t data_start_ = 0;  // file offset of the data section: 8 + N
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// A tensor to write: raw little-endian bytes of `dtype`, numel(shape) elements.
struct SafetensorsTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string_view bytes;
};

// Writes `path` in the order given: the header (padded with spaces to a multiple of 8 bytes,
// as the reference implementation does, so the data is aligned) then each tensor's bytes.
// Names must be distinct, not "__metadata__", and bytes must match dtype and shape.
void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// float32 values as the bytes of `dtype` (F32, F16 or BF16), for SafetensorsTensor::bytes.
std::string encode_floats(const std::vector<float>& values, std::string_view dtype);

}  // namespace kiln
