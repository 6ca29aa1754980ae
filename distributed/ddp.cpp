#include <tapegrad/distributed/ddp.h>

#include <chrono>
#include <unordered_set>

#include <fmt/format.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/core/error.h>

namespace tg::distributed {

namespace {

using Clock = std::chrono::steady_clock;

// Broadcasts `t` from rank 0 in place (through a contiguous copy if need be).
void broadcast_from_zero(ProcessGroup& pg, Tensor t) {
  NoGradGuard no_grad;
  if (t.is_contiguous()) {
    pg.broadcast(t, 0)->wait();
    return;
  }
  Tensor c = t.contiguous();
  pg.broadcast(c, 0)->wait();
  t.copy_(c);
}

}  // namespace

struct Bucket {
  DType dtype = kFloat32;
  std::vector<std::size_t> params;  // indices into Reducer::params
  std::vector<std::int64_t> offsets;
  std::int64_t numel = 0;
  Tensor flat;
  std::size_t pending = 0;
  std::shared_ptr<Work> work;
};

struct Reducer : std::enable_shared_from_this<Reducer> {
  ProcessGroup* pg = nullptr;
  bool find_unused = false;
  std::vector<Tensor> params;
  std::vector<std::string> names;
  std::vector<std::size_t> bucket_of;
  std::vector<Bucket> buckets;
  std::vector<bool> ready;
  std::vector<std::size_t> unused;  // found by the last forward
  std::size_t next_launch = 0;
  bool in_backward = false;  // a hook fired and the end-of-backward callback is queued
  bool no_sync = false;
  double last_wait = 0;

  void reset() {
    std::fill(ready.begin(), ready.end(), false);
    for (auto& b : buckets) {
      b.pending = b.params.size();
      b.work.reset();
    }
    next_launch = 0;
    in_backward = false;
  }

  void on_accumulated(std::size_t i) {
    if (no_sync) return;
    if (!in_backward) {
      in_backward = true;
      autograd::queue_callback([self = shared_from_this()] { self->finish(); });
      for (std::size_t u : unused) mark_ready(u);
    }
    mark_ready(i);
    // MPI progresses a nonblocking collective only inside MPI calls: poll
    // the started ones so they advance while backward computes.
    for (std::size_t b = 0; b < next_launch; ++b)
      if (buckets[b].work) buckets[b].work->is_completed();
  }

  void mark_ready(std::size_t i) {
    if (ready[i]) return;
    ready[i] = true;
    --buckets[bucket_of[i]].pending;
    // In bucket order on every rank, whatever order the gradients came in.
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) launch(buckets[next_launch++]);
  }

  void launch(Bucket& b) {
    NoGradGuard no_grad;
    if (!b.flat.defined()) b.flat = zeros({b.numel}, {.dtype = b.dtype});
    for (std::size_t k = 0; k < b.params.size(); ++k) {
      const Tensor& p = params[b.params[k]];
      Tensor slot = b.flat.narrow(0, b.offsets[k], p.numel()).view(p.shape());
      if (p.grad().defined()) slot.copy_(p.grad());
      else slot.zero_();
    }
    b.work = pg->all_reduce(b.flat, ReduceOp::kMean);
  }

  void finish() {
    if (next_launch < buckets.size()) {
      std::string missing;
      for (std::size_t i = 0; i < params.size(); ++i)
        if (!ready[i])
          missing +=
              fmt::format("{}{} (shape {})", missing.empty() ? "" : ", ", names[i], shape_str(params[i].sizes()));
      // Wait for what was started: its buffers must outlive the collective.
      for (std::size_t b = 0; b < next_launch; ++b) buckets[b].work->wait();
      reset();
      throw ValueError(fmt::format(
          "DistributedDataParallel: these parameters got no gradient in this backward: {}. Every parameter must "
          "take part in the loss on every rank and step, or construct with find_unused_parameters = true",
          missing));
    }
    const auto t0 = Clock::now();
    for (auto& b : buckets) b.work->wait();
    last_wait = std::chrono::duration<double>(Clock::now() - t0).count();
    NoGradGuard no_grad;
    for (auto& b : buckets) {
      for (std::size_t k = 0; k < b.params.size(); ++k) {
        Tensor p = params[b.params[k]];
        Tensor avg = b.flat.narrow(0, b.offsets[k], p.numel()).view(p.shape());
        if (p.grad().defined() && !p.grad().requires_grad()) p.mutable_grad().copy_(avg);
        else p.mutable_grad() = avg.clone();
      }
    }
    reset();
  }

