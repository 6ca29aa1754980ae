#include <tapegrad/autograd/function.h>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.h>

namespace tg::autograd {

[[noreturn]] void throw_backward_twice(std::string_view op) {
  throw AutogradError(fmt::format(
      "{}: trying to backward through the graph a second time (or to use saved tensors after they were freed); "
      "pass retain_graph=true to the first backward if you need to backward twice",
      op));
}

// True when broadcasting `shape` could have produced `g` (so summing g over
// the broadcast dims gives back `shape`).
bool expandable_to(const Dims& shape, const Dims& g) {
  if (shape.size() > g.size()) return false;
  const int lead = g.size() - shape.size();
  for (int d = 0; d < shape.size(); ++d)
    if (shape[d] != 1 && shape[d] != g[lead + d]) return false;
  return true;
}

Tensor sum_to_shape(const Tensor& g, const Dims& shape) {
  if (g.shape() == shape) return g;
  const int lead = g.dim() - shape.size();
  Dims dims;
  for (int i = 0; i < lead; ++i) dims.push_back(i);
  for (int i = 0; i < shape.size(); ++i)
    if (shape[i] == 1 && g.size(lead + i) != 1) dims.push_back(lead + i);
  Tensor r = dims.empty() ? g : tg::sum(g, dims, /*keepdim=*/true);
  // Only the leading dims that broadcasting added are left to drop.
  return r.shape() == shape ? r : tg::reshape(r, shape);
}

void refuse_requires_grad(const char* op, const char* arg, const Tensor& t) {
  if (is_grad_enabled() && requires_grad_of(t))
    throw AutogradError(
        fmt::format("{}: not differentiable with respect to {}, which requires grad; pass {}.detach() "
                    "or call it under tg::NoGradGuard",
                    op, arg, arg));
}

void Backward::add(std::size_t i, Tensor g) {
  if (!g.defined() || !node_.needs_input_grad(i)) return;
  const Dims& shape = node_.input_shape(i);
  if (g.shape() != shape) {
    // Never reshape a gradient whose shape merely has the same number of
    // elements: a [3, 2] gradient for a [2, 3] input is a bug, not a layout.
    if (!expandable_to(shape, g.shape()))
      throw AutogradError(fmt::format("{}: backward computed a gradient of shape {} for input {} of shape {}",
                                      node_.name(), shape_str(g.sizes()), i, shape_str(shape)));
    g = sum_to_shape(g, shape);
  }
  if (g.dtype() != node_.input_dtype(i)) g = tg::to_dtype(g, node_.input_dtype(i));
  auto& slot = grad_inputs_[i];
  slot = slot.defined() ? tg::add(slot, g) : g;
}

namespace {

void connect_inputs(Node& node, std::size_t n, auto&& input_at) {
  auto& edges = node.next_edges();
  auto& metas = node.input_metas();
  edges.reserve(n);
  metas.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Tensor* t = input_at(i);
    if (t && t->defined()) {
      edges.push_back(gradient_edge(*t));
      metas.push_back({t->shape(), t->dtype()});
    } else {
      edges.push_back({});
      metas.emplace_back();
    }
  }
  node.set_topological_nr_from_edges();
}

void connect_outputs(std::shared_ptr<Node> node, std::span<Tensor* const> outputs) {
  node->set_sequence_nr(next_sequence_nr());
  node->set_num_outputs(static_cast<std::uint32_t>(outputs.size()));
  if (is_anomaly_enabled()) node->set_recording_site(capture_recording_frames());
  if (is_graph_detail_enabled()) [[unlikely]]
    node->set_saved_info(take_pending_saved_info());
  // The last output takes `node` itself: copying it there and dropping it
  // after cost a count raised and lowered, and the lowering read the count
  // (8 bytes) just after the raise wrote half of it (4), a store the CPU
  // cannot forward: it waited for the store, ≈ 5 % of a recorded add.
  std::size_t last = outputs.size();
  while (last > 0 && !(outputs[last - 1] && outputs[last - 1]->defined())) --last;
  for (std::size_t i = 0; i < last; ++i) {
    Tensor* out = outputs[i];
    if (!out || !out->defined()) continue;
    auto& m = ensure_meta(*out);
    if (i + 1 == last) m.grad_fn = std::move(node);
    else m.grad_fn = node;
    m.output_nr = static_cast<std::uint32_t>(i);
    m.requires_grad = false;
    if (m.retains_grad) install_retain_hook(*out, m);
  }
}

}  // namespace

void attach(std::shared_ptr<Node> node, std::span<const Tensor* const> inputs, std::span<Tensor* const> outputs) {
  connect_inputs(*node, inputs.size(), [&](std::size_t i) { return inputs[i]; });
  connect_outputs(std::move(node), outputs);
}

void attach(std::shared_ptr<Node> node, std::span<const Tensor> inputs, std::span<Tensor* const> outputs) {
  connect_inputs(*node, inputs.size(), [&](std::size_t i) { return &inputs[i]; });
  connect_outputs(std::move(node), outputs);
}

}  // namespace tg::autograd
