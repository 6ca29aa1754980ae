#include <tapegrad/autograd/grad_checkpoint.h>

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/custom_function.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/random.h>

namespace tg {

namespace {

// What backward needs besides the tensors: the function and the generator
// state at the first run.
struct CheckpointState {
  CheckpointFunction fn;
  bool preserve_rng_state = true;
  std::vector<std::uint64_t> rng_state;
  std::size_t n_inputs = 0;
  Dims out_shape;  // what the first run returned, which the recomputation must return again
  DType out_dtype = kFloat32;
};

std::vector<std::uint64_t> rng_state() {
  auto& gen = default_generator();
  std::lock_guard lock(gen.mutex());
  return gen.state();
}

void set_rng_state(const std::vector<std::uint64_t>& state) {
  auto& gen = default_generator();
  std::lock_guard lock(gen.mutex());
  gen.set_state(state);
}

// Puts the generator state of the first run in place while the recomputation
// runs, and the state it replaced back afterwards (also on an exception), so
// that backward does not shift the random stream of the code after it.
class RngStateSwap {
 public:
  RngStateSwap(const CheckpointState& s) : active_(s.preserve_rng_state) {
    if (!active_) return;
    saved_ = rng_state();
    set_rng_state(s.rng_state);
  }
  ~RngStateSwap() {
    if (active_) set_rng_state(saved_);
  }
  RngStateSwap(const RngStateSwap&) = delete;
  RngStateSwap& operator=(const RngStateSwap&) = delete;

 private:
  bool active_;
  std::vector<std::uint64_t> saved_;
};

// The recomputed graph may reach, besides the tensors fn was called with and
// the params, a leaf that requires grad: one fn captured (or one whose
// history a captured tensor carries). Its gradient would be lost without a
// word (the first run recorded nothing, so the checkpoint's node has no edge
// to it), so this walks the graph from `out`, stopping at the nodes of
// `allowed`, and refuses any other leaf it finds.
void check_no_hidden_leaves(const Tensor& out, const std::vector<Tensor>& allowed) {
  using autograd::Node;
  std::unordered_set<const Node*> stop, seen;
  for (const Tensor& t : allowed)
    if (t.defined())
      if (const auto e = autograd::gradient_edge(t); e.fn) stop.insert(e.fn.get());
  std::vector<const Node*> todo;
  if (const auto root = autograd::gradient_edge(out); root.fn) todo.push_back(root.fn.get());
  while (!todo.empty()) {
    const Node* node = todo.back();
    todo.pop_back();
    if (stop.count(node) || !seen.insert(node).second) continue;
    if (node->is_accumulator()) {
      const Tensor leaf = static_cast<const autograd::AccumulateGrad*>(node)->variable();
      throw AutogradError(fmt::format(
          "checkpoint: the function reads a tensor that requires grad (a leaf of shape {}, dtype {}) other than "
          "through its inputs or params, so that tensor would get no gradient; pass it to checkpoint in inputs "
          "(or params) and read it from there",
          leaf.defined() ? shape_str(leaf.sizes()) : std::string("?"),
          leaf.defined() ? dtype_name(leaf.dtype()) : std::string_view("?")));
    }
    for (const auto& e : node->next_edges())
      if (e.fn) todo.push_back(e.fn.get());
  }
}

struct CheckpointFn : autograd::Function<CheckpointFn> {
  static constexpr std::string_view kName = "Checkpoint";  // not the anonymous namespace's type name
  static Tensor forward(autograd::AutogradContext* ctx, const std::shared_ptr<CheckpointState>& state,
                        const std::vector<Tensor>& inputs, const std::vector<Tensor>& params) {
    if (state->preserve_rng_state) state->rng_state = rng_state();
    Tensor out = state->fn(inputs);
    if (!out.defined()) throw ValueError("checkpoint: the function returned an undefined tensor");
    state->out_shape = out.shape();
    state->out_dtype = out.dtype();
    std::vector<Tensor> saved = inputs;
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(std::move(saved));
    ctx->saved_data["state"] = state;
    return out;
  }

