// Tests for the shape ops: reshape, permute, transpose, split, concat, slice_rows.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/threads.h"
#include "base/error.h"
#include "tests/autograd/gradcheck.h"

namespace kiln {
namespace {

using testing::random_tensor;

// Row-major strides of `shape`.
std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> s(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1, n = 1; d >= 0; --d) {
    s[d] = n;
    n *= shape[d];
  }
  return s;
}

// Plain permute: out[o] = x[i] with i[dims[k]] = o[k].
std::vector<float> permute_reference(const Tensor& x, const std::vector<int>& dims) {
  Shape out(dims.size());
  for (std::size_t k = 0; k < dims.size(); ++k) out[k] = x.shape()[dims[k]];
  std::vector<int64_t> in_stride = strides_of(x.shape()), out_stride = strides_of(out);
  std::vector<float> y(x.numel());
  for (int64_t o = 0; o < x.numel(); ++o) {
    int64_t src = 0;
    for (std::size_t k = 0; k < dims.size(); ++k)
      src += (o / out_stride[k] % out[k]) * in_stride[dims[k]];
    y[o] = x.data()[src];
  }
  return y;
}

// Expects `fn` to throw kiln::Error whose message contains every one of `parts`.
template <typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected kiln::Error";
  } catch (const Error& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << p << "\"";
  }
}

using testing::ScopedThreads;

Tensor leaf(const Shape& shape, uint64_t seed) {
  Tensor t = random_tensor(shape, seed);
  t.set_requires_grad(true);
  return t;
}

TEST(ReshapeOpTest, ForwardSharesStorageAndInfersMinusOne) {
  Tensor x = random_tensor({2, 3, 4}, 1);
  Tensor y = ops::reshape(x, {-1, 4});
  EXPECT_EQ(y.shape(), (Shape{6, 4}));
  EXPECT_EQ(y.data(), x.data());
  EXPECT_EQ(y.to_floats(), x.to_floats());
  EXPECT_EQ(ops::reshape(x, {4, -1, 3}).shape(), (Shape{4, 2, 3}));
}

TEST(ReshapeOpTest, BackwardMatchesFiniteDifference) {
  for (auto [in, out] :
       std::vector<std::pair<Shape, Shape>>{{{3, 5}, {5, 3}}, {{2, 3, 7}, {-1}}, {{13}, {13, 1}}}) {
    Tensor x = leaf(in, 2);
    Shape target = out;
    EXPECT_GRADIENTS_MATCH(
        [target](const std::vector<Tensor>& v) { return ops::reshape(v[0], target); }, {x});
  }
}

TEST(ReshapeOpTest, BadShapeThrows) {
  Tensor x = random_tensor({3, 5}, 3);
  expect_error([&] { ops::reshape(x, {4, 4}); }, {"reshape", "[3, 5]", "[4, 4]"});
  expect_error([&] { ops::reshape(x, {-1, -1}); }, {"reshape", "one -1", "[-1, -1]"});
  expect_error([&] { ops::reshape(x, {-1, 4}); }, {"reshape", "[3, 5]", "[-1, 4]"});
}

TEST(PermuteOpTest, ForwardMatchesReference) {
  struct Case {
    Shape shape;
    std::vector<int> dims;
  };
  // The attention layouts (both ways, one big enough to run on two threads), a transpose of
  // the innermost dims (strided reads), a general rank-4 order and size-1 dims.
  for (const Case& c : std::vector<Case>{{{2, 5, 3, 7}, {0, 2, 1, 3}},
                                         {{2, 3, 5, 7}, {0, 2, 1, 3}},
                                         {{4, 64, 6, 40}, {0, 2, 1, 3}},
                                         {{3, 5, 9}, {0, 2, 1}},
                                         {{3, 4, 5, 6}, {3, 1, 0, 2}},
                                         {{1, 5, 1, 3}, {2, 3, 0, 1}},
                                         {{6}, {0}}}) {
    Tensor x = random_tensor(c.shape, 4);
    ScopedThreads threads(2);
    Tensor y = ops::permute(x, c.dims);
    for (std::size_t k = 0; k < c.dims.size(); ++k) EXPECT_EQ(y.dim(k), x.dim(c.dims[k]));
    EXPECT_EQ(y.to_floats(), permute_reference(x, c.dims)) << shape_str(c.shape);
  }
}

