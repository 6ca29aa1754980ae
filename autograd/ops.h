#pragma once
/// @file
/// Every differentiable op a user calls, by family, as free functions in `tg`
/// with torch's names and semantics (most are also Tensor methods). Each
/// family lives in one file of autograd/ops/ (forward kernel call, backward
/// formula, shape rule together); the comment above each block names it.
/// docs/ops.md lists every op's dtypes and forms.
///
/// @code
/// tg::Tensor x = tg::randn({4, 3}, {.requires_grad = true});
/// tg::Tensor y = tg::sum(tg::exp(x) * 2 + 1, 1);  // [4]
/// @endcode
///
/// Unless a comment says otherwise: two-tensor ops broadcast as PyTorch
/// (tg::ShapeError when the shapes cannot), an unsupported dtype is a
/// tg::DTypeError, a dim out of range a tg::IndexError, and a bad argument
/// value a tg::ValueError; every message names the op.
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg {

// ---- autograd/ops/arithmetic.cpp, math.cpp, activation.cpp, compare.cpp --------
/// Elementwise arithmetic, as torch.add / sub / mul / div. `a + alpha * b`,
/// `a - alpha * b`, `a * b`, `a / b` with a tensor or a number as b; rsub is
/// `b - a` and rdiv `b / a`. Results have the broadcast shape and the promoted
/// dtype (integer division by zero is a tg::ValueError).
/// @throws tg::ShapeError for shapes that do not broadcast, tg::DTypeError for a
///   subtraction with a bool tensor or a fractional alpha with an integer result.
///@{
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1);
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);  // b - a
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor rdiv(const Tensor& a, double b);  // b / a
///@}
/// Elementwise math, as the torch functions of the same names. In order: -x, e^x, ln x,
/// ln(1 + x), sqrt, 1 / sqrt, x^exponent (tensor or number base and exponent,
/// broadcast), |x|, sign (-1, 0 or 1), max(x, 0), leaky_relu (x for x >= 0,
/// else negative_slope * x), sigmoid, tanh and gelu (the exact erf form, as
/// PyTorch's default). Recorded for backward.
/// @throws tg::DTypeError for a dtype the op does not take (docs/ops.md);
///   pow raises an integer to a negative integer power as tg::ValueError.
///@{
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor pow(const Tensor& x, const Tensor& exponent);
Tensor pow(double base, const Tensor& exponent);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form, as PyTorch's default
///@}
/// gelu with PyTorch's `approximate` argument: "none" is the exact erf form
/// above, "tanh" is x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as
/// torch.nn.functional.gelu(x, approximate='tanh').
/// @throws tg::ValueError for another approximate, tg::DTypeError for a non-floating x.
Tensor gelu(const Tensor& x, std::string_view approximate);
/// x limited to [min, max], as torch.clamp; an absent bound is not applied.
/// @param x   the input (not bool)
/// @param min the lower bound, or std::nullopt
/// @param max the upper bound, or std::nullopt
/// @throws tg::ValueError when both bounds are absent, tg::DTypeError for a bool x.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
/// clamp with one bound, as torch.clamp_min / clamp_max.
///@{
Tensor clamp_min(const Tensor& x, double min);
Tensor clamp_max(const Tensor& x, double max);
///@}
/// x * x, as torch.square (pow(x, 2): the same values and gradient 2 x).
Tensor square(const Tensor& x);
/// The elementwise larger (smaller) of a and b, broadcast, as torch.maximum / minimum.
///@{
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
///@}
/// a where the bool `condition` is true, else b, all three broadcast
/// together, as torch.where; a number stands for a 0-d operand.
/// @throws tg::ShapeError for shapes that do not broadcast, tg::DTypeError for a condition that is not bool.
///@{
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, double b);
Tensor where(const Tensor& condition, double a, const Tensor& b);
///@}

/// Comparisons and logic, as torch.eq, ne, lt, le, gt, ge, logical_and,
/// logical_or, logical_not, isnan and isfinite. Bool results of the broadcast
/// shape, no gradient (they cut the tape).
///@{
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
Tensor isnan(const Tensor& x);
Tensor isfinite(const Tensor& x);
///@}
/// Whether |a - b| <= atol + rtol * |b| for every element (broadcast), as
/// torch.allclose; equal infinities are close, NaN never is.
/// @param a    the first tensor
/// @param b    the second tensor (the reference for rtol)
/// @param rtol the relative tolerance
/// @param atol the absolute tolerance
/// @throws tg::ShapeError for shapes that do not broadcast, tg::DTypeError
///   for two dtypes (as torch.allclose and tg::isclose), tg::ValueError for a
///   negative tolerance.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
/// Whether a and b have the same shape and equal values, as torch.equal (NaN is unequal).
bool equal(const Tensor& a, const Tensor& b);  // same shape and same values

