// Finite-difference gradient checking shared by every op test.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "autograd/threads.h"

namespace kiln::testing {

struct GradCheckResult {
  bool ok = true;
  std::string report;  // the worst mismatches, naming input, element, analytic and numeric values
};

struct GradCheckOptions {
  double eps = 1e-2;   // central-difference step
  double atol = 2e-3;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 2e-2;
};

// Compares tape gradients of L = sum(w * fn(inputs)), w a fixed random weighting, with central
// differences, for every input that requires a gradient. `fn` must be deterministic.
GradCheckResult check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                const std::vector<Tensor>& inputs, GradCheckOptions options = {});

// A float tensor of `shape` with values uniform in [lo, hi), reproducible from `seed`.
Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

// Sets kiln's thread count for one scope, then restores it.
class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : saved_(num_threads()) { set_num_threads(n); }
  ~ScopedThreads() { set_num_threads(saved_); }

 private:
  int saved_;
};

// Max |a - b| over two equally sized tensors or vectors.
float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace kiln::testing

// Fails the current test with the report when gradients disagree.
#define EXPECT_GRADIENTS_MATCH(fn, inputs, ...)                                         \
  do {                                                                                  \
    auto kiln_gc_result_ = ::kiln::testing::check_gradients(fn, inputs, ##__VA_ARGS__); \
    EXPECT_TRUE(kiln_gc_result_.ok) << kiln_gc_result_.report;                          \
  } while (0)
