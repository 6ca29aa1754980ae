// The MPI backend of ProcessGroup, and the process-wide state.
#include <mpi.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/core/error.h>
#include <tapegrad/distributed/distributed.h>

namespace tg::distributed {
namespace {

bool g_initialized = false;
bool g_we_initialized = false;
std::atomic<bool> g_collective_checks{false};
std::unique_ptr<ProcessGroup> g_default_group;
std::uint64_t g_group_generation = 0;  // default groups made so far

MPI_Datatype mpi_type(const Tensor& t, const char* op) {
  switch (t.dtype()) {
    case kFloat32:
      return MPI_FLOAT;
    case kFloat64:
      return MPI_DOUBLE;
    case kInt64:
      return MPI_INT64_T;
    default:
      throw DTypeError(
          fmt::format("{}: dtype {} is not supported (float32, float64 or int64)", op, dtype_name(t.dtype())));
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kMean:
      return MPI_SUM;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kMin:
      return MPI_MIN;
  }
  return MPI_SUM;
}

void check_tensor(const Tensor& t, const char* op, const char* which) {
  if (!t.defined()) throw ValueError(fmt::format("{}: the {} is undefined", op, which));
  if (!t.is_contiguous())
    throw ValueError(fmt::format("{}: the {} (shape {}) must be contiguous", op, which, shape_str(t.sizes())));
}

int checked_count(std::int64_t n, const char* op) {
  if (n > static_cast<std::int64_t>(INT32_MAX))
    throw ValueError(fmt::format("{}: {} elements exceed MPI's int count; split the tensor", op, n));
  return static_cast<int>(n);
}

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw Error(fmt::format("{}: MPI error: {}", what, std::string(text, static_cast<std::size_t>(len))));
}

// One nonblocking MPI request, and what to do once it completes (kMean's
// division). Keeps its tensors alive until then: MPI reads and writes them.
class MpiWork final : public Work {
 public:
  MpiWork(std::vector<Tensor> keep, std::function<void()> finish)
      : keep_(std::move(keep)), finish_(std::move(finish)) {}
  MPI_Request* request() { return &request_; }

  void wait() override {
    if (done_) return;
    check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "Work::wait");
    complete();
  }
  bool is_completed() override {
    if (done_) return true;
    int flag = 0;
    check_mpi(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE), "Work::is_completed");
    if (flag) complete();
    return done_;
  }
  ~MpiWork() override {
    // A collective cannot be cancelled; its buffers must outlive it. A handle
    // dropped unwaited still leaves the result wait() gives (kMean's
    // division, the version bump): a mean all-reduce whose Work was never
    // kept gave the sum.
    if (done_ || request_ == MPI_REQUEST_NULL) return;
    MPI_Wait(&request_, MPI_STATUS_IGNORE);
    try {
      complete();
    } catch (...) {  // a destructor must not throw; the division does not
    }
  }

 private:
  void complete() {
    done_ = true;
    if (finish_) finish_();
    for (auto& t : keep_) t.storage()->bump_version();
    keep_.clear();
  }
  std::vector<Tensor> keep_;
  std::function<void()> finish_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  bool done_ = false;
};

void divide_in_place(Tensor& t, int by) {
  const std::int64_t n = t.numel();
  switch (t.dtype()) {
    case kFloat32: {
      float* p = t.data_ptr<float>();
      for (std::int64_t i = 0; i < n; ++i) p[i] /= static_cast<float>(by);
      break;
    }
    case kFloat64: {
      double* p = t.data_ptr<double>();
      for (std::int64_t i = 0; i < n; ++i) p[i] /= by;
      break;
    }
    case kInt64: {
      std::int64_t* p = t.data_ptr<std::int64_t>();
      for (std::int64_t i = 0; i < n; ++i) p[i] /= by;
      break;
    }
    default:
      break;
  }
}

