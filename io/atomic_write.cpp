// atomic_write and append_file over POSIX calls: fsync and rename need file descriptors, and
// errno gives the one-line reason.
#include "io/atomic_write.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "io/fault_point.h"

namespace kiln::io {
namespace {

// A file descriptor that closes itself on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports close()'s own result: NFS and quotas may report a failed write here.
  bool close_checked() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

[[noreturn]] void fail(const std::string& path, const std::string& what, int error) {
  throw Error(detail::concat(path, ": expected to ", what, ", got ", std::strerror(error)));
}

void write_all(int fd, std::string_view bytes, const std::string& path, const std::string& what) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(path, what, n < 0 ? errno : ENOSPC);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::string folder_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// Everything after the temporary file is complete and closed.
void sync_and_rename(const std::string& path, const std::string& temp) {
  fault_point("before_fsync");
  {
    // fsync works on a read-only descriptor; the writer (maybe HDF5) has closed its own.
    Fd fd(::open(temp.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) fail(path, "open " + temp + " for fsync", errno);
    if (::fsync(fd.get()) != 0) fail(path, "fsync " + temp, errno);
  }
  fault_point("after_fsync");
  fault_point("before_rename");
  if (std::rename(temp.c_str(), path.c_str()) != 0)
    fail(path, "rename " + temp + " over it", errno);
  fault_point("after_rename");
}

// Persists the rename itself. Some file systems cannot fsync a folder (EINVAL); the file's
// data is already on disk then, so only a real I/O error is reported.
void sync_folder(const std::string& path) {
  const std::string folder = folder_of(path);
  Fd fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail(path, "open its folder " + folder + " for fsync", errno);
  if (::fsync(fd.get()) != 0 && errno != EINVAL && errno != ENOTSUP)
    fail(path, "fsync its folder " + folder, errno);
}

}  // namespace

void atomic_write(const std::string& path,
                  const std::function<void(const std::string& temp_path)>& write_temp) {
  const std::string temp = path + ".tmp";
  try {
    write_temp(temp);
    fault_point("after_temp_write");
    sync_and_rename(path, temp);
  } catch (...) {
    // The temporary file must not outlive a failure (a full disk stays full otherwise); after a
    // successful rename it no longer exists and this does nothing.
    std::remove(temp.c_str());
    throw;
  }
  sync_folder(path);
}

void atomic_write(const std::string& path, std::span<const std::string_view> parts) {
  atomic_write(path, [&](const std::string& temp) {
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
      const int error = errno;
      fail(path, "create " + temp + (error == ENOENT ? " (does its folder exist?)" : ""), error);
    }
    for (std::string_view part : parts) write_all(fd.get(), part, path, "write " + temp);
    if (!fd.close_checked()) fail(path, "close " + temp, errno);
  });
}

void atomic_write(const std::string& path, std::string_view bytes) {
  atomic_write(path, std::span<const std::string_view>(&bytes, 1));
}

void append_file(const std::string& path, std::string_view bytes) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (fd.get() < 0) fail(path, "open for appending", errno);
  write_all(fd.get(), bytes, path, "append");
  if (!fd.close_checked()) fail(path, "close after appending", errno);
}

}  // namespace kiln::io
