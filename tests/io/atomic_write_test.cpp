// io::atomic_write and io::append_file: the new file or the old one, never a mix; every
// failure is one line naming the path, leaves no temporary file and keeps the old file.
#include "io/atomic_write.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/hdf5_file.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// In a death-test child: writes stop with EFBIG beyond `bytes` (SIGXFSZ ignored, as a shell
// with `ulimit -f` and a disk quota behave), so every write path sees a real full-disk error.
void limit_file_size(rlim_t bytes) {
  std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = {bytes, bytes};
  if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) std::_Exit(99);
}

// In a death-test child: the folder's permissions apply even to root (tests may run as root,
// who may write anywhere), by becoming "nobody".
void lose_root() {
  if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(98);
}

// Runs `write` and exits 1 after printing its kiln::Error, as the kiln binary does; std::exit
// runs the libraries' exit handlers (HDF5's among them), which must not crash.
template <typename Fn>
void exit_with_error(Fn&& write) {
  try {
    write();
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    std::exit(1);
  }
  std::exit(0);
}

class AtomicWriteTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    path_ = (dir_ / "file.bin").string();
    write("file.bin", "old contents");
  }
  std::string path_;
};

TEST_F(AtomicWriteTest, ReplacesTheFileAndLeavesNoTemporary) {
  io::atomic_write(path_, std::string_view("new contents"));
  EXPECT_EQ(read_file(path_), "new contents");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
  const std::string_view parts[] = {"ab", "", "cde"};
  io::atomic_write(path_, parts);
  EXPECT_EQ(read_file(path_), "abcde");
  // A file in the current folder (no folder part) works too: the folder fsync uses ".".
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  io::atomic_write("plain.txt", std::string_view("x"));
  fs::current_path(cwd);
  EXPECT_EQ(read_file(dir_ / "plain.txt"), "x");
}

TEST_F(AtomicWriteTest, CallbackWritesTheTemporaryByPath) {
  std::string seen;
  io::atomic_write(path_, [&](const std::string& temp) {
    seen = temp;
    std::ofstream(temp, std::ios::binary) << "from a library";
  });
  EXPECT_EQ(seen, path_ + ".tmp");
  EXPECT_EQ(read_file(path_), "from a library");
  EXPECT_FALSE(fs::exists(seen));
}

TEST_F(AtomicWriteTest, AFailingWriterLeavesTheOldFileAndNoTemporary) {
  EXPECT_EQ(error_of([&] {
              io::atomic_write(path_, [&](const std::string& temp) {
                std::ofstream(temp, std::ios::binary) << "half a file";
                throw Error(temp + ": expected to write, got a failure");
              });
            }),
            path_ + ".tmp: expected to write, got a failure");
  EXPECT_EQ(read_file(path_), "old contents");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
  // A writer that never creates the file: the fsync step names it.
  EXPECT_EQ(
      error_of([&] { io::atomic_write(path_, [](const std::string&) {}); }),
      path_ + ": expected to open " + path_ + ".tmp for fsync, got No such file or directory");
  EXPECT_EQ(read_file(path_), "old contents");
}

TEST_F(AtomicWriteTest, AMissingFolderIsOneLine) {
  const std::string missing = (dir_ / "no" / "such.bin").string();
  EXPECT_EQ(error_of([&] { io::atomic_write(missing, std::string_view("x")); }),
            missing + ": expected to create " + missing +
                ".tmp (does its folder exist?), got No such file or directory");
}

TEST_F(AtomicWriteTest, RenameOntoAFolderFailsAndRemovesTheTemporary) {
  fs::create_directories(dir_ / "taken" / "inner");
  const std::string taken = (dir_ / "taken").string();
  EXPECT_EQ(error_of([&] { io::atomic_write(taken, std::string_view("x")); }),
            taken + ": expected to rename " + taken + ".tmp over it, got Is a directory");
  EXPECT_FALSE(fs::exists(taken + ".tmp"));
  EXPECT_TRUE(fs::is_directory(dir_ / "taken" / "inner"));
}

TEST_F(AtomicWriteTest, AFullDiskFailsCleanly) {
  const std::string big(64 * 1024, 'x');
  EXPECT_EXIT(
      {
        limit_file_size(4096);
        exit_with_error([&] { io::atomic_write(path_, big); });
      },
      ::testing::ExitedWithCode(1),
      "^error: " + path_ + ": expected to write " + path_ + ".tmp, got File too large\n$");
  EXPECT_EQ(read_file(path_), "old contents");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

// The crash of issue 15: HDF5 fails to close a file on a full disk, then closed it again at
// exit and died with SIGSEGV (exit 139). Now: one line, exit 1, no temporary, old file kept.
TEST_F(AtomicWriteTest, AFullDiskDuringAnHdf5WriteExitsWithoutACrash) {
  const std::vector<float> values(200 * 1024, 0.5f);  // 800 KB, far above the limit
  EXPECT_EXIT(
      {
        limit_file_size(200 * 1024);
        exit_with_error([&] {
          io::atomic_write(path_, [&](const std::string& temp) {
            Hdf5File file(temp, Hdf5File::Mode::kCreate);
            file.write_floats("/model/w", {static_cast<int64_t>(values.size())}, values.data());
            file.close();
          });
        });
      },
      ::testing::ExitedWithCode(1), "^error: [^\n]*\\.tmp: [^\n]*File too large[^\n]*\n$");
  EXPECT_EQ(read_file(path_), "old contents");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(AtomicWriteTest, AReadOnlyFolderFailsCleanly) {
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                            fs::perms::group_exec | fs::perms::others_read |
                            fs::perms::others_exec);
  EXPECT_EXIT(
      {
        lose_root();
        exit_with_error([&] { io::atomic_write(path_, std::string_view("new")); });
      },
      ::testing::ExitedWithCode(1),
      "^error: " + path_ + ": expected to create " + path_ + ".tmp, got Permission denied\n$");
  EXPECT_EXIT(
      {
        lose_root();
        exit_with_error([&] {
          io::atomic_write(path_, [&](const std::string& temp) {
            Hdf5File file(temp, Hdf5File::Mode::kCreate);
            file.close();
          });
        });
      },
      ::testing::ExitedWithCode(1),
      "^error: " + path_ +
          ".tmp: expected to create an HDF5 file, got an HDF5 error "
          "\\(Permission denied\\)\n$");
  EXPECT_EXIT(
      {
        lose_root();
        exit_with_error([&] { io::append_file((dir_ / "log.jsonl").string(), "{}\n"); });
      },
      ::testing::ExitedWithCode(1),
      "^error: " + (dir_ / "log.jsonl").string() +
          ": expected to open for appending, got Permission denied\n$");
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_EQ(read_file(path_), "old contents");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(AtomicWriteTest, AppendAddsToTheEndAndCreatesTheFile) {
  const std::string log = (dir_ / "log.jsonl").string();
  io::append_file(log, "a\n");
  io::append_file(log, "b\n");
  EXPECT_EQ(read_file(log), "a\nb\n");
  const std::string big(64 * 1024, 'x');
  EXPECT_EXIT(
      {
        limit_file_size(4096);
        exit_with_error([&] { io::append_file(log, big); });
      },
      ::testing::ExitedWithCode(1),
      "^error: " + log + ": expected to append, got File too large\n$");
}

}  // namespace
}  // namespace kiln