// What a rank passed to a collective, for collective_checks(): the
// collective, dtype, reduce op, root, shape of its (first) tensor and element
// count of the second. Unused fields are -1.
enum class Collective : std::int64_t { kAllReduce, kBroadcast, kAllGather, kReduceScatter, kBarrier };
constexpr const char* kCollectiveNames[] = {"all_reduce", "broadcast", "all_gather", "reduce_scatter", "barrier"};
constexpr std::size_t kCallFields = 7 + kMaxDims;  // the last: whether this rank refused its own arguments
using CallPrint = std::array<std::int64_t, kCallFields>;

CallPrint call_print(Collective c, const Tensor* first, const Tensor* second, std::int64_t op, std::int64_t root) {
  CallPrint p;
  p.fill(-1);
  p[0] = static_cast<std::int64_t>(c);
  p[2] = op;
  p[3] = root;
  if (first && first->defined()) {
    p[1] = static_cast<std::int64_t>(first->dtype());
    p[4] = first->dim();
    for (int d = 0; d < first->dim(); ++d) p[6 + static_cast<std::size_t>(d)] = first->size(d);
  }
  if (second && second->defined()) p[5] = second->numel();
  p[kCallFields - 1] = 0;
  return p;
}

std::string describe(const CallPrint& p) {
  const auto c = static_cast<std::size_t>(p[0]);
  std::string s = c < std::size(kCollectiveNames) ? kCollectiveNames[c] : "?";
  if (p[4] >= 0) {
    Dims shape;
    for (std::int64_t d = 0; d < p[4]; ++d) shape.push_back(p[6 + static_cast<std::size_t>(d)]);
    s += fmt::format(" of {} {}", dtype_name(static_cast<DType>(p[1])), shape_str(shape));
  }
  if (p[5] >= 0) s += fmt::format(" into {} elements", p[5]);
  constexpr const char* kOps[] = {"sum", "mean", "max", "min"};
  if (p[2] >= 0 && static_cast<std::size_t>(p[2]) < std::size(kOps)) s += fmt::format(", op {}", kOps[p[2]]);
  if (p[3] >= 0) s += fmt::format(", root {}", p[3]);
  return s;
}

