// ScratchDirTest: a googletest fixture giving each test its own scratch directory, shared by the
// test executables that read and write files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

namespace kiln {

// Each test gets a fresh directory TempDir()/kiln_<suite>_<test>_<pid>, removed afterwards.
// A fixture that needs more set-up overrides SetUp() and calls ScratchDirTest::SetUp() first.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "kiln_" + std::string(info->test_suite_name()) + "_" +
                       std::string(info->name()) + "_" + std::to_string(::getpid());
    std::replace(name.begin(), name.end(), '/', '_');  // parameterised tests: "Suite/0"
    dir_ = std::filesystem::path(::testing::TempDir()) / name;
    std::filesystem::remove_all(dir_);  // a leftover of a crashed run with the same pid
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `bytes` (binary) to `name` under the directory, creating its parent directories;
  // returns the file's path.
  std::string write(const std::string& name, const std::string& bytes) {
    const std::filesystem::path path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
    return path.string();
  }

  std::filesystem::path dir_;
};

}  // namespace kiln
