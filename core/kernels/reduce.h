#pragma once
// Reductions (sum, mean, var, amax, prod, norm, logsumexp, ...) and softmax:
// the plain kernels under the differentiable ops of autograd/ops/reduce.cpp.
//
// Dims lists follow PyTorch: negative dims count from the end, an empty list
// means every dim, a dim named twice is a ValueError. With keepdim the reduced
// dims stay as size 1. Each kernel checks its arguments and names itself in
// its messages.
#include <cstdint>
#include <optional>
#include <tuple>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// Which dims a reduction folds: bit d set for dim d.
using DimMask = std::uint32_t;

// Wraps and checks `dims` for a tensor of `ndim` dims (empty: all dims).
DimMask reduction_mask(IntArrayRef dims, int ndim, const char* op);
// The result shape: reduced dims dropped, or kept as 1 with keepdim.
Dims reduced_shape(const Dims& shape, DimMask mask, bool keepdim);
// How many elements fold into each output.
std::int64_t reduced_count(const Dims& shape, DimMask mask);

// float32 sums accumulate in double. int64 and bool sum to int64.
TensorBase sum(const TensorBase& x, IntArrayRef dims, bool keepdim);
// Floating point only, as PyTorch; an empty reduction gives NaN.
TensorBase mean(const TensorBase& x, IntArrayRef dims, bool keepdim);
// Two-pass: sum((x - mean)^2) / (N - correction). Floating point only.
TensorBase var(const TensorBase& x, IntArrayRef dims, double correction, bool keepdim);
TensorBase std(const TensorBase& x, IntArrayRef dims, double correction, bool keepdim);
// NaN propagates. Reducing a zero-size dim is an IndexError. `op` names the
// caller in messages (max() over everything is amax over all dims).
TensorBase amax(const TensorBase& x, IntArrayRef dims, bool keepdim, const char* op = "amax");
TensorBase amin(const TensorBase& x, IntArrayRef dims, bool keepdim, const char* op = "amin");
// Values and int64 indices along one dim; ties give the first index.
std::tuple<TensorBase, TensorBase> max(const TensorBase& x, std::int64_t dim, bool keepdim);
std::tuple<TensorBase, TensorBase> min(const TensorBase& x, std::int64_t dim, bool keepdim);
// Without a dim: the index into the flattened (row-major) tensor. Bool is a
// DTypeError (as PyTorch).
TensorBase argmax(const TensorBase& x, std::optional<std::int64_t> dim, bool keepdim);
TensorBase argmin(const TensorBase& x, std::optional<std::int64_t> dim, bool keepdim);
// log(sum(exp(x - m))) + m with m the max, so large inputs stay finite.
// Integer inputs give float32, as PyTorch. An empty reduction gives -inf.
TensorBase logsumexp(const TensorBase& x, IntArrayRef dims, bool keepdim);
// float32 products accumulate in double; int64 and bool give int64.
TensorBase prod(const TensorBase& x, IntArrayRef dims, bool keepdim);
// The vector p-norm over `dims`: p = 2, 1, inf, -inf, 0 (count of nonzeros)
// or any other p as (sum |x|^p)^(1/p). Floating point only. Errors name
// `op` (linalg::vector_norm is this kernel too).
TensorBase norm(const TensorBase& x, double p, IntArrayRef dims, bool keepdim, const char* op = "norm");
// The sum of |x|^p over every element, accumulated in double (for p = 2,
// the common order, over eight lanes): clip_grad_norm_'s one total over many
// tensors. Floating point only.
double power_sum(const TensorBase& x, double p);

// Along one dim, max subtracted first. Floating point only.
TensorBase softmax(const TensorBase& x, std::int64_t dim);
TensorBase log_softmax(const TensorBase& x, std::int64_t dim);
// Fused backwards, for when no graph of the backward is wanted:
// softmax: dx = y * (dy - sum(dy * y));  log_softmax: dx = dy - exp(y) * sum(dy).
TensorBase softmax_backward(const TensorBase& y, const TensorBase& dy, std::int64_t dim);
TensorBase log_softmax_backward(const TensorBase& y, const TensorBase& dy, std::int64_t dim);

// The weights that share an extremum's gradient among its ties:
// (x == y) / (number of ties in y's slice), where y holds the reduced values
// with keepdim shape. NaN counts as equal to NaN. Same dtype as x.
TensorBase tie_weights(const TensorBase& x, const TensorBase& y, DimMask mask);
// 1 where x's position along `dim` equals `indices` (keepdim shape), else 0,
// in x's shape and `dtype`.
TensorBase index_mask(const Dims& shape, int dim, const TensorBase& indices, DType dtype);

}  // namespace tg::kernel