class MpiProcessGroup final : public ProcessGroup {
 public:
  explicit MpiProcessGroup(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  std::shared_ptr<Work> all_reduce(Tensor& tensor, ReduceOp op) override {
    MPI_Datatype type{};
    int count = 0;
    check_agreement("all_reduce",
                    call_print(Collective::kAllReduce, &tensor, nullptr, static_cast<std::int64_t>(op), -1), [&] {
                      check_tensor(tensor, "all_reduce", "tensor");
                      type = mpi_type(tensor, "all_reduce");
                      count = checked_count(tensor.numel(), "all_reduce");
                    });
    Tensor t = tensor;
    const int size = size_;
    std::function<void()> finish;
    if (op == ReduceOp::kMean) finish = [t, size]() mutable { divide_in_place(t, size); };
    auto work = std::make_shared<MpiWork>(std::vector<Tensor>{t}, std::move(finish));
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), count, type, mpi_op(op), comm_, work->request()),
              "all_reduce");
    return work;
  }

  std::shared_ptr<Work> broadcast(Tensor& tensor, int root) override {
    MPI_Datatype type{};
    check_agreement("broadcast", call_print(Collective::kBroadcast, &tensor, nullptr, -1, root), [&] {
      check_tensor(tensor, "broadcast", "tensor");
      check_root(root, "broadcast");
      type = mpi_type(tensor, "broadcast");
    });
    auto work = std::make_shared<MpiWork>(std::vector<Tensor>{tensor}, nullptr);
    check_mpi(
        MPI_Ibcast(tensor.raw_data(), checked_count(tensor.numel(), "broadcast"), type, root, comm_, work->request()),
        "broadcast");
    return work;
  }

  std::shared_ptr<Work> all_gather(Tensor& output, const Tensor& input) override {
    MPI_Datatype type{};
    check_agreement("all_gather", call_print(Collective::kAllGather, &input, &output, -1, -1),
                    [&] { type = check_chunks("all_gather", output, input, /*output_is_whole=*/true); });
    auto work = std::make_shared<MpiWork>(std::vector<Tensor>{output, input}, nullptr);
    const int count = checked_count(input.numel(), "all_gather");
    check_mpi(MPI_Iallgather(input.raw_data(), count, type, output.raw_data(), count, type, comm_, work->request()),
              "all_gather");
    return work;
  }

  std::shared_ptr<Work> reduce_scatter(Tensor& output, const Tensor& input, ReduceOp op) override {
    MPI_Datatype type{};
    check_agreement("reduce_scatter",
                    call_print(Collective::kReduceScatter, &input, &output, static_cast<std::int64_t>(op), -1),
                    [&] { type = check_chunks("reduce_scatter", output, input, /*output_is_whole=*/false); });
    Tensor out = output;
    const int size = size_;
    auto work = std::make_shared<MpiWork>(
        std::vector<Tensor>{output, input},
        op == ReduceOp::kMean ? std::function<void()>([out, size]() mutable { divide_in_place(out, size); })
                              : std::function<void()>());
    check_mpi(
        MPI_Ireduce_scatter_block(input.raw_data(), output.raw_data(), checked_count(output.numel(), "reduce_scatter"),
                                  type, mpi_op(op), comm_, work->request()),
        "reduce_scatter");
    return work;
  }

  std::shared_ptr<Work> barrier() override {
    check_agreement("barrier", call_print(Collective::kBarrier, nullptr, nullptr, -1, -1), [] {});
    auto work = std::make_shared<MpiWork>(std::vector<Tensor>{}, nullptr);
    check_mpi(MPI_Ibarrier(comm_, work->request()), "barrier");
    return work;
  }

 private:
  // Runs this rank's own argument checks, then, with collective checks on,
  // one blocking all-gather of what each rank passed (and whether its own
  // checks refused it): every rank sees the same prints, so all of them
  // throw, or none, and nobody is left waiting in the collective.
  template <class LocalChecks>
  void check_agreement(const char* what, CallPrint mine, const LocalChecks& local_checks) {
    if (!g_collective_checks.load(std::memory_order_relaxed) || size_ == 1) {
      local_checks();
      return;
    }
    std::exception_ptr refused;
    try {
      local_checks();
    } catch (...) {
      refused = std::current_exception();
      mine[kCallFields - 1] = 1;
    }
    std::vector<std::int64_t> all(kCallFields * static_cast<std::size_t>(size_));
    check_mpi(MPI_Allgather(mine.data(), static_cast<int>(kCallFields), MPI_INT64_T, all.data(),
                            static_cast<int>(kCallFields), MPI_INT64_T, comm_),
              what);
    if (refused) std::rethrow_exception(refused);
    const auto print_of = [&](int r) {
      CallPrint p;
      std::memcpy(p.data(), all.data() + kCallFields * static_cast<std::size_t>(r), sizeof p);
      return p;
    };
    for (int r = 0; r < size_; ++r)
      if (print_of(r)[kCallFields - 1] != 0)
        throw ValueError(fmt::format("{}: rank {} refused its own arguments ({}), so no rank starts it", what, r,
                                     describe(print_of(r))));
    bool agree = true;
    for (int r = 1; r < size_; ++r) agree = agree && print_of(r) == print_of(0);
    if (agree) return;
    std::string ranks;
    for (int r = 0; r < size_; ++r) ranks += fmt::format("{}rank {}: {}", r ? "; " : "", r, describe(print_of(r)));
    throw ValueError(fmt::format(
        "{}: the ranks disagree ({}); every rank must start the same collectives in the same order, with the same "
        "shapes, dtypes, ops and roots",
        what, ranks));
  }

  // The arguments of a collective between one tensor of size() chunks and
  // one chunk (all_gather's output is the whole, reduce_scatter's input):
  // both defined and contiguous, one dtype MPI carries, and the sizes fit.
  MPI_Datatype check_chunks(const char* op, const Tensor& output, const Tensor& input, bool output_is_whole) const {
    check_tensor(output, op, "output");
    check_tensor(input, op, "input");
    if (output.dtype() != input.dtype())
      throw DTypeError(fmt::format("{}: output dtype {} differs from input dtype {}", op, dtype_name(output.dtype()),
                                   dtype_name(input.dtype())));
    const Tensor& whole = output_is_whole ? output : input;
    const Tensor& chunk = output_is_whole ? input : output;
    if (whole.numel() != chunk.numel() * size_)
      throw ShapeError(fmt::format("{}: {} (shape {}) must have world size {} times the {}'s {} elements (shape {})",
                                   op, output_is_whole ? "output" : "input", shape_str(whole.sizes()), size_,
                                   output_is_whole ? "input" : "output", chunk.numel(), shape_str(chunk.sizes())));
    return mpi_type(input, op);
  }

  void check_root(int root, const char* op) const {
    if (root < 0 || root >= size_)
      throw ValueError(fmt::format("{}: root {} is not a rank of a world of {}", op, root, size_));
  }
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

