#pragma once
/// @file
/// Pictures of the recorded graph (like torchviz's make_dot): Graphviz DOT
/// text, to render with `dot -Tsvg graph.dot -o graph.svg`.
///
/// @code
/// tg::autograd::GraphDetailGuard detail;  // optional: also show saved tensors
/// Tensor loss = model.forward(x) ...;
/// std::string dot = tg::autograd::to_dot(loss, model.named_parameters());
/// @endcode
///
/// Each node is one recorded op: its name, the shape and dtype of each of its
/// outputs, and (for ops recorded under a GraphDetailGuard) the shapes, dtypes
/// and bytes of the tensors it saved for backward, marked ", freed" once a
/// backward without retain_graph has run the op and released them. Leaves are the tensors
/// that require grad, named when they are among the named parameters given.
/// Edges go from an input to the op that used it. An output that is itself a
/// leaf is drawn as that leaf alone; one that requires no grad (it has no
/// history) as a dashed box "no grad" with its shape and dtype. Control bytes
/// in names show as \\xNN.
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg::autograd {

/// What to_dot() draws.
struct DotOptions {
  /// Draw runs of identical blocks (the same ops on the same shapes, one after
  /// the other, like the hidden layers of an MLP) once, as a cluster labelled
  /// "×N".
  bool collapse_repeats = false;
  /// List what each op saved (recorded under a GraphDetailGuard); what a
  /// backward has freed is marked ", freed".
  bool show_saved = true;
};

/// Names for leaves, as Module::named_parameters() gives them.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// The graph that produced `outputs` as Graphviz DOT text (see the description of dot.h).
/// @param outputs      the tensors whose history is drawn
/// @param named_leaves labels for the leaves among them (model.named_parameters())
/// @param options      collapsing repeated blocks, showing saved tensors
std::string to_dot(const std::vector<Tensor>& outputs, const NamedTensors& named_leaves = {},
                   const DotOptions& options = {});
/// The same for one output.
std::string to_dot(const Tensor& output, const NamedTensors& named_leaves = {}, const DotOptions& options = {});

}  // namespace tg::autograd
