#pragma once
// The backward engine: runs the tape's nodes reachable from the roots, each
// once all its dependencies have delivered (highest sequence number first
// among ready nodes), with an explicit heap (no recursion).
#include <functional>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg {

struct GradOptions {
  bool retain_graph = false;
  bool create_graph = false;
  bool allow_unused = false;
};

// Gradients of `outputs` with respect to `inputs`, without touching any
// tensor's .grad(). grad_outputs may be empty for scalar outputs.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, GradOptions options = {});

// Accumulates into the leaves' .grad(), as Tensor::backward.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

namespace autograd {

// Runs `callback` once the backward pass running on this thread has finished
// with the graph (every leaf accumulated), before backward()/grad() returns,
// as PyTorch's Variable._execution_engine.queue_callback. Call it from a hook
// or a custom backward; outside a pass it is an AutogradError. An exception
// from the callback propagates out of backward().
void queue_callback(std::function<void()> callback);

}  // namespace autograd

}  // namespace tg
