#pragma once
// Every differentiable op a user calls, by family. Each family lives in one
// file of autograd/ops/ (forward kernel call, backward formula, shape rule
// together); the comment above each block names it.
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg {

// ---- autograd/ops/arithmetic.cpp, math.cpp, activation.cpp, compare.cpp --------
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
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, double b);
Tensor where(const Tensor& condition, double a, const Tensor& b);

// Comparisons and logic: bool results, no gradient (they cut the tape).
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
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
bool equal(const Tensor& a, const Tensor& b);  // same shape and same values

// ---- autograd/ops/math_functions.cpp (kernels and dtype rules: core/kernels/math.h) ----
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
// floor, ceil, round (halves to even), trunc: zero gradient, as PyTorch.
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);
Tensor round(const Tensor& x, std::int64_t decimals);  // torch.round(x, decimals=d); floating only
Tensor trunc(const Tensor& x);
Tensor frac(const Tensor& x);  // x - trunc(x)
Tensor atan2(const Tensor& a, const Tensor& b);
Tensor hypot(const Tensor& a, const Tensor& b);
Tensor fmod(const Tensor& a, const Tensor& b);       // the sign of a, as C's fmod
Tensor remainder(const Tensor& a, const Tensor& b);  // the sign of b, as Python's %
Tensor fmod(const Tensor& a, double b);
Tensor remainder(const Tensor& a, double b);
Tensor lerp(const Tensor& start, const Tensor& end, double weight);  // start + weight (end - start)
Tensor lerp(const Tensor& start, const Tensor& end, const Tensor& weight);
// Tensor bounds, broadcast with x; an undefined one is absent: clamp(x, lo, {}).
// A template only so that clamp(x, {}, {}) still means the scalar form.
template <std::same_as<Tensor> T>
Tensor clamp(const Tensor& x, const T& min, const T& max) {
  return detail::clamp_tensors(x, min, max);
}
// NaN -> nan, +-inf -> posinf/neginf (default: the dtype's extremes); gradient 0 there.
Tensor nan_to_num(const Tensor& x, double nan = 0, std::optional<double> posinf = std::nullopt,
                  std::optional<double> neginf = std::nullopt);
Tensor isinf(const Tensor& x);
Tensor isposinf(const Tensor& x);
Tensor isneginf(const Tensor& x);
Tensor isclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false);

// ---- autograd/ops/activation_functions.cpp (also in tg::nn::functional) ----------
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);
Tensor silu(const Tensor& x);
Tensor elu(const Tensor& x, double alpha = 1);
Tensor selu(const Tensor& x);
Tensor celu(const Tensor& x, double alpha = 1);
Tensor mish(const Tensor& x);
Tensor hardtanh(const Tensor& x, double min_val = -1, double max_val = 1);
Tensor hardswish(const Tensor& x);
Tensor hardsigmoid(const Tensor& x);
Tensor logsigmoid(const Tensor& x);
Tensor softsign(const Tensor& x);
Tensor glu(const Tensor& x, std::int64_t dim = -1);

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

// ---- autograd/ops/reduce.cpp ---------------------------------------------------
// The same signatures as the Tensor methods (autograd/tensor.h, core/args.h):
// dims are a DimList, correction and p are Real (never a braced list or a
// bool), keepdim is a StrictBool.
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
Tensor amax(const Tensor& x, DimList dims, StrictBool keepdim = false);
Tensor amin(const Tensor& x, DimList dims, StrictBool keepdim = false);
std::tuple<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
std::tuple<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim = {}, StrictBool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim = {}, StrictBool keepdim = false);
Tensor logsumexp(const Tensor& x, DimList dims, StrictBool keepdim = false);
Tensor prod(const Tensor& x);
Tensor prod(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
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
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

// ---- autograd/ops/linalg.cpp ---------------------------------------------------
// 1-D, 2-D and batched N-D with broadcast batch dims, as torch.matmul.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);
// beta * input + alpha * (a @ b), one GEMM (input broadcast to the result).
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta = 1, double alpha = 1);
// x @ weight^T + bias, one GEMM with the bias folded in; x may be N-D.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
Tensor dot(const Tensor& a, const Tensor& b);
Tensor outer(const Tensor& a, const Tensor& b);

