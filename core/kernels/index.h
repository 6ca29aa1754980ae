#pragma once
// Indexing kernels: picking and scattering elements by int64 index tensors,
// masking, and one-hot encoding. Each checks dtypes, shapes and every index
// value, naming the op, the bad value and the size it had to fit.
#include <cstdint>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// out = x with dim `dim` replaced by x[index[j]] for each j; index is 1-D int64.
TensorBase index_select(const TensorBase& x, std::int64_t dim, const TensorBase& index);
// The adjoint of index_select: a zero tensor of `shape` to which src's slices
// are added at index[j] along `dim` (repeated indices accumulate).
TensorBase index_add_zeros(const Dims& shape, std::int64_t dim, const TensorBase& index, const TensorBase& src);

// out[..i..] = x[..index[..i..]..] along `dim`; out has index's shape.
TensorBase gather(const TensorBase& x, std::int64_t dim, const TensorBase& index);
// out = x, then out[..index[..i..]..] += src[..i..] along `dim`.
TensorBase scatter_add(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src);

// out = value where mask (bool, broadcast with x), x elsewhere.
TensorBase masked_fill(const TensorBase& x, const TensorBase& mask, double value);

// int64 labels -> int64 [..., num_classes]; num_classes = -1 takes max + 1.
TensorBase one_hot(const TensorBase& labels, std::int64_t num_classes);

}  // namespace tg::kernel