  static std::vector<Tensor> backward(autograd::AutogradContext* ctx, std::vector<Tensor> grads) {
    auto state = ctx->saved_data["state"].to_object<CheckpointState>();
    std::vector<Tensor> saved = ctx->get_saved_variables();
    const std::size_t n_inputs = state->n_inputs;
    // With create_graph the engine runs this with grad mode on: the gradients
    // returned must then stay connected to the original inputs, so the
    // recomputation reads each input through a fresh view of it (a node of
    // its own, where the pass below stops). Otherwise detached copies do,
    // and nothing outside this call is recorded.
    const bool create_graph = is_grad_enabled();
    std::vector<Tensor> fn_inputs(n_inputs), targets;
    std::vector<std::size_t> target_index;
    // saved[i] is tensor argument i (the state before them is not a tensor),
    // and backward returns one gradient per tensor argument: needs_tensor_grad.
    for (std::size_t i = 0; i < saved.size(); ++i) {
      if (i >= n_inputs) {  // a parameter: read by fn directly
        if (ctx->needs_tensor_grad(i)) {
          targets.push_back(saved[i]);
          target_index.push_back(i);
        }
        continue;
      }
      const Tensor& x = saved[i];
      const bool needs = ctx->needs_tensor_grad(i);
      if (needs && create_graph) {
        EnableGradGuard grad_on;
        fn_inputs[i] = x.view(x.shape());
      } else {
        fn_inputs[i] = x.detach();
        if (needs) fn_inputs[i].set_requires_grad(true);
      }
      if (needs) {
        targets.push_back(fn_inputs[i]);
        target_index.push_back(i);
      }
    }
    Tensor out;
    {
      RngStateSwap rng(*state);
      EnableGradGuard grad_on;
      out = state->fn(fn_inputs);
    }
    // Otherwise the gradient of the first run's output would meet another
    // tensor, and tg::grad's message would not say where it came from.
    if (!out.defined() || out.shape() != state->out_shape || out.dtype() != state->out_dtype)
      throw AutogradError(
          fmt::format("checkpoint: the recomputation in backward returned {} where the forward returned {} {}; the "
                      "function must compute the same thing both times (does it read state that changed in between?)",
                      out.defined() ? fmt::format("{} {}", shape_str(out.shape()), dtype_name(out.dtype()))
                                    : std::string("an undefined tensor"),
                      shape_str(state->out_shape), dtype_name(state->out_dtype)));
    std::vector<Tensor> allowed = fn_inputs;
    allowed.insert(allowed.end(), saved.begin() + static_cast<std::ptrdiff_t>(n_inputs), saved.end());
    check_no_hidden_leaves(out, allowed);
    std::vector<Tensor> result(saved.size());
    if (targets.empty() || !out.requires_grad()) return result;
    GradOptions options;
    // The recomputed graph dies with `out` below anyway. Retaining it keeps
    // alive what fn read of the outer graph (a captured non-leaf whose leaves
    // are params): the outer pass may still have to run those nodes.
    options.retain_graph = true;
    options.create_graph = create_graph;
    options.allow_unused = true;
    // Stopping at the targets: an input read through a view, or a parameter
    // that is not a leaf, may have another target in its history (x = 2 W
    // with W a parameter). The outer pass carries each gradient returned
    // here down that history itself; through tg::grad, W's would have
    // counted the path through x twice (with create_graph, 18 for 12).
    std::vector<Tensor> g = autograd::detail::grad_stopping_at_inputs({out}, targets, {grads[0]}, options);
    for (std::size_t k = 0; k < g.size(); ++k) result[target_index[k]] = g[k];
    return result;
  }
};

}  // namespace

Tensor checkpoint(CheckpointFunction fn, const std::vector<Tensor>& inputs, const std::vector<Tensor>& params,
                  CheckpointOptions options) {
  require_function(fn, "checkpoint", "the function");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].defined()) throw ValueError(fmt::format("checkpoint: inputs[{}] is undefined", i));
  for (std::size_t i = 0; i < params.size(); ++i)
    if (!params[i].defined()) throw ValueError(fmt::format("checkpoint: params[{}] is undefined", i));
  // fn reads a parameter itself, so one listed twice (a layer applied twice,
  // tied weights) must be a single target of the recomputation's gradient:
  // each copy would get the whole gradient, and the leaf the sum (2x).
  std::vector<Tensor> distinct;
  std::unordered_set<const TensorImpl*> seen;
  for (const Tensor& p : params)
    if (seen.insert(p.impl()).second) distinct.push_back(p);
  auto state = std::make_shared<CheckpointState>();
  state->fn = std::move(fn);
  state->preserve_rng_state = options.preserve_rng_state;
  state->n_inputs = inputs.size();
  return CheckpointFn::apply(state, inputs, distinct);
}

}  // namespace tg
