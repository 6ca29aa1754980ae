#include <tapegrad/autograd/engine.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <queue>
#include <span>
#include <string>
#include <thread>
#include <typeinfo>

#include <fmt/format.h>
#include <omp.h>
#if defined(__SSE__)
#include <immintrin.h>
#endif

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/profiler.h>

namespace tg {
namespace autograd {
namespace {

bool all_finite(const Tensor& t) {
  if (!t.is_floating_point()) return true;
  Tensor c = kernel::contiguous(t);
  return dispatch_floating(c.dtype(), "anomaly", [&]<class T>() {
    const T* p = c.data_ptr<T>();
    for (std::int64_t i = 0; i < c.numel(); ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  });
}

// The profiler's name for a node's backward ("mul_backward"), built only
// while a Profile records.
[[maybe_unused]] std::string backward_event_name(const Node& node) {
  if (!profiler::enabled()) return {};
  return node.is_accumulator() ? std::string(node.name()) : fmt::format("{}_backward", node.name());
}

// Adds `g` to `slot`. The first gradient is kept as is; later ones are added
// out of place, so a gradient tensor shared between two inputs is never
// modified behind the other's back.
void accumulate_into(Tensor& slot, const Tensor& g) { slot = slot.defined() ? tg::add(slot, g) : g; }

struct Target {
  Node* node;
  std::uint32_t output_nr;
};

// Open addressing with linear probing from a node to what a backward pass
// knows of it: one array for the whole graph, no allocation per node (a hash
// map node per graph node cost more than the rest of the engine together).
// Nothing is erased during a pass; values move when the table grows, so no
// pointer into it is kept across an insertion.
template <class T>
class NodeTable {
 public:
  std::pair<T*, bool> try_emplace(Node* key) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    auto [slot, found] = locate(key);
    if (found) return {&slot->value, false};
    slot->key = key;
    ++size_;
    return {&slot->value, true};
  }
  std::size_t size() const { return size_; }
  // The value of a key that is known to be present.
  T& at(Node* key) { return locate(key).first->value; }
  template <class F>
  void for_each(F&& f) {
    for (auto& s : slots_)
      if (s.key) f(s.key, s.value);
  }

 private:
  struct Slot {
    Node* key = nullptr;
    T value{};
  };
  std::pair<Slot*, bool> locate(Node* key) {
    const std::size_t mask = slots_.size() - 1;
    auto x = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(key));
    std::size_t i = static_cast<std::size_t>((x * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    while (true) {
      Slot& s = slots_[i];
      if (s.key == key) return {&s, true};
      if (!s.key) return {&s, false};
      i = (i + 1) & mask;
    }
  }
  void grow() {
    // A training loop backpropagates graphs of one size over and over: start
    // at the size this thread needed last time, so steady state never rehashes.
    thread_local std::size_t last_size = 64;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? last_size : old.size() * 2, Slot{});
    last_size = std::min<std::size_t>(slots_.size(), std::size_t{1} << 16);
    for (auto& s : old)
      if (s.key) *locate(s.key).first = std::move(s);
  }
  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

// The callbacks queued (queue_callback) during the innermost backward pass
// running on this thread; null outside one.
thread_local std::vector<std::function<void()>>* current_callbacks = nullptr;

// How many backward passes are running on this thread, one inside another.
thread_local int tl_nested_passes = 0;
constexpr int kMaxNestedPasses = 60;

// detail::nodes_walked_by_last_pass().
thread_local std::size_t tl_nodes_walked = 0;

// What a pass moved to another thread must see as its caller did: the
// logical thread it continues (so it may re-enter nodes its caller holds
// locked, LogicalThreadMutex), the per-thread modes of autograd, OpenMP's
// team size and the floating-point control word (flush-to-zero, rounding),
// which user code in a backward may rely on.
struct ThreadModes {
  std::uint64_t logical_thread = 0;
  bool grad = true, anomaly = false, graph_detail = false;
  int omp_threads = 1;
#if defined(__SSE__)
  unsigned mxcsr = 0;
#endif
  static ThreadModes of_this_thread() {
    ThreadModes m;
    m.logical_thread = logical_thread_id();
    m.grad = is_grad_enabled();
    m.anomaly = is_anomaly_enabled();
    m.graph_detail = is_graph_detail_enabled();
    m.omp_threads = omp_get_max_threads();
#if defined(__SSE__)
    m.mxcsr = _mm_getcsr() & ~0x3fu;  // the control bits, without the exception flags
#endif
    return m;
  }
  void apply_to_this_thread() const {
    continue_logical_thread(logical_thread);
    set_grad_enabled(grad);
    set_anomaly_enabled(anomaly);
    set_graph_detail_enabled(graph_detail);
    omp_set_num_threads(omp_threads);
#if defined(__SSE__)
    _mm_setcsr(mxcsr);
#endif
    // This thread's OpenMP team is new: its workers have not seen
    // set_flush_denormal's mode yet.
    tg::detail::apply_flush_denormal_to_workers();
  }
};

// One backward pass over the graph reachable from its roots.
//
// Order: before anything runs, a walk of the reachable graph counts for each
// node how many edges lead into it from nodes that will run (its
// dependencies). A node runs once all of them have delivered, so it always
// sees its complete gradient, however the graph was recorded: on several
// threads, whose sequence numbers are unrelated, or with tensors moved
// between threads. Among ready nodes the highest sequence number runs first,
// which frees the most recent activations first; it is a priority, never what
// makes the order correct.
class GraphTask {
 public:
  GraphTask(bool retain_graph, bool create_graph, bool accumulate)
      : retain_graph_(retain_graph), create_graph_(create_graph), accumulate_(accumulate) {}

  void add_root(const Edge& edge, const Tensor& g) { roots_.push_back({edge, g}); }

  // Restricts execution to nodes that lead to a target (tg::grad).
  void set_targets(const std::vector<Edge>& targets) {
    for (const auto& t : targets) {
      targets_.push_back({t.fn.get(), t.input_nr});
      target_nodes_.push_back(t.fn.get());
      keep_alive_.push_back(t.fn);
    }
    std::sort(target_nodes_.begin(), target_nodes_.end());
    captured_.resize(targets.size());
  }

  // With targets: a target's node is not run and the walk does not go past
  // it, so a target's gradient is the one reaching it from the outputs,
  // without what flows through another target (detail::grad_stopping_at_inputs).
  void stop_at_targets() { stop_at_targets_ = true; }

  std::vector<Tensor>& captured() { return captured_; }

  // Runs the pass on this thread or, when passes already nest
  // kMaxNestedPasses deep on it (a custom backward, or a checkpoint's
  // recomputation, that runs a backward of its own, and so on), on a new
  // thread with a stack of its own: each nesting costs stack, and thousands
  // overflowed the main thread's (a crash). PyTorch's engine hands such passes
  // to a pool thread at depth 60 as well. This thread waits, so the order of
  // work is unchanged; the worker takes this thread's modes.
  void run() {
    if (tl_nested_passes < kMaxNestedPasses) {
      ++tl_nested_passes;
      struct Leave {
        ~Leave() { --tl_nested_passes; }
      } leave;
      run_here();
      return;
    }
    const ThreadModes modes = ThreadModes::of_this_thread();
    std::exception_ptr error;
    std::thread worker([&] {
      modes.apply_to_this_thread();
      try {
        run();
      } catch (...) {
        error = std::current_exception();
      }
    });
    worker.join();
    if (error) std::rethrow_exception(error);
  }

 private:
  void run_here() {
    // Nested passes (a custom backward that runs one) queue into their own list.
    struct CallbackScope {
      std::vector<std::function<void()>>* previous = current_callbacks;
      explicit CallbackScope(std::vector<std::function<void()>>* mine) { current_callbacks = mine; }
      ~CallbackScope() { current_callbacks = previous; }
    } scope(&callbacks_);
    run_graph();
    // A callback may queue another one: run them in order until none is left.
    for (std::size_t k = 0; k < callbacks_.size(); ++k) {
      auto callback = std::move(callbacks_[k]);
      callback();
    }
  }

  void run_graph() {
    discover();
    for (auto& [edge, g] : roots_) {
      Info& info = info_.at(edge.fn.get());
      if (info.needed) add_to(buffer_of(info, edge), edge.input_nr, g);
    }
    for (auto& [edge, g] : roots_) {
      Info& info = info_.at(edge.fn.get());
      if (info.needed && info.dependencies == 0 && !info.queued) {
        info.queued = true;
        ready_.push({priority(*edge.fn), edge.fn.get()});
      }
    }
    roots_.clear();
    set_grad_enabled(create_graph_);
    while (!ready_.empty()) {
      Node* raw = ready_.top().second;
      ready_.pop();
      Info& info = info_.at(raw);
      const bool runs = info.runs;
      Buffer& buffer = buffers_[info.buffer];
      std::shared_ptr<Node> node = std::move(buffer.node);
      Node::GradList grads = std::move(buffer.grads);
      free_buffers_.push_back(info.buffer);
      info.buffer = -1;
      if (grads.empty()) grads.resize(node->num_outputs());
      std::unique_lock node_lock(node->mutex());
      // A tensor's hooks run before its gradient is captured, as PyTorch 2's
      // (1.13 captured first): tg::grad returns what backward would add
      // into .grad(). Not where the walk stops at the targets (checkpoint's
      // backward): what is captured there goes on into the outer pass,
      // which runs the hooks when it reaches the tensor.
      if (!(stop_at_targets_ && is_target(node.get()))) {
        if (node->is_accumulator()) run_leaf_hooks(static_cast<AccumulateGrad&>(*node), grads[0]);
        else run_output_hooks(*node, grads);
      }
      // Only tg::grad returns what reaches its targets; backward(inputs)
      // accumulates it, and a captured handle would make the leaf's
      // gradient look shared (accumulate_leaf would copy it).
      if (!accumulate_) capture(*node, grads);
#ifndef TAPEGRAD_PROFILER_OFF
      profiler::RecordScope profile_scope(backward_event_name(*node), profiler::EventKind::kBackward,
                                          std::span<const Tensor>(grads.data(), grads.size()));
#endif
      if (node->is_accumulator()) {
        // moved: lets a sole owner be adopted, not cloned
        if (accumulate_) accumulate_leaf(static_cast<AccumulateGrad&>(*node), std::move(grads[0]));
        continue;
      }
      Node::GradList input_grads;
      const bool any_grad = std::any_of(grads.begin(), grads.end(), [](const Tensor& g) { return g.defined(); });
      if (runs && any_grad) {
        if (node->released()) throw_backward_twice(node->name());
        try {
          input_grads = node->apply(grads);
        } catch (const Error& e) {
          if (is_anomaly_enabled()) rethrow_with_site(e, *node);
          throw;
        }
        validate(*node, input_grads);
        if (is_anomaly_enabled()) check_anomaly(*node, input_grads);
        if (!retain_graph_) {
          node->release_saved();
          node->mark_released();
        }
      }
      node_lock.unlock();
      // A node that does not run delivers nothing, and no edge from it was
      // counted (a target where the walk stopped, or one leading nowhere).
      if (!runs) continue;
      // Every edge to a node that runs counts as delivered, with or without
      // a gradient: otherwise a node fed only through undefined gradients
      // would wait forever.
      const auto& edges = node->next_edges();
      for (std::size_t i = 0; i < edges.size(); ++i) {
        if (!edges[i].fn) continue;
        Info& child = info_.at(edges[i].fn.get());
        if (!child.needed) continue;
        Buffer& b = buffer_of(child, edges[i]);  // holds the child alive once this node is gone
        if (i < input_grads.size() && input_grads[i].defined()) add_to(b, edges[i].input_nr, input_grads[i]);
        if (--child.dependencies == 0) {
          child.queued = true;
          ready_.push({priority(*edges[i].fn), edges[i].fn.get()});
        }
      }
    }
  }

 private:
  // What the walk before the run learns of each reachable node. Kept small:
  // a graph can have millions of nodes.
  struct Info {
    std::int32_t dependencies = 0;
    std::int32_t buffer = -1;  // index into buffers_ while the node has one
    bool needed = true;        // on a path to a target (always, for backward)
    bool runs = true;          // its backward is called (tg::grad: only if it leads to a target)
    bool queued = false;
  };
  // The gradients gathered for a node that has been reached but not yet run;
  // it holds the node alive until then. Only the frontier has one, and the
  // slots are reused.
  struct Buffer {
    std::shared_ptr<Node> node;
    Node::GradList grads;  // one slot per output, made on the first gradient
  };

  // Leaves' accumulators run as soon as they are ready: that frees their
  // gradient buffer early and touches no other node.
  static std::uint64_t priority(const Node& n) {
    return n.is_accumulator() ? std::numeric_limits<std::uint64_t>::max() : n.sequence_nr();
  }

  Buffer& buffer_of(Info& info, const Edge& edge) {
    if (info.buffer < 0) {
      if (free_buffers_.empty()) {
        info.buffer = static_cast<std::int32_t>(buffers_.size());
        buffers_.emplace_back();
      } else {
        info.buffer = free_buffers_.back();
        free_buffers_.pop_back();
      }
      buffers_[info.buffer].node = edge.fn;
    }
    return buffers_[info.buffer];
  }

  static void add_to(Buffer& b, std::uint32_t input_nr, const Tensor& g) {
    if (b.grads.empty()) b.grads.resize(b.node->num_outputs());
    accumulate_into(b.grads[input_nr], g);
  }

  // Walks the graph reachable from the roots once, without recursion: marks
  // the nodes that lead to a target (tg::grad) in post-order, then counts
  // each node's incoming edges from nodes that will run. Raw pointers are
  // safe: until the run starts, the roots hold the whole graph, and during
  // the run a node is only looked up through a live edge to it.
  //
  // With targets, a node numbered below every target (Node::topological_nr)
  // cannot lead to one: it gets its Info, not needed, and the walk does not
  // go past it. Without that, tg::grad of a tensor with a long history
  // walked the whole history every call (quadratic over a training loop).
  void discover() {
    const bool restrict = !targets_.empty();
    std::uint64_t floor = 0;
    if (restrict) {
      floor = std::numeric_limits<std::uint64_t>::max();
      for (const Node* t : target_nodes_) floor = std::min(floor, t->topological_nr());
    }
    std::vector<std::pair<Node*, std::size_t>> stack;
    for (auto& [edge, g] : roots_) {
      if (!info_.try_emplace(edge.fn.get()).second) continue;
      stack.push_back({edge.fn.get(), 0});
      while (!stack.empty()) {
        auto [n, next] = stack.back();
        const bool stops = stop_at_targets_ && is_target(n);
        const auto& edges = n->next_edges();
        if (next < (stops ? 0 : edges.size())) {
          ++stack.back().second;
          const Edge& e = edges[next];
          if (!e.fn) continue;
          auto [info, fresh] = info_.try_emplace(e.fn.get());
          if (!fresh) continue;
          if (e.fn->topological_nr() < floor) info->needed = info->runs = false;
          else stack.push_back({e.fn.get(), 0});
          continue;
        }
        stack.pop_back();
        if (!restrict) continue;
        // Post-order: every child is settled (the graph has no cycles).
        bool leads = false;
        if (!stops)
          for (const Edge& e : edges)
            if (e.fn && info_.at(e.fn.get()).needed) leads = true;
        Info& info = info_.at(n);
        info.runs = leads;
        info.needed = leads || is_target(n);
      }
    }
    tl_nodes_walked = info_.size();
    info_.for_each([&](Node* raw, Info& info) {
      if (!info.needed || !info.runs) return;
      for (const Edge& e : raw->next_edges())
        if (e.fn) {
          Info& child = info_.at(e.fn.get());
          if (child.needed) ++child.dependencies;
        }
    });
  }

  bool is_target(Node* n) const { return std::binary_search(target_nodes_.begin(), target_nodes_.end(), n); }

  // The gradient contract: a backward returns, for each input, a gradient of
  // exactly that input's shape and dtype (or none). Anything else is a bug in
  // the op, the custom function or the hook, and must not be reshaped into
  // something that looks plausible.
  void validate(Node& node, const Node::GradList& input_grads) {
    const auto& metas = node.input_metas();
    if (metas.empty()) return;
    for (std::size_t i = 0; i < input_grads.size() && i < metas.size(); ++i) {
      const Tensor& g = input_grads[i];
      if (!g.defined() || !node.needs_input_grad(i)) continue;
      if (g.shape() != metas[i].shape || g.dtype() != metas[i].dtype)
        throw AutogradError(fmt::format(
            "{}: backward returned a gradient of shape {} and dtype {} for input {}, which has shape {} and dtype {}",
            node.name(), shape_str(g.sizes()), dtype_name(g.dtype()), i, shape_str(metas[i].shape),
            dtype_name(metas[i].dtype)));
    }
  }

  void run_output_hooks(Node& node, Node::GradList& grads) {
    const Node::OutputHooks* hooks = node.output_hooks_if_any();
    if (!hooks) return;
    // By index, each hook copied before it runs: a hook may register another
    // one on this node (the list may grow and move while it runs).
    for (std::size_t k = 0; k < hooks->size(); ++k) {
      const auto [index, hook] = (*hooks)[k];
      if (!hook || index >= grads.size() || !grads[index].defined()) continue;  // removed, or no gradient
      Tensor replaced = hook(grads[index]);
      if (!replaced.defined()) continue;
      check_hook_result(fmt::format("a hook on output {} of {}", index, node.name()), grads[index], replaced);
      grads[index] = replaced;
    }
  }

  void capture(Node& node, const Node::GradList& grads) {
    for (std::size_t k = 0; k < targets_.size(); ++k)
      if (targets_[k].node == &node && targets_[k].output_nr < grads.size()) {
        const Tensor& g = grads[targets_[k].output_nr];
        if (node.is_accumulator() && g.defined())
          if (Tensor leaf = static_cast<AccumulateGrad&>(node).variable(); leaf.defined()) check_leaf_gradient(leaf, g);
        captured_[k] = g;
      }
  }

  // The graph's gradient has the leaf's shape and dtype at recording time
  // (validate); a leaf converted since (nn::Module::to swaps a parameter's
  // memory and dtype in place) must not get, or be given, one of the old dtype.
  static void check_leaf_gradient(const Tensor& leaf, const Tensor& g) {
    if (g.shape() == leaf.shape() && g.dtype() == leaf.dtype()) return;
    throw AutogradError(fmt::format(
        "AccumulateGrad: the gradient is {} {} but its leaf is now {} {}: the leaf was converted after the graph was "
        "recorded (nn::Module::to converts parameters in place); run the forward pass again after converting",
        dtype_name(g.dtype()), shape_str(g.sizes()), dtype_name(leaf.dtype()), shape_str(leaf.sizes())));
  }

  // The leaf's own hooks (register_hook on a leaf), in order, each seeing
  // the previous one's result.
  static void run_leaf_hooks(AccumulateGrad& acc, Tensor& g) {
    Tensor leaf = acc.variable();
    if (!leaf.defined() || !g.defined()) return;
    auto& m = ensure_meta(leaf);
    if (m.hooks.empty()) return;
    if (m.requires_grad) check_leaf_gradient(leaf, g);
    for (std::size_t k = 0; k < m.hooks.size(); ++k) {
      const auto hook = m.hooks[k];  // a copy: a hook may register another one
      if (!hook) continue;           // removed
      Tensor replaced = hook(g);
      if (!replaced.defined()) continue;
      check_hook_result(fmt::format("hook {} on a leaf", k), g, replaced);
      g = replaced;
    }
  }

  // Adds g, which the leaf's hooks have seen (run_leaf_hooks), into its .grad().
  void accumulate_leaf(AccumulateGrad& acc, Tensor g) {
    Tensor leaf = acc.variable();
    if (!leaf.defined() || !g.defined()) return;
    auto& m = ensure_meta(leaf);
    if (m.requires_grad) check_leaf_gradient(leaf, g);
    // A leaf that stopped requiring grad since it was recorded (frozen after
    // the forward) gets nothing, as PyTorch's AccumulateGrad: an optimizer
    // would otherwise still step it.
    if (!m.requires_grad) return;
    if (is_anomaly_enabled() && !all_finite(g))
      throw AutogradError(fmt::format("AccumulateGrad: the gradient for a leaf of shape {} contains NaN or Inf",
                                      shape_str(leaf.sizes())));
    if (!m.grad.defined()) {
      // Keep our own copy unless nobody else can see this tensor or its
      // memory: a view whose handle is ours alone can still share storage
      // with another leaf's gradient (add hands one g to both inputs, and a
      // view's backward wraps it), and the next accumulation adds in place.
      // With create_graph the copy is recorded (tg::clone), as PyTorch's.
      const bool sole_owner =
          g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous() && !meta_of(g);
      m.grad = create_graph_ ? tg::clone(g) : (sole_owner ? g : kernel::clone(g));
    } else if (create_graph_ || m.grad.requires_grad()) {
      m.grad = tg::add(m.grad, g);
    } else {
      NoGradGuard no_grad;
      m.grad.add_(g);
    }
    for (std::size_t k = 0; k < m.post_accumulate_hooks.size(); ++k) {
      const auto hook = m.post_accumulate_hooks[k];  // a copy, as above
      hook(leaf);
    }
  }

  static void check_hook_result(const std::string& hook, const Tensor& expected, const Tensor& got) {
    if (got.shape() == expected.shape() && got.dtype() == expected.dtype()) return;
    throw AutogradError(fmt::format(
        "{} returned a gradient of shape {} and dtype {}, but the gradient it was given has shape {} and dtype {}; "
        "a hook must return a gradient of the same shape and dtype (or nothing)",
        hook, shape_str(got.sizes()), dtype_name(got.dtype()), shape_str(expected.sizes()),
        dtype_name(expected.dtype())));
  }

  // Where `node` was recorded, for anomaly mode's errors.
  static std::string recording_site(const Node& node) {
    std::string where = node.recorded_at();
    return where.empty() ? std::string("  (unknown: anomaly mode was off when it was recorded)") : where;
  }

  // Anomaly mode, as PyTorch's: an error thrown inside a node's backward
  // (a custom backward's bad matmul) also says which node and where it was
  // recorded, keeping its type (one of tapegrad's own; a user's subclass or
  // another exception passes unchanged rather than be sliced). Once: a
  // nested pass's error passes through every outer node, and the innermost
  // is the one that says most.
  [[noreturn]] static void rethrow_with_site(const Error& e, Node& node) {
    static constexpr std::string_view kMark = "\n(anomaly mode) thrown in the backward of ";
    const std::string_view what = e.what();
    if (what.find(kMark) != std::string_view::npos) throw;
    const std::string message = fmt::format("{}{}{}, recorded at:\n{}", what, kMark, node.name(), recording_site(node));
    rethrow_as<ShapeError, DTypeError, IndexError, FormatError, AutogradError, ValueError, OutOfMemoryError>(e,
                                                                                                             message);
  }
  template <class... Types>
  [[noreturn]] static void rethrow_as(const Error& e, const std::string& message) {
    (..., (typeid(e) == typeid(Types) ? throw Types(message) : void()));
    if (typeid(e) == typeid(Error)) throw Error(message);
    throw;
  }

  void check_anomaly(Node& node, const Node::GradList& input_grads) {
    for (std::size_t i = 0; i < input_grads.size(); ++i) {
      if (!input_grads[i].defined() || all_finite(input_grads[i])) continue;
      throw AutogradError(fmt::format(
          "{}: backward produced NaN or Inf in the gradient of input {} (shape {}); the op was recorded at:\n{}",
          node.name(), i, shape_str(input_grads[i].sizes()), recording_site(node)));
    }
  }

  bool retain_graph_, create_graph_, accumulate_;
  bool stop_at_targets_ = false;
  std::vector<std::function<void()>> callbacks_;
  std::vector<std::pair<Edge, Tensor>> roots_;
  NodeTable<Info> info_;
  std::vector<Buffer> buffers_;
  std::vector<std::int32_t> free_buffers_;
  std::priority_queue<std::pair<std::uint64_t, Node*>> ready_;
  std::vector<Target> targets_;
  std::vector<Node*> target_nodes_;  // sorted
  std::vector<std::shared_ptr<Node>> keep_alive_;
  std::vector<Tensor> captured_;
};

// Checks each output and makes its seed gradient (ones for a scalar).
std::vector<Tensor> seed_gradients(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                                   const char* op) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw ValueError(fmt::format("{}: got {} outputs but {} gradients", op, outputs.size(), grad_outputs.size()));
  std::vector<Tensor> seeds(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    if (!out.defined()) throw ValueError(fmt::format("{}: output {} is undefined", op, i));
    if (!requires_grad_of(out))
      throw AutogradError(fmt::format("{}: output {} (shape {}) does not require grad and has no grad_fn", op, i,
                                      shape_str(out.sizes())));
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      if (out.numel() != 1)
        throw AutogradError(fmt::format(
            "{}: a gradient can be created implicitly only for scalar outputs, but output {} has shape {}; pass a "
            "gradient of that shape",
            op, i, shape_str(out.sizes())));
      g = ones_like(out);
    } else if (g.shape() != out.shape()) {
      throw ShapeError(fmt::format("{}: gradient of shape {} does not match output {} of shape {}", op,
                                   shape_str(g.sizes()), i, shape_str(out.sizes())));
    } else if (g.dtype() != out.dtype()) {
      throw AutogradError(fmt::format("{}: gradient of dtype {} does not match output {} of dtype {}", op,
                                      dtype_name(g.dtype()), i, dtype_name(out.dtype())));
    }
    seeds[i] = g;
  }
  return seeds;
}

// The gradient edges of the tensors a pass differentiates with respect to
// (tg::grad's inputs, backward's `inputs`), each checked to be defined and
// to require grad.
std::vector<Edge> target_edges(const std::vector<Tensor>& inputs, const char* op) {
  std::vector<Edge> edges;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) throw AutogradError(fmt::format("{}: input {} is undefined", op, i));
    if (!requires_grad_of(inputs[i]))
      throw AutogradError(
          fmt::format("{}: input {} (shape {}) does not require grad", op, i, shape_str(inputs[i].sizes())));
    edges.push_back(gradient_edge(inputs[i]));
  }
  return edges;
}

