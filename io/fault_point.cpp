// The KILN_FAULT_POINT lookup behind io::fault_point.
#include "io/fault_point.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

namespace kiln::io {
namespace {

// The point named by KILN_FAULT_POINT and the hit that triggers it (0: no point is armed).
struct Armed {
  std::string name;
  long hit = 0;
};

Armed read_armed() {
  Armed armed;
  const char* value = std::getenv("KILN_FAULT_POINT");
  if (value == nullptr || *value == '\0') return armed;
  std::string text(value);
  armed.name = text;
  armed.hit = 1;
  const size_t colon = text.rfind(':');
  if (colon != std::string::npos) {
    char* end = nullptr;
    const long n = std::strtol(text.c_str() + colon + 1, &end, 10);
    // "name:N" with N >= 1; anything else is taken as a whole name (which then never matches
    // a real point, so a typo cannot kill a run at the wrong place).
    if (end != text.c_str() + colon + 1 && *end == '\0' && n >= 1) {
      armed.name = text.substr(0, colon);
      armed.hit = n;
    }
  }
  return armed;
}

}  // namespace

void fault_point(std::string_view name) {
  static const Armed armed = read_armed();
  static std::atomic<long> hits{0};
  if (armed.hit == 0 || name != armed.name) return;
  if (hits.fetch_add(1) + 1 == armed.hit) std::raise(SIGKILL);
}

}  // namespace kiln::io
