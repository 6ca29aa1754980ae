#pragma once
/// @file
/// Views and in-place ops, as PyTorch does them.
///
/// A view op (slice, select, narrow, view, reshape without a copy, transpose,
/// permute, expand, squeeze, unsqueeze, ...) run with grad mode on remembers
/// its base: the tensor owning the memory it views (the base's base for a
/// view of a view), in AutogradMeta::view_base. Nothing else is kept: the
/// view's sizes, strides and offset say where it lies in the base's memory,
/// which is all it takes to make its grad_fn again from the base's.
///
/// - An in-place op on the base (or on another view of it) bumps the storage's
///   version. A view whose recorded version differs gets a new grad_fn,
///   "as_strided", from the base's current history the next time it is used
///   (meta_of and requires_grad_of do it), so it sees the modification.
/// - An in-place op on a view of a tensor in a graph records its node as
///   usual, then rewrites the base's history: the base's grad_fn becomes a
///   CopySlices node, whose backward sends the gradient of the view's region
///   through that node and the rest straight to the base's previous history.
///   The view's grad_fn is then made again from the base's.
/// - A view of a leaf that requires grad cannot be modified in place (grad
///   mode on), nor can a view made with grad mode off of a tensor that
///   requires grad, nor a piece of split, chunk or unbind when grad is involved; the
///   last two cannot be used in grad mode either once their memory changed.
///   PyTorch forbids all of these.
///
/// Memory: a view owns its base; nodes never own a tracked view (saved
/// tensors are untracked aliases), so this adds no reference cycle.
#include <span>

#include <tapegrad/autograd/node.h>

namespace tg::autograd {

/// Called by the view ops on their output: marks `view` as a view of `input`'s
/// base when it shares input's memory. With grad mode off only views of
/// tensors that require grad are marked (to refuse in-place ops on them later),
/// so inference pays nothing.
void track_view(const Tensor& input, Tensor& view);

/// split and chunk: their pieces, like PyTorch's outputs of a multi-output
/// view op, cannot be modified in place when grad is involved, nor follow an
/// in-place change of their base.
void mark_multi_output_views(std::span<Tensor> pieces);

/// A custom Function's outputs (autograd/custom_function.h) that share memory
/// with one of its tensor inputs, or with another of its outputs, become
/// tracked views (of that input, or of their shared memory) which, as in
/// PyTorch, cannot be modified in place when grad is involved nor follow an
/// in-place change of an alias: their backward is the user's, which knows
/// nothing of either. Called once the outputs have their grad_fn.
void mark_custom_function_views(std::span<const Tensor> inputs, std::span<Tensor* const> outputs);

/// The checks of an in-place op `op` on `self` that apply when self is a
/// tracked view and the op is recorded (`any_requires_grad`: self or another
/// operand requires grad); a view of a leaf that requires grad is refused
/// either way (with false, only these refusals run). Returns true when self
/// is a view whose base's history the op must rewrite. Grad mode is on.
bool check_inplace_on_view(const Tensor& self, const char* op, bool any_requires_grad);

/// Just after the kernel wrote `self` and bumped the version, before the op is
/// recorded: self's grad_fn still describes its value before the op, which is
/// what the op's node must point to.
void keep_view_history(const Tensor& self);

/// After the in-place op's node was recorded as self's grad_fn: the base's
/// grad_fn becomes CopySlices over that node, and self's grad_fn is made
/// again from the base's.
void rebase_view_history(const Tensor& self);

/// After an in-place op on a tensor whose memory `operand` (another operand
/// of the op) is a view of: recording the op made the operand's history from
/// its base's before the op (the value the op read) and stamped it with the
/// version after; it is made stale, so that its next use makes it again
/// from the base's history after the op (a.add_(a[0:3]) then a[0:3] is 2x).
void forget_view_history(const Tensor& operand);

}  // namespace tg::autograd
