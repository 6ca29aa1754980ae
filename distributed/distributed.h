#pragma once
/// @file
/// Data-parallel training across processes over MPI (Debian's OpenMPI), as
/// torch.distributed with its "mpi" backend:
///
/// @code
/// // mpirun -np 4 ./train
/// tg::distributed::init();                       // from mpirun's / srun's environment
/// auto& pg = tg::distributed::default_group();
/// pg.all_reduce(t, tg::distributed::ReduceOp::kMean)->wait();
/// @endcode
///
/// This layer is built only with TAPEGRAD_WITH_MPI=ON; its headers include
/// no MPI header.
///
/// Collectives run on whole contiguous tensors, in place, and return a Work
/// handle at once (MPI's nonblocking collectives); wait() finishes them. Every
/// rank must start the same collectives in the same order, as MPI requires.
///
/// Failure: init() installs a std::terminate handler that prints the
/// exception with the rank and calls MPI_Abort, which makes mpirun end every
/// rank (none waits forever in a collective). Code that catches an exception
/// and would otherwise return from main must call abort(message) instead:
/// returning normally on one rank leaves the others blocked.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg::distributed {

/// How a collective combines the ranks' values (kMean: the sum divided by the world size).
enum class ReduceOp { kSum, kMean, kMax, kMin };

/// A started collective, as torch.distributed's Work.
class Work {
 public:
  /// Waits for an unfinished collective and completes it as wait() does
  /// (a dropped handle gives the same result as a kept one).
  virtual ~Work() = default;
  /// Blocks until the collective is complete on this rank; the tensors it
  /// writes then hold the result. Idempotent.
  virtual void wait() = 0;
  /// Whether it is complete, without blocking (it also lets MPI progress).
  virtual bool is_completed() = 0;
};

/// The collectives of a group of processes, as torch.distributed.ProcessGroup. MPI is the one backend today; a
/// second (Gloo, NCCL) implements this interface, and code written against it
/// (DistributedDataParallel included) does not change.
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;        ///< a group outlives its Work handles
  virtual int rank() const = 0;             ///< this process's rank in the group
  virtual int size() const = 0;             ///< the number of processes
  virtual std::string backend() const = 0;  ///< the backend's name ("mpi")

  /// `tensor` (contiguous; float32, float64 or int64) becomes the reduction
  /// over all ranks. kMean is kSum divided by size() (integers: truncated).
  /// @throws tg::ValueError for an undefined or non-contiguous tensor, tg::DTypeError for an unsupported dtype.
  virtual std::shared_ptr<Work> all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::kSum) = 0;
  /// Every rank's `tensor` becomes root's.
  /// @throws tg::ValueError for a root that is not a rank, or a tensor as all_reduce's.
  virtual std::shared_ptr<Work> broadcast(Tensor& tensor, int root = 0) = 0;
  /// output (contiguous, size() times input's elements, same dtype) holds every
  /// rank's input in rank order (as torch.distributed.all_gather_into_tensor).
  /// @throws tg::ShapeError or tg::DTypeError when output does not fit input.
  virtual std::shared_ptr<Work> all_gather(Tensor& output, const Tensor& input) = 0;
  /// input holds size() equal chunks; output (one chunk's elements) becomes
  /// the reduction of chunk rank() over all ranks (reduce_scatter_tensor).
  /// @throws tg::ShapeError or tg::DTypeError when output does not fit input.
  virtual std::shared_ptr<Work> reduce_scatter(Tensor& output, const Tensor& input, ReduceOp op = ReduceOp::kSum) = 0;
  /// Completes once every rank has started it.
  virtual std::shared_ptr<Work> barrier() = 0;
};

/// Whether each collective first checks that every rank started the same
/// collective with the same dtype, shape, reduce op and root (one small
/// blocking all-gather per collective), as torch.distributed does under
/// TORCH_DISTRIBUTED_DEBUG=DETAIL. Without it, ranks that disagree get
/// undefined results from MPI (a broadcast of [3] into [5] leaves the rest
/// stale, float32 summed with float64 gives garbage); with it, every rank
/// throws tg::ValueError naming what each rank passed, and none is left
/// waiting. Off by default; init() turns it on when the environment has
/// TAPEGRAD_DISTRIBUTED_DEBUG=DETAIL. Set it alike on every rank.
void set_collective_checks(bool on);
/// Whether the checks of set_collective_checks() are on.
bool collective_checks();
/// Initialises MPI from the launcher's environment (mpirun, srun; run alone,
/// a world of one). Idempotent. Installs the terminate handler above.
void init();
/// Whether init() has run (and finalize() has not).
bool is_initialized();
namespace detail {
/// Counts the default groups made by init(): a group taken under one count is
/// gone once the count moved on or finalize() ran (DDP checks it before use).
std::uint64_t default_group_generation();
}  // namespace detail
/// Finalises MPI (collective: every rank must call it). Also done at exit.
void finalize();
/// This process's rank and the number of processes, as torch.distributed.get_rank / get_world_size.
/// @throws tg::ValueError before init().
///@{
int rank();
int world_size();
///@}
/// The group of all processes.
/// @throws tg::ValueError before init().
ProcessGroup& default_group();
/// Prints "[rank r] message" to stderr and ends the whole job with `code`.
[[noreturn]] void abort(const std::string& message, int code = 1);

/// Blocking conveniences on the default group: the ProcessGroup collective, then wait().
/// @throws tg::ValueError before init(), or as the ProcessGroup collective.
///@{
void all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::kSum);
void broadcast(Tensor& tensor, int root = 0);
void barrier();
///@}

/// Evaluation metrics over every rank's share of a dataset: each rank passes
/// its partial sums (its examples' summed loss, its correct predictions, its
/// example count, a confusion matrix's cells...) and every rank gets their sums
/// over all ranks, from one float64 all-reduce (counts up to 2^53 stay exact).
/// Divide afterwards: mean loss = total loss / total count. Give each rank a
/// disjoint share without padding (DistributedSampler with pad = false), or
/// padded examples count twice.
///
/// @code
/// auto totals = tg::distributed::all_reduce_values({loss_sum, correct, count});
/// double accuracy = totals[1] / totals[2];
/// @endcode
/// @throws tg::ValueError before init().
std::vector<double> all_reduce_values(const std::vector<double>& values, ReduceOp op = ReduceOp::kSum);

}  // namespace tg::distributed
