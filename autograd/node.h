#pragma once
/// @file
/// The tape. Every recorded op appends a Node: its backward function, what it
/// saved, and edges to the nodes of its inputs. Nodes carry a sequence number
/// from a thread-local counter. The engine runs a node once every edge into it
/// has delivered (dependency counts); the sequence number only picks which
/// ready node goes first. It cannot be the order itself: a graph may be
/// recorded on several threads, whose counters are unrelated.
///
/// Ownership: a tensor owns its grad_fn node, a leaf its AccumulateGrad (made
/// on its first recorded use), a node owns its edges (shared),
/// saved outputs are kept without their node (no cycles). Dropping the result
/// of a forward frees its part of the tape at once, and ~Node frees long chains
/// with a loop instead of recursion.
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/small_vector.h>

namespace tg::autograd {

class Node;
struct RecordingSite;  // autograd/anomaly.cpp

/// Where an input's gradient goes: an output of another node.
struct Edge {
  std::shared_ptr<Node> fn;    ///< null: this input needs no gradient
  std::uint32_t input_nr = 0;  ///< which output of `fn` this input was
};

/// A gradient hook (Tensor::register_hook): takes the gradient, returns it or
/// a replacement (an undefined result keeps it).
using TensorHook = std::function<Tensor(const Tensor&)>;

/// Per-tensor autograd state (the AutogradMetaBase of core/tensor.h).
struct AutogradMeta final : AutogradMetaBase {
  bool requires_grad = false;     ///< a leaf that accumulates a gradient
  bool retains_grad = false;      ///< a non-leaf that keeps its .grad() (retain_grad())
  std::uint32_t output_nr = 0;    ///< which output of grad_fn this tensor is
  std::shared_ptr<Node> grad_fn;  ///< set for non-leaves
  /// Leaves: their AccumulateGrad node, made on first use and kept as long as
  /// the leaf lives (it refers back to the leaf weakly, so no cycle), so a
  /// training loop does not make it again for every step's graph. Set once,
  /// under accumulator_mutex, and never changed after: accumulator_ready
  /// (release/acquire) says it may be read without the lock.
  std::shared_ptr<Node> grad_accumulator;
  /// Guards making grad_accumulator: a leaf (a model's parameter) is used by
  /// ops recorded on several threads at once, which must all share its one
  /// AccumulateGrad. For a view (never a leaf with an accumulator) it guards
  /// refresh_view instead: a view shared by threads (a weight's w.t()) is
  /// refreshed by whichever reads it first after its base changed.
  std::mutex accumulator_mutex;
  std::atomic<bool> accumulator_ready{false};  ///< grad_accumulator is set (see there)
  Tensor grad;                                 ///< the accumulated gradient (.grad())
  std::vector<TensorHook> hooks;               ///< leaves: run before accumulation
  /// Leaves: run with the leaf after its .grad() was updated by backward().
  std::vector<std::function<void(const Tensor&)>> post_accumulate_hooks;
  /// Views (see autograd/views.h): the tensor whose memory this one views
  /// (never itself a tracked view), the storage version at which grad_fn was
  /// last made to describe this view, and how the view was made. Undefined
  /// base: not a tracked view.
  enum class ViewKind : std::uint8_t {
    kPlain,
    kNoGrad,          // made with grad mode off (or a view of such a view)
    kMultiOutput,     // one of the pieces of split, chunk or unbind (or a view of one)
    kCustomFunction,  // a custom Function's output sharing an input's memory (or a view of one)
  };
  Tensor view_base;  ///< the viewed tensor, or undefined (set_view)
  /// The storage version grad_fn describes; stored (release) only once
  /// grad_fn describes it, so a thread that reads it equal may read grad_fn.
  std::atomic<std::uint32_t> view_version{0};
  ViewKind view_kind = ViewKind::kPlain;  ///< how the view was made (set_view)

  /// Makes this tensor, whose memory is `own`, a tracked view of `base` of
  /// kind `kind` (undefined base: no longer a view). A plain view whose base
  /// shares `own` follows the base's in-place changes: it is counted among
  /// own's followers (Storage::followers), which in-place ops on the base
  /// read; the other kinds refuse to follow, so they are not.
  void set_view(Tensor base, ViewKind kind, Storage* own);
  ~AutogradMeta() override;
  /// The storage this view is counted a follower of, or null: its own, which
  /// its TensorImpl keeps alive past this object (a raw pointer: a
  /// shared_ptr would count among the storage's sharers). Whatever swaps a
  /// tensor's storage (nn::Module::to) ends its view tracking first.
  Storage* followed_storage = nullptr;