// ---- autograd/ops/shape.cpp ----------------------------------------------------
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

// ---- autograd/ops/index.cpp ----------------------------------------------------
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
Tensor one_hot(const Tensor& labels, std::int64_t num_classes = -1);  // no gradient

// ---- autograd/ops/order.cpp ----------------------------------------------------
// Shape: triangles, diagonals, tiling, flips, rolls, splitting and moving dims.
Tensor tril(const Tensor& x, std::int64_t diagonal = 0);
Tensor triu(const Tensor& x, std::int64_t diagonal = 0);
// A view, as PyTorch's: dims dim1 and dim2 dropped, the diagonal last.
Tensor diagonal(const Tensor& x, std::int64_t offset = 0, std::int64_t dim1 = 0, std::int64_t dim2 = 1);
// 1-D: the square matrix with x on diagonal `diagonal`; 2-D: that diagonal (a copy).
Tensor diag(const Tensor& x, std::int64_t diagonal = 0);
Tensor trace(const Tensor& x);  // 2-D only
Tensor repeat(const Tensor& x, Dims repeats);
Tensor flip(const Tensor& x, Dims dims);
// Empty dims: x flattened, rolled by shifts[0], reshaped back.
Tensor roll(const Tensor& x, Dims shifts, Dims dims = {});
// Pieces of the given sizes (a view each), which must add up to the dim's size.
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& split_sizes, std::int64_t dim = 0);
std::vector<Tensor> unbind(const Tensor& x, std::int64_t dim = 0);
Tensor movedim(const Tensor& x, Dims source, Dims destination);
Tensor movedim(const Tensor& x, std::int64_t source, std::int64_t destination);
// Dim `dim` becomes `sizes` (one of them may be -1).
Tensor unflatten(const Tensor& x, std::int64_t dim, Dims sizes);
// 0-d or 1-D tensors of one dtype; indexing "ij" (PyTorch's default) or "xy".
// The grids are expanded views of the inputs.
std::vector<Tensor> meshgrid(const std::vector<Tensor>& tensors, std::string_view indexing = "ij");
// Scans along dim: int64 and bool inputs give int64 (cumsum, cumprod).
Tensor cumsum(const Tensor& x, std::int64_t dim);
Tensor cumprod(const Tensor& x, std::int64_t dim);
Tensor logcumsumexp(const Tensor& x, std::int64_t dim);
// Running max (min) and the int64 index where it was last reached.
std::tuple<Tensor, Tensor> cummax(const Tensor& x, std::int64_t dim);
std::tuple<Tensor, Tensor> cummin(const Tensor& x, std::int64_t dim);
// Order statistics: values (differentiable, their gradient goes back to where
// they came from) and int64 indices. NaN sorts after every number. Sorting is
// always stable; `stable` exists for PyTorch's signature, as topk's `sorted`
// (the result is always sorted).
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

// ---- autograd/ops/pad.cpp ------------------------------------------------------
// PyTorch's pad list: (before, after) pairs, the last dim first; negative pads
// crop. mode: "constant" (with value), "reflect", "replicate" or "circular";
// unlike PyTorch's, the last three pad any number of trailing dims of any input.
Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pad, std::string_view mode = "constant", double value = 0);
// Each element (each slice along dim) repeated; without dim, x is flattened first.
Tensor repeat_interleave(const Tensor& x, std::int64_t repeats, std::optional<std::int64_t> dim = {});
Tensor repeat_interleave(const Tensor& x, const Tensor& repeats, std::optional<std::int64_t> dim = {});
// torch.repeat_interleave(repeats): i repeated repeats[i] times (int64, no gradient).
Tensor repeat_interleave(const Tensor& repeats);
// The smallest most frequent value along dim and the index of its last
// occurrence; the value's gradient goes back to that index.
std::tuple<Tensor, Tensor> mode(const Tensor& x, std::int64_t dim = -1, StrictBool keepdim = false);