// ---- autograd/ops/math_functions.cpp (kernels and dtype rules: core/kernels/math.h) ----
/// Trigonometric, hyperbolic and error functions, logarithms, exponentials and 1 / x, as torch's.
/// Integer
/// inputs give float32 results, as PyTorch. Recorded for backward.
/// @throws tg::DTypeError for a dtype the op does not take (docs/ops.md).
///@{
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tan(const Tensor& x);
Tensor asin(const Tensor& x);
Tensor acos(const Tensor& x);
Tensor atan(const Tensor& x);
Tensor sinh(const Tensor& x);
Tensor cosh(const Tensor& x);
Tensor asinh(const Tensor& x);
Tensor acosh(const Tensor& x);
Tensor atanh(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor erfc(const Tensor& x);
Tensor erfinv(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor log2(const Tensor& x);
Tensor log10(const Tensor& x);
Tensor exp2(const Tensor& x);
Tensor reciprocal(const Tensor& x);
///@}
/// Rounding, as torch.floor, ceil, round, trunc and frac. round takes halves to even (with `decimals`,
/// to that many decimal places, floating only); frac is x - trunc(x).
/// floor, ceil, round and trunc have a zero gradient, as PyTorch.
///@{
// floor, ceil, round (halves to even), trunc: zero gradient, as PyTorch.
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);
Tensor round(const Tensor& x, std::int64_t decimals);  // torch.round(x, decimals=d); floating only
Tensor trunc(const Tensor& x);
Tensor frac(const Tensor& x);  // x - trunc(x)
///@}
/// Binary elementwise math, broadcast, as torch.atan2, hypot, fmod and remainder. atan2 is of a / b;
/// fmod's result has the sign of a (as C's fmod), remainder's the sign of b (as Python's %); integer
/// division by zero is a tg::ValueError.
///@{
Tensor atan2(const Tensor& a, const Tensor& b);
Tensor hypot(const Tensor& a, const Tensor& b);
Tensor fmod(const Tensor& a, const Tensor& b);       // the sign of a, as C's fmod
Tensor remainder(const Tensor& a, const Tensor& b);  // the sign of b, as Python's %
Tensor fmod(const Tensor& a, double b);
Tensor remainder(const Tensor& a, double b);
///@}
/// start + weight * (end - start), broadcast, as torch.lerp.
///@{
Tensor lerp(const Tensor& start, const Tensor& end, double weight);  // start + weight (end - start)
Tensor lerp(const Tensor& start, const Tensor& end, const Tensor& weight);
///@}
/// input + value * tensor1 * tensor2 (addcmul) and input + value * tensor1 /
/// tensor2 (addcdiv), the three broadcast, as torch.addcmul / torch.addcdiv.
/// @throws tg::ShapeError for shapes that do not broadcast; tg::DTypeError
///   for bool operands, and for addcdiv of two integer tensors (an integer
///   division, refused as PyTorch does).
///@{
Tensor addcmul(const Tensor& input, const Tensor& tensor1, const Tensor& tensor2, double value = 1);
Tensor addcdiv(const Tensor& input, const Tensor& tensor1, const Tensor& tensor2, double value = 1);
///@}
/// torch.clamp with tensor bounds, broadcast with x; an undefined one is absent.
/// @param x   the input
/// @param min the lower bounds, or an undefined tensor
/// @param max the upper bounds, or an undefined tensor
/// @throws tg::ValueError when both are undefined, tg::ShapeError for shapes that do not broadcast.
// Tensor bounds, broadcast with x; an undefined one is absent: clamp(x, lo, {}).
// A template only so that clamp(x, {}, {}) still means the scalar form.
template <std::same_as<Tensor> T>
Tensor clamp(const Tensor& x, const T& min, const T& max) {
  return detail::clamp_tensors(x, min, max);
}
/// x with NaN replaced by `nan`, +inf by `posinf` and -inf by `neginf` (by
/// default the dtype's largest and lowest values), as torch.nan_to_num; the
/// gradient is 0 at the replaced elements.
/// @param x      the input
/// @param nan    the value for NaN
/// @param posinf the value for +inf, or the dtype's largest
/// @param neginf the value for -inf, or the dtype's lowest
// NaN -> nan, +-inf -> posinf/neginf (default: the dtype's extremes); gradient 0 there.
Tensor nan_to_num(const Tensor& x, double nan = 0, std::optional<double> posinf = std::nullopt,
                  std::optional<double> neginf = std::nullopt);
/// Bool tensors: where x is +-inf, +inf or -inf, as torch.isinf, isposinf and isneginf.
///@{
Tensor isinf(const Tensor& x);
Tensor isposinf(const Tensor& x);
Tensor isneginf(const Tensor& x);
///@}
/// Elementwise allclose, as torch.isclose: a bool tensor of the broadcast shape.
/// @param a         the first tensor
/// @param b         the second (the reference for rtol), of a's dtype
/// @param rtol      the relative tolerance, >= 0
/// @param atol      the absolute tolerance, >= 0
/// @param equal_nan whether two NaNs count as close
/// @throws tg::DTypeError for different dtypes, tg::ValueError for a negative tolerance.
Tensor isclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false);

