// HDF5 C-API calls behind Hdf5File. HDF5's own error printing is silenced; we check every
// return code and throw kiln::Error with the file and object path instead.
#include "io/hdf5_file.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/error.h"

namespace kiln {
namespace {

void silence_hdf5() {
  static bool done = [] {
    // When H5Fclose fails (a full disk), HDF5 1.10 keeps the half-closed file's id, and its
    // exit-time cleanup closes it again and crashes (SIGSEGV in H5F__close_cb). kiln closes
    // every file itself, so the cleanup is not needed. This must precede any other HDF5 call.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// "an HDF5 error", with the system's reason when HDF5's file driver recorded one ("errno = 27"
// in its message for a failed write), so that a full disk reads as "File too large".
std::string hdf5_error() {
  int error = 0;
  auto visit = [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
    const char* at = e->desc == nullptr ? nullptr : std::strstr(e->desc, "errno = ");
    if (at != nullptr && *static_cast<int*>(out) == 0) *static_cast<int*>(out) = std::atoi(at + 8);
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, visit, &error);
  if (error <= 0) return "an HDF5 error";
  return std::string("an HDF5 error (") + std::strerror(error) + ")";
}

// Closes an HDF5 handle when it goes out of scope.
struct Handle {
  hid_t id;
  herr_t (*closer)(hid_t);
  ~Handle() {
    if (id >= 0) closer(id);
  }
};

// The bytes of `elements` items of `element_size`, or an error naming `what` when the product
// overflows or exceeds what the dataset stores in the file. A header may declare any shape,
// and an unwritten dataset reads as fill values, so without this a file of a few KB could
// make the reader allocate terabytes. Filtered (compressed) data may expand, but not beyond
// 1032:1, deflate's best ratio.
uint64_t checked_dataset_bytes(hid_t file, hid_t set, uint64_t elements, uint64_t element_size,
                               const std::string& path, const std::string& what) {
  uint64_t bytes = 0;
  KILN_CHECK(!__builtin_mul_overflow(elements, element_size, &bytes), path, ": ", what,
             ": expected a size that fits 64 bits, got ", elements, " elements of ", element_size,
             " bytes");
  hsize_t file_size = 0;
  H5Fget_filesize(file, &file_size);
  const uint64_t stored = H5Dget_storage_size(set);
  Handle props{H5Dget_create_plist(set), H5Pclose};
  const bool filtered = props.id >= 0 && H5Pget_nfilters(props.id) > 0;
  const uint64_t most = filtered ? stored * 1032 : stored;
  KILN_CHECK(stored <= file_size && bytes <= most, path, ": ", what, ": expected at most ", most,
             " bytes (what the file stores for it), got a shape of ", elements, " elements (",
             bytes, " bytes)");
  return bytes;
}

// Whether attribute `attr` holds exactly one value (a scalar or a one-element array): reading
// any other into one value would overrun the buffer.
bool single_value(hid_t attr) {
  Handle space{H5Aget_space(attr), H5Sclose};
  return space.id >= 0 && H5Sget_simple_extent_npoints(space.id) == 1;
}

}  // namespace

Hdf5File::Hdf5File(const std::string& path, Mode mode) : path_(path) {
  silence_hdf5();
  if (mode == Mode::kCreate)
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  else
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  KILN_CHECK(file_ >= 0 || mode != Mode::kCreate, path, ": expected to create an HDF5 file, got ",
             hdf5_error());
  KILN_CHECK(file_ >= 0, path,
             ": expected a readable HDF5 file, got a file HDF5 cannot open (missing, unreadable, "
             "or not HDF5)");
}

Hdf5File::~Hdf5File() {
  if (file_ >= 0) H5Fclose(file_);
}

void Hdf5File::close() {
  if (file_ < 0) return;
  const hid_t file = file_;
  // Never closed twice, whatever happens: a failed H5Fclose leaves the id to HDF5.
  file_ = -1;
  std::string reason;
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) reason = hdf5_error();
  if (H5Fclose(file) < 0 && reason.empty()) reason = hdf5_error();
  KILN_CHECK(reason.empty(), path_, ": expected the file to close cleanly, got ", reason);
}

void Hdf5File::ensure_parent_groups(const std::string& name) {
  for (std::size_t slash = name.find('/', 1); slash != std::string::npos;
       slash = name.find('/', slash + 1)) {
    std::string group = name.substr(0, slash);
    if (H5Lexists(file_, group.c_str(), H5P_DEFAULT) > 0) continue;
    Handle g{H5Gcreate2(file_, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    KILN_CHECK(g.id >= 0, path_, ": expected to create group ", group, ", got ", hdf5_error());
  }
}

bool Hdf5File::has(const std::string& name) const {
  // H5Lexists needs every parent to exist, so test each prefix in turn.
  for (std::size_t slash = name.find('/', 1);; slash = name.find('/', slash + 1)) {
    std::string prefix = name.substr(0, slash);
    if (H5Lexists(file_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
  }
}

void Hdf5File::write_array(const std::string& name, const std::vector<int64_t>& shape, bool is_int,
                           const void* data) {
  ensure_parent_groups(name);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space{H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose};
  hid_t type = is_int ? H5T_STD_I32LE : H5T_IEEE_F32LE;
  hid_t memtype = is_int ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT;
  Handle set{H5Dcreate2(file_, name.c_str(), type, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             H5Dclose};
  KILN_CHECK(set.id >= 0, path_, ": expected to create dataset ", name, ", got ", hdf5_error());
  KILN_CHECK(H5Dwrite(set.id, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, path_,
             ": expected to write dataset ", name, ", got ", hdf5_error());
}

void Hdf5File::write_floats(const std::string& name, const std::vector<int64_t>& shape,
                            const float* data) {
  write_array(name, shape, false, data);
}

void Hdf5File::write_ints(const std::string& name, const std::vector<int64_t>& shape,
                          const int32_t* data) {
  write_array(name, shape, true, data);
}

Hdf5Dataset Hdf5File::dataset(const std::string& name) const {
  KILN_CHECK(has(name), path_, ": expected a dataset ", name, ", got none");
  Handle set{H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose};
  KILN_CHECK(set.id >= 0, path_, ": expected ", name, " to be a dataset, got something else");
  Handle space{H5Dget_space(set.id), H5Sclose};
  int rank = H5Sget_simple_extent_ndims(space.id);
  KILN_CHECK(rank >= 0, path_, ": expected a simple dataspace for ", name, ", got another kind");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  uint64_t elements = 1;
  std::string shape_text;
  for (hsize_t d : dims) shape_text += (shape_text.empty() ? "" : ", ") + std::to_string(d);
  for (hsize_t d : dims)
    KILN_CHECK(
        d <= INT64_MAX && !__builtin_mul_overflow(elements, d, &elements) && elements <= INT64_MAX,
        path_, ": ", name, ": expected a shape whose size fits 63 bits, got [", shape_text, "]");
  Handle type{H5Dget_type(set.id), H5Tclose};
  const size_t stored_element = type.id >= 0 ? H5Tget_size(type.id) : 0;
  checked_dataset_bytes(file_, set.id, elements, std::max<size_t>(stored_element, 1), path_, name);
  return Hdf5Dataset{std::vector<int64_t>(dims.begin(), dims.end()),
                     H5Tget_class(type.id) == H5T_INTEGER};
}

void Hdf5File::read_array(const std::string& name, bool is_int, void* out) const {
  KILN_CHECK(has(name), path_, ": expected a dataset ", name, ", got none");
  Handle set{H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose};
  KILN_CHECK(set.id >= 0, path_, ": expected ", name, " to be a dataset, got something else");
  KILN_CHECK(H5Dread(set.id, is_int ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                     H5P_DEFAULT, out) >= 0,
             path_, ": expected to read dataset ", name, " as ", is_int ? "int32" : "float32",
             ", got an HDF5 error");
}

void Hdf5File::read_floats(const std::string& name, float* out) const {
  read_array(name, false, out);
}

void Hdf5File::read_ints(const std::string& name, int32_t* out) const {
  read_array(name, true, out);
}

void Hdf5File::write_string(const std::string& name, const std::string& text) {
  ensure_parent_groups(name);
  // Stored as a byte array: exact for any content (embedded NULs, any encoding) and
  // readable from h5py as bytes(f[name][()]).
  hsize_t n = text.size();
  Handle space{H5Screate_simple(1, &n, nullptr), H5Sclose};
  Handle set{H5Dcreate2(file_, name.c_str(), H5T_STD_U8LE, space.id, H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT),
             H5Dclose};
  KILN_CHECK(set.id >= 0, path_, ": expected to create dataset ", name, ", got ", hdf5_error());
  if (n > 0)
    KILN_CHECK(H5Dwrite(set.id, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data()) >= 0,
               path_, ": expected to write ", name, ", got ", hdf5_error());
}

std::string Hdf5File::read_string(const std::string& name) const {
  KILN_CHECK(has(name), path_, ": expected a dataset ", name, ", got none");
  Handle set{H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose};
  KILN_CHECK(set.id >= 0, path_, ": expected ", name, " to be a dataset, got something else");
  Handle space{H5Dget_space(set.id), H5Sclose};
  hssize_t n = H5Sget_simple_extent_npoints(space.id);
  KILN_CHECK(n >= 0, path_, ": expected a byte array at ", name, ", got an unreadable dataspace");
  checked_dataset_bytes(file_, set.id, static_cast<uint64_t>(n), 1, path_, name);
  std::string text(static_cast<std::size_t>(n), '\0');
  if (n > 0)
    KILN_CHECK(H5Dread(set.id, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data()) >= 0,
               path_, ": expected a byte array at ", name, ", got an HDF5 read error");
  return text;
}

std::vector<std::string> Hdf5File::list(const std::string& group) const {
  std::vector<std::string> names;
  if (!has(group)) return names;
  auto visit = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  H5Literate_by_name(file_, group.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr, visit, &names,
                     H5P_DEFAULT);
  std::sort(names.begin(), names.end());
  return names;
}

void Hdf5File::set_attribute(const std::string& key, int64_t value) {
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle attr{H5Acreate2(file_, key.c_str(), H5T_STD_I64LE, space.id, H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose};
  KILN_CHECK(attr.id >= 0 && H5Awrite(attr.id, H5T_NATIVE_INT64, &value) >= 0, path_,
             ": expected to write attribute ", key, ", got ", hdf5_error());
}

void Hdf5File::set_attribute(const std::string& key, const std::string& value) {
  Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type.id, std::max<std::size_t>(1, value.size()));
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle attr{H5Acreate2(file_, key.c_str(), type.id, space.id, H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose};
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  KILN_CHECK(attr.id >= 0 && H5Awrite(attr.id, type.id, padded.data()) >= 0, path_,
             ": expected to write attribute ", key, ", got ", hdf5_error());
}

bool Hdf5File::has_attribute(const std::string& key) const {
  return H5Aexists(file_, key.c_str()) > 0;
}

int64_t Hdf5File::int_attribute(const std::string& key) const {
  KILN_CHECK(has_attribute(key), path_, ": expected a root attribute '", key, "', got none");
  Handle attr{H5Aopen(file_, key.c_str(), H5P_DEFAULT), H5Aclose};
  KILN_CHECK(attr.id >= 0 && single_value(attr.id), path_, ": expected attribute '", key,
             "' to hold one value, got another shape");
  int64_t value = 0;
  KILN_CHECK(H5Aread(attr.id, H5T_NATIVE_INT64, &value) >= 0, path_, ": expected attribute '", key,
             "' to be an integer, got another type");
  return value;
}

std::string Hdf5File::string_attribute(const std::string& key) const {
  KILN_CHECK(has_attribute(key), path_, ": expected a root attribute '", key, "', got none");
  Handle attr{H5Aopen(file_, key.c_str(), H5P_DEFAULT), H5Aclose};
  Handle type{H5Aget_type(attr.id), H5Tclose};
  KILN_CHECK(attr.id >= 0 && single_value(attr.id), path_, ": expected attribute '", key,
             "' to hold one value, got another shape");
  KILN_CHECK(H5Tget_class(type.id) == H5T_STRING && H5Tis_variable_str(type.id) == 0, path_,
             ": expected attribute '", key, "' to be a fixed-length string, got another type");
  // The declared length comes from the file: no longer than the file itself.
  hsize_t file_size = 0;
  H5Fget_filesize(file_, &file_size);
  const size_t length = H5Tget_size(type.id);
  KILN_CHECK(length <= file_size, path_, ": attribute '", key, "': expected at most ", file_size,
             " bytes (the file's size), got a string of ", length);
  std::string value(length, '\0');
  KILN_CHECK(H5Aread(attr.id, type.id, value.data()) >= 0, path_, ": expected to read attribute '",
             key, "', got an HDF5 error");
  value.resize(std::strlen(value.c_str()));
  return value;
}

}  // namespace kiln
