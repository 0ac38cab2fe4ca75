// MPI behind kiln::dist::Communicator. Every call checks MPI's result: the default error
// handler aborts the job, which is what a failed collective should do (no rank hangs).
#include "dist/communicator.h"

#include <cstdlib>
#include <vector>

#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include "base/error.h"

namespace kiln::dist {
namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(std::string("mpi: expected ") + what + " to succeed, got " +
              std::string(text, length));
}

}  // namespace

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

Communicator& Communicator::world() {
  static Communicator world;
  return world;
}

Communicator::Communicator() {
  if (!launched_by_mpirun()) return;  // one rank, no MPI: kiln alone behaves as it always did
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
        "MPI_Comm_split_type");
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

Communicator::~Communicator() {
  if (mpi_) MPI_Finalize();
}

void Communicator::allreduce_sum(std::span<float> data, int64_t bucket) const {
  if (size_ == 1) return;
  for (std::size_t begin = 0; begin < data.size(); begin += static_cast<std::size_t>(bucket)) {
    const std::size_t n =
        std::min<std::size_t>(static_cast<std::size_t>(bucket), data.size() - begin);
    check(MPI_Allreduce(MPI_IN_PLACE, data.data() + begin, static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
}

void Communicator::allreduce_sum(std::span<double> data) const {
  if (size_ == 1) return;
  check(MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(data.size()), MPI_DOUBLE, MPI_SUM,
                      MPI_COMM_WORLD),
        "MPI_Allreduce");
}

bool Communicator::any(bool flag) const {
  if (size_ == 1) return flag;
  int local = flag ? 1 : 0, global = 0;
  check(MPI_Allreduce(&local, &global, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  return global != 0;
}

uint64_t Communicator::broadcast(uint64_t value, int root) const {
  if (size_ == 1) return value;
  check(MPI_Bcast(&value, 1, MPI_UINT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
  return value;
}

bool Communicator::same_everywhere(uint64_t value) const {
  return any(broadcast(value) != value) == false;
}

namespace {

std::vector<int> displacements(std::span<const int> counts) {
  std::vector<int> at(counts.size(), 0);
  for (std::size_t i = 1; i < counts.size(); ++i) at[i] = at[i - 1] + counts[i - 1];
  return at;
}

}  // namespace

void Communicator::reduce_scatter_sum(std::span<const float> data, std::span<float> mine,
                                      std::span<const int> counts) const {
  KILN_CHECK(counts.size() == static_cast<std::size_t>(size_) &&
                 mine.size() == static_cast<std::size_t>(counts[rank_]),
             "reduce_scatter_sum: expected ", size_, " counts and ", counts[rank_],
             " elements for this rank, got ", counts.size(), " and ", mine.size());
  if (size_ == 1) {
    std::copy(data.begin(), data.begin() + mine.size(), mine.begin());
    return;
  }
  check(MPI_Reduce_scatter(data.data(), mine.data(), counts.data(), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD),
        "MPI_Reduce_scatter");
}

void Communicator::allgather_in_place(std::span<float> data, std::span<const int> counts) const {
  if (size_ == 1) return;
  const std::vector<int> at = displacements(counts);
  check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data.data(), counts.data(), at.data(),
                       MPI_FLOAT, MPI_COMM_WORLD),
        "MPI_Allgatherv");
}

void Communicator::gather_to_root(std::span<const float> mine, std::span<float> data,
                                  std::span<const int> counts) const {
  if (size_ == 1) {
    std::copy(mine.begin(), mine.end(), data.begin());
    return;
  }
  const std::vector<int> at = displacements(counts);
  check(MPI_Gatherv(mine.data(), static_cast<int>(mine.size()), MPI_FLOAT, data.data(),
                    counts.data(), at.data(), MPI_FLOAT, 0, MPI_COMM_WORLD),
        "MPI_Gatherv");
}

void Communicator::barrier() const {
  if (size_ > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void Communicator::abort(int code) const {
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

}  // namespace kiln::dist
