// What the command tests share: running the real `kiln` binary through the shell, a scratch
// run folder with a tiny corpus and config, and bit-for-bit comparison of checkpoints.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "train/checkpoint.h"

namespace kiln::cli_test {
namespace fs = std::filesystem;

struct CommandResult {
  int exit_code;
  std::string out;  // stdout and stderr together
};

// Runs `<prefix>kiln <args>` through the shell, capturing both output streams.
inline CommandResult kiln_via(const std::string& prefix, const std::string& args) {
  std::string command = prefix + std::string(KILN_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline CommandResult kiln(const std::string& args) {
  return kiln_via("", args);
}

// A run directory with a small corpus and a config that trains for `steps` steps.
struct TinyRun {
  fs::path dir;
  explicit TinyRun(const std::string& name) {
    dir = fs::path(::testing::TempDir()) / ("kiln_cli_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream corpus(dir / "corpus.txt");
    // A blank line every five lines makes documents for BERT; GPT reads it as plain text.
    for (int i = 0; i < 200; ++i)
      corpus << "the quick brown fox jumps over the lazy dog " << i % 10
             << (i % 5 == 4 ? "\n\n" : "\n");
  }
  ~TinyRun() { fs::remove_all(dir); }
  // Writes <dir>/<run>.yaml training into <dir>/<run>; `extra` is appended YAML.
  std::string config(const std::string& run, int steps,
                     const std::string& model = "n_layer: 1, n_head: 2, d_model: 16",
                     const std::string& extra = "") const {
    std::string path = (dir / (run + ".yaml")).string();
    std::ofstream(path)
        << "run: {name: " << run << ", out_dir: " << (dir / run).string() << ", seed: 5}\n"
        << "data: {train_files: [" << (dir / "corpus.txt").string() << "]}\n"
        << "model: {" << model << ", max_seq_len: 16, dropout: 0.1}\n"
        << "train: {batch_size: 4, seq_len: 16, max_steps: " << steps
        << ", optimizer: {lr: 1.0e-3}, schedule: {name: cosine, warmup_steps: 10}}\n"
        << "checkpoint: {every: 50, keep_last: 2}\n"
        << "eval: {every: 0}\n"
        << "log: {every: 100}\n"
        << extra;
    return path;
  }
};

inline std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Weights and AdamW moments of two checkpoints are equal bit for bit. (The files themselves
// differ: each stores its own run's config, whose out_dir differs.)
inline void expect_same_final_weights(const fs::path& a, const fs::path& b) {
  kiln::Checkpoint x = kiln::load_checkpoint(a.string()), y = kiln::load_checkpoint(b.string());
  ASSERT_EQ(x.model.size(), y.model.size());
  for (const auto& [name, t] : x.model) {
    EXPECT_EQ(t.to_floats(), y.model.at(name).to_floats()) << name;
    EXPECT_EQ(x.exp_avg.at(name).to_floats(), y.exp_avg.at(name).to_floats()) << name;
    EXPECT_EQ(x.exp_avg_sq.at(name).to_floats(), y.exp_avg_sq.at(name).to_floats()) << name;
  }
  EXPECT_EQ(x.optimizer_steps, y.optimizer_steps);
}

}  // namespace kiln::cli_test
