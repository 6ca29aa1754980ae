#include "autograd/engine.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "autograd/function.h"
#include "autograd/ops.h"
#include "core/kernels/copy.h"

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

// Adds `g` to `slot`. The first gradient is kept as is; later ones are added
// out of place, so a gradient tensor shared between two inputs is never
// modified behind the other's back.
void accumulate_into(Tensor& slot, const Tensor& g) { slot = slot.defined() ? tg::add(slot, g) : g; }

struct Target {
  Node* node;
  std::uint32_t output_nr;
};

class GraphTask {
 public:
  GraphTask(bool retain_graph, bool create_graph, bool accumulate)
      : retain_graph_(retain_graph), create_graph_(create_graph), accumulate_(accumulate) {}

  void add_root(const Edge& edge, const Tensor& g) { deliver(edge, g); }

  // Restricts execution to nodes that lead to a target (tg::grad).
  void set_targets(const std::vector<Edge>& targets) {
    for (const auto& t : targets) {
      targets_.push_back({t.fn.get(), t.input_nr});
      keep_alive_.push_back(t.fn);
    }
    captured_.resize(targets.size());
    compute_needed();
  }

  void run() {
    set_grad_enabled(create_graph_);
    while (!ready_.empty()) {
      Node* raw = ready_.top().second;
      ready_.pop();
      auto it = buffers_.find(raw);
      std::shared_ptr<Node> node = std::move(it->second.first);
      std::vector<Tensor> grads = std::move(it->second.second);
      buffers_.erase(it);
      run_output_hooks(*node, grads);
      capture(*node, grads);
      if (!targets_.empty() && !needed_.contains(raw)) continue;
      if (auto* acc = dynamic_cast<AccumulateGrad*>(node.get())) {
        if (accumulate_) accumulate_leaf(*acc, std::move(grads[0]));  // moved: lets a sole owner be adopted, not cloned
        continue;
      }
      if (node->released()) throw_backward_twice(node->name());
      std::vector<Tensor> input_grads = node->apply(grads);
      if (is_anomaly_enabled()) check_anomaly(*node, input_grads);
      if (!retain_graph_) {
        node->release_saved();
        node->mark_released();
      }
      const auto& edges = node->next_edges();
      for (std::size_t i = 0; i < edges.size(); ++i)
        if (edges[i].fn && i < input_grads.size() && input_grads[i].defined()) deliver(edges[i], input_grads[i]);
    }
  }

  std::vector<Tensor>& captured() { return captured_; }

 private:
  void deliver(const Edge& edge, const Tensor& g) {
    auto [it, inserted] = buffers_.try_emplace(edge.fn.get());
    if (inserted) {
      it->second.first = edge.fn;
      it->second.second.resize(edge.fn->num_outputs());
      ready_.push({edge.fn->sequence_nr(), edge.fn.get()});
    }
    accumulate_into(it->second.second[edge.input_nr], g);
  }

  void run_output_hooks(Node& node, std::vector<Tensor>& grads) {
    for (auto& [index, hook] : node.output_hooks()) {
      if (index >= grads.size() || !grads[index].defined()) continue;
      Tensor replaced = hook(grads[index]);
      if (replaced.defined()) grads[index] = replaced;
    }
  }

  void capture(Node& node, const std::vector<Tensor>& grads) {
    for (std::size_t k = 0; k < targets_.size(); ++k)
      if (targets_[k].node == &node && targets_[k].output_nr < grads.size())
        captured_[k] = grads[targets_[k].output_nr];
  }

  void accumulate_leaf(AccumulateGrad& acc, Tensor g) {
    Tensor leaf = acc.variable();
    if (!leaf.defined() || !g.defined()) return;
    auto& m = ensure_meta(leaf);
    for (auto& hook : m.hooks) {
      Tensor replaced = hook(g);
      if (replaced.defined()) g = replaced;
    }
    if (is_anomaly_enabled() && !all_finite(g))
      throw AutogradError(fmt::format("AccumulateGrad: the gradient for a leaf of shape {} contains NaN or Inf",
                                      shape_str(leaf.sizes())));
    if (!m.grad.defined()) {
      // Keep our own copy unless nobody else can see this tensor.
      const bool sole_owner = g.impl_ptr().use_count() == 1 && g.is_contiguous() && !meta_of(g);
      m.grad = create_graph_ ? g : (sole_owner ? g : kernel::clone(g));
    } else if (create_graph_ || m.grad.requires_grad()) {
      m.grad = tg::add(m.grad, g);
    } else {
      NoGradGuard no_grad;
      m.grad.add_(g);
    }
  }