TEST(PermuteOpTest, BackwardMatchesFiniteDifference) {
  struct Case {
    Shape shape;
    std::vector<int> dims;
  };
  for (const Case& c : std::vector<Case>{{{2, 3, 5, 3}, {0, 2, 1, 3}},
                                         {{3, 5, 9}, {0, 2, 1}},
                                         {{2, 3, 4, 5}, {3, 1, 0, 2}},
                                         {{7, 1, 3}, {-1, 0, 1}}}) {
    Tensor x = leaf(c.shape, 5);
    std::vector<int> dims = c.dims;
    EXPECT_GRADIENTS_MATCH(
        [dims](const std::vector<Tensor>& v) { return ops::permute(v[0], dims); }, {x});
  }
}

TEST(PermuteOpTest, BadDimsThrow) {
  Tensor x = random_tensor({2, 3, 4}, 6);
  expect_error([&] { ops::permute(x, {0, 1}); }, {"permute", "3 dims", "[2, 3, 4]", "got 2"});
  expect_error([&] { ops::permute(x, {0, 1, 1}); }, {"permute", "dimension 1 twice"});
  expect_error([&] { ops::permute(x, {0, 1, 3}); }, {"permute", "[-3, 3)", "got 3"});
  expect_error(
      [&] {
        ops::permute(Tensor::from_ints({2}, {1, 2}), {0});
      },
      {"permute", "float32", "int32"});
}

TEST(TransposeOpTest, ForwardSwapsTwoDims) {
  Tensor x = random_tensor({2, 3, 5}, 7);
  Tensor y = ops::transpose(x, -1, 1);
  EXPECT_EQ(y.shape(), (Shape{2, 5, 3}));
  EXPECT_EQ(y.to_floats(), permute_reference(x, {0, 2, 1}));
}

TEST(TransposeOpTest, BackwardMatchesFiniteDifference) {
  Tensor x = leaf({3, 4, 5}, 8);
  EXPECT_GRADIENTS_MATCH([](const std::vector<Tensor>& v) { return ops::transpose(v[0], 0, 2); },
                         {x});
}

TEST(TransposeOpTest, BadDimThrows) {
  Tensor x = random_tensor({2, 3}, 9);
  expect_error([&] { ops::transpose(x, 0, 2); }, {"transpose", "[-2, 2)", "[2, 3]", "got 2"});
}

// Plain split along `dim`: piece p holds x's indices [offset_p, offset_p + sizes[p]) there.
std::vector<std::vector<float>> split_reference(const Tensor& x, const std::vector<int64_t>& sizes,
                                                int dim) {
  int64_t outer = 1, inner = 1, total = x.dim(dim);
  for (int d = 0; d < dim; ++d) outer *= x.dim(d);
  for (int d = dim + 1; d < x.rank(); ++d) inner *= x.dim(d);
  std::vector<std::vector<float>> pieces;
  int64_t offset = 0;
  for (int64_t size : sizes) {
    std::vector<float> p;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t m = offset; m < offset + size; ++m)
        for (int64_t i = 0; i < inner; ++i) p.push_back(x.data()[(o * total + m) * inner + i]);
    pieces.push_back(p);
    offset += size;
  }
  return pieces;
}

