// Template body of parallel_for (kept out of threads.h so the contract reads cleanly).
#pragma once

#include <omp.h>

#include <algorithm>

namespace kiln {

template <typename Body>
void parallel_for(int64_t n, int64_t min_per_thread, Body&& body) {
  if (n <= 0) return;
  int64_t max_useful = std::max<int64_t>(1, n / std::max<int64_t>(1, min_per_thread));
  int threads = static_cast<int>(std::min<int64_t>(num_threads(), max_useful));
  if (threads <= 1 || omp_in_parallel()) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) body(begin, end);
  }
}

}  // namespace kiln
