// write_tensor / read_tensor over Hdf5File's raw arrays.
#include "train/hdf5_tensor.h"

namespace kiln {

void write_tensor(Hdf5File& file, const std::string& name, const Tensor& t) {
  if (t.dtype() == DType::kF32)
    file.write_floats(name, t.shape(), t.data());
  else
    file.write_ints(name, t.shape(), t.ints());
}

Tensor read_tensor(const Hdf5File& file, const std::string& name) {
  const Hdf5Dataset info = file.dataset(name);
  Tensor t = Tensor::empty(info.shape, info.is_int ? DType::kI32 : DType::kF32);
  if (info.is_int)
    file.read_ints(name, t.ints());
  else
    file.read_floats(name, t.data());
  return t;
}

}  // namespace kiln