// ---- autograd/ops/activation_functions.cpp (also in tg::nn::functional) ----------
/// Activation functions with torch.nn.functional's formulas and defaults.
/// softplus (log(1 + e^(beta x)) / beta, linear above `threshold`), silu,
/// elu, selu, celu, mish, hardtanh (clamped to [min_val, max_val]), relu6
/// (hardtanh to [0, 6]), hardswish, hardsigmoid, logsigmoid, softsign, glu
/// (the first half of `dim` times the sigmoid of the second; that dim's size
/// must be even), and prelu (x where x > 0, else weight * x, with weight [C]
/// along dim 1 or a single weight for all; inputs of fewer than 2 dims have
/// one channel).
/// @throws tg::DTypeError for a dtype the op does not take (prelu: a weight of
///   another dtype than x), tg::ShapeError for glu on an odd size or a prelu
///   weight that is not 0-d/1-d of 1 or C elements.
///@{
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);
Tensor silu(const Tensor& x);
Tensor elu(const Tensor& x, double alpha = 1);
Tensor selu(const Tensor& x);
Tensor celu(const Tensor& x, double alpha = 1);
Tensor mish(const Tensor& x);
Tensor hardtanh(const Tensor& x, double min_val = -1, double max_val = 1);
Tensor relu6(const Tensor& x);
Tensor hardswish(const Tensor& x);
Tensor hardsigmoid(const Tensor& x);
Tensor logsigmoid(const Tensor& x);
Tensor softsign(const Tensor& x);
Tensor glu(const Tensor& x, std::int64_t dim = -1);
Tensor prelu(const Tensor& x, const Tensor& weight);
///@}

/// Operators for the arithmetic ops above and the comparisons. + - * / and unary - are add, sub,
/// mul, div and neg; == != < <= > >= are eq, ne, lt, le, gt, ge (bool results, no gradient); the
/// compound assignments are in place, as torch's `+=`.
/// @throws tg::ShapeError for shapes that do not broadcast (or, in place, that
///   would change a's shape), tg::DTypeError for a dtype the op does not take.
///@{
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor& operator+=(Tensor& a, const Tensor& b);
Tensor& operator-=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, const Tensor& b);
Tensor& operator/=(Tensor& a, const Tensor& b);
Tensor& operator+=(Tensor& a, double b);
Tensor& operator-=(Tensor& a, double b);
Tensor& operator*=(Tensor& a, double b);
Tensor& operator/=(Tensor& a, double b);
///@}