void require_init(const char* op) {
  if (!g_initialized) throw ValueError(fmt::format("tg::distributed::{}: call tg::distributed::init() first", op));
}

// An uncaught exception on one rank must end every rank: the others may be
// blocked in a collective that this one will never join.
void terminate_handler() {
  std::string message = "terminate called without an active exception";
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      message = fmt::format("uncaught exception: {}", ex.what());
    } catch (...) {
      message = "uncaught exception of an unknown type";
    }
  }
  abort(message, 1);
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (g_we_initialized && !finalized) {
    g_default_group.reset();
    MPI_Finalize();
  }
}

}  // namespace

void init() {
  if (g_initialized) return;
  // MPI cannot start again once finalized; calling into it then aborts the
  // whole process (MPI_Comm_set_errhandler below), so refuse first.
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized)
    throw ValueError(
        "distributed::init: MPI was finalized (distributed::finalize) and cannot be initialized again in this "
        "process; call finalize only once, at the end");
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    int provided = 0;
    // Collectives are started and finished on one thread (the one running
    // backward); OpenMP threads in the kernels never call MPI.
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
    g_we_initialized = true;
    std::atexit(finalize_at_exit);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  g_default_group = std::make_unique<MpiProcessGroup>(MPI_COMM_WORLD);
  ++g_group_generation;
  if (const char* level = std::getenv("TAPEGRAD_DISTRIBUTED_DEBUG"); level && std::strcmp(level, "DETAIL") == 0)
    g_collective_checks.store(true, std::memory_order_relaxed);
  g_initialized = true;
  std::set_terminate(terminate_handler);
}

bool is_initialized() { return g_initialized; }

std::uint64_t detail::default_group_generation() { return g_group_generation; }

void finalize() {
  if (!g_initialized) return;
  g_default_group.reset();
  g_initialized = false;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (g_we_initialized && !finalized) MPI_Finalize();
}

int rank() {
  require_init("rank");
  return g_default_group->rank();
}

int world_size() {
  require_init("world_size");
  return g_default_group->size();
}

ProcessGroup& default_group() {
  require_init("default_group");
  return *g_default_group;
}

void abort(const std::string& message, int code) {
  int r = -1, initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &r);
  std::fprintf(stderr, "[rank %d] %s\n", r, message.c_str());
  std::fflush(stderr);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void set_collective_checks(bool on) { g_collective_checks.store(on, std::memory_order_relaxed); }

bool collective_checks() { return g_collective_checks.load(std::memory_order_relaxed); }

void all_reduce(Tensor& tensor, ReduceOp op) { default_group().all_reduce(tensor, op)->wait(); }
void broadcast(Tensor& tensor, int root) { default_group().broadcast(tensor, root)->wait(); }
void barrier() { default_group().barrier()->wait(); }

std::vector<double> all_reduce_values(const std::vector<double>& values, ReduceOp op) {
  require_init("all_reduce_values");
  if (values.empty()) return {};
  Tensor t = tensor(values);  // float64, 1-D
  all_reduce(t, op);
  return t.to_vector<double>();
}

}  // namespace tg::distributed
