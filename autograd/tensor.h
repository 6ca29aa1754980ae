#pragma once
/// @file
/// tg::Tensor: what users hold. A TensorBase (core/tensor.h: the handle, its
/// metadata and data) plus the PyTorch-like member functions (views,
/// arithmetic, reductions, autograd), each defined in autograd/ as an op that
/// records itself on the tape. It adds no state, so a TensorBase converts to a
/// Tensor implicitly and for free: `Tensor y = kernel::relu(x);`. The same
/// split as PyTorch's at::TensorBase / at::Tensor; see docs/architecture.md.
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <tapegrad/core/args.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/tensor.h>

namespace tg {

namespace autograd {
class Node;
}

class Tensor;
namespace indexing {
class TensorIndex;  ///< autograd/indexing.h
}
// The non-template bodies behind the Real-templated reductions (their
// definitions are in autograd/ops/reduce.cpp); call tg::var, tg::std,
// tg::norm or the Tensor methods instead.
namespace detail {
Tensor var_dims(const Tensor& x, const DimList& dims, double correction, bool keepdim);
Tensor std_dims(const Tensor& x, const DimList& dims, double correction, bool keepdim);
Tensor norm_dims(const Tensor& x, double p, const DimList& dims, bool keepdim, const char* op = "norm");
/// tg::clamp and Tensor::clamp with tensor bounds (autograd/ops/math_functions.cpp).
Tensor clamp_tensors(const Tensor& x, const Tensor& min, const Tensor& max);
}  // namespace detail

/// A tensor as users hold it: a TensorBase handle plus torch.Tensor's methods,
/// each recorded on the autograd tape when an input requires grad.
///
/// @code
/// tg::Tensor w = tg::randn({3, 2}, {.requires_grad = true});
/// tg::Tensor loss = tg::randn({4, 3}).matmul(w).relu().sum();
/// loss.backward();  // w.grad(): shape [3, 2]
/// @endcode
///
/// Copying a Tensor copies the handle (both name the same data); clone()
/// copies the data. Methods report bad arguments with tg::ShapeError,
/// tg::DTypeError, tg::IndexError or tg::ValueError naming the op and the
/// shapes; docs/ops.md lists every op's dtypes and forms.
class Tensor : public TensorBase {
 public:
  /// An undefined tensor (defined() is false), as a default-constructed torch::Tensor.
  Tensor() = default;
  /// TensorBase's constructors, inherited (listed under TensorBase's name):
  /// Tensor(impl) is a handle on an existing TensorImpl.
  using TensorBase::TensorBase;
  /// Implicit: every kernel result (a TensorBase) is a Tensor without history.
  ///@{
  Tensor(const TensorBase& base) : TensorBase(base) {}
  Tensor(TensorBase&& base) : TensorBase(std::move(base)) {}
  ///@}

  // ---- conversions ------------------------------------------------------
  /// This tensor converted to `dtype` (itself when it already has it), as
  /// torch.Tensor.to; recorded for backward when the result is floating (a
  /// cast to an integer type or bool cuts the tape).
  Tensor to(DType dtype) const;
  /// This tensor in `other`'s dtype, as torch's type_as.
  Tensor type_as(const Tensor& other) const;
  /// A copy of the data, recorded for backward (gradients flow back to this tensor).
  Tensor clone() const;
  /// This tensor when contiguous, else a contiguous copy (recorded for backward).
  Tensor contiguous() const;
  /// The same data without history: a tensor that does not require grad.
  Tensor detach() const;
  /// Makes this tensor itself a leaf that does not require grad, as
  /// torch.Tensor.detach_: the graph that recorded it stays for other
  /// tensors; this handle and every other handle on it lose their history.
  /// Returns *this.
  /// @throws tg::AutogradError for a view of another tensor (use detach()):
  ///   its history is its base's, which it cannot drop alone.
  Tensor& detach_();
  /// PyTorch's dtype shorthands whose names are not C++ keywords. x.half(),
  /// x.bfloat16() and x.byte() are x.to(kFloat16), x.to(kBFloat16) and
  /// x.to(kUInt8). x.float(), x.double(), x.long(), x.int(), x.short(),
  /// x.char() and x.bool() cannot be declared in C++; write x.to(tg::kFloat),
  /// x.to(tg::kDouble), x.to(tg::kLong), ... as LibTorch does (docs/pytorch.md).
  ///@{
  Tensor half() const;
  Tensor bfloat16() const;
  Tensor byte() const;
  ///@}
  /// Method forms of the arithmetic ops tg::add, sub, mul and div, as torch.Tensor's.
  /// this + alpha * other, this - alpha * other, this * other, this / other, broadcast.
  ///@{
  Tensor add(const Tensor& other, double alpha = 1) const;
  Tensor add(double other) const;
  Tensor sub(const Tensor& other, double alpha = 1) const;
  Tensor sub(double other) const;
  Tensor mul(const Tensor& other) const;
  Tensor mul(double other) const;
  Tensor div(const Tensor& other) const;
  Tensor div(double other) const;
  ///@}
  /// softmax (or its log, computed stably) along `dim`, as torch.Tensor.softmax.
  ///@{
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;
  ///@}