// ---- autograd/ops/reduce.cpp ---------------------------------------------------
// The same signatures as the Tensor methods (autograd/tensor.h, core/args.h):
// dims are a DimList, correction and p are Real (never a braced list or a
// bool), keepdim is a StrictBool.
/// Reductions, as torch.sum, mean, var, std, amax, amin, max, min, argmax, argmin, logsumexp and prod.
/// Over every element, or over `dims` (keepdim keeps them with size 1). var and std use correction 1
/// unless given; max and min along one dim give (values, indices); argmax and argmin without a dim give
/// an index into the flattened tensor, and refuse bool (a tg::DTypeError, as PyTorch's; max, min,
/// amax and amin take it). See Tensor's methods and docs/overloads.md.
///@{
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, DimList dims, StrictBool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, DimList dims, StrictBool keepdim = false);
Tensor var(const Tensor& x);
Tensor var(const Tensor& x, DimList dims);  // correction 1
// No default for C: a defaulted template parameter would let `{0}` through.
template <Real C>
Tensor var(const Tensor& x, DimList dims, C correction, StrictBool keepdim = false) {
  return detail::var_dims(x, dims, static_cast<double>(correction), keepdim);
}
Tensor std(const Tensor& x);
Tensor std(const Tensor& x, DimList dims);  // correction 1
// No default for C: a defaulted template parameter would let `{0}` through.
template <Real C>
Tensor std(const Tensor& x, DimList dims, C correction, StrictBool keepdim = false) {
  return detail::std_dims(x, dims, static_cast<double>(correction), keepdim);
}
Tensor amax(const Tensor& x, DimList dims = {}, StrictBool keepdim = false);  ///< dims {}: every dim, as torch.amax
Tensor amin(const Tensor& x, DimList dims = {}, StrictBool keepdim = false);  ///< dims {}: every dim
std::tuple<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
std::tuple<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim = {}, StrictBool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim = {}, StrictBool keepdim = false);
Tensor logsumexp(const Tensor& x, DimList dims, StrictBool keepdim = false);
Tensor prod(const Tensor& x);
Tensor prod(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
///@}
/// The p-norm (p = 2 by default), as torch.norm: of every element, or over `dims`.
///@{
// A number after x is p, as torch.norm(x, 1); a braced list is dims (p = 2).
Tensor norm(const Tensor& x);
template <Real P>
Tensor norm(const Tensor& x, P p) {
  return detail::norm_dims(x, static_cast<double>(p), DimList{}, false);
}
Tensor norm(const Tensor& x, DimList dims);
template <Real P>
Tensor norm(const Tensor& x, P p, DimList dims, StrictBool keepdim = false) {
  return detail::norm_dims(x, static_cast<double>(p), dims, keepdim);
}
///@}
/// softmax (log_softmax) along dim, as torch.softmax: exp(x) / sum(exp(x)),
/// computed stably (the maximum subtracted first).
///@{
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);
///@}

// ---- autograd/ops/linalg.cpp ---------------------------------------------------
/// The matrix product, as torch.matmul: 1-D, 2-D and batched N-D with
/// broadcast batch dims.
/// @param a the left operand
/// @param b the right operand, of a's dtype
/// @throws tg::ShapeError when the inner sizes differ or the batch dims do not broadcast.
// 1-D, 2-D and batched N-D with broadcast batch dims, as torch.matmul.
Tensor matmul(const Tensor& a, const Tensor& b);
/// The product of two matrices [n, m] @ [m, p], as torch.mm.
/// @throws tg::ShapeError when a or b is not 2-D or the inner sizes differ.
Tensor mm(const Tensor& a, const Tensor& b);
/// beta * input + alpha * (a @ b), as torch.addmm.
/// @param input added to the product (broadcast to [n, p])
/// @param a     [n, m]
/// @param b     [m, p]
/// @param beta  the factor of input
/// @param alpha the factor of the product
// beta * input + alpha * (a @ b), one GEMM (input broadcast to the result).
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta = 1, double alpha = 1);
/// x @ weight^T + bias, as torch.nn.functional.linear.
/// @param x      [..., in]
/// @param weight [out, in]
/// @param bias   [out], or undefined for none
// x @ weight^T + bias, one GEMM with the bias folded in; x may be N-D.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
/// The inner product of two 1-D tensors of one size, as torch.dot (a 0-d result).
Tensor dot(const Tensor& a, const Tensor& b);
/// The outer product of two 1-D tensors, [n] x [m] -> [n, m], as torch.outer.
Tensor outer(const Tensor& a, const Tensor& b);

// ---- autograd/ops/shape.cpp ----------------------------------------------------
/// Shape and layout operations, as the torch functions of the same names.
/// view, transpose, permute, narrow, slice (x[start:end:step] along dim),
/// select, expand, squeeze, unsqueeze, split and chunk return views that
/// share x's storage (reshape and flatten too when the layout allows); cat
/// and stack join tensors along a (new, for stack) dim; contiguous copies
/// only when needed, clone always, to_dtype converts (differentiable between
/// floating types). All are recorded for backward.
/// @throws tg::ShapeError or tg::IndexError naming the op for a shape or a dim that does not fit.
///@{
Tensor view(const Tensor& x, Dims shape);
Tensor reshape(const Tensor& x, Dims shape);
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor permute(const Tensor& x, Dims dims);
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length);
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1);
Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index);
Tensor expand(const Tensor& x, Dims sizes);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, std::int64_t dim);
Tensor unsqueeze(const Tensor& x, std::int64_t dim);
Tensor flatten(const Tensor& x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType dtype);
///@}
/// Pieces of the given sizes along dim (a view each), which must add up to
/// the dim's size, as torch.split with a list.
/// @throws tg::ShapeError when the sizes do not add up.
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& split_sizes, std::int64_t dim = 0);
/// The slices of x along dim, that dim removed (views), as torch.unbind.
///
/// split, chunk and unbind record one node for all their pieces, as PyTorch:
/// its backward joins the pieces' gradients with one cat (zeros for pieces
/// that got none). Slicing a tensor into T pieces in a loop (the time steps
/// of an RNN) should use them: T narrow or select calls are T nodes, and each
/// one's backward writes a zero gradient of the whole tensor.
std::vector<Tensor> unbind(const Tensor& x, std::int64_t dim = 0);

