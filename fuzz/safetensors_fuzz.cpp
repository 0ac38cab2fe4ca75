// Fuzz target: the safetensors reader (io/safetensors.h): header length, JSON header,
// dtypes, shapes and data offsets, then every tensor's values.
#include <string_view>

#include "fuzz/fuzz_target.h"
#include "io/safetensors.h"

KILN_FUZZ_TARGET(safetensors) {
  const std::string path = kiln::fuzz::scratch_file(
      "model.safetensors", std::string_view(reinterpret_cast<const char*>(data), size));
  kiln::fuzz::refusal_is_fine([&] {
    const kiln::SafetensorsReader reader(path);
    uint64_t previous_end = 0;
    for (const kiln::SafetensorsEntry& entry : reader.entries()) {
      kiln::fuzz::require(
          entry.begin >= previous_end && entry.begin <= entry.end && entry.end <= size,
          "entries are in order, disjoint and inside the file");
      previous_end = entry.end;
      kiln::fuzz::refusal_is_fine([&] {
        const std::vector<float> values = reader.read_floats(entry.name);
        const int element = kiln::safetensors_dtype_size(entry.dtype);
        kiln::fuzz::require(element > 0 && values.size() * static_cast<uint64_t>(element) ==
                                               entry.end - entry.begin,
                            "read_floats returns exactly the declared elements");
      });
    }
  });
  return 0;
}