TEST(SplitOpTest, ForwardMatchesReference) {
  Tensor x = random_tensor({4, 9, 3}, 10);
  for (int dim : {0, 1, 2}) {
    std::vector<int64_t> sizes = dim == 0   ? std::vector<int64_t>{1, 3}
                                 : dim == 1 ? std::vector<int64_t>{2, 0, 7}
                                            : std::vector<int64_t>{1, 1, 1};
    std::vector<Tensor> pieces = ops::split(x, sizes, dim);
    std::vector<std::vector<float>> expected = split_reference(x, sizes, dim);
    ASSERT_EQ(pieces.size(), sizes.size());
    for (std::size_t p = 0; p < sizes.size(); ++p) {
      EXPECT_EQ(pieces[p].dim(dim), sizes[p]);
      EXPECT_EQ(pieces[p].to_floats(), expected[p]) << "dim " << dim << " piece " << p;
    }
  }
  // Splitting dim 0 gives views into x's storage.
  EXPECT_EQ(ops::split(x, {1, 3}, 0)[1].data(), x.data() + 27);
  // Negative dims count from the end; a big split runs on two threads.
  Tensor big = random_tensor({40, 3 * 96}, 11);
  ScopedThreads threads(2);
  std::vector<Tensor> qkv = ops::split(big, {96, 96, 96}, -1);
  std::vector<std::vector<float>> expected = split_reference(big, {96, 96, 96}, 1);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(qkv[p].to_floats(), expected[p]);
}

TEST(SplitOpTest, BackwardMatchesFiniteDifference) {
  // Only one piece used: the others' gradients arrive as zeros.
  for (int dim : {0, 1, -1}) {
    Tensor x = leaf({5, 6, 3}, 12);
    EXPECT_GRADIENTS_MATCH(
        [dim](const std::vector<Tensor>& v) {
          int64_t n = v[0].dim(dim);
          return ops::split(v[0], {1, n - 3, 2}, dim)[1];
        },
        {x});
  }
  // Every piece used, in a new order.
  Tensor x = leaf({3, 7, 5}, 13);
  EXPECT_GRADIENTS_MATCH(
      [](const std::vector<Tensor>& v) {
        std::vector<Tensor> p = ops::split(v[0], {2, 4, 1}, 1);
        return ops::concat({p[2], p[0], p[1]}, 1);
      },
      {x});
}

TEST(SplitOpTest, BadSizesThrow) {
  Tensor x = random_tensor({4, 6}, 14);
  expect_error(
      [&] {
        ops::split(x, {2, 3}, 1);
      },
      {"split", "summing to 6", "[4, 6]", "got [2, 3]"});
  expect_error([&] { ops::split(x, {-1, 5}, 0); }, {"split", "non-negative", "[-1, 5]"});
  expect_error([&] { ops::split(x, {4}, 2); }, {"split", "[-2, 2)", "got 2"});
}

TEST(ConcatOpTest, ForwardMatchesReference) {
  Tensor a = random_tensor({2, 3, 4}, 15), b = random_tensor({2, 5, 4}, 16);
  Tensor c = random_tensor({2, 1, 4}, 17);
  Tensor y = ops::concat({a, b, c}, 1);
  ASSERT_EQ(y.shape(), (Shape{2, 9, 4}));
  std::vector<std::vector<float>> parts = split_reference(y, {3, 5, 1}, 1);
  EXPECT_EQ(parts[0], a.to_floats());
  EXPECT_EQ(parts[1], b.to_floats());
  EXPECT_EQ(parts[2], c.to_floats());
  Tensor rows = ops::concat({a, b}, -2);  // negative dims count from the end
  EXPECT_EQ(rows.shape(), (Shape{2, 8, 4}));
  std::vector<float> flat = ops::concat({a.view({6, 4}), c.view({2, 4})}, 0).to_floats();
  std::vector<float> expected = a.to_floats();
  expected.insert(expected.end(), c.data(), c.data() + c.numel());
  EXPECT_EQ(flat, expected);
}

