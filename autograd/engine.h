#pragma once
// The backward engine: runs the tape's nodes reachable from the roots, each
// once all its dependencies have delivered (highest sequence number first
// among ready nodes), with an explicit heap (no recursion).
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg {

// Designated initializers must follow the declaration order:
// {.retain_graph = ..., .create_graph = ..., .allow_unused = ...}, any subset.
struct GradOptions {
  bool retain_graph = false;
  bool create_graph = false;
  bool allow_unused = false;
};

// Gradients of `outputs` with respect to `inputs`, without touching any
// tensor's .grad(). grad_outputs may be empty for scalar outputs.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, GradOptions options = {});

// The same without grad_outputs, as torch.autograd.grad(y, x, create_graph=True):
// grad(ys, xs, {.create_graph = true}) and, for one output and one input,
// grad(y, x) or grad(y, x, {.create_graph = true}) (one gradient in the vector).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs, GradOptions options);
std::vector<Tensor> grad(const Tensor& output, const Tensor& input, GradOptions options = {});

// Accumulates into the leaves' .grad(), as Tensor::backward.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

}  // namespace tg
