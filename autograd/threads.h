// One thread setting for everything: kiln's loops, oneDNN (and its sgemm) share one OpenMP
// team; OpenBLAS is only ever called single-threaded from inside that team, so no second
// pool exists to spin while the other computes.
#pragma once

#include <cstdint>

namespace kiln {

// Sets the number of threads for all of kiln's compute (n >= 1). Default: every core.
void set_num_threads(int n);
// The current setting.
int num_threads();

// Runs body(begin, end) over [0, n) split into fixed contiguous chunks, one per thread.
// The partition depends only on n and the thread count, so results are reproducible.
template <typename Body>
void parallel_for(int64_t n, int64_t min_per_thread, Body&& body);

}  // namespace kiln

#include "autograd/threads_inl.h"
