// A small RAII wrapper over the HDF5 C library: float/int datasets by path, string
// datasets, and int64/string attributes on the root. Every failure names the file and path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace kiln {

class Hdf5File {
 public:
  enum class Mode { kRead, kCreate };  // kCreate truncates an existing file
  Hdf5File(const std::string& path, Mode mode);
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  // Writes a float32 or int32 tensor as dataset `name` ("/model/x.weight"), creating groups.
  void write_tensor(const std::string& name, const Tensor& t);
  // Reads dataset `name` as a tensor of its stored shape (float32 or int32; other numeric
  // types are converted to float32).
  Tensor read_tensor(const std::string& name) const;
  void write_string(const std::string& name, const std::string& text);
  std::string read_string(const std::string& name) const;
  bool has(const std::string& name) const;
  // Names of the datasets directly inside group `group` ("/model"), sorted.
  std::vector<std::string> list(const std::string& group) const;

  void set_attribute(const std::string& key, int64_t value);
  void set_attribute(const std::string& key, const std::string& value);
  int64_t int_attribute(const std::string& key) const;
  std::string string_attribute(const std::string& key) const;
  bool has_attribute(const std::string& key) const;

  // Flushes HDF5's buffers and closes the file (also done by the destructor).
  void close();
  const std::string& path() const { return path_; }

 private:
  void ensure_parent_groups(const std::string& name);
  std::string path_;
  int64_t file_ = -1;  // hid_t
};

}  // namespace kiln
