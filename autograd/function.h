#pragma once
/// @file
/// How an op records itself. An op's file holds its forward (a core kernel
/// call), its shape rule (checked by that kernel), and its backward as a
/// lambda handed to record():
///
/// @code
/// Tensor exp(const Tensor& x) {
///   Tensor y = kernel::exp(x);
///   if (autograd::needs_grad(x))
///     autograd::record("exp", {&x}, {&y}, [saved = SavedTensor(y, true)](Backward& bw) {
///       // y = exp(x);  dx = dy * y
///       bw.add(0, bw.grad() * bw.unpack(saved));
///     });
///   return y;
/// }
/// @endcode
///
/// Backward formulas use the differentiable ops themselves: with create_graph
/// off the engine runs them in no-grad mode (no recording, no cost); with it on
/// they are recorded, which gives higher-order gradients.
#include <initializer_list>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/node.h>

namespace tg::autograd {

/// Whether t requires grad (a leaf that requires it, or a result with a
/// grad_fn); false for an undefined tensor. Refreshes a stale view's history first.
inline bool requires_grad_of(const Tensor& t) {
  auto* m = t.defined() ? static_cast<AutogradMeta*>(t.impl()->autograd.get()) : nullptr;
  if (!m) return false;
  if (m->view_base.defined()) [[unlikely]]
    refresh_view(t, *m);
  return m->requires_grad || m->grad_fn;
}

/// True when grad mode is on and any argument requires grad: only then is an
/// op recorded.
template <class... Ts>
bool needs_grad(const Ts&... ts) {
  return is_grad_enabled() && (requires_grad_of(ts) || ...);
}
/// needs_grad() over a list of tensors.
inline bool needs_grad_list(std::span<const Tensor> ts) {
  if (!is_grad_enabled()) return false;
  for (const auto& t : ts)
    if (requires_grad_of(t)) return true;
  return false;
}

/// Refuses `t` as argument `arg` of `op` when grad mode is on and t requires
/// grad, for an argument the op does not differentiate (PyTorch: "not
/// differentiable with respect to argument"): silently giving it no gradient
/// would leave a user's learned tensor untrained.
/// @throws tg::AutogradError naming op and arg
void refuse_requires_grad(const char* op, const char* arg, const Tensor& t);

/// What a backward lambda sees.
class Backward {
 public:
  /// Made by FunctionNode::apply: the node, its output gradients, the input
  /// gradients being filled, and the node's owning pointer (for unpack).
  Backward(Node& node, Node::GradList& grads, Node::GradList& grad_inputs, std::shared_ptr<Node> self)
      : node_(node), grads_(grads), grad_inputs_(grad_inputs), self_(std::move(self)) {}

  /// Gradient of output `i` (single-output ops: always defined; multi-output
  /// ops: undefined where no gradient flowed).
  const Tensor& grad(std::size_t i = 0) const { return grads_[i]; }
  /// Whether input `input` needs a gradient (skip computing it otherwise).
  bool needs(std::size_t input) const { return node_.needs_input_grad(input); }
  /// A saved tensor's value (SavedTensor::unpack with this node as owner).
  /// @throws tg::AutogradError if it was freed or modified in place since it was saved.
  Tensor unpack(const SavedTensor& s) const { return s.unpack(self_); }
  /// The shape of input `i` when the op was recorded.
  const Dims& input_shape(std::size_t i) const { return node_.input_shape(i); }
  /// The dtype of input `i` when the op was recorded.
  DType input_dtype(std::size_t i) const { return node_.input_dtype(i); }

  /// Adds `g` as the gradient of input `i`, first summing it back to the
  /// input's shape over broadcast dims and casting it to the input's dtype.
  /// This is the only place broadcast gradients are reduced.
  void add(std::size_t i, Tensor g);

 private:
  Node& node_;
  Node::GradList& grads_;
  Node::GradList& grad_inputs_;
  std::shared_ptr<Node> self_;
};

/// True when broadcasting `shape` could give `g` (PyTorch's is_expandable_to).
bool expandable_to(const Dims& shape, const Dims& g);
/// Sums `g` over the dims that broadcasting added or expanded, giving `shape`.
Tensor sum_to_shape(const Tensor& g, const Dims& shape);

/// The node record() makes: an op's name and its backward lambda `F`, which
/// is freed (with what it captured) by release_saved().
template <class F>
class FunctionNode final : public Node {
 public:
  /// A node named `name` whose backward calls `fn`.
  /// @param name the op's name (a string literal: it is not copied)
  /// @param fn   the backward lambda, called with a Backward
  FunctionNode(const char* name, F&& fn) : name_(name), fn_(std::move(fn)) {}
  GradList apply(GradList& grads) override {
    if (!fn_) throw_released();
    GradList grad_inputs(next_edges().size());
    Backward bw(*this, grads, grad_inputs, shared_from_this());
    (*fn_)(bw);
    return grad_inputs;
  }
  std::string_view name() const override { return name_; }  ///< the op's name
  void release_saved() override { fn_.reset(); }

