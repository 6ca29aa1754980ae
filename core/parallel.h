#pragma once
/// @file
/// One thread pool: our kernels use OpenMP and we link OpenBLAS's OpenMP
/// build, so both share one runtime.
///
/// Threads on a shared machine (issue 13). libgomp's workers spin between
/// parallel regions and at barriers; when another process keeps the cores
/// busy, a spinning worker holds the core the thread it waits for needs, and
/// a step runs 2-5x slower (10x with several busy processes). The wait policy
/// cannot be changed once libgomp has started (it reads OMP_WAIT_POLICY in its
/// own constructor, before any of ours), so tapegrad sizes its teams instead:
/// by default a parallel region uses all the cores the process may run on,
/// fewer while other processes keep them busy (the count of runnable tasks in
/// /proc/loadavg, read at most every 20 ms), one when the machine is full. A
/// single-thread team never waits at a barrier. docs/performance.md has the
/// measurements.
#include <atomic>
#include <cstdint>

namespace tg {

/// A fixed team of n threads for tapegrad's kernels and OpenBLAS, from now on
/// and whatever the load (as torch.set_num_threads). OMP_NUM_THREADS in the
/// environment fixes it the same way at start-up. A child made by fork()
/// after parallel work runs on one thread for good (its parent's OpenMP
/// threads are not in it, and a larger team would wait for them forever).
/// @throws tg::ValueError for n below 1 or above 1024, or above 1 in such a child
void set_num_threads(int n);
/// Back to the default: as many threads as cores, fewer under load.
void reset_num_threads();
/// The most threads a parallel region may use: the fixed count, or the number
/// of cores the process may run on.
int get_num_threads();
/// Whether teams shrink under load (no fixed count was set).
bool adaptive_threads();

/// Elementwise and reduction kernels go parallel only from this many elements
/// up when OpenMP's idle threads spin (its default): waking a team costs
/// microseconds, more than a small op's whole work. Measured with
/// bench/bench_parallel.cpp (a float add, wall time, 2 CPUs, OpenMP's default
/// wait policy): 2 threads lose at 32k elements (5.2 vs 4.5 us) and win from
/// 64k (6.6 vs 7.8 us). Products, convolutions and attention go parallel from
/// 16 times as many multiply-adds.
inline constexpr std::int64_t kParallelThreshold = 65536;
/// The same when OpenMP's idle threads sleep (OMP_WAIT_POLICY=PASSIVE): a
/// sleeping team costs ~25 us to wake, and 2 threads break even near 512k
/// elements for an add, and near 2^23 multiply-adds (16 times as many) for a
/// product (docs/performance.md, round twenty-five). A kernel's bits do not
/// depend on which threshold is in force: it only decides how many threads
/// compute pieces whose split the shape fixes (BLAS's own split aside, which
/// follows its thread count: see "Reproducible results" there).
inline constexpr std::int64_t kPassiveParallelThreshold = 524288;

namespace detail {
/// Set once while the library loads (the spinning default before that).
extern std::atomic<std::int64_t> g_parallel_threshold;
}  // namespace detail
/// Whether OpenMP's idle threads sleep at once rather than spin, read once at
/// load time as the runtime reads its variables at start-up: with GCC's
/// libgomp, GOMP_SPINCOUNT is 0, or it is not a count and OMP_WAIT_POLICY is
/// PASSIVE; with LLVM's libomp, its block time is 0 (OMP_WAIT_POLICY=PASSIVE
/// or KMP_BLOCKTIME=0).
bool passive_wait_policy();
/// The threshold in force: kPassiveParallelThreshold under a passive wait
/// policy, else kParallelThreshold.
inline std::int64_t parallel_threshold() { return detail::g_parallel_threshold.load(std::memory_order_relaxed); }

/// True inside a parallel region (kernels then stay serial).
bool in_parallel_region();

namespace detail {
/// The team a parallel region started now should have (1 inside a region).
int team_size();
/// Records that a parallel region of `threads` threads is about to start:
/// once one of two or more has, a child made by fork() runs single-threaded
/// (team_size() records its own teams).
void note_team(int threads);
/// For the life of one BLAS call: the calling thread's OpenMP team size set
/// to team_size(), since OpenBLAS sizes its team from it, and the caller's
/// own setting given back afterwards (a user's `#pragma omp parallel` after a
/// product keeps its team).
class BlasTeam {
 public:
  /// For a product of `macs` multiply-adds: one thread below
  /// 16 * parallel_threshold() under a passive wait policy (waking the
  /// sleeping team costs more than a second thread saves there); otherwise
  /// OpenBLAS and oneDNN decide for themselves how many of the team to use.
  explicit BlasTeam(double macs);
  ~BlasTeam();
  BlasTeam(const BlasTeam&) = delete;
  BlasTeam& operator=(const BlasTeam&) = delete;
  /// The team the BLAS call gets.
  int size() const { return team_; }

 private:
  int team_;
  int previous_;
};
/// The team team_size() picks when `others` runnable tasks that are not ours
/// compete for `online` CPUs and at most `cap` threads are allowed (tested).
int team_for_load(int cap, int online, int others);
}  // namespace detail

}  // namespace tg
