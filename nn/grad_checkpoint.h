#pragma once
/// @file
/// Checkpointing a Sequential in segments, as torch.utils.checkpoint.checkpoint_sequential.
///
/// @code
/// tg::nn::Sequential model{...64 layers...};
/// auto y = tg::nn::checkpoint_sequential(model, 8, x);   // ~sqrt(64) segments
/// @endcode
///
/// The modules are split into `segments` runs of consecutive modules (the
/// last run takes the remainder); every run but the last goes through
/// tg::checkpoint, which keeps only its input for backward and recomputes the
/// rest, with the generator's state restored so dropout repeats its masks.
/// Activation memory falls from one per module to about one per segment plus
/// one segment's worth during its recomputation: sqrt(n) segments of an
/// n-module stack keep O(sqrt(n)). Gradients equal the unchecked run's.
#include <cstdint>

#include <tapegrad/autograd/grad_checkpoint.h>
#include <tapegrad/nn/container.h>

namespace tg::nn {

/// seq(input), run in `segments` checkpointed pieces (see the description of nn/grad_checkpoint.h).
/// @param seq      the modules, run in order
/// @param segments how many runs to split them into, 1 to seq.size()
/// @param input    the first module's input
/// @param options  whether to replay the generator's state (tg::checkpoint)
/// @throws tg::ValueError for an empty seq, segments out of range, or an undefined input.
Tensor checkpoint_sequential(Sequential& seq, std::int64_t segments, const Tensor& input,
                             CheckpointOptions options = {});

}  // namespace tg::nn
