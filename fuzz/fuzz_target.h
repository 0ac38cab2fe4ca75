// KILN_FUZZ_TARGET: one macro that makes a fuzz target either a libFuzzer entry point (the
// KILN_FUZZ build) or an entry in the table of the plain replay program (every other build).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "base/error.h"

namespace kiln::fuzz {

using TargetFn = int (*)(const uint8_t* data, size_t size);

// Adds `fn` to the replay table under `name`; returns true so it can initialise a static.
bool register_target(const char* name, TargetFn fn);
// The target called `name`, or null.
TargetFn find_target(std::string_view name);

// Whether KILN_FUZZ_VERBOSE is set: then each refusal is printed (to check what seeds reach).
bool verbose();

// Runs `body`; a kiln::Error is the correct answer to a bad input, so it is swallowed.
// Anything else (another exception, a crash, a sanitizer report) is a bug the fuzzer reports.
template <typename Body>
void refusal_is_fine(Body&& body) {
  try {
    body();
  } catch (const kiln::Error& e) {
    if (verbose()) std::fprintf(stderr, "refused: %s\n", e.what());
  }
}

// Writes `bytes` to a file private to this process (one per `name`) and returns its path:
// the readers under test take paths. The files are removed at exit.
std::string scratch_file(std::string_view name, std::string_view bytes);
// A directory private to this process, emptied first; removed at exit.
std::string scratch_dir(std::string_view name);

// Aborts with `what` when `ok` is false: a property every accepted input must keep.
void require(bool ok, const char* what);

}  // namespace kiln::fuzz

#ifdef KILN_FUZZ_LIBFUZZER
#define KILN_FUZZ_TARGET(name)                                              \
  static int kiln_fuzz_body(const uint8_t* data, size_t size);              \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    return kiln_fuzz_body(data, size);                                      \
  }                                                                         \
  static int kiln_fuzz_body(const uint8_t* data, size_t size)
#else
#define KILN_FUZZ_TARGET(name)                                        \
  static int kiln_fuzz_body_##name(const uint8_t* data, size_t size); \
  [[maybe_unused]] static const bool kiln_fuzz_registered_##name =    \
      ::kiln::fuzz::register_target(#name, kiln_fuzz_body_##name);    \
  static int kiln_fuzz_body_##name(const uint8_t* data, size_t size)
#endif