// ---- autograd/ops/index.cpp ----------------------------------------------------
/// The slices of x at the int64 (or int32) `index` along dim, as torch.index_select.
/// A 0-d index is one position: the result keeps dim, with size 1 (as PyTorch's).
/// @param x     the input
/// @param dim   the dim indexed
/// @param index 1-D or 0-d int64 or int32 positions in [0, size) along dim
/// @throws tg::IndexError for a position out of range, tg::DTypeError for an index neither int64 nor int32.
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
/// out[i][j] = x[index[i][j]][j] (for dim 0, and so on), as torch.gather.
/// @param x     the input
/// @param dim   the dim indexed
/// @param index int64, of x's rank; the result has its shape
/// @throws tg::IndexError for a position out of range, tg::ShapeError for a rank mismatch.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
/// x with src's elements added at `index` along dim, as torch.scatter_add (gather's adjoint).
/// @param x     the input (not modified)
/// @param dim   the dim indexed
/// @param index int64, of x's rank
/// @param src   the values added, at least index's size in each dim
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
/// x with `value` where the bool `mask` (broadcast to x's shape) is true, as torch.masked_fill.
/// @param x     the input
/// @param mask  bool, broadcastable to x
/// @param value the fill value
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
/// int64 one-hot vectors [..., num_classes] of int64 labels, as torch.nn.functional.one_hot; no gradient.
/// @param labels      int64 class indices of any shape
/// @param num_classes the number of classes; -1 infers max(labels) + 1
/// @throws tg::DTypeError for non-int64 labels, tg::IndexError for a label out of
///   range, tg::ValueError for num_classes < -1 or -1 with empty labels.
Tensor one_hot(const Tensor& labels, std::int64_t num_classes = -1);  // no gradient

