#pragma once
// Triangles, diagonals, flips, scans (cumsum, cumprod, logcumsumexp, cummax,
// cummin) and sorting: the plain kernels under autograd/ops/order.cpp.
// Dims follow PyTorch (negative counts from the end; a 0-d tensor accepts 0
// and -1); every error names the op and the shape.
#include <cstdint>
#include <tuple>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// A copy of x (at least 2-D; the last two dims are the matrix) with the
// elements above (tril) or below (triu) diagonal `diagonal` set to zero.
TensorBase tril(const TensorBase& x, std::int64_t diagonal);
TensorBase triu(const TensorBase& x, std::int64_t diagonal);

// The diagonal `offset` of the matrices formed by dims dim1 and dim2, as a
// view: those dims are dropped and the diagonal is the new last dim.
TensorBase diagonal(const TensorBase& x, std::int64_t offset, std::int64_t dim1, std::int64_t dim2);
// The adjoint of diagonal: zeros of `shape` with `grad` written on that diagonal.
TensorBase diagonal_backward(const TensorBase& grad, const Dims& shape, std::int64_t offset, std::int64_t dim1,
                             std::int64_t dim2);

// A copy of x reversed along each of `dims` (each named once).
TensorBase flip(const TensorBase& x, const Dims& dims);

// Inclusive scans along `dim`. cumsum and cumprod of int64 and bool give int64,
// as PyTorch; logcumsumexp is floating point only.
TensorBase cumsum(const TensorBase& x, std::int64_t dim);
TensorBase cumprod(const TensorBase& x, std::int64_t dim);
TensorBase logcumsumexp(const TensorBase& x, std::int64_t dim);
// Running max (min) along `dim` and the int64 index where it was last reached
// (ties take the later index and NaN propagates, as PyTorch).
std::tuple<TensorBase, TensorBase> cummax(const TensorBase& x, std::int64_t dim);
std::tuple<TensorBase, TensorBase> cummin(const TensorBase& x, std::int64_t dim);

// The int64 indices that sort x along `dim` (NaN after every number, as
// PyTorch). Always stable: equal values keep their order, ascending or descending.
TensorBase sort_indices(const TensorBase& x, std::int64_t dim, bool descending);

// sort_indices(x, dim, descending) sliced to [begin, end) along `dim`, the
// same indices, found by partial selection: O(n log(end - begin)) a row, not
// O(n log n) (topk's k, kthvalue's and median's one rank).
TensorBase sorted_range_indices(const TensorBase& x, std::int64_t dim, std::int64_t begin, std::int64_t end,
                                bool descending);

// The int64 index along `dim` (kept, of size 1) of the mode: the smallest of
// the most frequent values, at its last occurrence (PyTorch's CPU result).
// Each NaN counts as a value of its own, after every number.
TensorBase mode_index(const TensorBase& x, std::int64_t dim);

}  // namespace tg::kernel
