// Where a training step's time goes, without perf: per-op forward and backward time from the
// tape, GEMM time by shape and transpose from kiln::gemm, and named sections (the optimizer,
// clipping, ...) from their callers. Off by default, when each hook is one branch.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::profile {

// Turns collection on (clearing what was collected) or off.
void enable(bool on);
bool enabled();

// Adds one call of `seconds` (and `flops`, for GEMMs) to entry `name` of `section`.
void add(const char* section, const std::string& name, double seconds, double flops = 0);

// The forward clock. An op's forward time is the time since the previous op recorded itself
// (or since mark()), so work between ops is charged to the op that follows it.
void mark();
double seconds_since_mark();  // and marks again

// Times its own lifetime into (section, name) when profiling is on.
class Scope {
 public:
  Scope(const char* section, const char* name);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* section_;
  const char* name_;
  std::chrono::steady_clock::time_point start_;
};

struct Entry {
  std::string section, name;
  double seconds = 0;
  int64_t calls = 0;
  double flops = 0;
};
// Everything collected since enable(true), by section in first-seen order, then by time.
std::vector<Entry> entries();

}  // namespace kiln::profile
