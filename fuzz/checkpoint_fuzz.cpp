// Fuzz target: kiln's checkpoint reader (train/checkpoint.h load_checkpoint) on files HDF5 can
// open but whose attributes, datasets, shapes, dtypes and links are wrong. The input drives a
// generator that writes such a file with the HDF5 C API; choice 0 is always the well-formed
// one, so an input of zero choices and real texts is a valid checkpoint (the seeds).
// What the loaded checkpoint holds then goes where kiln sends it: the config to
// parse_config, the tokenizer to Tokenizer::from_serialized.
#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "fuzz/fuzz_target.h"
#include "train/checkpoint.h"
#include "train/config.h"

namespace {

// Reads choices and values from the fuzzer's bytes; zeros once they run out.
class Choices {
 public:
  Choices(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t u64(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(byte()) << (8 * i);
    return v;
  }
  // A length-prefixed (2 bytes, little-endian) byte string.
  std::string blob() {
    size_t n = std::min<size_t>(u64(2), size_ - std::min(pos_, size_));
    std::string s(reinterpret_cast<const char*>(data_) + std::min(pos_, size_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Closes an HDF5 handle at scope exit (ignores failed creations).
struct H5Handle {
  hid_t id;
  herr_t (*closer)(hid_t);
  ~H5Handle() {
    if (id >= 0) closer(id);
  }
};

void int_attribute(hid_t file, const char* key, int64_t value) {
  H5Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  H5Handle attr{H5Acreate2(file, key, H5T_STD_I64LE, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (attr.id >= 0) H5Awrite(attr.id, H5T_NATIVE_INT64, &value);
}

void string_attribute(hid_t file, const char* key, const std::string& value, bool variable) {
  H5Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
  if (variable)
    H5Tset_size(type.id, H5T_VARIABLE);
  else
    H5Tset_size(type.id, std::max<size_t>(1, value.size()));
  H5Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  H5Handle attr{H5Acreate2(file, key, type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (attr.id < 0) return;
  if (variable) {
    const char* p = value.c_str();
    H5Awrite(attr.id, type.id, &p);
  } else {
    std::string padded = value.empty() ? std::string(1, '\0') : value;
    H5Awrite(attr.id, type.id, padded.data());
  }
}

// One root attribute: the well-formed value (choice 0), absent, or of another type.
void attribute(Choices& in, hid_t file, const char* key, int64_t natural_int,
               const std::string& natural_text, bool is_text) {
  switch (in.byte() % 7) {
    case 0:
      if (is_text)
        string_attribute(file, key, natural_text, false);
      else
        int_attribute(file, key, natural_int);
      break;
    case 1:
      break;  // absent
    case 2:
      int_attribute(file, key, static_cast<int64_t>(in.u64(8)));
      break;
    case 3:
      string_attribute(file, key, in.blob(), false);
      break;
    case 4:
      string_attribute(file, key, in.blob(), true);
      break;
    case 5: {
      double value = 0;
      uint64_t bits = in.u64(8);
      std::memcpy(&value, &bits, sizeof value);
      H5Handle space{H5Screate(H5S_SCALAR), H5Sclose};
      H5Handle attr{H5Acreate2(file, key, H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5P_DEFAULT),
                    H5Aclose};
      if (attr.id >= 0) H5Awrite(attr.id, H5T_NATIVE_DOUBLE, &value);
      break;
    }
    default: {
      hsize_t n = 1 + in.byte() % 4;
      int64_t values[4] = {static_cast<int64_t>(in.u64(2)), 1, 2, 3};
      H5Handle space{H5Screate_simple(1, &n, nullptr), H5Sclose};
      H5Handle attr{H5Acreate2(file, key, H5T_STD_I64LE, space.id, H5P_DEFAULT, H5P_DEFAULT),
                    H5Aclose};
      if (attr.id >= 0) H5Awrite(attr.id, H5T_NATIVE_INT64, values);
      break;
    }
  }
}

// The file type of element-type choice `c`.
hid_t element_type(uint8_t c) {
  switch (c % 6) {
    case 0:
      return H5T_IEEE_F32LE;
    case 1:
      return H5T_IEEE_F64LE;
    case 2:
      return H5T_STD_I32LE;
    case 3:
      return H5T_STD_I64LE;
    case 4:
      return H5T_STD_U8LE;
    default:
      return H5T_STD_I8BE;
  }
}

// A dataset `name` of rank, dims, type, layout and contents chosen by the input. Large
// declared shapes are never written, so the file stays small while claiming a lot.
void dataset(Choices& in, hid_t where, const std::string& name, hid_t type, int rank,
             std::vector<hsize_t> dims, const std::string& contents) {
  hsize_t elements = 1;
  bool huge = false;
  for (hsize_t d : dims) {
    if (d > 0 && elements > (hsize_t{1} << 40) / d) huge = true;
    elements *= d;
  }
  H5Handle space{rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), nullptr),
                 H5Sclose};
  if (space.id < 0) return;
  H5Handle props{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
  const uint8_t layout = in.byte() % 3;
  if (layout == 1 && rank > 0 && elements > 0) {
    std::vector<hsize_t> chunk(dims);
    for (hsize_t& c : chunk) c = std::min<hsize_t>(c, 16);
    H5Pset_chunk(props.id, rank, chunk.data());
  } else if (layout == 2 && !huge && elements * H5Tget_size(type) < 32000) {
    H5Pset_layout(props.id, H5D_COMPACT);
  }
  H5Handle set{H5Dcreate2(where, name.c_str(), type, space.id, H5P_DEFAULT, props.id, H5P_DEFAULT),
               H5Dclose};
  if (set.id < 0 || huge || elements == 0 || elements > 100000 || in.byte() % 4 == 3) return;
  // Contents: the given bytes, repeated to fill the dataset's elements.
  std::vector<uint8_t> bytes(elements * H5Tget_size(type));
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = contents.empty() ? static_cast<uint8_t>(i) : contents[i % contents.size()];
  H5Dwrite(set.id, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data());
}

// A byte-array text dataset (/config, /tokenizer): well-formed, absent, or something else.
void text_dataset(Choices& in, hid_t file, const char* name, const std::string& text) {
  switch (in.byte() % 6) {
    case 0:
      dataset(in, file, name, H5T_STD_U8LE, 1, {text.size()}, text);
      break;
    case 1:
      break;
    case 2: {
      const hid_t type = element_type(in.byte());
      dataset(in, file, name, type, 2, {text.size() / 2 + 1, 2}, text);
      break;
    }
    case 3:
      H5Gclose(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      break;
    case 4: {  // a huge declared length that was never written
      const hsize_t length = in.u64(6) + 1;
      dataset(in, file, name, H5T_STD_U8LE, 1, {length}, text);
      break;
    }
    default:
      H5Lcreate_soft("/nowhere", file, name, H5P_DEFAULT, H5P_DEFAULT);
      break;
  }
}

// A group of tensors (/model, /optimizer/exp_avg, ...): n datasets of chosen shape and type.
void tensor_group(Choices& in, hid_t file, const char* group) {
  const uint8_t kind = in.byte() % 5;
  if (kind == 1) return;
  if (kind == 3) {
    H5Lcreate_soft("/model/missing", file, group, H5P_DEFAULT, H5P_DEFAULT);
    return;
  }
  H5Handle links{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
  H5Pset_create_intermediate_group(links.id, 1);
  if (kind == 4) {  // a dataset where a group belongs
    dataset(in, file, group, H5T_IEEE_F32LE, 1, {4}, "");
    return;
  }
  H5Handle g{H5Gcreate2(file, group, links.id, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
  if (g.id < 0) return;
  const int count = kind == 2 ? in.byte() % 8 : 1 + in.byte() % 3;
  for (int i = 0; i < count; ++i) {
    std::string name = in.blob();
    // A new string moved in: "w" + ... copied into name made GCC 12 warn falsely (-Wrestrict).
    if (name.empty() || name.find_first_of("/") != std::string::npos || name == "." ||
        name.find('\0') != std::string::npos)
      name = std::string("w") + std::to_string(i);
    const int rank = in.byte() % 5;
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    for (hsize_t& d : dims) {
      switch (in.byte() % 4) {
        case 0:
          d = 1 + in.byte() % 8;
          break;
        case 1:
          d = 0;
          break;
        case 2:
          d = (hsize_t{1} << 31) + in.u64(2);
          break;
        default:
          d = in.u64(4);
          break;
      }
    }
    // Separate statements: argument evaluation order is unspecified, and the seeds rely on it.
    const hid_t type = element_type(in.byte());
    const std::string contents = in.blob();
    dataset(in, g.id, name, type, rank, dims, contents);
  }
}

}  // namespace

KILN_FUZZ_TARGET(checkpoint) {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
  Choices in(data, size);
  const std::string path = kiln::fuzz::scratch_file("ckpt.h5", "");
  {
    H5Handle file{H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
    kiln::fuzz::require(file.id >= 0, "the generator can create its HDF5 file");
    attribute(in, file.id, "format", 0, kiln::kCheckpointFormat, true);
    attribute(in, file.id, "version", kiln::kCheckpointVersion, "", false);
    attribute(in, file.id, "step", static_cast<int64_t>(in.u64(2)), "", false);
    attribute(in, file.id, "tokens_seen", static_cast<int64_t>(in.u64(3)), "", false);
    attribute(in, file.id, "best_val_loss", 0, "1.25", true);
    attribute(in, file.id, "optimizer_steps", static_cast<int64_t>(in.u64(2)), "", false);
    const std::string config = in.blob();
    const std::string tokenizer = in.blob();
    text_dataset(in, file.id, "/config", config);
    text_dataset(in, file.id, "/tokenizer", tokenizer);
    tensor_group(in, file.id, "/model");
    tensor_group(in, file.id, "/optimizer/exp_avg");
    tensor_group(in, file.id, "/optimizer/exp_avg_sq");
  }
  kiln::fuzz::refusal_is_fine([&] {
    const kiln::Checkpoint checkpoint = kiln::load_checkpoint(path);
    kiln::fuzz::require(checkpoint.state.step >= 0, "a loaded checkpoint has step >= 0");
    kiln::fuzz::refusal_is_fine(
        [&] { (void)kiln::parse_config(checkpoint.state.config_yaml, path + ":/config"); });
    kiln::fuzz::refusal_is_fine(
        [&] { (void)kiln::Tokenizer::from_serialized(checkpoint.state.tokenizer); });
  });
  return 0;
}