  // ---- autograd ---------------------------------------------------------
  /// Whether ops on this tensor are recorded: a leaf made to require grad, or
  /// the result of recorded ops.
  bool requires_grad() const;
  /// Makes this leaf tracked by the tape (or not); returns *this.
  /// @throws tg::DTypeError for a tensor that is not floating, tg::AutogradError
  ///   when turning it off on a non-leaf (use detach()).
  ///@{
  Tensor& set_requires_grad(bool requires_grad = true);
  Tensor& requires_grad_(bool requires_grad = true) { return set_requires_grad(requires_grad); }
  ///@}
  /// The gradient backward() accumulated into this tensor (undefined until then).
  const Tensor& grad() const;
  /// A reference to the gradient slot itself, so `x.mutable_grad() = g` sets a
  /// gradient that set_grad would refuse (another dtype or shape). Non-const:
  /// it hands out write access to the tensor's state.
  Tensor& mutable_grad();
  /// Sets the gradient (undefined clears it).
  /// @throws tg::AutogradError when its shape or dtype differs from this tensor's.
  void set_grad(const Tensor& grad) const;
  /// Whether no recorded op made this tensor.
  bool is_leaf() const;
  /// The node that recorded this tensor (null for leaves).
  std::shared_ptr<autograd::Node> grad_fn() const;
  /// The recording op's name ("mul"), empty for leaves.
  std::string_view grad_fn_name() const;
  /// Which output of grad_fn() this tensor is.
  std::uint32_t output_nr() const;
  /// Accumulates d(this)/d(leaf) into the grad() of every leaf this tensor
  /// depends on, as torch.Tensor.backward.
  /// @param gradient     d(loss)/d(this); may be omitted for a one-element tensor
  /// @param retain_graph keep the graph for another backward pass
  /// @param create_graph record the backward pass (higher-order gradients)
  /// @param inputs       only these get gradients (tg::backward says how); empty: every leaf
  /// @throws tg::AutogradError for a tensor that does not require grad, a graph
  ///   already freed, or (in anomaly mode) a NaN or Inf produced in backward.
  void backward(const Tensor& gradient = {}, bool retain_graph = false, bool create_graph = false,
                const std::vector<Tensor>& inputs = {}) const;
  /// A non-leaf keeps its gradient in grad() after backward, as
  /// torch.Tensor.retain_grad; retains_grad() says whether it does.
  ///@{
  void retain_grad() const;
  bool retains_grad() const;
  ///@}
  /// The hook sees the gradient flowing into this tensor; returning a defined
  /// tensor replaces it. Returns the hook's position, for remove_hook (as
  /// LibTorch's register_hook).
  unsigned register_hook(std::function<Tensor(const Tensor&)> hook) const;
  /// Removes the hook register_hook returned `position` for; later backward
  /// passes skip it.
  /// @throws tg::AutogradError if this tensor has no hook at `position`, or
  ///   it was removed already.
  void remove_hook(unsigned position) const;
  /// Leaves only: the hook gets this tensor after backward() has added a
  /// gradient into its .grad() (not for tg::grad, which leaves .grad() alone),
  /// as PyTorch's register_post_accumulate_grad_hook.
  void register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const;

