// Tests for load_checkpoint on hostile files that HDF5 opens: shapes the file does not store,
// attributes of the wrong shape, negative counters. Each is refused in one line naming the
// file and the dataset or attribute, before anything of the claimed size is allocated.
#include <hdf5.h>

#include <gtest/gtest.h>

#include <string>

#include "io/hdf5_file.h"
#include "tests/error_of.h"
#include "tests/scratch_dir.h"
#include "train/checkpoint.h"
#include "train/hdf5_tensor.h"

namespace kiln {
namespace {

class CheckpointHostileTest : public ScratchDirTest {
 protected:
  // A minimal well-formed checkpoint with one 2x3 weight; returns its path.
  std::string good_checkpoint(int64_t step = 3) {
    const std::string path = (dir_ / "ckpt.h5").string();
    Hdf5File file(path, Hdf5File::Mode::kCreate);
    file.set_attribute("format", kCheckpointFormat);
    file.set_attribute("version", kCheckpointVersion);
    file.set_attribute("step", step);
    file.set_attribute("tokens_seen", int64_t{100});
    write_tensor(file, "/model/w", Tensor::full({2, 3}, 0.5f));
    file.write_string("/config", "run: {name: x}\n");
    file.write_string("/tokenizer", "kiln-char-tokenizer v1\n1\na");
    file.close();
    return path;
  }
};

// Opens `path` for writing with HDF5 directly, for what Hdf5File would never write.
struct RawFile {
  explicit RawFile(const std::string& path)
      : id(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {}
  ~RawFile() { H5Fclose(id); }
  hid_t id;
};

TEST_F(CheckpointHostileTest, TheGoodOneLoads) {
  const Checkpoint c = load_checkpoint(good_checkpoint());
  EXPECT_EQ(c.state.step, 3);
  EXPECT_EQ(c.model.at("w").shape(), (Shape{2, 3}));
}

TEST_F(CheckpointHostileTest, HugeDeclaredShapeThatTheFileDoesNotStoreIsRefused) {
  const std::string path = good_checkpoint();
  {
    RawFile raw(path);
    // 2^20 x 2^20 floats (4 TB) declared, never written: HDF5 would read fill values.
    hsize_t dims[2] = {hsize_t{1} << 20, hsize_t{1} << 20};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t set = H5Dcreate2(raw.id, "/model/huge", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT);
    ASSERT_GE(set, 0);
    H5Dclose(set);
    H5Sclose(space);
  }
  EXPECT_EQ(error_of([&] { load_checkpoint(path); }),
            path +
                ": /model/huge: expected at most 0 bytes (what the file stores for it), got a "
                "shape of 1099511627776 elements (4398046511104 bytes)");
}

TEST_F(CheckpointHostileTest, ShapeWhoseSizeOverflowsIsRefused) {
  const std::string path = good_checkpoint();
  {
    RawFile raw(path);
    hsize_t dims[3] = {hsize_t{1} << 30, hsize_t{1} << 30, hsize_t{1} << 30};
    hid_t space = H5Screate_simple(3, dims, nullptr);
    hid_t props = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[3] = {1, 1, 16};
    H5Pset_chunk(props, 3, chunk);
    hid_t set = H5Dcreate2(raw.id, "/model/overflow", H5T_IEEE_F32LE, space, H5P_DEFAULT, props,
                           H5P_DEFAULT);
    ASSERT_GE(set, 0);
    H5Dclose(set);
    H5Pclose(props);
    H5Sclose(space);
  }
  EXPECT_EQ(error_of([&] { load_checkpoint(path); }),
            path +
                ": /model/overflow: expected a shape whose size fits 63 bits, got [1073741824, "
                "1073741824, 1073741824]");
}

TEST_F(CheckpointHostileTest, HugeUnwrittenConfigIsRefused) {
  const std::string path = good_checkpoint();
  {
    RawFile raw(path);
    H5Ldelete(raw.id, "/config", H5P_DEFAULT);
    hsize_t n = hsize_t{1} << 40;
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t set =
        H5Dcreate2(raw.id, "/config", H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(set, 0);
    H5Dclose(set);
    H5Sclose(space);
  }
  EXPECT_EQ(error_of([&] { load_checkpoint(path); }),
            path +
                ": /config: expected at most 0 bytes (what the file stores for it), got a shape "
                "of 1099511627776 elements (1099511627776 bytes)");
}

TEST_F(CheckpointHostileTest, AttributeArrayWhereOneValueBelongsIsRefused) {
  const std::string path = good_checkpoint();
  {
    RawFile raw(path);
    H5Adelete(raw.id, "version");
    hsize_t n = 4;
    int64_t values[4] = {1, 2, 3, 4};
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t attr = H5Acreate2(raw.id, "version", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, H5T_NATIVE_INT64, values);
    H5Aclose(attr);
    H5Sclose(space);
  }
  // Reading it into one int64 used to overrun the stack variable.
  EXPECT_EQ(error_of([&] { load_checkpoint(path); }),
            path + ": expected attribute 'version' to hold one value, got another shape");
}

TEST_F(CheckpointHostileTest, NegativeStepIsRefused) {
  const std::string path = good_checkpoint(-5);
  EXPECT_EQ(error_of([&] { load_checkpoint(path); }),
            path + ": attribute 'step': expected an integer >= 0, got -5");
}

}  // namespace
}  // namespace kiln
