#include <tapegrad/distributed/ddp.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <span>
#include <string_view>
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

// The construction check: every rank's replica, as the collectives of
// construction and of every backward depend on it (the broadcasts' and the
// buckets' sizes, which parameters have hooks, whether buffers are broadcast
// and whether backward all-reduces the used-parameter map). A mismatch would
// otherwise surface as MPI_ERR_TRUNCATE at the first backward, or, with
// equal element counts, train silently on scrambled weights.
struct TensorDesc {
  std::string name;
  DType dtype = kFloat32;
  std::vector<std::int64_t> shape;
  bool requires_grad = false;
  bool operator==(const TensorDesc&) const = default;
};

struct ReplicaDesc {
  std::uint64_t bucket_cap_bits = 0;  // the double's bits: compared exactly
  bool find_unused = false;
  bool broadcast_buffers = false;
  std::vector<TensorDesc> params, buffers;
};

ReplicaDesc describe(const nn::Module& module, const DDPOptions& options) {
  ReplicaDesc d;
  d.bucket_cap_bits = std::bit_cast<std::uint64_t>(options.bucket_cap_mb);
  d.find_unused = options.find_unused_parameters;
  d.broadcast_buffers = options.broadcast_buffers;
  for (const auto& entry : module.named_parameters()) {
    const Tensor& t = entry.second;
    d.params.push_back({entry.first, t.dtype(), {t.sizes().begin(), t.sizes().end()}, t.requires_grad()});
  }
  for (const auto& entry : module.named_buffers()) {
    const Tensor& t = entry.second;
    d.buffers.push_back({entry.first, t.dtype(), {t.sizes().begin(), t.sizes().end()}, false});
  }
  return d;
}

// int64 words, the one integer type every backend all-gathers; names are
// packed 8 bytes to a word.
std::vector<std::int64_t> encode(const ReplicaDesc& d) {
  std::vector<std::int64_t> w{static_cast<std::int64_t>(d.bucket_cap_bits), d.find_unused, d.broadcast_buffers,
                              static_cast<std::int64_t>(d.params.size()), static_cast<std::int64_t>(d.buffers.size())};
  auto put = [&w](const TensorDesc& t) {
    w.push_back(static_cast<std::int64_t>(t.dtype));
    w.push_back(t.requires_grad);
    w.push_back(static_cast<std::int64_t>(t.shape.size()));
    w.insert(w.end(), t.shape.begin(), t.shape.end());
    w.push_back(static_cast<std::int64_t>(t.name.size()));
    for (std::size_t at = 0; at < t.name.size(); at += 8) {
      std::int64_t word = 0;
      std::memcpy(&word, t.name.data() + at, std::min<std::size_t>(8, t.name.size() - at));
      w.push_back(word);
    }
  };
  for (const auto& t : d.params) put(t);
  for (const auto& t : d.buffers) put(t);
  return w;
}

ReplicaDesc decode(std::span<const std::int64_t> w, int rank) {
  std::size_t at = 0;
  auto next = [&]() -> std::int64_t {
    if (at >= w.size())
      throw ValueError(fmt::format(
          "DistributedDataParallel: rank {}'s description of its module is truncated (a different tapegrad build?)",
          rank));
    return w[at++];
  };
  // A count read back from the words; bounded by their number, so a corrupt
  // one cannot make a huge allocation.
  auto count = [&]() {
    const std::int64_t n = next();
    if (n < 0 || static_cast<std::size_t>(n) > w.size())
      throw ValueError(fmt::format(
          "DistributedDataParallel: rank {}'s description of its module is malformed (a different tapegrad build?)",
          rank));
    return static_cast<std::size_t>(n);
  };
  ReplicaDesc d;
  d.bucket_cap_bits = static_cast<std::uint64_t>(next());
  d.find_unused = next() != 0;
  d.broadcast_buffers = next() != 0;
  const std::size_t n_params = count(), n_buffers = count();
  auto get = [&]() {
    TensorDesc t;
    t.dtype = static_cast<DType>(next());
    t.requires_grad = next() != 0;
    t.shape.resize(count());
    for (auto& s : t.shape) s = next();
    // A name of n bytes takes (n + 7) / 8 words: bounded by the words left,
    // not by their count (a long name in a small model is longer than that).
    const std::int64_t name_bytes = next();
    if (name_bytes < 0 || (static_cast<std::size_t>(name_bytes) + 7) / 8 > w.size() - at)
      throw ValueError(fmt::format(
          "DistributedDataParallel: rank {}'s description of its module is malformed (a different tapegrad build?)",
          rank));
    t.name.resize(static_cast<std::size_t>(name_bytes));
    for (std::size_t c = 0; c < t.name.size(); c += 8) {
      const std::int64_t word = next();
      std::memcpy(t.name.data() + c, &word, std::min<std::size_t>(8, t.name.size() - c));
    }
    return t;
  };
  for (std::size_t k = 0; k < n_params; ++k) d.params.push_back(get());
  for (std::size_t k = 0; k < n_buffers; ++k) d.buffers.push_back(get());
  return d;
}

