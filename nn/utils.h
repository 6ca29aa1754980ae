#pragma once
/// @file
/// Gradient clipping and the parameters as one vector, as torch.nn.utils.
///
/// @code
/// loss.backward();
/// double norm = tg::nn::utils::clip_grad_norm_(model.parameters(), 1.0);
/// optimizer.step();
/// @endcode
#include <concepts>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg::nn::utils {

/// The p-norm of all the parameters' gradients together (as if concatenated
/// into one vector; p > 0 or infinity). When it exceeds max_norm every
/// gradient is scaled in place by max_norm / (norm + 1e-6), as PyTorch.
/// Parameters without a gradient are skipped. Returns the norm before
/// clipping. A NaN norm (or max_norm) makes every gradient NaN, as PyTorch;
/// with error_if_nonfinite, a NaN or infinite norm is a ValueError instead
/// (and nothing is scaled).
/// @param parameters         the tensors whose .grad() is clipped
/// @param max_norm           the largest norm allowed
/// @param norm_type          p (> 0, or infinity)
/// @param error_if_nonfinite throw instead of scaling by a NaN or infinite norm
/// @throws tg::ValueError for a norm_type that is not positive, or (with
///   error_if_nonfinite) a non-finite norm.
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
/// Deleted: `clip_grad_norm_(params, 1.0, true)`, meant as error_if_nonfinite, would
/// otherwise clip by the L1 norm (norm_type = true = 1).
template <class B>
requires std::same_as<B, bool>
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, B norm_type,
                       bool error_if_nonfinite = false) = delete;

/// Clamps every gradient element into [-clip_value, clip_value] in place, as torch.nn.utils.clip_grad_value_.
/// @throws tg::ValueError for a negative clip_value.
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);

/// The parameters flattened and concatenated into one 1-D tensor, in order,
/// as torch.nn.utils.parameters_to_vector. Differentiable (a cat of
/// flattened views): a loss of the vector sends gradients to the parameters.
/// Mixed dtypes promote as tg::cat does.
/// @throws tg::ValueError for an empty list or an undefined tensor in it.
Tensor parameters_to_vector(const std::vector<Tensor>& parameters);

/// Copies consecutive slices of the 1-D `vec` into the parameters, in order
/// and in place under NoGradGuard (each slice viewed as its parameter's
/// shape, converted to its dtype), as torch.nn.utils.vector_to_parameters.
/// Unlike PyTorch, which makes each parameter a view of vec, the parameters
/// keep their own storage (a model's members and optimizer state stay valid).
/// @throws tg::ShapeError unless vec is 1-D with exactly as many elements as
///   the parameters together, tg::ValueError for an undefined tensor.
void vector_to_parameters(const Tensor& vec, const std::vector<Tensor>& parameters);

}  // namespace tg::nn::utils