  // The parameters the graph of `output` does not reach.
  void find_unused_from(const Tensor& output) {
    unused.clear();
    std::unordered_set<const TensorImpl*> reached;
    std::unordered_set<const autograd::Node*> seen;
    std::vector<std::shared_ptr<autograd::Node>> stack;
    if (auto fn = output.grad_fn()) stack.push_back(fn);
    else if (output.requires_grad()) reached.insert(output.impl_ptr().get());
    while (!stack.empty()) {
      auto node = std::move(stack.back());
      stack.pop_back();
      if (!seen.insert(node.get()).second) continue;
      if (node->is_accumulator()) {
        Tensor leaf = static_cast<autograd::AccumulateGrad&>(*node).variable();
        if (leaf.defined()) reached.insert(leaf.impl_ptr().get());
        continue;
      }
      for (const auto& e : node->next_edges())
        if (e.fn) stack.push_back(e.fn);
    }
    for (std::size_t i = 0; i < params.size(); ++i)
      if (!reached.count(params[i].impl_ptr().get())) unused.push_back(i);
  }
};

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module, DDPOptions options)
    : module_(std::move(module)), reducer_(std::make_shared<Reducer>()) {
  if (!module_) throw ValueError("DistributedDataParallel: the module is null");
  if (!(options.bucket_cap_mb > 0))
    throw ValueError(fmt::format("DistributedDataParallel: bucket_cap_mb must be > 0, got {}", options.bucket_cap_mb));
  register_module("module", module_);
  Reducer& r = *reducer_;
  r.pg = options.process_group ? options.process_group : &default_group();
  r.find_unused = options.find_unused_parameters;
  broadcast_buffers_ = options.broadcast_buffers;

  for (const auto& [name, p] : module_->named_parameters()) broadcast_from_zero(*r.pg, p);
  for (const auto& [name, b] : module_->named_buffers()) broadcast_from_zero(*r.pg, b);

  for (const auto& [name, p] : module_->named_parameters())
    if (p.requires_grad()) {
      r.params.push_back(p);
      r.names.push_back(name);
    }
  // Reverse registration order: the last layer's gradients come first.
  const auto cap = static_cast<std::int64_t>(options.bucket_cap_mb * 1024 * 1024);
  r.bucket_of.assign(r.params.size(), 0);
  for (std::size_t k = r.params.size(); k-- > 0;) {
    const Tensor& p = r.params[k];
    const std::int64_t bytes = p.numel() * static_cast<std::int64_t>(itemsize(p.dtype()));
    if (r.buckets.empty() || r.buckets.back().dtype != p.dtype() ||
        (r.buckets.back().numel > 0 &&
         (r.buckets.back().numel * static_cast<std::int64_t>(itemsize(p.dtype())) + bytes) > cap)) {
      r.buckets.emplace_back();
      r.buckets.back().dtype = p.dtype();
    }
    Bucket& b = r.buckets.back();
    b.params.push_back(k);
    b.offsets.push_back(b.numel);
    b.numel += p.numel();
    r.bucket_of[k] = r.buckets.size() - 1;
  }
  r.ready.assign(r.params.size(), false);
  r.reset();
  std::weak_ptr<Reducer> weak = reducer_;
  for (std::size_t k = 0; k < r.params.size(); ++k)
    r.params[k].register_post_accumulate_grad_hook([weak, k](const Tensor&) {
      if (auto reducer = weak.lock()) reducer->on_accumulated(k);
    });
}

DistributedDataParallel::~DistributedDataParallel() = default;

Tensor DistributedDataParallel::forward(const Tensor& input) {
  Reducer& r = *reducer_;
  if (r.in_backward) r.reset();  // an earlier backward failed midway
  if (broadcast_buffers_ && r.pg->size() > 1)
    for (const Tensor& b : module_->buffers()) broadcast_from_zero(*r.pg, b);
  Tensor out = module_->forward(input);
  if (r.find_unused && is_grad_enabled() && !r.no_sync) r.find_unused_from(out);
  return out;
}

DistributedDataParallel::NoSync::NoSync(std::shared_ptr<Reducer> reducer)
    : reducer_(std::move(reducer)), previous_(reducer_->no_sync) {
  reducer_->no_sync = true;
}

DistributedDataParallel::NoSync::~NoSync() { reducer_->no_sync = previous_; }

DistributedDataParallel::NoSync DistributedDataParallel::no_sync() { return NoSync(reducer_); }

std::vector<std::vector<std::string>> DistributedDataParallel::buckets() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& b : reducer_->buckets) {
    out.emplace_back();
    for (std::size_t k : b.params) out.back().push_back(reducer_->names[k]);
  }
  return out;
}

double DistributedDataParallel::last_wait_seconds() const { return reducer_->last_wait; }

}  // namespace tg::distributed
