// KILN_FAULT_POINT: the process dies by SIGKILL exactly at the named point of an atomic write,
// leaving the files a real crash there would leave. Each case runs in a re-executed child
// ("threadsafe" death tests), since the variable is read once per process.
#include "io/fault_point.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "io/atomic_write.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The re-executed child recomputes this path, so it must not depend on the pid.
fs::path fault_dir(const std::string& point) {
  return fs::path(::testing::TempDir()) / ("kiln_fault_point_" + point);
}

struct Outcome {
  std::string file;  // the target's contents afterwards
  bool temp_left = false;
  std::string temp;  // the temporary file's contents, if it is left
};

// Two writes of "one" then "two" over "old", killed at KILN_FAULT_POINT=`setting`.
Outcome kill_at(const std::string& point, const std::string& setting) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const fs::path dir = fault_dir(point);
  const std::string path = (dir / "file.txt").string();
  // The child runs this set-up again before the statement, to the same effect.
  fs::create_directories(dir);
  std::ofstream(path) << "old";
  fs::remove(path + ".tmp");
  EXPECT_EXIT(
      {
        ::setenv("KILN_FAULT_POINT", setting.c_str(), 1);
        io::atomic_write(path, std::string_view("one"));
        io::atomic_write(path, std::string_view("two"));
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "");
  Outcome out{read_file(path), fs::exists(path + ".tmp"), read_file(path + ".tmp")};
  fs::remove_all(dir);
  return out;
}

TEST(FaultPointTest, StopsAtEachNamedPointOfTheFirstWrite) {
  for (const char* point : {"after_temp_write", "before_fsync", "after_fsync", "before_rename"}) {
    const Outcome o = kill_at(point, point);
    EXPECT_EQ(o.file, "old") << point;
    EXPECT_TRUE(o.temp_left) << point;
    EXPECT_EQ(o.temp, "one") << point;
  }
  const Outcome o = kill_at("after_rename", "after_rename");
  EXPECT_EQ(o.file, "one");
  EXPECT_FALSE(o.temp_left);
}

TEST(FaultPointTest, NameColonNStopsAtTheNthHit) {
  const Outcome o = kill_at("before_rename_2", "before_rename:2");
  EXPECT_EQ(o.file, "one");
  EXPECT_TRUE(o.temp_left);
  EXPECT_EQ(o.temp, "two");
}

TEST(FaultPointTest, OtherNamesAndUnsetDoNothing) {
  // This process never set the variable, and a name no point has is inert in a child too.
  io::fault_point("after_temp_write");
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("KILN_FAULT_POINT", "no_such_point", 1);
        io::fault_point("after_temp_write");
        io::fault_point("before_rename");
        std::exit(3);
      },
      ::testing::ExitedWithCode(3), "");
}

}  // namespace
}  // namespace kiln