  void check_anomaly(Node& node, const std::vector<Tensor>& input_grads) {
    for (std::size_t i = 0; i < input_grads.size(); ++i) {
      if (!input_grads[i].defined() || all_finite(input_grads[i])) continue;
      throw AutogradError(fmt::format(
          "{}: backward produced NaN or Inf in the gradient of input {} (shape {}); the op was recorded at:\n{}",
          node.name(), i, shape_str(input_grads[i].sizes()),
          node.recorded_at().empty() ? std::string("  (unknown: anomaly mode was off when it was recorded)")
                                     : node.recorded_at()));
    }
  }

  // needed_ = nodes from which some target is reachable. Sequence numbers
  // order the graph, so one pass in increasing order settles each node after
  // all of its inputs.
  void compute_needed() {
    std::vector<Node*> nodes;
    std::unordered_set<Node*> seen;
    std::vector<Node*> stack;
    for (auto& [raw, entry] : buffers_)
      if (seen.insert(raw).second) stack.push_back(raw);
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      nodes.push_back(n);
      for (auto& e : n->next_edges())
        if (e.fn && seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
    std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->sequence_nr() < b->sequence_nr(); });
    std::unordered_set<Node*> target_nodes;
    for (auto& t : targets_) target_nodes.insert(t.node);
    for (Node* n : nodes) {
      bool need = target_nodes.contains(n);
      for (auto& e : n->next_edges()) need = need || (e.fn && needed_.contains(e.fn.get()));
      if (need) needed_.insert(n);
    }
  }

  bool retain_graph_, create_graph_, accumulate_;
  using Entry = std::pair<std::shared_ptr<Node>, std::vector<Tensor>>;
  std::unordered_map<Node*, Entry> buffers_;
  std::priority_queue<std::pair<std::uint64_t, Node*>> ready_;
  std::vector<Target> targets_;
  std::vector<std::shared_ptr<Node>> keep_alive_;
  std::vector<Tensor> captured_;
  std::unordered_set<Node*> needed_;
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
    }
    seeds[i] = g;
  }
  return seeds;
}

// Restores grad mode however the engine exits.
struct GradModeRestore {
  bool previous = is_grad_enabled();
  ~GradModeRestore() { set_grad_enabled(previous); }
};

}  // namespace

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&) {
  // The engine accumulates leaves itself (it knows whether create_graph is on
  // and whether this is a tg::grad call that must not touch .grad()).
  return {};
}

}  // namespace autograd

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              bool create_graph) {
  using namespace autograd;
  auto seeds = seed_gradients(outputs, grad_outputs, "backward");
  GradModeRestore restore;
  // As PyTorch: building a graph of the backward implies keeping this one.
  GraphTask task(retain_graph || create_graph, create_graph, /*accumulate=*/true);
  for (std::size_t i = 0; i < outputs.size(); ++i) task.add_root(gradient_edge(outputs[i]), seeds[i]);
  task.run();
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, GradOptions options) {
  using namespace autograd;
  auto seeds = seed_gradients(outputs, grad_outputs, "grad");
  std::vector<Edge> targets;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !requires_grad_of(inputs[i]))
      throw AutogradError(fmt::format("grad: input {} does not require grad", i));
    targets.push_back(gradient_edge(inputs[i]));
  }
  GradModeRestore restore;
  GraphTask task(options.retain_graph || options.create_graph, options.create_graph, /*accumulate=*/false);
  for (std::size_t i = 0; i < outputs.size(); ++i) task.add_root(gradient_edge(outputs[i]), seeds[i]);
  task.set_targets(targets);
  task.run();
  auto result = std::move(task.captured());
  for (std::size_t i = 0; i < result.size(); ++i)
    if (!result[i].defined() && !options.allow_unused)
      throw AutogradError(fmt::format(
          "grad: input {} (shape {}) was not used to compute the outputs; pass allow_unused=true to get an "
          "undefined gradient for it",
          i, shape_str(inputs[i].sizes())));
  return result;
}

}  // namespace tg