  /// Empty. User-provided on purpose: make_unique value-initialises, which
  /// for an implicit constructor zeroes the whole object (a `rep stos`, about
  /// a twentieth of a recorded op) before the members' initialisers run again.
  AutogradMeta() noexcept {}

  /// For core's printing (Tensor::requires_grad and grad_fn_name).
  bool requires_grad_for(const TensorBase& self) override;
  std::string_view grad_fn_name_for(const TensorBase& self) override;

  /// Allocated from the CPU caching allocator (core/storage.h), a per-thread
  /// free list, not malloc: every recorded op's output gets one.
  /// @param nbytes the object's size
  /// @throws tg::OutOfMemoryError when the memory cannot be had.
  static void* operator new(std::size_t nbytes) { return cpu_allocate(nbytes); }
  /// Gives the object's memory back to the caching allocator.
  /// @param p      the object's memory
  /// @param nbytes the object's size
  static void operator delete(void* p, std::size_t nbytes) noexcept { cpu_deallocate(p, nbytes); }
};

/// Returns the tensor's autograd state, or null if it has none. For a view
/// whose memory was modified in place since its grad_fn was made, the grad_fn
/// is first made again from the base's current history.
AutogradMeta* meta_of(const Tensor& t);
/// The slow path of meta_of for tracked views (autograd/views.cpp).
void refresh_view(const Tensor& view, AutogradMeta& m);
/// The tensor's autograd state, created (empty) if it has none.
AutogradMeta& ensure_meta(const Tensor& t);

/// Where a tensor's gradient goes: its grad_fn, or its leaf's AccumulateGrad.
/// An empty edge when the tensor does not require grad.
Edge gradient_edge(const Tensor& t);

// A tensor kept for backward: see SavedTensor below.
/// What a node saved, for pictures of the graph (autograd/dot.h): kept only for
/// nodes recorded while a GraphDetailGuard is alive, so recording costs
/// nothing more otherwise.
struct SavedInfo {
  Dims shape;               ///< the saved tensor's shape
  DType dtype = kFloat32;   ///< its dtype
  std::int64_t nbytes = 0;  ///< its size in bytes
  bool is_output = false;   ///< whether it is an output of the op (else an input)
};
/// Whether ops recorded on this thread keep SavedInfo (a GraphDetailGuard is alive).
bool is_graph_detail_enabled();
/// Turns SavedInfo keeping on or off for this thread (GraphDetailGuard does it).
void set_graph_detail_enabled(bool enabled);
/// The SavedInfo of the tensors saved on this thread since the last call.
std::vector<SavedInfo> take_pending_saved_info();

/// While alive, ops recorded on this thread remember the shapes, dtypes and
/// sizes of the tensors they save, which to_dot then shows.
class GraphDetailGuard {
 public:
  GraphDetailGuard() : previous_(is_graph_detail_enabled()) { set_graph_detail_enabled(true); }
  ~GraphDetailGuard() { set_graph_detail_enabled(previous_); }
  GraphDetailGuard(const GraphDetailGuard&) = delete;
  GraphDetailGuard& operator=(const GraphDetailGuard&) = delete;

 private:
  bool previous_;
};

/// A tensor kept for backward. Inputs are kept as they are; outputs are kept
/// without their grad_fn (that would be a cycle) and get it back on unpack.
/// Unpack checks the storage's version counter, so an in-place change after
/// saving is an error instead of a wrong gradient.
class SavedTensor {
 public:
  SavedTensor() = default;  ///< nothing saved (defined() is false)
  /// Saves t (nothing for an undefined t).
  /// @param t         the tensor
  /// @param is_output whether t is an output of the op that saves it
  SavedTensor(const Tensor& t, bool is_output);
  /// Saves the input t only when a backward will need it (`needed`), else nothing.
  /// @param needed whether any gradient that reads t is wanted
  /// @param t      an input of the op that saves it
  static SavedTensor input_if(bool needed, const Tensor& t) { return needed ? SavedTensor(t, false) : SavedTensor(); }
  /// Saves t's data without its history: unpack() checks the version as
  /// usual and gives the data alone. For a node that reads a tensor whose
  /// history leads back to the node itself, where holding the history would
  /// be a reference cycle (the recurrent layers' hidden states, autograd/recurrent.h).
  /// @param t the tensor
  static SavedTensor without_history(const Tensor& t);
  bool defined() const { return saved_; }  ///< whether a tensor was saved
  /// The saved tensor (an undefined one if none); with grad mode on, an
  /// output gets `owner` back as its grad_fn, so a backward can be recorded.
  /// @param owner the node that saved it
  /// @throws tg::AutogradError if it was released, modified in place or
  ///   converted to another dtype since it was saved.
  Tensor unpack(const std::shared_ptr<Node>& owner) const;
  /// Frees the tensor; a later unpack() throws.
  void release() {
    data_.reset();
    released_ = true;
  }