std::string describe_tensor(const TensorDesc& t, bool is_param) {
  return fmt::format("{} ({}, shape {}{})", t.name, dtype_name(t.dtype), shape_str(t.shape),
                     is_param ? (t.requires_grad ? ", requires grad" : ", requires_grad = false") : "");
}

// The first difference between rank 0's list and rank r's, or "".
std::string first_difference(const std::vector<TensorDesc>& zero, const std::vector<TensorDesc>& other, int r,
                             const char* what) {
  const bool is_param = std::string_view(what) == "parameter";
  for (std::size_t k = 0; k < std::max(zero.size(), other.size()); ++k) {
    if (k < zero.size() && k < other.size() && zero[k] == other[k]) continue;
    std::string counts;
    if (zero.size() != other.size())
      counts = fmt::format("rank 0's module has {} {}s and rank {}'s has {}; ", zero.size(), what, r, other.size());
    return fmt::format("{}{} {} is {} on rank 0 but {} on rank {}", counts, what, k,
                       k < zero.size() ? describe_tensor(zero[k], is_param) : "absent",
                       k < other.size() ? describe_tensor(other[k], is_param) : "absent", r);
  }
  return "";
}

std::string first_difference(const ReplicaDesc& zero, const ReplicaDesc& other, int r) {
  if (zero.bucket_cap_bits != other.bucket_cap_bits)
    return fmt::format("the option bucket_cap_mb is {} on rank 0 but {} on rank {}",
                       std::bit_cast<double>(zero.bucket_cap_bits), std::bit_cast<double>(other.bucket_cap_bits), r);
  if (zero.find_unused != other.find_unused)
    return fmt::format("the option find_unused_parameters is {} on rank 0 but {} on rank {}", zero.find_unused,
                       other.find_unused, r);
  if (zero.broadcast_buffers != other.broadcast_buffers)
    return fmt::format("the option broadcast_buffers is {} on rank 0 but {} on rank {}", zero.broadcast_buffers,
                       other.broadcast_buffers, r);
  std::string diff = first_difference(zero.params, other.params, r, "parameter");
  if (diff.empty()) diff = first_difference(zero.buffers, other.buffers, r, "buffer");
  return diff;
}

std::uint64_t fnv1a(std::span<const std::int64_t> words) {
  std::uint64_t h = 14695981039346656037ULL;
  for (std::int64_t w : words)
    for (int b = 0; b < 8; ++b) {
      h ^= (static_cast<std::uint64_t>(w) >> (8 * b)) & 0xff;
      h *= 1099511628211ULL;
    }
  return h;
}

