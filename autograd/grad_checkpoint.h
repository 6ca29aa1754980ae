#pragma once
/// @file
/// Gradient checkpointing: trade compute for memory, as torch.utils.checkpoint.
///
/// @code
/// // y = block(x), without keeping block's intermediates alive until backward
/// tg::Tensor y = tg::checkpoint([&](const std::vector<tg::Tensor>& in) { return block(in[0]); }, {x},
///                               block.parameters());
/// @endcode
///
/// `fn` runs once with grad mode off (nothing inside is recorded: only the
/// inputs are kept), and again in backward with grad mode on, from the same
/// inputs and with the default generator's state as it was at the first call,
/// so dropout draws the same masks. The gradient then flows into the inputs
/// and the `params`. It works with tg::grad, with create_graph (second order),
/// and with inputs that do not require grad.
///
/// Any tensor that requires grad and that `fn` reads other than through
/// `inputs` (a module's parameters, captured by the lambda) must be listed in
/// `params`: the first run records nothing, so the checkpoint's node has no
/// edge to it. PyTorch's checkpoint gives such a tensor a gradient; here the
/// recomputation in backward finds it (a leaf that requires grad, reached
/// from fn's result other than through `inputs` and `params`, also through
/// the history of a captured non-leaf) and throws tg::AutogradError naming
/// checkpoint, instead of leaving it without a gradient. A module's buffers
/// (batch norm's running statistics) are updated by both runs, as in PyTorch.
#include <functional>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg {

/// The function checkpoint() runs twice: its inputs to one tensor.
using CheckpointFunction = std::function<Tensor(const std::vector<Tensor>&)>;

/// Options of checkpoint().
struct CheckpointOptions {
  /// Save the default generator's state before the first run and restore it
  /// for the recomputation (and put the later state back afterwards). Off
  /// only when `fn` draws no random numbers: it saves copying 6 words.
  bool preserve_rng_state = true;
};

/// fn(inputs), keeping only `inputs` for backward, where fn runs again (see
/// the description of autograd/grad_checkpoint.h).
/// @param fn     the computation, a pure function of `inputs` and `params`
/// @param inputs what fn is called with, kept for the recomputation
/// @param params every other tensor fn reads that requires grad (a module's parameters;
///               one listed twice counts once, as fn reads it itself)
/// @param options whether to replay the random generator's state
/// @throws tg::ValueError for an empty fn, an undefined input or parameter, or
///   fn returning an undefined tensor; in backward, tg::AutogradError when the
///   recomputed fn reads a tensor that requires grad other than through
///   `inputs` or `params` (it would get no gradient).
Tensor checkpoint(CheckpointFunction fn, const std::vector<Tensor>& inputs, const std::vector<Tensor>& params = {},
                  CheckpointOptions options = {});

}  // namespace tg
