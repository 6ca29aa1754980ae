#pragma once
/// @file
/// The backward engine: runs the tape's nodes reachable from the roots, each
/// once all its dependencies have delivered (highest sequence number first
/// among ready nodes), with an explicit heap (no recursion).
#include <concepts>
#include <cstddef>
#include <functional>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg {

/// Options of tg::grad(), as torch.autograd.grad's keyword arguments.
/// Designated initializers must follow the declaration order:
/// {.retain_graph = ..., .create_graph = ..., .allow_unused = ...}, any subset.
struct GradOptions {
  bool retain_graph = false;  ///< keep the graph for another backward pass (implied by create_graph)
  bool create_graph = false;  ///< record the backward pass, so the gradients can be differentiated
  bool allow_unused = false;  ///< an input the outputs do not depend on gets an undefined gradient, not an error
};

/// Gradients of `outputs` with respect to `inputs`, without touching any
/// tensor's .grad(). grad_outputs may be empty for scalar outputs.
/// @throws tg::AutogradError for an output that does not require grad, an
///   input the outputs do not depend on (unless allow_unused), or a graph
///   already freed by an earlier pass; tg::ShapeError for a grad_output whose
///   shape differs from its output's.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, GradOptions options = {});

/// One output and one input without grad_outputs, as
/// torch.autograd.grad(y, x, create_graph=True): grad(y, x) or
/// grad(y, x, {.create_graph = true}), one gradient in the vector. For lists,
/// pass grad_outputs: grad(ys, xs, {}, {.create_graph = true}) (a third
/// overload taking GradOptions is ambiguous under GCC, which weighs a
/// designated list against std::vector's explicit size constructor).
/// A template so that a braced list never picks it: grad({y}, {}) stays the
/// vector form (no inputs, an AutogradError) instead of y with an undefined x.
template <std::derived_from<Tensor> Y, std::derived_from<Tensor> X>
std::vector<Tensor> grad(const Y& output, const X& input, GradOptions options = {}) {
  return grad(std::vector<Tensor>{output}, std::vector<Tensor>{input}, {}, options);
}

/// Accumulates into the leaves' .grad(), as Tensor::backward and LibTorch's
/// torch::autograd::backward. With `inputs`, only they get gradients: a leaf
/// in .grad(), a non-leaf too (it is made to retain_grad(), as PyTorch does);
/// every other tensor's .grad() is left alone, and only the part of the graph
/// that leads to an input runs. An input the outputs do not depend on keeps
/// its .grad() (no error, as PyTorch). Empty `inputs`: every leaf.
/// @throws tg::AutogradError for an input that is undefined or does not
///   require grad, before anything runs.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false, const std::vector<Tensor>& inputs = {});

namespace autograd {

/// Runs `callback` once the backward pass running on this thread has finished
/// with the graph (every leaf accumulated), before backward()/grad() returns,
/// as PyTorch's Variable._execution_engine.queue_callback. Call it from a hook
/// or a custom backward; outside a pass it is an AutogradError. An exception
/// from the callback propagates out of backward().
void queue_callback(std::function<void()> callback);

/// An identity of the innermost backward pass running on this thread, equal
/// for all of that pass's nodes and different for any other pass running at
/// the same time (another thread's, or a nested one); null outside a pass.
/// For state a pass's nodes share (autograd/recurrent.h's gradient slab).
const void* current_backward_pass();

namespace detail {
/// How many nodes the last backward pass on this thread walked before it ran
/// (those it ran, and those at the edge of what it walked). For tests: a
/// tg::grad must not walk the history below its inputs.
std::size_t nodes_walked_by_last_pass();

/// tg::grad, but a gradient stops at the input it reaches: no input's node
/// runs, so an input's gradient does not include what flows to it through
/// another input (whose gradient the caller hands on itself). For a
/// backward that returns gradients for its own inputs and parameters
/// (tg::checkpoint), which the outer pass then carries on: tg::grad would
/// count a path through one input into another twice.
std::vector<Tensor> grad_stopping_at_inputs(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                                            const std::vector<Tensor>& grad_outputs, GradOptions options);
}  // namespace detail

}  // namespace autograd

}  // namespace tg