// Restores grad mode however the engine exits.
struct GradModeRestore {
  bool previous = is_grad_enabled();
  ~GradModeRestore() { set_grad_enabled(previous); }
};

}  // namespace

void queue_callback(std::function<void()> callback) {
  require_function<AutogradError>(callback, "queue_callback", "the callback");
  if (!current_callbacks)
    throw AutogradError(
        "queue_callback: no backward pass is running on this thread (call it from a hook or a custom backward)");
  current_callbacks->push_back(std::move(callback));
}

const void* current_backward_pass() { return current_callbacks; }

std::size_t detail::nodes_walked_by_last_pass() { return tl_nodes_walked; }

Node::GradList AccumulateGrad::apply(GradList&) {
  // The engine accumulates leaves itself (it knows whether create_graph is on
  // and whether this is a tg::grad call that must not touch .grad()).
  return {};
}

}  // namespace autograd

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              bool create_graph, const std::vector<Tensor>& inputs) {
  using namespace autograd;
  if (outputs.empty()) throw AutogradError("backward: no outputs given");
  auto seeds = seed_gradients(outputs, grad_outputs, "backward");
  // Checked before anything changes: a failed call leaves the graph intact.
  const std::vector<Edge> targets = target_edges(inputs, "backward");
  // A non-leaf's gradient reaches its .grad() through the retain hook its
  // grad_fn runs (PyTorch calls retain_grad() too); a leaf's accumulator is
  // a target, and accumulates as in any backward.
  for (const Tensor& input : inputs)
    if (!input.is_leaf()) input.retain_grad();
  GradModeRestore restore;
  // As PyTorch: building a graph of the backward implies keeping this one.
  GraphTask task(retain_graph || create_graph, create_graph, /*accumulate=*/true);
  for (std::size_t i = 0; i < outputs.size(); ++i) task.add_root(gradient_edge(outputs[i]), seeds[i]);
  if (!targets.empty()) task.set_targets(targets);
  task.run();
}

