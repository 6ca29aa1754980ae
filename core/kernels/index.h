#pragma once
// Indexing kernels: picking and scattering elements by int64 index tensors,
// masking, and one-hot encoding. Each checks dtypes, shapes and every index
// value, naming the op, the bad value and the size it had to fit.
#include <cstdint>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// out = x with dim `dim` replaced by x[index[j]] for each j; index is 1-D int64.
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
// The adjoint of index_select: a zero tensor of `shape` to which src's slices
// are added at index[j] along `dim` (repeated indices accumulate).
Tensor index_add_zeros(const Dims& shape, std::int64_t dim, const Tensor& index, const Tensor& src);

// out[..i..] = x[..index[..i..]..] along `dim`; out has index's shape.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
// out = x, then out[..index[..i..]..] += src[..i..] along `dim`.
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);

// out = value where mask (bool, broadcast with x), x elsewhere.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// int64 labels -> int64 [..., num_classes]; num_classes = -1 takes max + 1.
Tensor one_hot(const Tensor& labels, std::int64_t num_classes);

}  // namespace tg::kernel
