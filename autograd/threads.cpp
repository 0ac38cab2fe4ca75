// The single thread setting, applied to OpenMP (which oneDNN uses) and to OpenBLAS.
#include "autograd/threads.h"

#include <omp.h>

#include "autograd/backend/blas.h"
#include "base/error.h"

namespace kiln {
namespace {

int& setting() {
  static int n = [] {
    backend::blas_init_single_threaded();
    return omp_get_num_procs();
  }();
  return n;
}

}  // namespace

void set_num_threads(int n) {
  KILN_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got ", n);
  setting() = n;
  omp_set_num_threads(n);
  backend::blas_init_single_threaded();
}

int num_threads() {
  return setting();
}

}  // namespace kiln