namespace {

std::vector<Tensor> run_grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                             const std::vector<Tensor>& grad_outputs, GradOptions options, bool stop_at_inputs) {
  using namespace autograd;
  // Checked before anything runs: a failed call must leave the graph intact.
  if (inputs.empty())
    throw AutogradError(
        "grad: no inputs given; pass the tensors to differentiate with respect to (or call "
        "backward() to accumulate into every leaf)");
  auto seeds = seed_gradients(outputs, grad_outputs, "grad");
  const std::vector<Edge> targets = target_edges(inputs, "grad");
  GradModeRestore restore;
  GraphTask task(options.retain_graph || options.create_graph, options.create_graph, /*accumulate=*/false);
  for (std::size_t i = 0; i < outputs.size(); ++i) task.add_root(gradient_edge(outputs[i]), seeds[i]);
  task.set_targets(targets);
  if (stop_at_inputs) task.stop_at_targets();
  task.run();
  auto result = std::move(task.captured());
  for (std::size_t i = 0; i < result.size(); ++i)
    if (!result[i].defined() && !options.allow_unused)
      throw AutogradError(
          fmt::format("grad: input {} (shape {}) was not used to compute the outputs; pass allow_unused=true to get an "
                      "undefined gradient for it",
                      i, shape_str(inputs[i].sizes())));
  return result;
}

}  // namespace

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, GradOptions options) {
  return run_grad(outputs, inputs, grad_outputs, options, /*stop_at_inputs=*/false);
}

std::vector<Tensor> autograd::detail::grad_stopping_at_inputs(const std::vector<Tensor>& outputs,
                                                              const std::vector<Tensor>& inputs,
                                                              const std::vector<Tensor>& grad_outputs,
                                                              GradOptions options) {
  return run_grad(outputs, inputs, grad_outputs, options, /*stop_at_inputs=*/true);
}

}  // namespace tg
