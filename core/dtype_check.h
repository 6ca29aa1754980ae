#pragma once
/// @file
/// The one dtype check of the ops that refuse a class of dtypes, as PyTorch's
/// kernels do ("not implemented for 'Bool'", "... for 'Long'"): the message
/// names the op, the dtype and the shape, and is formatted out of line.
#include <cstdint>

#include <tapegrad/core/tensor.h>

namespace tg {

/// The dtypes an op takes: every dtype but bool (argmax, topk, relu, hardtanh,
/// ...), or only the floating ones (gelu, leaky_relu, the other activations,
/// softmax, mean, var, ...).
enum class DTypeClass : std::uint8_t { Numeric, Floating };

/// Refuses x unless its dtype is in `accepted`.
/// @throws tg::DTypeError "<op>: expected a numeric tensor, got bool (shape
///   [2, 2])" or "<op>: expected a floating-point tensor, got int64 (shape [3])".
void check_dtype(const TensorBase& x, const char* op, DTypeClass accepted);

}  // namespace tg
