#pragma once
// embedding: rows of a weight table picked by int64 indices, and the adjoint
// that adds rows back (autograd/ops/embedding.cpp records them).
#include <cstdint>
#include <optional>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// The shape rule: int64 indices, weight [num, dim]; returns padding_idx
// checked against num and made non-negative.
std::optional<std::int64_t> embedding_check(const TensorBase& indices, const TensorBase& weight,
                                            std::optional<std::int64_t> padding_idx);
// The indices as a contiguous 1-D tensor, each checked to be in [0, num).
TensorBase embedding_indices(const TensorBase& indices, const TensorBase& weight);
// y [*shape, dim] = weight[flat_indices] with the rows viewed as `shape`
// (the indices' shape before embedding_indices flattened them). Rows picked
// at `zero_index`, if given, read as zeros (the adjoint of embedding_backward).
TensorBase embedding(const TensorBase& flat_indices, const TensorBase& weight, const Dims& shape,
                     std::optional<std::int64_t> zero_index = {});
// dW [num, dim]: zeros with each row of dy [numel, dim] added at its index,
// except those at padding_idx.
TensorBase embedding_backward(const TensorBase& dy, const TensorBase& flat_indices, std::int64_t num,
                              std::optional<std::int64_t> padding_idx);

}  // namespace tg::kernel