// ---- autograd/ops/order.cpp ----------------------------------------------------
// Shape: triangles, diagonals, tiling, flips, rolls, splitting and moving dims.
/// The lower (upper) triangle of the last two dims, the rest zeroed, as
/// torch.tril / triu; `diagonal` > 0 moves the boundary above the main diagonal.
///@{
Tensor tril(const Tensor& x, std::int64_t diagonal = 0);
Tensor triu(const Tensor& x, std::int64_t diagonal = 0);
///@}
/// The diagonal at `offset` of the dims dim1 and dim2, as torch.diagonal.
/// @param x      the input (at least 2-D)
/// @param offset above (> 0) or below (< 0) the main diagonal
/// @param dim1   the first dim of the matrices
/// @param dim2   the second dim of the matrices
// A view, as PyTorch's: dims dim1 and dim2 dropped, the diagonal last.
Tensor diagonal(const Tensor& x, std::int64_t offset = 0, std::int64_t dim1 = 0, std::int64_t dim2 = 1);
/// As torch.diag: of a 1-D x, the square matrix with x on diagonal
/// `diagonal`; of a 2-D x, that diagonal (a copy).
/// @param x        1-D or 2-D
/// @param diagonal above (> 0) or below (< 0) the main diagonal
// 1-D: the square matrix with x on diagonal `diagonal`; 2-D: that diagonal (a copy).
Tensor diag(const Tensor& x, std::int64_t diagonal = 0);
/// The sum of the main diagonal of a 2-D x, as torch.trace (integers sum to int64).
/// @throws tg::ShapeError for x not 2-D, tg::DTypeError for bool (as PyTorch's).
Tensor trace(const Tensor& x);
/// x tiled `repeats` times along each dim, as torch.Tensor.repeat (repeats may add leading dims).
Tensor repeat(const Tensor& x, Dims repeats);
/// x reversed along each of `dims`, as torch.flip (a copy).
Tensor flip(const Tensor& x, Dims dims);
/// x's elements shifted by shifts[i] along dims[i], wrapping around, as torch.roll.
// Empty dims: x flattened, rolled by shifts[0], reshaped back.
Tensor roll(const Tensor& x, Dims shifts, Dims dims = {});
/// roll by one number, as torch.roll(x, 1) (flattened) and torch.roll(x, 1, 0).
///@{
template <std::integral S>
Tensor roll(const Tensor& x, S shift) {
  return roll(x, Dims{static_cast<std::int64_t>(shift)});
}
template <std::integral S, std::integral D>
Tensor roll(const Tensor& x, S shift, D dim) {
  return roll(x, Dims{static_cast<std::int64_t>(shift)}, Dims{static_cast<std::int64_t>(dim)});
}
///@}
/// x with the dims `source` moved to positions `destination` (a view), as torch.movedim.
///@{
Tensor movedim(const Tensor& x, Dims source, Dims destination);
Tensor movedim(const Tensor& x, std::int64_t source, std::int64_t destination);
///@}
/// x with dim `dim` split into `sizes` (one may be -1), as torch.unflatten.
// Dim `dim` becomes `sizes` (one of them may be -1).
Tensor unflatten(const Tensor& x, std::int64_t dim, Dims sizes);
/// Coordinate grids, as torch.meshgrid: one N-D tensor per input.
/// @param tensors  0-d or 1-D tensors of one dtype
/// @param indexing "ij" (PyTorch's default) or "xy" (the first two dims swapped)
/// @throws tg::ValueError for another indexing or an empty list.
// 0-d or 1-D tensors of one dtype; indexing "ij" (PyTorch's default) or "xy".
// The grids are expanded views of the inputs.
std::vector<Tensor> meshgrid(const std::vector<Tensor>& tensors, std::string_view indexing = "ij");
/// Scans along dim, as torch.cumsum, cumprod and logcumsumexp: int64 and bool
/// inputs give int64 (cumsum, cumprod).
///@{
// Scans along dim: int64 and bool inputs give int64 (cumsum, cumprod).
Tensor cumsum(const Tensor& x, std::int64_t dim);
Tensor cumprod(const Tensor& x, std::int64_t dim);
Tensor logcumsumexp(const Tensor& x, std::int64_t dim);
///@}
/// The running max (min) along dim and the int64 index where it was last
/// reached, as torch.cummax / cummin.
///@{
// Running max (min) and the int64 index where it was last reached.
std::tuple<Tensor, Tensor> cummax(const Tensor& x, std::int64_t dim);
std::tuple<Tensor, Tensor> cummin(const Tensor& x, std::int64_t dim);
///@}
// Order statistics: values (differentiable, their gradient goes back to where
// they came from) and int64 indices. NaN sorts after every number. Sorting is
// always stable; `stable` exists for PyTorch's signature, as topk's `sorted`
// (the result is always sorted).
/// Order statistics, as torch.sort, argsort, msort, topk, kthvalue and median. msort sorts along
/// dim 0; topk gives the k largest (or smallest), kthvalue the k-th smallest (k from 1), median the
/// lower median (NaN if the slice holds one). Results are values (differentiable, their gradient goes
/// back to where they came from) and int64 indices. NaN sorts after every number; sorting is always stable.
///@{
std::tuple<Tensor, Tensor> sort(const Tensor& x, std::int64_t dim = -1, StrictBool descending = false,
                                StrictBool stable = false);
Tensor argsort(const Tensor& x, std::int64_t dim = -1, StrictBool descending = false, StrictBool stable = false);
Tensor msort(const Tensor& x);  // sorted along dim 0
std::tuple<Tensor, Tensor> topk(const Tensor& x, std::int64_t k, std::int64_t dim = -1, StrictBool largest = true,
                                StrictBool sorted = true);
