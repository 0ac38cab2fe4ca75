// Tensors in HDF5 files: the bridge between io/hdf5_file.h, which knows no Tensor, and the
// checkpoint, import and forward code.
#pragma once

#include <string>

#include "autograd/tensor.h"
#include "io/hdf5_file.h"

namespace kiln {

// Writes a float32 or int32 tensor as dataset `name` ("/model/x.weight"), creating groups.
void write_tensor(Hdf5File& file, const std::string& name, const Tensor& t);
// Reads dataset `name` as a tensor of its stored shape: int32 for integer datasets, float32
// for every other numeric type.
Tensor read_tensor(const Hdf5File& file, const std::string& name);

}  // namespace kiln