  // ---- views (no copy) ---------------------------------------------------
  /// Shape and layout operations, as torch.Tensor's methods of the same names,
  /// recorded for backward. view, transpose, permute, t, narrow, slice, select,
  /// operator[], expand, squeeze, unsqueeze, diagonal, split, unbind, movedim and
  /// unflatten return views that share this tensor's storage (as does reshape
  /// and flatten when the layout allows); tril, triu, diag, trace, repeat, flip
  /// and roll make new tensors.
  /// @throws tg::ShapeError or tg::IndexError naming the op for a shape or a dim
  ///   that does not fit.
  ///@{
  Tensor view(Dims shape) const;
  Tensor reshape(Dims shape) const;
  Tensor view_as(const Tensor& other) const { return view(other.shape()); }
  Tensor reshape_as(const Tensor& other) const { return reshape(other.shape()); }
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor permute(Dims dims) const;
  Tensor t() const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  /// Python's x[start:end:step] along `dim`; negative start/end count from the end.
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor operator[](std::int64_t index) const { return select(0, index); }
  Tensor expand(Dims sizes) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  // (autograd/ops/order.cpp)
  Tensor tril(std::int64_t diagonal = 0) const;
  Tensor triu(std::int64_t diagonal = 0) const;
  Tensor diagonal(std::int64_t offset = 0, std::int64_t dim1 = 0, std::int64_t dim2 = 1) const;
  Tensor diag(std::int64_t diagonal = 0) const;
  Tensor trace() const;
  Tensor repeat(Dims repeats) const;
  Tensor flip(Dims dims) const;
  Tensor roll(Dims shifts, Dims dims = {}) const;
  std::vector<Tensor> split(std::int64_t split_size, std::int64_t dim = 0) const;
  std::vector<Tensor> split(const std::vector<std::int64_t>& split_sizes, std::int64_t dim = 0) const;
  std::vector<Tensor> unbind(std::int64_t dim = 0) const;
  std::vector<Tensor> chunk(std::int64_t chunks, std::int64_t dim = 0) const;
  Tensor movedim(Dims source, Dims destination) const;
  Tensor movedim(std::int64_t source, std::int64_t destination) const;
  Tensor unflatten(std::int64_t dim, Dims sizes) const;
  ///@}

