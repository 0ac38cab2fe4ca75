// The processes of a data-parallel run (the only code that includes mpi.h). Started under
// mpirun, kiln's ranks talk over MPI; started alone, the communicator has one rank and every
// collective is a no-op, so the training loop has one path.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace kiln::dist {

class Communicator {
 public:
  // The world of this process: MPI's when started by mpirun (MPI_Init on first use), else a
  // single rank. MPI is finalised at exit.
  static Communicator& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  // Ranks on this host, and this rank's index among them (for the thread count).
  int local_size() const { return local_size_; }
  int local_rank() const { return local_rank_; }

  // Sums `data` over the ranks, in place, in buckets of at most `bucket` elements. For two
  // ranks the result is exact whatever the order (a + b == b + a), so it equals one process's
  // sum of the same two parts.
  void allreduce_sum(std::span<float> data, int64_t bucket = int64_t{1} << 22) const;
  void allreduce_sum(std::span<double> data) const;
  // True on every rank when `flag` is true on any (a stop request seen by one rank).
  bool any(bool flag) const;
  // Rank `root`'s value of `value` on every rank.
  uint64_t broadcast(uint64_t value, int root = 0) const;
  // True when every rank passed the same value (e.g. a hash of the initial parameters).
  bool same_everywhere(uint64_t value) const;
  // `data` is cut into consecutive slices of counts[0], counts[1], ... elements; rank i gets
  // the sum over ranks of slice i in `mine` (counts[i] elements).
  void reduce_scatter_sum(std::span<const float> data, std::span<float> mine,
                          std::span<const int> counts) const;
  // Slice i of `data` (cut as above) is rank i's; afterwards every rank holds every slice.
  void allgather_in_place(std::span<float> data, std::span<const int> counts) const;
  // Rank 0 receives every rank's slice into `data` (cut as above; other ranks pass their own
  // slice as `mine` and may pass an empty `data`).
  void gather_to_root(std::span<const float> mine, std::span<float> data,
                      std::span<const int> counts) const;
  void barrier() const;
  // Ends every rank of the job with `code` (after one rank failed, so none waits forever).
  [[noreturn]] void abort(int code) const;

  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

 private:
  Communicator();
  ~Communicator();
  bool mpi_ = false;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

// True when this process was started by mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE).
bool launched_by_mpirun();

}  // namespace kiln::dist