// ---- autograd/ops/products.cpp -------------------------------------------------
// Products with PyTorch's names, shapes and gradients, composed of matmul (one
// GEMM per batch through OpenBLAS), permute/reshape and mul; their gradients
// are those of the ops they are built of. Operands share one dtype (float32,
// float64 or int64), except kron, which promotes as mul does. beta == 0
// ignores input's values (NaN included), as PyTorch does.
Tensor bmm(const Tensor& a, const Tensor& b);  // [B, n, m] @ [B, m, p], no broadcasting
Tensor baddbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta = 1, double alpha = 1);
// beta * input + alpha * sum over b of batch1[b] @ batch2[b]: one GEMM.
Tensor addbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta = 1, double alpha = 1);
Tensor mv(const Tensor& mat, const Tensor& vec);
Tensor addmv(const Tensor& input, const Tensor& mat, const Tensor& vec, double beta = 1, double alpha = 1);
Tensor vdot(const Tensor& a, const Tensor& b);  // dot (no conjugation: tapegrad has no complex dtypes)
Tensor kron(const Tensor& a, const Tensor& b);
// The last `dims` dims of a contracted with the first `dims` of b.
Tensor tensordot(const Tensor& a, const Tensor& b, std::int64_t dims = 2);
// dims_a[i] of a contracted with dims_b[i] of b.
Tensor tensordot(const Tensor& a, const Tensor& b, const std::vector<std::int64_t>& dims_a,
                 const std::vector<std::int64_t>& dims_b);
// torch.einsum's equation syntax: subscripts a-z, A-Z, one "..." per operand
// (broadcast), an explicit "->" output or the implicit one (the ellipsis dims,
// then the labels seen once, in alphabetical order, upper case first); a label
// repeated within an operand takes its diagonal; labels absent from the output
// are summed. Operands are contracted pairwise left to right through bmm.
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
Tensor multinomial(const Tensor& probs, std::int64_t num_samples, StrictBool replacement = false,
                   Generator* gen = nullptr);
// Normal samples with the broadcast shape of mean and std (std >= 0).
Tensor normal(const Tensor& mean, const Tensor& std, Generator* gen = nullptr);
Tensor normal(const Tensor& mean, double std = 1, Generator* gen = nullptr);
Tensor normal(double mean, const Tensor& std, Generator* gen = nullptr);
Tensor normal(double mean, double std, Dims size, TensorOptions options = {}, Generator* gen = nullptr);
// Shaped as x, of x's dtype unless one is given.
Tensor rand_like(const Tensor& x, std::optional<DType> dtype = {}, Generator* gen = nullptr);
Tensor randn_like(const Tensor& x, std::optional<DType> dtype = {}, Generator* gen = nullptr);
// Integers in [0, high) or [low, high), of x's dtype (not bool).
Tensor randint_like(const Tensor& x, std::int64_t high, Generator* gen = nullptr);
Tensor randint_like(const Tensor& x, std::int64_t low, std::int64_t high, Generator* gen = nullptr);
namespace detail {
// Overwrites self with `draw()` (a tensor of self's shape) as an in-place op
// named `op`: refused on a leaf that requires grad, recorded with a zero
// gradient otherwise (as fill_), the version counter bumped. Checks that may
// throw run before anything is drawn (autograd/ops/inplace.cpp).
void assign_random_(Tensor& self, const std::function<TensorBase()>& draw, const char* op);
}  // namespace detail

}  // namespace tg

// Advanced indexing and the scatter family.
#include <tapegrad/autograd/indexing.h>

// The neural-network ops: conv2d, pooling, normalisation, embedding, dropout, losses.
#include <tapegrad/autograd/nn_ops.h>