TEST(ConcatOpTest, BackwardMatchesFiniteDifference) {
  for (int dim : {0, 1, 2}) {
    Shape sa = {3, 2, 5}, sb = {3, 2, 5};
    sa[dim] = 1;
    sb[dim] = 4;
    Tensor a = leaf(sa, 18), b = leaf(sb, 19);
    Tensor frozen = random_tensor(sa, 20);  // needs no gradient: skipped in backward
    EXPECT_GRADIENTS_MATCH(
        [dim](const std::vector<Tensor>& v) {
          return ops::concat({v[0], v[2], v[1]}, dim);
        },
        {a, b, frozen});
  }
}

TEST(ConcatOpTest, BadShapesThrow) {
  Tensor a = random_tensor({2, 3}, 21), b = random_tensor({3, 3}, 22);
  expect_error(
      [&] {
        ops::concat({a, b}, 1);
      },
      {"concat", "[2, 3]", "except in dimension 1", "[3, 3]", "input 1"});
  expect_error([&] { ops::concat({a, random_tensor({2, 3, 1}, 23)}, 0); }, {"concat", "[2, 3, 1]"});
  expect_error([&] { ops::concat({}, 0); }, {"concat", "at least one"});
  expect_error(
      [&] {
        ops::concat({a, Tensor::from_ints({1, 3}, {1, 2, 3})}, 0);
      },
      {"concat", "float32", "int32"});
}

TEST(SliceRowsOpTest, ForwardIsAViewOfTheRows) {
  Tensor x = random_tensor({5, 3}, 24);
  Tensor y = ops::slice_rows(x, 1, 4);
  EXPECT_EQ(y.shape(), (Shape{3, 3}));
  EXPECT_EQ(y.data(), x.data() + 3);
  EXPECT_EQ(y.to_floats(), std::vector<float>(x.data() + 3, x.data() + 12));
}

TEST(SliceRowsOpTest, BackwardMatchesFiniteDifference) {
  for (Shape s : {Shape{5, 3}, Shape{9, 2, 3}, Shape{11}}) {
    Tensor x = leaf(s, 25);
    EXPECT_GRADIENTS_MATCH(
        [](const std::vector<Tensor>& v) { return ops::slice_rows(v[0], 2, v[0].dim(0) - 1); },
        {x});
  }
}

TEST(SliceRowsOpTest, BadRangeThrows) {
  Tensor x = random_tensor({5, 3}, 26);
  expect_error([&] { ops::slice_rows(x, 3, 6); }, {"slice_rows", "<= 5", "[3, 6)", "[5, 3]"});
  expect_error([&] { ops::slice_rows(x, 3, 2); }, {"slice_rows", "[3, 2)"});
  expect_error([&] { ops::slice_rows(Tensor::scalar(1.0f), 0, 0); }, {"slice_rows", "[]"});
}

// The same input feeding several uses must receive the sum of their gradients, including
// when both uses are pieces of one concat that write one gradient buffer.
TEST(ShapeOpsTest, InputUsedTwiceAccumulatesGradients) {
  Tensor x = leaf({3, 5}, 27);
  for (int dim : {0, 1}) {
    EXPECT_GRADIENTS_MATCH(
        [dim](const std::vector<Tensor>& v) {
          return ops::concat({v[0], v[0]}, dim);
        },
        {x});
  }
  // reshape, permute and slice_rows of one input, joined again.
  EXPECT_GRADIENTS_MATCH(
      [](const std::vector<Tensor>& v) {
        Tensor t = ops::transpose(ops::reshape(v[0], {5, 3}), 0, 1);  // [3, 5]
        return ops::concat({t, ops::slice_rows(v[0], 1, 3), v[0]}, 0);
      },
      {x});
  // The gradient of concat({x, x}) with a seed of ones is exactly 2 everywhere, also when
  // two threads split the rows (both pieces of a row go to one thread: no race).
  ScopedThreads threads(2);
  Tensor big = leaf({64, 300}, 28);
  Tensor y = ops::concat({big, big}, 1);
  backward(y, Tensor::full(y.shape(), 1.0f));
  EXPECT_EQ(big.grad().to_floats(), std::vector<float>(64 * 300, 2.0f));
}

}  // namespace
}  // namespace kiln
