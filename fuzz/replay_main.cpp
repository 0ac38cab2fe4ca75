// The plain replay program for the normal build: `fuzz_replay TARGET PATH...` runs TARGET's
// fuzz body once on every file under each PATH (the committed corpus), so CI exercises every
// target without libFuzzer. Exit 0 when every input is handled (accepted or refused with
// kiln::Error); an escaping exception fails the run naming the input.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fuzz_replay TARGET CORPUS_DIR_OR_FILE...\n");
    return 2;
  }
  kiln::fuzz::TargetFn target = kiln::fuzz::find_target(argv[1]);
  if (target == nullptr) {
    std::fprintf(stderr, "fuzz_replay: expected a known target, got \"%s\"\n", argv[1]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 2; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (const auto& entry : fs::recursive_directory_iterator(argv[i]))
        if (entry.is_regular_file()) inputs.push_back(entry.path());
    } else {
      inputs.emplace_back(argv[i]);
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "fuzz_replay %s: expected corpus files, got none\n", argv[1]);
    return 1;
  }
  std::sort(inputs.begin(), inputs.end());
  for (const fs::path& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fuzz_replay %s: %s: escaped exception: %s\n", argv[1], path.c_str(),
                   e.what());
      return 1;
    }
  }
  std::printf("fuzz_replay %s: %zu inputs replayed\n", argv[1], inputs.size());
  return 0;
}
