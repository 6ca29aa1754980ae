#pragma once
/// @file
/// DistributedDataParallel: one replica of a module per process, gradients
/// averaged over all processes during backward, as torch.nn.parallel.DistributedDataParallel.
///
/// @code
/// tg::distributed::init();
/// auto model = std::make_shared<Net>();
/// tg::distributed::DistributedDataParallel ddp(model);   // rank 0's parameters everywhere
/// tg::optim::SGD opt(ddp.parameters(), {.lr = 0.1});
/// for (...) {                                            // each rank its own share of the batch
///   opt.zero_grad();
///   loss(ddp(x), y).backward();                          // gradients: the mean over all ranks
///   opt.step();
/// }
/// @endcode
///
/// Gradients are grouped in buckets of about bucket_cap_mb megabytes, filled
/// with the parameters in reverse registration order (roughly the order
/// backward produces their gradients). A hook on each parameter's gradient
/// accumulation marks it ready; when a bucket is complete, its all-reduce
/// starts at once, while backward goes on with the layers before it. Buckets
/// start in bucket order on every rank (as MPI requires), and at the end of
/// backward (autograd::queue_callback) every bucket is waited for and the
/// averages are written into the parameters' .grad().
///
/// Construction checks that every rank has the same replica and options:
/// the parameters (names, order, dtypes, shapes, requires_grad), the buffers
/// (names, order, dtypes, shapes) and the DDPOptions other than the group. A
/// difference is a ValueError on every rank naming the first one, e.g.
/// "parameter 2 is b.weight (float32, shape [3, 4], requires grad) on rank 0
/// but b.weight (float32, shape [4, 3], requires grad) on rank 1".
///
/// Every parameter that requires grad must get a gradient in every backward;
/// one that does not is a ValueError at the end of that backward naming it.
/// With find_unused_parameters, forward walks the output's graph and counts
/// the parameters it does not reach as ready (their gradient counts as zero
/// in the average); a parameter that no rank used keeps its .grad() as it was
/// (undefined stays undefined, as PyTorch 1.13). A parameter counted as unused
/// that then gets a gradient in the same backward (used outside forward, or
/// backward through several forwards the last of which did not use it) is a
/// ValueError naming it, as PyTorch's "Expected to mark a variable ready only
/// once". Errors at the end of backward are thrown after this rank has
/// started and finished the same all-reduces as a rank without the error, so
/// no rank is left waiting in a collective. The backward of a forward run
/// inside no_sync() only accumulates locally, wherever that backward runs
/// (decided at forward, as PyTorch's; a forward outside it holds until its
/// backward ends); the next synchronised backward averages
/// the accumulated gradients. Backward with create_graph is refused (the
/// average would lose the gradients' graph), and so is use after
/// tg::distributed::finalize().
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/distributed/distributed.h>
#include <tapegrad/nn/module.h>

namespace tg::distributed {

/// Options of DistributedDataParallel, as PyTorch's keyword arguments.
struct DDPOptions {
  double bucket_cap_mb = 25.0;          ///< the buckets' approximate size, in (0, 8e12]
  bool find_unused_parameters = false;  ///< count parameters forward did not reach as ready
  /// Copy rank 0's buffers (batch norm statistics) to every rank at each forward.
  bool broadcast_buffers = true;
  /// Null: default_group().
  ProcessGroup* process_group = nullptr;
};

/// Data-parallel training of a module, as torch.nn.parallel.DistributedDataParallel
/// (see the description of ddp.h).
class DistributedDataParallel : public nn::Module {
 public:
  /// Checks that every rank's replica and options match, then broadcasts the
  /// module's parameters and buffers from rank 0 (collective).
  /// @param module  the replica (registered as the submodule "module")
  /// @param options buckets, unused parameters, buffers, group
  /// @throws tg::ValueError for a null module (on this rank only, before any
  /// communication), or, on every rank, when the ranks' parameters, buffers or
  /// options differ (naming the first difference), or for a bucket_cap_mb
  /// outside (0, 8e12] (its bytes must fit in int64)
  /// (checked after that comparison, so a bad value on one rank is the
  /// mismatch error on every rank).
  explicit DistributedDataParallel(std::shared_ptr<nn::Module> module, DDPOptions options = {});
  ~DistributedDataParallel() override;  ///< its gradient hooks, which hold the reducer weakly, then do nothing
  DistributedDataParallel(DistributedDataParallel&&) = default;  ///< moves the replica and its reducer

  /// module()(input), after broadcasting rank 0's buffers (broadcast_buffers)
  /// and, with find_unused_parameters, marking the parameters it does not reach.
  Tensor forward(const Tensor& input) override;
  nn::Module& module() const { return *module_; }  ///< the wrapped module
  std::string type_name() const override { return "DistributedDataParallel"; }

  /// While alive, forward marks its backward as local: it accumulates
  /// gradients without communicating (as PyTorch's no_sync() context); made
  /// by no_sync().
  class NoSync {
   public:
    ~NoSync();  ///< restores synchronisation as it was
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    friend class DistributedDataParallel;
    explicit NoSync(std::shared_ptr<struct Reducer> reducer);
    std::shared_ptr<struct Reducer> reducer_;
    bool previous_;
  };
  /// A guard under which backward does not communicate.
  /// @code
  /// { auto guard = ddp.no_sync(); loss(ddp(x1), y1).backward(); }  // local only
  /// loss(ddp(x2), y2).backward();  // averages both
  /// // What counts is where the forward ran: this backward is local too.
  /// Tensor y; { auto guard = ddp.no_sync(); y = ddp(x3); } loss(y, y3).backward();
  /// @endcode
  [[nodiscard]] NoSync no_sync();

  /// The buckets, each as the names of its parameters (in module()'s naming).
  std::vector<std::vector<std::string>> buckets() const;
  /// Seconds the last synchronised backward spent waiting for all-reduces at
  /// its end: the communication that overlapping with backward did not hide.
  double last_wait_seconds() const;

 private:
  std::shared_ptr<nn::Module> module_;
  std::shared_ptr<struct Reducer> reducer_;
  bool broadcast_buffers_ = true;
};

}  // namespace tg::distributed