  // ---- elementwise --------------------------------------------------------
  /// Elementwise math, as torch.Tensor's methods of the same names. A new tensor
  /// (of the broadcast shape for two operands), recorded for backward where the
  /// op is differentiable; isinf, isposinf, isneginf and isclose give bool
  /// tensors. docs/ops.md lists each op's dtypes.
  /// @throws tg::DTypeError for a dtype the op does not take, tg::ShapeError for
  ///   shapes that do not broadcast.
  ///@{
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor log1p() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor pow(double exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor abs() const;
  Tensor sign() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor gelu() const;
  Tensor clamp(std::optional<double> min, std::optional<double> max) const;
  Tensor clamp_min(double min) const;
  Tensor clamp_max(double max) const;
  Tensor square() const;
  /// Tensor bounds; an undefined one is absent. A template so that clamp({}, {}) stays the scalar form.
  template <std::same_as<Tensor> T>
  Tensor clamp(const T& min, const T& max) const {
    return detail::clamp_tensors(*this, min, max);
  }
  Tensor sin() const;
  Tensor cos() const;
  Tensor tan() const;
  Tensor asin() const;
  Tensor acos() const;
  Tensor atan() const;
  Tensor sinh() const;
  Tensor cosh() const;
  Tensor asinh() const;
  Tensor acosh() const;
  Tensor atanh() const;
  Tensor erf() const;
  Tensor erfc() const;
  Tensor erfinv() const;
  Tensor expm1() const;
  Tensor log2() const;
  Tensor log10() const;
  Tensor exp2() const;
  Tensor reciprocal() const;
  Tensor floor() const;
  Tensor ceil() const;
  Tensor round() const;
  Tensor round(std::int64_t decimals) const;
  Tensor trunc() const;
  Tensor frac() const;
  Tensor atan2(const Tensor& other) const;
  Tensor hypot(const Tensor& other) const;
  Tensor fmod(const Tensor& other) const;
  Tensor fmod(double other) const;
  Tensor remainder(const Tensor& other) const;
  Tensor remainder(double other) const;
  Tensor lerp(const Tensor& end, double weight) const;
  Tensor lerp(const Tensor& end, const Tensor& weight) const;
  Tensor addcmul(const Tensor& tensor1, const Tensor& tensor2, double value = 1) const;
  Tensor addcdiv(const Tensor& tensor1, const Tensor& tensor2, double value = 1) const;
  Tensor nan_to_num(double nan = 0, std::optional<double> posinf = std::nullopt,
                    std::optional<double> neginf = std::nullopt) const;
  Tensor isinf() const;
  Tensor isposinf() const;
  Tensor isneginf() const;
  Tensor isclose(const Tensor& other, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false) const;
  ///@}

  // ---- reductions ---------------------------------------------------------
  /// Reductions, as torch.Tensor's methods of the same names. Over every
  /// element, or over `dims` (keepdim keeps them with size 1); max, min and
  /// their dim forms return (values, indices).
  /// Dims come first and are a DimList: x.sum(1), x.sum({0, 1}), x.mean(1, true),
  /// x.var({1}), x.std({0}, /*correction=*/0). A braced list is always dims;
  /// correction and p are plain numbers (Real) that a braced list or a bool
  /// cannot bind; keepdim takes only a bool. Over every dim with a correction:
  /// x.var(std::nullopt, 0). norm's number first is p, as in PyTorch:
  /// x.norm(1) is the L1 norm, x.norm({1}) the 2-norm over dim 1. See
  /// core/args.h and docs/overloads.md.
  ///@{
  Tensor sum() const;
  Tensor sum(DimList dims, StrictBool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(DimList dims, StrictBool keepdim = false) const;
  Tensor var() const;
  Tensor var(DimList dims) const;  ///< correction 1
  /// No default for C: a defaulted template parameter would let `{0}` through.
  template <Real C>
  Tensor var(DimList dims, C correction, StrictBool keepdim = false) const {
    return detail::var_dims(*this, dims, static_cast<double>(correction), keepdim);
  }
  Tensor std() const;
  Tensor std(DimList dims) const;  ///< correction 1
  template <Real C>
  Tensor std(DimList dims, C correction, StrictBool keepdim = false) const {
    return detail::std_dims(*this, dims, static_cast<double>(correction), keepdim);
  }
  Tensor amax(DimList dims = {}, StrictBool keepdim = false) const;  ///< {}: every dim
  Tensor amin(DimList dims = {}, StrictBool keepdim = false) const;  ///< {}: every dim
  Tensor max() const;
  std::tuple<Tensor, Tensor> max(std::int64_t dim, StrictBool keepdim = false) const;
  Tensor min() const;
  std::tuple<Tensor, Tensor> min(std::int64_t dim, StrictBool keepdim = false) const;
  Tensor argmax() const;
  Tensor argmax(std::int64_t dim, StrictBool keepdim = false) const;
  Tensor argmin() const;
  Tensor argmin(std::int64_t dim, StrictBool keepdim = false) const;
  Tensor logsumexp(DimList dims, StrictBool keepdim = false) const;
  Tensor prod() const;
  Tensor prod(std::int64_t dim, StrictBool keepdim = false) const;
  Tensor norm() const;
  template <Real P>
  Tensor norm(P p) const {
    return detail::norm_dims(*this, static_cast<double>(p), DimList{}, false);
  }
  Tensor norm(DimList dims) const;
  ///@}
  /// Scans and order statistics, as torch.Tensor's methods of the same names
  /// (autograd/ops/order.cpp); tuple results are (values, indices).
  ///@{
  Tensor cumsum(std::int64_t dim) const;
  Tensor cumprod(std::int64_t dim) const;
  Tensor logcumsumexp(std::int64_t dim) const;
  std::tuple<Tensor, Tensor> cummax(std::int64_t dim) const;
  std::tuple<Tensor, Tensor> cummin(std::int64_t dim) const;
  std::tuple<Tensor, Tensor> sort(std::int64_t dim = -1, StrictBool descending = false,
                                  StrictBool stable = false) const;
  Tensor argsort(std::int64_t dim = -1, StrictBool descending = false, StrictBool stable = false) const;
  Tensor msort() const;
  std::tuple<Tensor, Tensor> topk(std::int64_t k, std::int64_t dim = -1, StrictBool largest = true,
                                  StrictBool sorted = true) const;
  std::tuple<Tensor, Tensor> kthvalue(std::int64_t k, std::int64_t dim = -1, StrictBool keepdim = false) const;
  Tensor median() const;
  std::tuple<Tensor, Tensor> median(std::int64_t dim, StrictBool keepdim = false) const;
  std::tuple<Tensor, Tensor> mode(std::int64_t dim = -1, StrictBool keepdim = false) const;
  Tensor repeat_interleave(std::int64_t repeats, std::optional<std::int64_t> dim = {}) const;
  Tensor repeat_interleave(const Tensor& repeats, std::optional<std::int64_t> dim = {}) const;
  template <Real P>
  Tensor norm(P p, DimList dims, StrictBool keepdim = false) const {
    return detail::norm_dims(*this, static_cast<double>(p), dims, keepdim);
  }
  ///@}

  // ---- linear algebra and indexing ----------------------------------------
  /// Matrix product and indexing, as torch.Tensor's. matmul broadcasts batch
  /// dims; index_select, gather and scatter_add take int64 indices, masked_fill
  /// a bool mask.
  ///@{
  Tensor matmul(const Tensor& other) const;
  Tensor index_select(std::int64_t dim, const Tensor& index) const;
  Tensor gather(std::int64_t dim, const Tensor& index) const;
  Tensor scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor masked_fill(const Tensor& mask, double value) const;
  ///@}

  // ---- advanced indexing and the scatter family (autograd/indexing.h) -----
  /// Advanced indexing and the scatter family, as torch.Tensor's methods of
  /// the same names. See autograd/indexing.h; any and all reduce with or.
  /// x.index({0, Slice(1, None), mask}) is x[0, 1:, mask]; x.index_put_({...}, v) is x[...] = v.
  ///@{
  Tensor index(std::initializer_list<indexing::TensorIndex> indices) const;
  Tensor index(const std::vector<indexing::TensorIndex>& indices) const;
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& values,
                     bool accumulate = false);
  Tensor& index_put_(const std::vector<indexing::TensorIndex>& indices, const Tensor& values, bool accumulate = false);
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, double value);
  Tensor& index_put_(const std::vector<indexing::TensorIndex>& indices, double value);
  Tensor index_put(std::initializer_list<indexing::TensorIndex> indices, const Tensor& values,
                   bool accumulate = false) const;
  Tensor index_put(const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                   bool accumulate = false) const;
  Tensor scatter(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor scatter(std::int64_t dim, const Tensor& index, double value) const;
  Tensor scatter(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce) const;
  Tensor scatter(std::int64_t dim, const Tensor& index, double value, std::string_view reduce) const;
  Tensor& scatter_(std::int64_t dim, const Tensor& index, const Tensor& src);
  Tensor& scatter_(std::int64_t dim, const Tensor& index, double value);
  Tensor& scatter_(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce);
  Tensor& scatter_(std::int64_t dim, const Tensor& index, double value, std::string_view reduce);
  Tensor& scatter_add_(std::int64_t dim, const Tensor& index, const Tensor& src);
  Tensor scatter_reduce(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce,
                        StrictBool include_self = true) const;
  Tensor& scatter_reduce_(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce,
                          StrictBool include_self = true);
  Tensor index_add(std::int64_t dim, const Tensor& index, const Tensor& src, double alpha = 1) const;
  Tensor& index_add_(std::int64_t dim, const Tensor& index, const Tensor& src, double alpha = 1);
  Tensor index_copy(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor& index_copy_(std::int64_t dim, const Tensor& index, const Tensor& src);
  Tensor index_fill(std::int64_t dim, const Tensor& index, double value) const;
  Tensor& index_fill_(std::int64_t dim, const Tensor& index, double value);
  Tensor nonzero() const;
  Tensor argwhere() const;
  Tensor masked_select(const Tensor& mask) const;
  Tensor any() const;
  Tensor any(std::int64_t dim, StrictBool keepdim = false) const;
  Tensor all() const;
  Tensor all(std::int64_t dim, StrictBool keepdim = false) const;
  ///@}

  // ---- comparisons (bool results, no gradient) ----------------------------
  /// Elementwise comparisons with a tensor (broadcast) or a number: bool
  /// tensors, never recorded.
  ///@{
  Tensor eq(const Tensor& other) const;
  Tensor ne(const Tensor& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor le(const Tensor& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor eq(double other) const;
  Tensor ne(double other) const;
  Tensor lt(double other) const;
  Tensor le(double other) const;
  Tensor gt(double other) const;
  Tensor ge(double other) const;
  ///@}

  // ---- in place (bump the version counter) --------------------------------
  /// In-place forms of the ops without the underscore. They write into this
  /// tensor, bump its version counter (backward then refuses a saved tensor that
  /// changed) and return *this; on a view of a tensor in a graph they rewrite
  /// its history, as in PyTorch.
  /// @throws tg::AutogradError for a leaf that requires grad while grad mode is
  ///   on (optimizers update under tg::NoGradGuard).
  ///@{
  Tensor& add_(const Tensor& other, double alpha = 1);
  Tensor& add_(double other);
  Tensor& sub_(const Tensor& other, double alpha = 1);
  Tensor& sub_(double other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double other);
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);
  Tensor& relu_();
  Tensor& masked_fill_(const Tensor& mask, double value);
  ///@}
  /// In-place forms of the elementwise ops above, as torch.Tensor's: x.exp_()
  /// writes exp(x) into x. Each is the out-of-place op written back into this
  /// tensor (autograd/ops/inplace_math.cpp): the same values and gradients,
  /// with any operand that overlaps this tensor's memory read before it is
  /// written; a tensor operand broadcasts to this tensor's shape, never the
  /// other way.
  /// @throws tg::DTypeError when the op's result type cannot be cast to this
  ///   tensor's dtype (exp_ on an integer tensor, as PyTorch), tg::ShapeError
  ///   when an operand does not broadcast to this tensor's shape, and
  ///   tg::AutogradError as the in-place ops above.
  ///@{
  Tensor& neg_();
  Tensor& abs_();
  Tensor& exp_();
  Tensor& log_();
  Tensor& sqrt_();
  Tensor& rsqrt_();
  Tensor& sigmoid_();
  Tensor& tanh_();
  Tensor& sin_();
  Tensor& cos_();
  Tensor& reciprocal_();
  Tensor& floor_();
  Tensor& ceil_();
  Tensor& round_();
  Tensor& trunc_();
  Tensor& sign_();
  Tensor& square_();
  Tensor& pow_(double exponent);
  Tensor& pow_(const Tensor& exponent);
  Tensor& clamp_min_(double min);
  Tensor& clamp_max_(double max);
  Tensor& addcmul_(const Tensor& tensor1, const Tensor& tensor2, double value = 1);  // += value * t1 * t2
  Tensor& addcdiv_(const Tensor& tensor1, const Tensor& tensor2, double value = 1);  // += value * t1 / t2
  Tensor& lerp_(const Tensor& end, double weight);                                   // += weight * (end - self)
  Tensor& lerp_(const Tensor& end, const Tensor& weight);
  ///@}
  /// Random in-place fills, as torch.Tensor's. From `gen` or the default
  /// generator, with a zero gradient to the old value, as fill_ (autograd/ops/random_ops.cpp).
  ///@{
  Tensor& uniform_(double from = 0, double to = 1, Generator* gen = nullptr);
  Tensor& normal_(double mean = 0, double std = 1, Generator* gen = nullptr);
  Tensor& bernoulli_(double p = 0.5, Generator* gen = nullptr);
  Tensor& bernoulli_(const Tensor& p, Generator* gen = nullptr);
  Tensor& exponential_(double lambd = 1, Generator* gen = nullptr);
  /// Uniform integers (in self's dtype) in [from, to); without `to`, up to the
  /// largest integer self's dtype holds exactly (2^24 for float32, the maximum
  /// for an integer type); random_() starts at 0. As PyTorch's random_.
  Tensor& random_(std::int64_t from, std::optional<std::int64_t> to, Generator* gen = nullptr);
  /// A template so that a literal 0 is never taken for a null generator:
  /// x.random_(-5, 0) is the range [-5, 0), not random_(-5) with no generator.
  template <std::same_as<Generator*> G = Generator*>
  Tensor& random_(std::int64_t to, G gen = nullptr) {
    return random_(0, to, gen);
  }
  Tensor& random_(Generator* gen = nullptr);
  ///@}
};

/// Tensor adds no state: converting either way only copies the handle.
static_assert(sizeof(Tensor) == sizeof(TensorBase));

/// For kernels that take or return several tensors (kernel::cat): the
/// handles, copied (no data is).
///@{
inline std::vector<TensorBase> as_bases(std::span<const Tensor> tensors) { return {tensors.begin(), tensors.end()}; }
inline std::vector<Tensor> as_tensors(std::vector<TensorBase> bases) {
  return {std::make_move_iterator(bases.begin()), std::make_move_iterator(bases.end())};
}
///@}

// ---- creation (autograd/creation.cpp) --------------------------------------
/// Tensors filled with a value, as torch.empty, zeros, ones, full, the *_like forms and scalar_tensor.
/// The *_like forms take t's shape, and its dtype unless one is given; scalar_tensor is 0-d.
/// The kernel::... versions of core/tensor.h make the data; these return a
/// Tensor and apply TensorOptions::requires_grad.
/// @throws tg::ShapeError for a negative size, tg::OutOfMemoryError when the
///   data cannot be allocated.
///@{
Tensor empty(Dims shape, TensorOptions options = {});
Tensor zeros(Dims shape, TensorOptions options = {});
Tensor ones(Dims shape, TensorOptions options = {});
Tensor full(Dims shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t, std::optional<DType> dtype = {});
Tensor ones_like(const Tensor& t, std::optional<DType> dtype = {});
Tensor empty_like(const Tensor& t, std::optional<DType> dtype = {});
Tensor full_like(const Tensor& t, double value, std::optional<DType> dtype = {});
Tensor scalar_tensor(double value, TensorOptions options = {});
///@}
namespace detail {
Tensor finish_creation(TensorBase t, const TensorOptions& options);  ///< applies requires_grad
}  // namespace detail
/// Values from start (0) to end, excluding end, by step, as torch.arange.
/// As PyTorch: integer start, end and step give int64, any floating one the
/// default float32; options given explicitly decide (kernel::arange). The
/// numbers are deduced so that `arange(5, {})` cannot read `{}` as end = 0.
///@{
template <Real E>
Tensor arange(E end, TensorOptions options = {.dtype = std::is_integral_v<E> ? kInt64 : kFloat32}) {
  return detail::finish_creation(kernel::arange(end, options), options);
}
template <Real S, Real E, Real P = int>
Tensor arange(S start, E end, P step = 1,
              TensorOptions options = {.dtype = std::is_integral_v<S> && std::is_integral_v<E> && std::is_integral_v<P>
                                                    ? kInt64
                                                    : kFloat32}) {
  return detail::finish_creation(kernel::arange(start, end, step, options), options);
}
///@}
/// `steps` values from start to end, both included, evenly spaced (torch.linspace).
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options = {});
/// An n x m (m defaults to n) identity matrix (torch.eye).
Tensor eye(std::int64_t n, std::optional<std::int64_t> m = {}, TensorOptions options = {});
/// A tensor from values in row-major order, as torch.tensor.
/// @throws tg::ShapeError when the shape does not hold as many values.
/// From values in row-major order. Without a shape (std::nullopt, or a
/// literal `{}`, which reads as none) it is 1-D; a shape given as a Dims is
/// used as it is, an empty one too (`tg::tensor(v, x.shape())` of a 0-d x is
/// 0-d; tg::scalar_tensor makes one from a number). Integers give
/// int64, floating numbers float32, bools bool, as torch.tensor; a
/// std::vector<T> of any arithmetic T keeps T's dtype where tapegrad has it
/// (kernel::tensor in core/tensor.h).
///@{
Tensor tensor(std::initializer_list<double> values, OptionalDims shape = {}, TensorOptions options = {});
template <Real T>
requires(!std::same_as<T, double>) Tensor
    tensor(std::initializer_list<T> values, OptionalDims shape = {},
           TensorOptions options = {.dtype = std::is_integral_v<T> ? kInt64 : kFloat32}) {
  return detail::finish_creation(kernel::tensor(values, std::move(shape), options), options);
}
template <std::same_as<bool> B>
Tensor tensor(std::initializer_list<B> values, OptionalDims shape = {}, TensorOptions options = {.dtype = kBool}) {
  return detail::finish_creation(kernel::tensor(values, std::move(shape), options), options);
}
template <class T>
requires std::is_arithmetic_v<T> || is_reduced_float_v<T> Tensor
tensor(const std::vector<T>& values, OptionalDims shape = {},
       TensorOptions options = {.dtype = dtype_of<kernel::stored_type_t<T>>()}) {
  return detail::finish_creation(kernel::tensor(values, std::move(shape), options), options);
}
///@}

// ---- random numbers (autograd/creation.cpp; the generators are core/random.h)
/// Random tensors, as torch.rand, randn, randint, bernoulli and randperm. rand is uniform in [0, 1),
/// randn standard normal, randint uniform integers in [low, high), bernoulli 0 or 1 with the given
/// probabilities, randperm a permutation of 0..n-1; from `gen`, or the default generator (tg::manual_seed).
///@{
Tensor rand(Dims shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randn(Dims shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randint(std::int64_t low, std::int64_t high, Dims shape, TensorOptions options = {.dtype = kInt64},
               Generator* gen = nullptr);
Tensor bernoulli(const Tensor& probabilities, Generator* gen = nullptr);
Tensor bernoulli(Dims shape, double p, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randperm(std::int64_t n, Generator* gen = nullptr);
///@}

/// A bare DType wherever TensorOptions go. tg::randn({3}, tg::kFloat64),
/// tg::arange(1, 5, tg::kFloat64), tg::tensor({1, 2}, {}, tg::kFloat16). A
/// template, so that `{}` still means default options and is never read as a
/// DType.
///@{
template <std::same_as<DType> D>
Tensor empty(Dims shape, D dtype) {
  return empty(std::move(shape), TensorOptions{.dtype = dtype});
}
template <std::same_as<DType> D>
Tensor zeros(Dims shape, D dtype) {
  return zeros(std::move(shape), TensorOptions{.dtype = dtype});
}
template <std::same_as<DType> D>
Tensor ones(Dims shape, D dtype) {
  return ones(std::move(shape), TensorOptions{.dtype = dtype});
}
template <std::same_as<DType> D>
Tensor full(Dims shape, double value, D dtype) {
  return full(std::move(shape), value, TensorOptions{.dtype = dtype});
}
template <std::same_as<DType> D>
Tensor scalar_tensor(double value, D dtype) {
  return scalar_tensor(value, TensorOptions{.dtype = dtype});
}
template <Real E, std::same_as<DType> D>
Tensor arange(E end, D dtype) {
  return arange(end, TensorOptions{.dtype = dtype});
}
template <Real S, Real E, std::same_as<DType> D>
Tensor arange(S start, E end, D dtype) {
  return arange(start, end, 1, TensorOptions{.dtype = dtype});
}
template <Real S, Real E, Real P, std::same_as<DType> D>
Tensor arange(S start, E end, P step, D dtype) {
  return arange(start, end, step, TensorOptions{.dtype = dtype});
}
template <std::same_as<DType> D>
Tensor linspace(double start, double end, std::int64_t steps, D dtype) {
  return linspace(start, end, steps, TensorOptions{.dtype = dtype});
}
template <std::same_as<DType> D>
Tensor eye(std::int64_t n, std::optional<std::int64_t> m, D dtype) {
  return eye(n, m, TensorOptions{.dtype = dtype});
}
/// The n x n identity with options last, as LibTorch's torch::eye(n, options):
/// tg::eye(3, {.dtype = tg::kFloat64}), tg::eye(3, tg::kFloat64).
inline Tensor eye(std::int64_t n, TensorOptions options) { return eye(n, std::nullopt, options); }
template <std::same_as<DType> D>
Tensor eye(std::int64_t n, D dtype) {
  return eye(n, std::nullopt, TensorOptions{.dtype = dtype});
}
template <std::same_as<DType> D>
Tensor tensor(std::initializer_list<double> values, OptionalDims shape, D dtype) {
  return tensor(values, std::move(shape), TensorOptions{.dtype = dtype});
}
template <Real T, std::same_as<DType> D>
requires(!std::same_as<T, double>) Tensor tensor(std::initializer_list<T> values, OptionalDims shape, D dtype) {
  return tensor(values, std::move(shape), TensorOptions{.dtype = dtype});
}
template <class T, std::same_as<DType> D>
requires std::is_arithmetic_v<T> || is_reduced_float_v<T> Tensor tensor(const std::vector<T>& values,
                                                                        OptionalDims shape, D dtype) {
  return tensor(values, std::move(shape), TensorOptions{.dtype = dtype});
}
template <std::same_as<DType> D>
Tensor rand(Dims shape, D dtype, Generator* gen = nullptr) {
  return rand(std::move(shape), TensorOptions{.dtype = dtype}, gen);
}
template <std::same_as<DType> D>
Tensor randn(Dims shape, D dtype, Generator* gen = nullptr) {
  return randn(std::move(shape), TensorOptions{.dtype = dtype}, gen);
}
template <std::same_as<DType> D>
Tensor randint(std::int64_t low, std::int64_t high, Dims shape, D dtype, Generator* gen = nullptr) {
  return randint(low, high, std::move(shape), TensorOptions{.dtype = dtype}, gen);
}
template <std::same_as<DType> D>
Tensor bernoulli(Dims shape, double p, D dtype, Generator* gen = nullptr) {
  return bernoulli(std::move(shape), p, TensorOptions{.dtype = dtype}, gen);
}
///@}

namespace autograd {
/// Clears the gradients of `tensors` (what Module::zero_grad and
/// Optimizer::zero_grad do): drops them (set_to_none, PyTorch's default) or
/// fills them with zeros in place, outside the tape.
void zero_grad(std::span<const Tensor> tensors, bool set_to_none = true);
}  // namespace autograd

}  // namespace tg

// Tensor::index's argument types (tg::indexing::Slice, None, Ellipsis).
#include <tapegrad/autograd/indexing.h>