// The k-th smallest (k from 1).
std::tuple<Tensor, Tensor> kthvalue(const Tensor& x, std::int64_t k, std::int64_t dim = -1, StrictBool keepdim = false);
// The lower median (element (n - 1) / 2 in sorted order), NaN if the slice holds one.
Tensor median(const Tensor& x);
std::tuple<Tensor, Tensor> median(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
///@}

// ---- autograd/ops/pad.cpp ------------------------------------------------------
// PyTorch's pad list: (before, after) pairs, the last dim first; negative pads
// crop. mode: "constant" (with value), "reflect", "replicate" or "circular";
// unlike PyTorch's, the last three pad any number of trailing dims of any input.
/// x padded, as torch.nn.functional.pad.
/// @param x     the input
/// @param pad   (before, after) pairs, the last dim first; negative pads crop
/// @param mode  "constant", "reflect", "replicate" or "circular"; the last
///              three pad any number of trailing dims of any input
/// @param value the fill value of "constant"
/// @throws tg::ValueError for an unknown mode, tg::ShapeError for an
///   odd-length pad list or a pad the input's size cannot take.
Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pad, std::string_view mode = "constant", double value = 0);
/// Each element (each slice along dim) repeated, as torch.repeat_interleave. `repeats` is a number,
/// or int64 counts per slice; without dim, x is flattened first.
///@{
// Each element (each slice along dim) repeated; without dim, x is flattened first.
Tensor repeat_interleave(const Tensor& x, std::int64_t repeats, std::optional<std::int64_t> dim = {});
Tensor repeat_interleave(const Tensor& x, const Tensor& repeats, std::optional<std::int64_t> dim = {});
///@}
/// torch.repeat_interleave(repeats): each i repeated repeats[i] times (int64, no gradient).
// torch.repeat_interleave(repeats): i repeated repeats[i] times (int64, no gradient).
Tensor repeat_interleave(const Tensor& repeats);
// The smallest most frequent value along dim and the index of its last
// occurrence; the value's gradient goes back to that index.
/// The most frequent value along dim and the index of its last occurrence,
/// as torch.mode (ties: the smallest value); the value's gradient goes back to that index.
std::tuple<Tensor, Tensor> mode(const Tensor& x, std::int64_t dim = -1, StrictBool keepdim = false);

// ---- autograd/ops/products.cpp -------------------------------------------------
// Products with PyTorch's names, shapes and gradients, composed of matmul (one
// GEMM per batch through OpenBLAS), permute/reshape and mul; their gradients
// are those of the ops they are built of. Operands share one dtype (float32,
// float64 or int64), except kron, which promotes as mul does. beta == 0
// ignores input's values (NaN included), as PyTorch does; input still gets its gradient, zeros.
/// Batched matrix products [B, n, m] @ [B, m, p] -> [B, n, p], as torch.bmm (no broadcasting).
/// @throws tg::ShapeError for operands that are not 3-D with matching sizes.
Tensor bmm(const Tensor& a, const Tensor& b);  // [B, n, m] @ [B, m, p], no broadcasting
/// beta * input + alpha * bmm(batch1, batch2), as torch.baddbmm (input broadcast to [B, n, p]).
Tensor baddbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta = 1, double alpha = 1);
/// beta * input + alpha * the sum over b of batch1[b] @ batch2[b] (one GEMM), as torch.addbmm.
// beta * input + alpha * sum over b of batch1[b] @ batch2[b]: one GEMM.
Tensor addbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta = 1, double alpha = 1);
/// The matrix-vector product [n, m] @ [m] -> [n], as torch.mv.
Tensor mv(const Tensor& mat, const Tensor& vec);
/// beta * input + alpha * mv(mat, vec), as torch.addmv.
Tensor addmv(const Tensor& input, const Tensor& mat, const Tensor& vec, double beta = 1, double alpha = 1);
/// dot(a, b), as torch.vdot (no conjugation: tapegrad has no complex dtypes).
Tensor vdot(const Tensor& a, const Tensor& b);  // dot (no conjugation: tapegrad has no complex dtypes)
/// The Kronecker product, as torch.kron (dtypes promote as mul's).
Tensor kron(const Tensor& a, const Tensor& b);
/// The last `dims` dims of a contracted with the first `dims` of b, as torch.tensordot.
// The last `dims` dims of a contracted with the first `dims` of b.
Tensor tensordot(const Tensor& a, const Tensor& b, std::int64_t dims = 2);
/// dims_a[i] of a contracted with dims_b[i] of b, as torch.tensordot with two lists.
// dims_a[i] of a contracted with dims_b[i] of b.
Tensor tensordot(const Tensor& a, const Tensor& b, const std::vector<std::int64_t>& dims_a,
                 const std::vector<std::int64_t>& dims_b);
// torch.einsum's equation syntax: subscripts a-z, A-Z, one "..." per operand
// (broadcast), an explicit "->" output or the implicit one (the ellipsis dims,
// then the labels seen once, in alphabetical order, upper case first); a label
// repeated within an operand takes its diagonal; labels absent from the output
// are summed. Operands are contracted pairwise left to right through bmm.
/// Einstein summation, as torch.einsum (see the comment above for the syntax supported).
/// @code
/// tg::Tensor c = tg::einsum("bij,bjk->bik", {a, b});  // bmm(a, b)
/// @endcode
/// @param equation the subscripts, e.g. "ij,jk->ik"
/// @param operands one tensor per operand of the equation
/// @throws tg::ValueError for a malformed equation, tg::ShapeError for sizes that disagree.
Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands);