// Collective. One all-gather of (hash, length) when the replicas match; when
// they do not, a second gathers the full descriptions so that every rank
// names the same first difference and throws the same error, after the same
// collectives (none is left waiting for a rank that threw).
void check_replicas(ProcessGroup& pg, const nn::Module& module, const DDPOptions& options) {
  const int p = pg.size();
  if (p == 1) return;
  const std::vector<std::int64_t> mine = encode(describe(module, options));
  Tensor summary =
      tensor(std::vector<std::int64_t>{static_cast<std::int64_t>(fnv1a(mine)), static_cast<std::int64_t>(mine.size())});
  Tensor summaries = zeros({2 * p}, {.dtype = kInt64});
  pg.all_gather(summaries, summary)->wait();
  const auto all = summaries.to_vector<std::int64_t>();
  bool same = true;
  std::int64_t longest = 0;
  for (int r = 0; r < p; ++r) {
    same = same && all[2 * r] == all[0] && all[2 * r + 1] == all[1];
    longest = std::max(longest, all[2 * r + 1]);
  }
  if (same) return;
  std::vector<std::int64_t> padded = mine;
  padded.resize(static_cast<std::size_t>(longest), 0);
  Tensor words = tensor(padded);
  Tensor gathered = zeros({longest * p}, {.dtype = kInt64});
  pg.all_gather(gathered, words)->wait();
  const auto flat = gathered.to_vector<std::int64_t>();
  auto replica = [&](int r) {
    return decode(std::span<const std::int64_t>(flat).subspan(static_cast<std::size_t>(r * longest),
                                                              static_cast<std::size_t>(all[2 * r + 1])),
                  r);
  };
  const ReplicaDesc zero = replica(0);
  for (int r = 1; r < p; ++r) {
    const std::string diff = first_difference(zero, replica(r), r);
    if (diff.empty()) continue;
    throw ValueError(fmt::format(
        "DistributedDataParallel: the ranks' modules or options differ: {}. Every rank must construct the same "
        "model (the same parameters and buffers in the same order, with the same dtypes, shapes and requires_grad) "
        "and pass the same DDPOptions; checked at construction, before anything is broadcast",
        diff));
  }
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
  // Got a gradient on this rank since the last synchronised backward (no_sync
  // ones included); with find_unused, all-reduced at its end so that a
  // parameter no rank used keeps its .grad() as it was (PyTorch 1.13).
  std::vector<bool> used;
  std::vector<std::size_t> unused;  // found by the last forward
  // Marked ready (as unused) by the first hook, then given a gradient in the
  // same backward: an error reported at its end.
  std::vector<std::size_t> late;
  std::size_t next_launch = 0;
  bool in_backward = false;  // a hook fired and the end-of-backward callback is queued
  bool no_sync = false;      // a no_sync() guard is alive
  // Whether the next backward synchronises: decided at forward, as
  // PyTorch's require_backward_grad_sync, so a forward inside no_sync()
  // gives a local backward wherever it runs. A synchronised forward's
  // decision holds until its backward finished (reset()), whatever forwards
  // run inside no_sync() meanwhile, as PyTorch's expect_autograd_hooks_.
  bool sync_backward = true;
  bool sync_pending = false;  // a synchronised forward whose backward has not finished
  // pg is the default group made by init() number `generation`, which
  // finalize() frees (and a later init() replaces, when the application
  // started MPI itself): refuse rather than read it.
  bool default_group = false;
  std::uint64_t generation = 0;
  double last_wait = 0;

  void check_group(const char* when) const {
    if (default_group && (!is_initialized() || detail::default_group_generation() != generation))
      throw ValueError(
          fmt::format("DistributedDataParallel: {} after tg::distributed::finalize(); the process "
                      "group is gone",
                      when));
  }

  void reset() {
    std::fill(ready.begin(), ready.end(), false);
    std::fill(used.begin(), used.end(), false);
    for (auto& b : buckets) {
      b.pending = b.params.size();
      b.work.reset();
    }
    late.clear();
    next_launch = 0;
    in_backward = false;
    sync_pending = false;
  }

  void on_accumulated(std::size_t i) {
    used[i] = true;
    if (!sync_backward) return;
    if (!in_backward) {
      check_group("backward");
      in_backward = true;
      autograd::queue_callback([self = shared_from_this()] { self->finish(); });
      for (std::size_t u : unused) mark_ready(u);
    }
    if (ready[i]) {
      // Forward's walk counted it as unused and its zero (or its bucket's
      // all-reduce) may already be under way: its real gradient would be
      // replaced by the average of zeros. Not thrown here: this rank must
      // still start every bucket, as the others do, or they wait forever.
      late.push_back(i);
      return;
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
    // Every rank starts every bucket (and, with find_unused, the used map's
    // all-reduce) and waits for them before reporting an error: a rank that
    // threw with collectives missing would leave the others blocked in them.
    std::string missing;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (ready[i]) continue;
      // With find_unused, a parameter forward reached but that got no
      // gradient (its path carried none) is unused, as in PyTorch.
      if (!find_unused)
        missing += fmt::format("{}{} (shape {})", missing.empty() ? "" : ", ", names[i], shape_str(params[i].sizes()));
      mark_ready(i);
    }
    Tensor used_count;
    std::shared_ptr<Work> used_work;
    if (find_unused) {
      std::vector<std::int64_t> flags(used.begin(), used.end());
      used_count = tensor(flags);
      used_work = pg->all_reduce(used_count, ReduceOp::kSum);
    }
    const auto t0 = Clock::now();
    for (auto& b : buckets) b.work->wait();
    if (used_work) used_work->wait();
    last_wait = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!late.empty()) {
      std::sort(late.begin(), late.end());  // registration order, not the hooks' order
      std::string which;
      for (std::size_t i : late)
        which += fmt::format("{}{} (shape {})", which.empty() ? "" : ", ", names[i], shape_str(params[i].sizes()));
      reset();
      throw ValueError(fmt::format(
          "DistributedDataParallel: these parameters got a gradient in this backward although the last forward did "
          "not use them: {}. find_unused_parameters had already counted them as unused (gradient zero) when "
          "backward began, so their gradient would be lost. Either a parameter is used outside forward (a "
          "regularisation term added to the loss: compute it inside forward) or backward goes through several "
          "forwards, the last of which did not use it (run one forward per backward). As PyTorch's \"Expected to "
          "mark a variable ready only once\"; .grad() is left as backward accumulated it, not averaged",
          which));
    }
    if (!missing.empty()) {
      reset();
      throw ValueError(fmt::format(
          "DistributedDataParallel: these parameters got no gradient in this backward: {}. Every parameter must "
          "take part in the loss on every rank and step, or construct with find_unused_parameters = true",
          missing));
    }
    // The engine runs backward's callbacks in grad mode exactly when it
    // records (create_graph), the same on every rank that called backward
    // alike. The average is a constant, so the gradients' graph would be
    // lost without a word: refused (PyTorch refuses it too), after every
    // rank finished the all-reduces and before any rank writes an average.
    if (is_grad_enabled()) {
      reset();
      throw ValueError(
          "DistributedDataParallel: backward with create_graph is not supported: the average of the gradients "
          "across ranks would lose their graph; .grad() is left as this rank's own");
    }
    const std::vector<std::int64_t> used_by =
        find_unused ? used_count.to_vector<std::int64_t>() : std::vector<std::int64_t>();
    NoGradGuard no_grad;
    for (auto& b : buckets) {
      for (std::size_t k = 0; k < b.params.size(); ++k) {
        const std::size_t i = b.params[k];
        if (find_unused && used_by[i] == 0) continue;  // no rank used it: .grad() stays as it was
        Tensor p = params[i];
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
  register_module("module", module_);
  Reducer& r = *reducer_;
  r.pg = options.process_group ? options.process_group : &default_group();
  // Passed explicitly or not, the default group is checked before each use.
  r.default_group = is_initialized() && r.pg == &default_group();
  r.generation = detail::default_group_generation();
  r.find_unused = options.find_unused_parameters;
  broadcast_buffers_ = options.broadcast_buffers;

  check_replicas(*r.pg, *module_, options);
  // After the check, which compares the options too: a bad value on one rank
  // alone is then the same mismatch error on every rank, not a rank that
  // throws while the others wait for it.
  // The cap in bytes must fit in int64 (1e13 MB wrapped to the smallest
  // buckets, the opposite of what was asked).
  constexpr double kMaxCapMb = 8.0e12;  // 8e12 * 2^20 < 2^63
  if (!(options.bucket_cap_mb > 0) || !(options.bucket_cap_mb <= kMaxCapMb))
    throw ValueError(fmt::format("DistributedDataParallel: bucket_cap_mb must be in (0, {}], got {}", kMaxCapMb,
                                 options.bucket_cap_mb));
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
  r.used.assign(r.params.size(), false);
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
  r.check_group("forward");
  if (r.in_backward) r.reset();  // an earlier backward failed midway
  if (broadcast_buffers_ && r.pg->size() > 1)
    for (const Tensor& b : module_->buffers()) broadcast_from_zero(*r.pg, b);
  Tensor out = module_->forward(input);
  if (is_grad_enabled()) {
    if (!r.no_sync) {
      r.sync_backward = r.sync_pending = true;
      if (r.find_unused) r.find_unused_from(out);
    } else if (!r.sync_pending) {
      r.sync_backward = false;
    }
  }
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
