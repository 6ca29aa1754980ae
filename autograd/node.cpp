#include <tapegrad/autograd/node.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/core/export.h>

namespace tg::autograd {
namespace {
// The live-node count, kept per thread: a global atomic counter cost two
// locked read-modify-writes per recorded op (about 8 ns of a 170 ns add).
// Each thread adds the nodes it makes and subtracts those it frees (a node
// freed on another thread than the one that made it leaves one count high
// and the other low; the sum counts it once). Only its own thread writes a
// thread's count, so plain loads and stores suffice; live_node_count() sums
// the counts of the threads alive under the registry's lock, plus what the
// threads that ended left behind. The lock keeps threads from coming and
// going, not nodes: the counts are read one after another, not at one
// instant, so the sum is exact only while no other thread makes or frees
// nodes. Read during such work it may be off either way by the nodes made
// or freed meanwhile (a node made on a thread already read and freed on one
// not yet read counts -1), and a difference of two readings can be negative.
struct NodeTallies {
  std::mutex mutex;
  std::vector<const std::atomic<std::int64_t>*> counts;  // of the threads alive
  std::atomic<std::int64_t> retired{0};                  // left by threads that ended
};
NodeTallies& tallies() {
  static auto* t = new NodeTallies;  // never destroyed: threads may end after static destruction
  return *t;
}
thread_local std::atomic<std::int64_t> tl_live_nodes TG_TLS_FAST{0};
thread_local bool tl_tally_registered TG_TLS_FAST = false;
thread_local bool tl_tally_retired TG_TLS_FAST = false;
// Registers this thread's count on its first node and, through its
// destructor at thread exit, folds it into `retired`; nodes freed later in
// that thread's exit count there directly.
struct TallyRegistration {
  TallyRegistration() {
    std::lock_guard lock(tallies().mutex);
    tallies().counts.push_back(&tl_live_nodes);
  }
  ~TallyRegistration() {
    auto& t = tallies();
    std::lock_guard lock(t.mutex);
    t.counts.erase(std::find(t.counts.begin(), t.counts.end(), &tl_live_nodes));
    t.retired.fetch_add(tl_live_nodes.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
    tl_tally_retired = true;
  }
};
void tally_nodes(std::int64_t delta) {
  if (!tl_tally_registered) [[unlikely]] {
    thread_local TallyRegistration registration;
    tl_tally_registered = true;
  }
  if (tl_tally_retired) [[unlikely]] {
    tallies().retired.fetch_add(delta, std::memory_order_relaxed);
    return;
  }
  tl_live_nodes.store(tl_live_nodes.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}
thread_local std::uint64_t tl_next_sequence_nr TG_TLS_FAST = 1;
thread_local bool tl_graph_detail TG_TLS_FAST = false;
thread_local std::vector<SavedInfo> tl_pending_saved;
std::atomic<std::uint64_t> g_next_logical_thread{1};
thread_local std::uint64_t tl_logical_thread = 0;
}  // namespace

std::uint64_t logical_thread_id() {
  if (tl_logical_thread == 0) [[unlikely]]
    tl_logical_thread = g_next_logical_thread.fetch_add(1, std::memory_order_relaxed);
  return tl_logical_thread;
}
void continue_logical_thread(std::uint64_t id) { tl_logical_thread = id; }

bool is_graph_detail_enabled() { return tl_graph_detail; }
void set_graph_detail_enabled(bool enabled) {
  tl_graph_detail = enabled;
  tl_pending_saved.clear();
}
std::vector<SavedInfo> take_pending_saved_info() { return std::exchange(tl_pending_saved, {}); }

std::uint64_t next_sequence_nr() { return tl_next_sequence_nr++; }
std::int64_t live_node_count() {
  auto& t = tallies();
  std::lock_guard lock(t.mutex);
  std::int64_t n = t.retired.load(std::memory_order_relaxed);
  for (const auto* count : t.counts) n += count->load(std::memory_order_relaxed);
  return n;
}

AutogradMeta* meta_of(const Tensor& t) {
  auto* m = t.defined() ? static_cast<AutogradMeta*>(t.impl()->autograd.get()) : nullptr;
  if (m && m->view_base.defined()) [[unlikely]]
    refresh_view(t, *m);
  return m;
}

void AutogradMeta::set_view(Tensor base, ViewKind kind, Storage* own) {
  view_base = std::move(base);
  view_kind = kind;
  Storage* const follows =
      view_base.defined() && kind == ViewKind::kPlain && view_base.storage().get() == own ? own : nullptr;
  if (follows == followed_storage) return;
  if (followed_storage) followed_storage->remove_follower();
  followed_storage = follows;
  if (followed_storage) followed_storage->add_follower();
}

AutogradMeta::~AutogradMeta() {
  if (followed_storage) followed_storage->remove_follower();
}

AutogradMeta& ensure_meta(const Tensor& t) {
  auto& slot = t.impl()->autograd;
  if (!slot) slot = std::make_unique<AutogradMeta>();
  return static_cast<AutogradMeta&>(*slot);
}

Edge gradient_edge(const Tensor& t) {
  AutogradMeta* m = meta_of(t);
  if (!m) return {};
  if (m->grad_fn) return {m->grad_fn, m->output_nr};
  if (!m->requires_grad) return {};
  // A leaf: one AccumulateGrad node for all its uses, made on the first and
  // kept while the leaf lives. Once made it never changes, so after the
  // acquire load it is read without the lock.
  if (!m->accumulator_ready.load(std::memory_order_acquire)) {
    std::lock_guard lock(m->accumulator_mutex);
    if (!m->grad_accumulator) {
      m->grad_accumulator = std::allocate_shared<AccumulateGrad>(CachingAllocator<AccumulateGrad>{}, t);
      m->accumulator_ready.store(true, std::memory_order_release);
    }
  }
  return {m->grad_accumulator, 0};
}

struct Node::Rare {
  OutputHooks output_hooks;
  std::string recorded_at;
  std::shared_ptr<const RecordingSite> recording_site;
  std::vector<SavedInfo> saved_info;
};

Node::Rare& Node::rare() {
  if (!rare_) rare_ = std::make_unique<Rare>();
  return *rare_;
}

Node::OutputHooks& Node::output_hooks() { return rare().output_hooks; }
const Node::OutputHooks* Node::output_hooks_if_any() const { return rare_ ? &rare_->output_hooks : nullptr; }
void Node::set_recorded_at(std::string where) { rare().recorded_at = std::move(where); }
void Node::set_recording_site(std::shared_ptr<const RecordingSite> site) { rare().recording_site = std::move(site); }
void Node::set_saved_info(std::vector<SavedInfo> info) { rare().saved_info = std::move(info); }
const std::vector<SavedInfo>& Node::saved_info() const {
  static const std::vector<SavedInfo> none;
  return rare_ ? rare_->saved_info : none;
}

std::string Node::recorded_at() const {
  if (!rare_) return {};
  return rare_->recording_site ? describe_recording_site(*rare_->recording_site) : rare_->recorded_at;
}

Node::Node() { tally_nodes(1); }

void Node::set_topological_nr_from_edges() {
  constexpr std::uint64_t kUnsealed = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t nr = 0;
  for (const Edge& e : next_edges_)
    if (e.fn) nr = std::max(nr, e.fn->topological_nr_ == kUnsealed ? kUnsealed : e.fn->topological_nr_ + 1);
  topological_nr_ = nr;
}

// Leaves' accumulators are not counted by live_node_count (they belong to
// their leaf, not to a tape): AccumulateGrad takes itself off the count. It
// leads nowhere: its topological number is 0.
void Node::mark_accumulator() {
  if (!is_accumulator_) tally_nodes(-1);
  is_accumulator_ = true;
  topological_nr_ = 0;
}

// Freeing a long chain through shared_ptr destructors would recurse once per
// node and overflow the stack. Instead, a node hands the edges it owns to a
// thread-local list, and only the outermost destructor drains that list.
Node::~Node() {
  if (!is_accumulator_) tally_nodes(-1);
  // Usually no edge is the last owner of its node (a leaf's AccumulateGrad
  // is owned by the leaf too): nothing to hand over, and the thread-local
  // list is not touched. It is only ever non-empty while an outermost
  // destructor drains it.
  if (std::none_of(next_edges_.begin(), next_edges_.end(), [](const Edge& e) { return e.fn && e.fn.use_count() == 1; }))
    return;
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  for (auto& e : next_edges_)
    if (e.fn && e.fn.use_count() == 1) pending.push_back(std::move(e.fn));
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    auto node = std::move(pending.back());
    pending.pop_back();
    node.reset();  // may push its own edges
  }
  draining = false;
}

SavedTensor::SavedTensor(const Tensor& t, bool is_output) {
  if (!t.defined()) return;
  saved_ = true;
  is_output_ = is_output;
  version_ = t.version();
  dtype_ = t.dtype();
  if (tl_graph_detail) [[unlikely]]
    tl_pending_saved.push_back(
        {t.shape(), t.dtype(), t.numel() * static_cast<std::int64_t>(itemsize(t.dtype())), is_output});
  if (is_output) {
    // Keep the data without the grad_fn: the node owning this saved tensor is
    // that grad_fn, and holding it here would be a cycle.
    data_ = make_view(t, t.shape(), Dims(t.strides()), t.storage_offset());
    AutogradMeta* m = meta_of(t);
    output_nr_ = m ? m->output_nr : 0;
    output_requires_grad_ = true;
  } else if (AutogradMeta* m = meta_of(t); m && !m->grad_fn && m->requires_grad) {
    // A leaf that requires grad: kept itself, so a recorded backward reaches
    // its AccumulateGrad. It cannot be modified in place, so no cycle.
    data_ = t;
  } else {
    // An alias of t, not t: an in-place op on t later gives t a new grad_fn
    // that can lead back to this node (p.add_(gelu(p))), and holding t itself
    // would then be a reference cycle that never frees. The alias keeps the
    // grad_fn t has now, which is older than this node.
    data_ = make_view(t, t.shape(), Dims(t.strides()), t.storage_offset());
    if (m && m->grad_fn) {
      auto& alias = ensure_meta(data_);
      alias.grad_fn = m->grad_fn;
      alias.output_nr = m->output_nr;
    }
  }
}

SavedTensor SavedTensor::without_history(const Tensor& t) {
  SavedTensor s;
  if (!t.defined()) return s;
  s.saved_ = true;
  s.version_ = t.version();
  s.dtype_ = t.dtype();
  // As an output's data is kept, but never given a grad_fn back on unpack.
  s.is_output_ = true;
  s.data_ = make_view(t, t.shape(), Dims(t.strides()), t.storage_offset());
  return s;
}

Tensor SavedTensor::unpack(const std::shared_ptr<Node>& owner) const {
  if (!saved_) return {};
  if (released_)
    throw AutogradError(
        fmt::format("{}: trying to backward through the graph a second time, but its saved tensors were already freed; "
                    "pass retain_graph=true to the first backward if you need to backward twice",
                    owner ? owner->name() : "backward"));
  // Before the version: conversion gives a leaf fresh memory, whose count
  // starts again, and "modified in place" would send the user the wrong way.
  if (data_.dtype() != dtype_)
    throw AutogradError(fmt::format(
        "{}: a tensor saved for backward was converted from {} to {} after it was saved (nn::Module::to converts "
        "parameters in place); run the forward pass again after converting",
        owner ? owner->name() : "backward", dtype_name(dtype_), dtype_name(data_.dtype())));
  if (data_.version() != version_) {
    // Which of the op's saved tensors: an op may save several (matmul both operands).
    const std::string which = fmt::format("{} {}, {}", dtype_name(data_.dtype()), shape_str(data_.sizes()),
                                          is_output_ ? fmt::format("its output {}", output_nr_) : "one of its inputs");
    if (data_.storage()->converted())
      throw AutogradError(fmt::format(
          "{}: a tensor saved for backward ({}) was modified in place or converted by nn::Module::to after it was "
          "saved (version {} at save, {} now); clone it before modifying it in place, or run the forward pass again "
          "after converting",
          owner ? owner->name() : "backward", which, version_, data_.version()));
    throw AutogradError(fmt::format(
        "{}: a tensor saved for backward ({}) was modified by an in-place operation (version {} at save, {} now); "
        "clone it before modifying it in place",
        owner ? owner->name() : "backward", which, version_, data_.version()));
  }
  if (is_output_ && output_requires_grad_ && is_grad_enabled() && owner) {
    // create_graph: the output gets its grad_fn back so the backward is recorded.
    Tensor t = make_view(data_, data_.shape(), Dims(data_.strides()), data_.storage_offset());
    auto& m = ensure_meta(t);
    m.grad_fn = owner;
    m.output_nr = output_nr_;
    return t;
  }
  return data_;
}

AccumulateGrad::AccumulateGrad(const Tensor& leaf) : leaf_(leaf.impl_ptr()) {
  mark_accumulator();
  // Not an order: the engine runs an accumulator once every use of the leaf
  // has delivered, and then at once, whatever this number.
  set_sequence_nr(0);
}

Tensor AccumulateGrad::variable() const { return Tensor(leaf_.lock()); }

}  // namespace tg::autograd
