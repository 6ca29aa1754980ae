#pragma once
// Indexing kernels: picking and scattering elements by int64 index tensors,
// masking, and one-hot encoding. Each checks dtypes, shapes and every index
// value, naming the op, the bad value and the size it had to fit.
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// out = x with dim `dim` replaced by x[index[j]] for each j; index is 1-D
// int64 or int32, or 0-d (one index: dim keeps size 1).
TensorBase index_select(const TensorBase& x, std::int64_t dim, const TensorBase& index);
// The adjoint of index_select: a zero tensor of `shape` to which src's slices
// are added at index[j] along `dim` (repeated indices accumulate).
TensorBase index_add_zeros(const Dims& shape, std::int64_t dim, const TensorBase& index, const TensorBase& src);

// out[..i..] = x[..index[..i..]..] along `dim`; out has index's shape.
TensorBase gather(const TensorBase& x, std::int64_t dim, const TensorBase& index);
// out = x, then out[..index[..i..]..] += src[..i..] along `dim`.
TensorBase scatter_add(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src);

// gather's and the scatters' rank rule as PyTorch has it: a 0-d input, index
// or src counts as shape [1]. True when the operands' ranks differ but agree
// under that count (a 0-d input with a [2] index, a [3] input with a 0-d
// index): the caller computes on [1] and gives the result its usual shape.
// The kernels above want equal ranks.
bool zero_d_counts_as_one(std::initializer_list<const TensorBase*> operands);

// out = value where mask (bool, broadcast with x), x elsewhere.
TensorBase masked_fill(const TensorBase& x, const TensorBase& mask, double value);

// int64 labels -> int64 [..., num_classes]; num_classes = -1 takes max + 1.
TensorBase one_hot(const TensorBase& labels, std::int64_t num_classes);

}  // namespace tg::kernel

// ---- scatter, index_copy/fill, nonzero (issue 14) ----------------------------
namespace tg::kernel {

// How scatter_reduce combines the values landing on one element: assign
// (scatter: the last one in index's row-major order wins), sum, prod, mean,
// amax, amin. NaN wins in amax and amin, as in PyTorch.
enum class ScatterReduce { Assign, Sum, Prod, Mean, Amax, Amin };
// "sum", "prod", "mean", "amax", "amin" (scatter_reduce's names); anything else is a ValueError naming `op`.
ScatterReduce scatter_reduce_kind(std::string_view name, const char* op);

// out = x, then out[..index[..i..]..] (op)= src[..i..] along `dim`. Without
// include_self the elements that receive a value start from the values alone.
// mean divides integers with rounding towards minus infinity, as PyTorch.
TensorBase scatter_reduce(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src,
                          ScatterReduce reduce, bool include_self, const char* op);

// out = x with the slices x[index[j]] along `dim` replaced by src's slice j
// (the last one wins for a repeated index); index is 1-D (or 0-d) int64.
TensorBase index_copy(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src);
// out = x, then out[index[j]] += alpha * src[j] along `dim` (repeated indices accumulate).
TensorBase index_add(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src,
                     double alpha);
// out = x with the slices x[index[j]] along `dim` set to value; negative indices count from the end.
TensorBase index_fill(const TensorBase& x, std::int64_t dim, const TensorBase& index, double value);

// The int64 coordinates [n, x.dim()] of x's nonzero elements, row-major order.
TensorBase nonzero(const TensorBase& x);

}  // namespace tg::kernel