 private:
  Tensor data_;
  std::uint32_t version_ = 0;
  std::uint32_t output_nr_ = 0;
  DType dtype_ = kFloat32;  // at save: a leaf kept itself can be converted in place (nn::Module::to)
  bool saved_ = false;
  bool is_output_ = false;
  bool output_requires_grad_ = false;
  bool released_ = false;
};

/// The id of the logical thread running: an OS thread's own, or the one it
/// continues (the engine runs a deeply nested backward pass on a fresh thread
/// while the caller waits, as one logical thread). Never 0.
std::uint64_t logical_thread_id();
/// Makes this OS thread continue logical thread `id` (the engine's worker).
void continue_logical_thread(std::uint64_t id);

/// A recursive mutex owned by a logical thread (logical_thread_id), so that a
/// backward pass the engine moved to a fresh thread may re-enter a node its
/// waiting caller holds, as it could on the caller's own thread. Only one OS
/// thread of a logical thread runs at a time, and every lock is released by
/// the OS thread that took the underlying mutex.
class LogicalThreadMutex {
 public:
  /// Takes the mutex, or counts one more hold when this logical thread has it.
  void lock() {
    const std::uint64_t me = logical_thread_id();
    if (owner_.load(std::memory_order_relaxed) == me) {
      ++depth_;
      return;
    }
    mutex_.lock();
    owner_.store(me, std::memory_order_relaxed);
    depth_ = 1;
  }
  /// Gives back one hold; the last one releases the mutex.
  void unlock() {
    if (--depth_ > 0) return;
    owner_.store(0, std::memory_order_relaxed);
    mutex_.unlock();
  }

 private:
  std::mutex mutex_;
  std::atomic<std::uint64_t> owner_{0};
  std::uint32_t depth_ = 0;  // touched only by the owner
};

/// A recorded op on the tape: its backward, its edges to the inputs' nodes,
/// and what the engine needs to schedule it (see the description of node.h).
class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// How many inputs' edges and shapes a node holds inline (beyond them they
  /// go to the heap): ops of up to three tensor inputs (linear, addmm, the
  /// norms with weight and bias) allocate no vector.
  static constexpr std::size_t kInlineInputs = 3;
  /// Gradients in and out of a backward, inline up to kInlineInputs: a pass
  /// over a graph of ops with up to three inputs and outputs allocates no
  /// list per node.
  using GradList = SmallVector<Tensor, kInlineInputs>;

  /// grads holds one gradient per output (undefined where none flowed).
  /// Returns one gradient per input edge (undefined where none is needed).
  /// Gradients returned are *added* into what the input already received: two
  /// uses of one tensor must both count.
  virtual GradList apply(GradList& grads) = 0;
  virtual std::string_view name() const = 0;  ///< the op's name, as grad_fn_name() shows it
  /// Frees saved tensors after a backward without retain_graph.
  virtual void release_saved() {}

  std::uint64_t sequence_nr() const { return sequence_nr_; }   ///< the tape position (which ready node runs first)
  void set_sequence_nr(std::uint64_t s) { sequence_nr_ = s; }  ///< sets sequence_nr()
  /// 1 + the largest topological number of the nodes its edges lead to, 0
  /// for a leaf's accumulator: a node leads only to nodes of smaller numbers,
  /// so tg::grad walks no node numbered below all its targets. A node whose
  /// edges were not sealed (set_topological_nr_from_edges) has the largest
  /// number: it and everything that leads to it are always walked.
  std::uint64_t topological_nr() const { return topological_nr_; }
  /// Sets topological_nr() from the edges, once they are all connected.
  void set_topological_nr_from_edges();
  std::uint32_t num_outputs() const { return num_outputs_; }   ///< the op's number of outputs
  void set_num_outputs(std::uint32_t n) { num_outputs_ = n; }  ///< sets num_outputs()

  /// The edges to the inputs' nodes, one per input (held inline up to kInlineInputs).
  using EdgeList = SmallVector<Edge, kInlineInputs>;
  /// The edges to the inputs' nodes, one per input.
  ///@{
  EdgeList& next_edges() { return next_edges_; }
  const EdgeList& next_edges() const { return next_edges_; }
  ///@}
  /// Whether input i needs a gradient (its edge leads somewhere).
  bool needs_input_grad(std::size_t i) const { return i < next_edges_.size() && next_edges_[i].fn != nullptr; }

