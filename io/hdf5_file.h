// A small RAII wrapper over the HDF5 C library: float32/int32 datasets by path, string
// datasets, and int64/string attributes on the root. Every failure names the file and path.
// Tensors are read and written through train/hdf5_tensor.h (io/ knows no Tensor).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

// The stored shape and element kind of a numeric dataset.
struct Hdf5Dataset {
  std::vector<int64_t> shape;
  bool is_int = false;  // integer class (read as int32); anything else is read as float32
};

class Hdf5File {
 public:
  enum class Mode { kRead, kCreate };  // kCreate truncates an existing file
  Hdf5File(const std::string& path, Mode mode);
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  // Writes row-major `data` of `shape` as dataset `name` ("/model/x.weight"), creating groups.
  void write_floats(const std::string& name, const std::vector<int64_t>& shape, const float* data);
  void write_ints(const std::string& name, const std::vector<int64_t>& shape, const int32_t* data);
  // The shape and kind of dataset `name`; an error if there is none.
  Hdf5Dataset dataset(const std::string& name) const;
  // Reads dataset `name` into `out`, which holds as many elements as dataset(name).shape says;
  // other numeric types are converted (to float32 or int32).
  void read_floats(const std::string& name, float* out) const;
  void read_ints(const std::string& name, int32_t* out) const;
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

  // Flushes HDF5's buffers and closes the file (also done by the destructor, which cannot
  // report a failure: a writer calls close() to learn whether the file is complete).
  void close();
  const std::string& path() const { return path_; }

 private:
  void ensure_parent_groups(const std::string& name);
  void write_array(const std::string& name, const std::vector<int64_t>& shape, bool is_int,
                   const void* data);
  void read_array(const std::string& name, bool is_int, void* out) const;
  std::string path_;
  int64_t file_ = -1;  // hid_t
};

}  // namespace kiln