 private:
  [[noreturn]] void throw_released() const;
  const char* name_;
  std::optional<F> fn_;
};

/// Throws the tg::AutogradError of a second backward through a freed graph, naming `op`.
[[noreturn]] void throw_backward_twice(std::string_view op);
template <class F>
void FunctionNode<F>::throw_released() const {
  throw_backward_twice(name_);
}

/// Where the current op is being recorded, for anomaly mode: the raw frames
/// (cheap, taken for every op recorded in anomaly mode), symbolised by
/// describe_recording_site into function names, files and lines (slow, only
/// for an error message). capture_recording_site does both.
std::shared_ptr<const RecordingSite> capture_recording_frames();
/// The frames of `site` as function names, files and lines (slow: symbolises them).
std::string describe_recording_site(const RecordingSite& site);
/// capture_recording_frames() described at once.
std::string capture_recording_site();

/// Connects `node` to its inputs and makes it the grad_fn of `outputs`
/// (output i gets output_nr i; a null pointer skips a non-differentiable slot).
/// Takes `node` by value: record() moves its only reference in, which the
/// last output then keeps (no count to raise and lower again).
void attach(std::shared_ptr<Node> node, std::span<const Tensor* const> inputs, std::span<Tensor* const> outputs);
/// attach() with the inputs as a span of tensors.
void attach(std::shared_ptr<Node> node, std::span<const Tensor> inputs, std::span<Tensor* const> outputs);

/// Makes the current grad_fn of `t` (a non-leaf that retains its gradient,
/// `m` its state) add the gradient of t to t's .grad(). attach() calls it
/// again when an in-place op or a view's new history gives t another grad_fn,
/// and the hook on the older one then stands aside: .grad() is the gradient
/// of t's current value, as in PyTorch.
void install_retain_hook(const Tensor& t, AutogradMeta& m);

/// Records an op: a FunctionNode named `name` running `backward`, attached
/// to `inputs` and made the grad_fn of `outputs` (see the example in function.h).
/// Call it only when needs_grad() is true.
/// @param name     the op's name (a string literal)
/// @param inputs   the op's tensor inputs (null: a non-tensor slot)
/// @param outputs  the op's results, which get the node as grad_fn
/// @param backward a callable taking Backward&
template <class F>
void record(const char* name, std::initializer_list<const Tensor*> inputs, std::initializer_list<Tensor*> outputs,
            F&& backward) {
  std::shared_ptr<Node> node =
      std::allocate_shared<FunctionNode<std::decay_t<F>>>(CachingAllocator<Node>{}, name, std::forward<F>(backward));
  attach(std::move(node), std::span<const Tensor* const>(inputs.begin(), inputs.size()),
         std::span<Tensor* const>(outputs.begin(), outputs.size()));
}

/// record() with the outputs as a span (ops with a list of results: split,
/// unbind). Output i gets output_nr i.
template <class F>
void record(const char* name, std::initializer_list<const Tensor*> inputs, std::span<Tensor* const> outputs,
            F&& backward) {
  std::shared_ptr<Node> node =
      std::allocate_shared<FunctionNode<std::decay_t<F>>>(CachingAllocator<Node>{}, name, std::forward<F>(backward));
  attach(std::move(node), std::span<const Tensor* const>(inputs.begin(), inputs.size()), outputs);
}

/// record() with the inputs as a span of tensors (ops of a list: cat, stack).
template <class F>
void record(const char* name, std::span<const Tensor> inputs, std::initializer_list<Tensor*> outputs, F&& backward) {
  std::shared_ptr<Node> node =
      std::allocate_shared<FunctionNode<std::decay_t<F>>>(CachingAllocator<Node>{}, name, std::forward<F>(backward));
  attach(std::move(node), inputs, std::span<Tensor* const>(outputs.begin(), outputs.size()));
}

}  // namespace tg::autograd
