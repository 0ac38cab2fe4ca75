// The replay table and the scratch files shared by every fuzz target.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

#include "fuzz/fuzz_target.h"

namespace kiln::fuzz {
namespace fs = std::filesystem;
namespace {

std::map<std::string, TargetFn, std::less<>>& table() {
  static std::map<std::string, TargetFn, std::less<>> targets;
  return targets;
}

// The per-process scratch root, created on first use and removed at exit.
const fs::path& scratch_root() {
  static const fs::path root = [] {
    const char* tmp = std::getenv("TMPDIR");
    fs::path dir =
        fs::path(tmp && *tmp ? tmp : "/tmp") / ("kiln_fuzz_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch_root(), ec);
    });
    return dir;
  }();
  return root;
}

}  // namespace

bool verbose() {
  static const bool on = std::getenv("KILN_FUZZ_VERBOSE") != nullptr;
  return on;
}

bool register_target(const char* name, TargetFn fn) {
  table().emplace(name, fn);
  return true;
}

TargetFn find_target(std::string_view name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : it->second;
}

std::string scratch_file(std::string_view name, std::string_view bytes) {
  const fs::path path = scratch_root() / std::string(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write scratch file %s\n", path.c_str());
    std::abort();
  }
  return path.string();
}

std::string scratch_dir(std::string_view name) {
  const fs::path path = scratch_root() / std::string(name);
  fs::remove_all(path);
  fs::create_directories(path);
  return path.string();
}

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz: property violated: %s\n", what);
  std::abort();
}

}  // namespace kiln::fuzz