  /// Input shapes and dtypes, so a gradient can be summed back over broadcast
  /// dims and cast back to its input's dtype in one place (see Backward).
  /// Held inline for up to kInlineInputs inputs, as the edges: recording an
  /// op is dominated by allocations.
  struct InputMeta {
    Dims shape;              ///< the input's shape
    DType dtype = kFloat32;  ///< the input's dtype
  };
  /// Input shapes and dtypes, one per input (held inline up to kInlineInputs).
  using InputMetaList = SmallVector<InputMeta, kInlineInputs>;
  InputMetaList& input_metas() { return input_metas_; }                           ///< one per input
  const Dims& input_shape(std::size_t i) const { return input_metas_[i].shape; }  ///< input i's shape
  DType input_dtype(std::size_t i) const { return input_metas_[i].dtype; }        ///< input i's dtype

  /// Hooks on non-leaf outputs: (output index, hook), run when that output's
  /// gradient is complete.
  using OutputHooks = std::vector<std::pair<std::uint32_t, TensorHook>>;
  /// The hooks, made empty on first use (registering a hook).
  OutputHooks& output_hooks();
  /// The hooks, or null when none was ever registered (what the engine asks).
  const OutputHooks* output_hooks_if_any() const;

  /// Whether a backward without retain_graph has run it (its saved tensors are freed).
  bool released() const { return released_; }
  /// True for a leaf's AccumulateGrad: the engine asks for every node it runs,
  /// and a flag is far cheaper than a dynamic_cast.
  bool is_accumulator() const { return is_accumulator_; }
  void mark_released() { released_ = true; }  ///< sets released()

  /// Held by the engine while it runs this node (its hooks, its backward, the
  /// release of what it saved, or a leaf's accumulation). Two backward calls
  /// may share a graph from two threads, as in PyTorch: they must not
  /// interleave inside one node, where one could free the saved tensors the
  /// other is reading, or both write one .grad(). Recursive: a hook or a
  /// custom backward may itself run a backward (on this thread, or on the
  /// fresh thread the engine hands deeply nested passes to) that reaches this
  /// node again.
  LogicalThreadMutex& mutex() const { return mutex_; }

  /// Set when anomaly mode was on at recording time: where the op was
  /// recorded, as function names, files and lines (symbolised on this call).
  std::string recorded_at() const;
  void set_recorded_at(std::string where);  ///< sets recorded_at() as text
  /// Sets recorded_at() as raw frames, symbolised when asked for.
  void set_recording_site(std::shared_ptr<const RecordingSite> site);
  /// Filled only under a GraphDetailGuard.
  const std::vector<SavedInfo>& saved_info() const;
  void set_saved_info(std::vector<SavedInfo> info);  ///< sets saved_info()

 protected:
  void mark_accumulator();  ///< makes is_accumulator() true (AccumulateGrad)

 private:
  std::uint64_t sequence_nr_ = 0;
  std::uint64_t topological_nr_ = std::numeric_limits<std::uint64_t>::max();
  std::uint32_t num_outputs_ = 1;
  bool released_ = false;
  bool is_accumulator_ = false;
  EdgeList next_edges_;
  InputMetaList input_metas_;
  // What few nodes have (hooks, anomaly mode's recording site, a graph
  // detail's saved-tensor list): behind one pointer, made on first use, so
  // that recording an op neither builds nor destroys them.
  struct Rare;
  Rare& rare();
  std::unique_ptr<Rare> rare_;
  mutable LogicalThreadMutex mutex_;
};

/// Next number of the calling thread's tape.
std::uint64_t next_sequence_nr();

/// Live-node counter for tests of tape memory: every Node alive except the
/// leaves' AccumulateGrad nodes, which belong to their leaf and live as long
/// as it does.
///
/// Exact only when no other thread is making or freeing nodes at the same
/// time (say, after joining the threads that record): it sums per-thread
/// counts one after another, which is not a snapshot, so a reading taken
/// while other threads record or free may be off by their nodes in either
/// direction, and a difference of two such readings can even be negative.
std::int64_t live_node_count();

/// Leaves' sink: adds the incoming gradient into the leaf's .grad().
class AccumulateGrad final : public Node {
 public:
  /// The sink of `leaf`, which it refers to weakly.
  explicit AccumulateGrad(const Tensor& leaf);
  GradList apply(GradList& grads) override;
  std::string_view name() const override { return "AccumulateGrad"; }  ///< "AccumulateGrad"
  /// The leaf, if it is still alive.
  Tensor variable() const;

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

}  // namespace tg::autograd