// ---- autograd/ops/random_ops.cpp -----------------------------------------------
// Random sampling with PyTorch's names. Each draws from `gen`, or from the
// default generator (tg::manual_seed) when it is null; a tg::Generator made
// with a seed is an independent stream, as torch.Generator().manual_seed(s)
// passed as generator=. None is differentiable: the results never require grad
// (PyTorch's normal() with a mean that requires grad gives a result with an
// all-zero gradient; here the tape is cut instead).
// n category indices per row of probs (1-D [k] or 2-D [rows, k]; weights, not
// necessarily normalised), int64 [n] or [rows, n]. Without replacement no
// index repeats within a row, so n may not exceed the non-zero weights.
/// Samples category indices from the rows of `probs`, as torch.multinomial.
/// @param probs       1-D [k] or 2-D [rows, k] non-negative weights (not necessarily normalised)
/// @param num_samples samples per row
/// @param replacement whether an index may repeat within a row
/// @param gen         the generator, or null for the default one
/// @throws tg::ValueError for num_samples <= 0, a negative or non-finite weight,
///   a row summing to 0, or more samples without replacement than non-zero
///   weights; tg::ShapeError for probs that are not 1-D or 2-D.
Tensor multinomial(const Tensor& probs, std::int64_t num_samples, StrictBool replacement = false,
                   Generator* gen = nullptr);
/// Normal samples, as torch.normal. With the broadcast shape of mean and std
/// (std >= 0), or of `size` for two numbers; from `gen`, or the default
/// generator when it is null.
/// @throws tg::ValueError for a negative std.
///@{
// Normal samples with the broadcast shape of mean and std (std >= 0).
Tensor normal(const Tensor& mean, const Tensor& std, Generator* gen = nullptr);
Tensor normal(const Tensor& mean, double std = 1, Generator* gen = nullptr);
Tensor normal(double mean, const Tensor& std, Generator* gen = nullptr);
Tensor normal(double mean, double std, Dims size, TensorOptions options = {}, Generator* gen = nullptr);
///@}
/// Uniform [0, 1) (normal) samples shaped as x, of x's dtype unless one is
/// given, as torch.rand_like / randn_like.
///@{
// Shaped as x, of x's dtype unless one is given.
Tensor rand_like(const Tensor& x, std::optional<DType> dtype = {}, Generator* gen = nullptr);
Tensor randn_like(const Tensor& x, std::optional<DType> dtype = {}, Generator* gen = nullptr);
///@}
/// Integers in [0, high) or [low, high) shaped as x, of x's dtype (not
/// bool), as torch.randint_like.
///@{
// Integers in [0, high) or [low, high), of x's dtype (not bool).
Tensor randint_like(const Tensor& x, std::int64_t high, Generator* gen = nullptr);
Tensor randint_like(const Tensor& x, std::int64_t low, std::int64_t high, Generator* gen = nullptr);
///@}
namespace detail {
// Overwrites self with `draw()` (a tensor of self's shape) as an in-place op
// named `op`: refused on a leaf that requires grad, recorded with a zero
// gradient otherwise (as fill_), the version counter bumped. Checks that may
// throw run before anything is drawn (autograd/ops/inplace.cpp).
void assign_random_(Tensor& self, const std::function<TensorBase()>& draw, const char* op);
// What the backward of an in-place op made by assign_result_ reads, as
// PyTorch's formula for it: self before the op (kept as a copy, so a later
// in-place change of self is allowed) and/or the result (self after the op,
// so a later in-place change of self is caught at backward, as in PyTorch).
enum class Reads : unsigned char { nothing = 0, self = 1, result = 2, self_and_result = 3 };
// The out-of-place op's values written into self as the in-place op `op`,
// self = f(self, operands) (exp_, pow_, addcmul_, lerp_: every in-place op
// that is an out-of-place one written back, autograd/ops/inplace_math.cpp).
// When recorded, f runs in grad mode and its own backward is the in-place
// op's: f gets a copy of self if `reads` says the backward reads self, and a
// copy of each operand that shares self's memory; otherwise the tensors
// themselves. Refusals (a leaf that requires grad, a dtype self cannot hold,
// operands that do not broadcast to self's shape) run before self is written.
Tensor& assign_result_(Tensor& self, const char* op, std::initializer_list<const Tensor*> operands, Reads reads,
                       const std::function<Tensor(const Tensor& self, const std::vector<Tensor>& operands)>& f);
}  // namespace detail

}  // namespace tg

// Advanced indexing and the scatter family.
#include <tapegrad/autograd/indexing.h>

// The neural-network ops: conv2d, pooling, normalisation, embedding, dropout, losses.
#include <tapegrad/autograd/nn_ops.h>
