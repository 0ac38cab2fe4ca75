// Fuzz target: the JSON parser (io/json.h). An accepted document must write and read back
// to an equal value, compact and indented.
#include <string_view>

#include "fuzz/fuzz_target.h"
#include "io/json.h"

KILN_FUZZ_TARGET(json) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  kiln::fuzz::refusal_is_fine([&] {
    const kiln::json::Value value = kiln::json::parse(text, "fuzz.json");
    // write() refuses non-finite numbers (1e999 parses to infinity); that is a kiln::Error.
    const std::string compact = kiln::json::write(value);
    kiln::fuzz::require(kiln::json::parse(compact, "compact") == value, "parse(write(v)) == v");
    const std::string indented = kiln::json::write(value, 2);
    kiln::fuzz::require(kiln::json::parse(indented, "indented") == value,
                        "parse(write(v, 2)) == v");
  });
  return 0;
}
