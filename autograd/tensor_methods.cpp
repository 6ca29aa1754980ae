// The PyTorch-style member functions of tg::Tensor, each forwarding to the
// free function that implements the op (autograd/ops.h).
#include <tapegrad/autograd/ops.h>

namespace tg {

Tensor Tensor::to(DType dtype) const { return to_dtype(*this, dtype); }
Tensor Tensor::type_as(const Tensor& other) const {
  if (!other.defined()) throw ValueError("type_as: the other tensor is undefined");
  return to_dtype(*this, other.dtype());
}
Tensor Tensor::clone() const { return tg::clone(*this); }
Tensor Tensor::contiguous() const { return tg::contiguous(*this); }

Tensor Tensor::view(Dims shape) const { return tg::view(*this, shape); }
Tensor Tensor::reshape(Dims shape) const { return tg::reshape(*this, shape); }
Tensor Tensor::transpose(std::int64_t dim0, std::int64_t dim1) const { return tg::transpose(*this, dim0, dim1); }
Tensor Tensor::permute(Dims dims) const { return tg::permute(*this, dims); }
Tensor Tensor::t() const {
  if (dim() > 2) throw ShapeError("t: expects a tensor with at most 2 dimensions, got " + shape_str(sizes()));
  return dim() < 2 ? *this : tg::transpose(*this, 0, 1);
}
Tensor Tensor::narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const {
  return tg::narrow(*this, dim, start, length);
}
Tensor Tensor::slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) const {
  return tg::slice(*this, dim, start, end, step);
}
Tensor Tensor::select(std::int64_t dim, std::int64_t index) const { return tg::select(*this, dim, index); }
Tensor Tensor::expand(Dims sizes) const { return tg::expand(*this, sizes); }
Tensor Tensor::squeeze() const { return tg::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t dim) const { return tg::squeeze(*this, dim); }
Tensor Tensor::unsqueeze(std::int64_t dim) const { return tg::unsqueeze(*this, dim); }
Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
  return tg::flatten(*this, start_dim, end_dim);
}

Tensor Tensor::neg() const { return tg::neg(*this); }
Tensor Tensor::exp() const { return tg::exp(*this); }
Tensor Tensor::log() const { return tg::log(*this); }
Tensor Tensor::log1p() const { return tg::log1p(*this); }
Tensor Tensor::sqrt() const { return tg::sqrt(*this); }
Tensor Tensor::rsqrt() const { return tg::rsqrt(*this); }
Tensor Tensor::pow(double exponent) const { return tg::pow(*this, exponent); }
Tensor Tensor::pow(const Tensor& exponent) const { return tg::pow(*this, exponent); }
Tensor Tensor::abs() const { return tg::abs(*this); }
Tensor Tensor::sign() const { return tg::sign(*this); }
Tensor Tensor::relu() const { return tg::relu(*this); }
Tensor Tensor::sigmoid() const { return tg::sigmoid(*this); }
Tensor Tensor::tanh() const { return tg::tanh(*this); }
Tensor Tensor::gelu() const { return tg::gelu(*this); }
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const { return tg::clamp(*this, min, max); }
Tensor Tensor::clamp_min(double min) const { return tg::clamp_min(*this, min); }
Tensor Tensor::clamp_max(double max) const { return tg::clamp_max(*this, max); }
Tensor Tensor::square() const { return tg::square(*this); }
Tensor Tensor::sin() const { return tg::sin(*this); }
Tensor Tensor::cos() const { return tg::cos(*this); }
Tensor Tensor::tan() const { return tg::tan(*this); }
Tensor Tensor::asin() const { return tg::asin(*this); }
Tensor Tensor::acos() const { return tg::acos(*this); }
Tensor Tensor::atan() const { return tg::atan(*this); }
Tensor Tensor::sinh() const { return tg::sinh(*this); }
Tensor Tensor::cosh() const { return tg::cosh(*this); }
Tensor Tensor::asinh() const { return tg::asinh(*this); }
Tensor Tensor::acosh() const { return tg::acosh(*this); }
Tensor Tensor::atanh() const { return tg::atanh(*this); }
Tensor Tensor::erf() const { return tg::erf(*this); }
Tensor Tensor::erfc() const { return tg::erfc(*this); }
Tensor Tensor::erfinv() const { return tg::erfinv(*this); }
Tensor Tensor::expm1() const { return tg::expm1(*this); }
Tensor Tensor::log2() const { return tg::log2(*this); }
Tensor Tensor::log10() const { return tg::log10(*this); }
Tensor Tensor::exp2() const { return tg::exp2(*this); }
Tensor Tensor::reciprocal() const { return tg::reciprocal(*this); }
Tensor Tensor::floor() const { return tg::floor(*this); }
Tensor Tensor::ceil() const { return tg::ceil(*this); }
Tensor Tensor::round() const { return tg::round(*this); }
Tensor Tensor::round(std::int64_t decimals) const { return tg::round(*this, decimals); }
Tensor Tensor::trunc() const { return tg::trunc(*this); }
Tensor Tensor::frac() const { return tg::frac(*this); }
Tensor Tensor::isinf() const { return tg::isinf(*this); }
Tensor Tensor::isposinf() const { return tg::isposinf(*this); }
Tensor Tensor::isneginf() const { return tg::isneginf(*this); }
Tensor Tensor::atan2(const Tensor& other) const { return tg::atan2(*this, other); }
Tensor Tensor::hypot(const Tensor& other) const { return tg::hypot(*this, other); }
Tensor Tensor::fmod(const Tensor& other) const { return tg::fmod(*this, other); }
Tensor Tensor::fmod(double other) const { return tg::fmod(*this, other); }
Tensor Tensor::remainder(const Tensor& other) const { return tg::remainder(*this, other); }
Tensor Tensor::remainder(double other) const { return tg::remainder(*this, other); }
Tensor Tensor::lerp(const Tensor& end, double weight) const { return tg::lerp(*this, end, weight); }
Tensor Tensor::lerp(const Tensor& end, const Tensor& weight) const { return tg::lerp(*this, end, weight); }
Tensor Tensor::addcmul(const Tensor& tensor1, const Tensor& tensor2, double value) const {
  return tg::addcmul(*this, tensor1, tensor2, value);
}
Tensor Tensor::addcdiv(const Tensor& tensor1, const Tensor& tensor2, double value) const {
  return tg::addcdiv(*this, tensor1, tensor2, value);
}
Tensor Tensor::nan_to_num(double nan, std::optional<double> posinf, std::optional<double> neginf) const {
  return tg::nan_to_num(*this, nan, posinf, neginf);
}
Tensor Tensor::isclose(const Tensor& other, double rtol, double atol, bool equal_nan) const {
  return tg::isclose(*this, other, rtol, atol, equal_nan);
}

Tensor Tensor::sum() const { return tg::sum(*this); }
Tensor Tensor::sum(DimList dims, StrictBool keepdim) const { return tg::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return tg::mean(*this); }
Tensor Tensor::mean(DimList dims, StrictBool keepdim) const { return tg::mean(*this, dims, keepdim); }
Tensor Tensor::var() const { return tg::var(*this); }
Tensor Tensor::var(DimList dims) const { return tg::var(*this, dims); }
Tensor Tensor::std() const { return tg::std(*this); }
Tensor Tensor::std(DimList dims) const { return tg::std(*this, dims); }
Tensor Tensor::amax(DimList dims, StrictBool keepdim) const { return tg::amax(*this, dims, keepdim); }
Tensor Tensor::amin(DimList dims, StrictBool keepdim) const { return tg::amin(*this, dims, keepdim); }
Tensor Tensor::max() const { return tg::max(*this); }
std::tuple<Tensor, Tensor> Tensor::max(std::int64_t dim, StrictBool keepdim) const {
  return tg::max(*this, dim, keepdim);
}
Tensor Tensor::min() const { return tg::min(*this); }
std::tuple<Tensor, Tensor> Tensor::min(std::int64_t dim, StrictBool keepdim) const {
  return tg::min(*this, dim, keepdim);
}
Tensor Tensor::argmax() const { return tg::argmax(*this); }
Tensor Tensor::argmax(std::int64_t dim, StrictBool keepdim) const { return tg::argmax(*this, dim, keepdim); }
Tensor Tensor::argmin() const { return tg::argmin(*this); }
Tensor Tensor::argmin(std::int64_t dim, StrictBool keepdim) const { return tg::argmin(*this, dim, keepdim); }
Tensor Tensor::logsumexp(DimList dims, StrictBool keepdim) const { return tg::logsumexp(*this, dims, keepdim); }
Tensor Tensor::prod() const { return tg::prod(*this); }
Tensor Tensor::prod(std::int64_t dim, StrictBool keepdim) const { return tg::prod(*this, dim, keepdim); }
Tensor Tensor::norm() const { return tg::norm(*this); }
Tensor Tensor::norm(DimList dims) const { return tg::norm(*this, dims); }

Tensor Tensor::matmul(const Tensor& other) const { return tg::matmul(*this, other); }
Tensor Tensor::index_select(std::int64_t dim, const Tensor& index) const { return tg::index_select(*this, dim, index); }
Tensor Tensor::gather(std::int64_t dim, const Tensor& index) const { return tg::gather(*this, dim, index); }
Tensor Tensor::scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return tg::scatter_add(*this, dim, index, src);
}
Tensor Tensor::masked_fill(const Tensor& mask, double value) const { return tg::masked_fill(*this, mask, value); }

Tensor Tensor::eq(const Tensor& other) const { return tg::eq(*this, other); }
Tensor Tensor::ne(const Tensor& other) const { return tg::ne(*this, other); }
Tensor Tensor::lt(const Tensor& other) const { return tg::lt(*this, other); }
Tensor Tensor::le(const Tensor& other) const { return tg::le(*this, other); }
Tensor Tensor::gt(const Tensor& other) const { return tg::gt(*this, other); }
Tensor Tensor::ge(const Tensor& other) const { return tg::ge(*this, other); }
Tensor Tensor::eq(double other) const { return *this == other; }
Tensor Tensor::ne(double other) const { return *this != other; }
Tensor Tensor::lt(double other) const { return *this < other; }
Tensor Tensor::le(double other) const { return *this <= other; }
Tensor Tensor::gt(double other) const { return *this > other; }
Tensor Tensor::ge(double other) const { return *this >= other; }

// Shape ops, scans and order statistics (autograd/ops/order.cpp).
Tensor Tensor::tril(std::int64_t diagonal) const { return tg::tril(*this, diagonal); }
Tensor Tensor::triu(std::int64_t diagonal) const { return tg::triu(*this, diagonal); }
Tensor Tensor::diagonal(std::int64_t offset, std::int64_t dim1, std::int64_t dim2) const {
  return tg::diagonal(*this, offset, dim1, dim2);
}
Tensor Tensor::diag(std::int64_t diagonal) const { return tg::diag(*this, diagonal); }
Tensor Tensor::trace() const { return tg::trace(*this); }
Tensor Tensor::repeat(Dims repeats) const { return tg::repeat(*this, repeats); }
Tensor Tensor::flip(Dims dims) const { return tg::flip(*this, dims); }
Tensor Tensor::roll(Dims shifts, Dims dims) const { return tg::roll(*this, shifts, dims); }
std::vector<Tensor> Tensor::split(std::int64_t split_size, std::int64_t dim) const {
  return tg::split(*this, split_size, dim);
}
std::vector<Tensor> Tensor::split(const std::vector<std::int64_t>& split_sizes, std::int64_t dim) const {
  return tg::split(*this, split_sizes, dim);
}
std::vector<Tensor> Tensor::unbind(std::int64_t dim) const { return tg::unbind(*this, dim); }
std::vector<Tensor> Tensor::chunk(std::int64_t chunks, std::int64_t dim) const { return tg::chunk(*this, chunks, dim); }
Tensor Tensor::movedim(Dims source, Dims destination) const { return tg::movedim(*this, source, destination); }
Tensor Tensor::movedim(std::int64_t source, std::int64_t destination) const {
  return tg::movedim(*this, source, destination);
}
Tensor Tensor::unflatten(std::int64_t dim, Dims sizes) const { return tg::unflatten(*this, dim, sizes); }
Tensor Tensor::cumsum(std::int64_t dim) const { return tg::cumsum(*this, dim); }
Tensor Tensor::cumprod(std::int64_t dim) const { return tg::cumprod(*this, dim); }
Tensor Tensor::logcumsumexp(std::int64_t dim) const { return tg::logcumsumexp(*this, dim); }
std::tuple<Tensor, Tensor> Tensor::cummax(std::int64_t dim) const { return tg::cummax(*this, dim); }
std::tuple<Tensor, Tensor> Tensor::cummin(std::int64_t dim) const { return tg::cummin(*this, dim); }
std::tuple<Tensor, Tensor> Tensor::sort(std::int64_t dim, StrictBool descending, StrictBool stable) const {
  return tg::sort(*this, dim, descending, stable);
}
Tensor Tensor::argsort(std::int64_t dim, StrictBool descending, StrictBool stable) const {
  return tg::argsort(*this, dim, descending, stable);
}
Tensor Tensor::msort() const { return tg::msort(*this); }
std::tuple<Tensor, Tensor> Tensor::topk(std::int64_t k, std::int64_t dim, StrictBool largest, StrictBool sorted) const {
  return tg::topk(*this, k, dim, largest, sorted);
}
std::tuple<Tensor, Tensor> Tensor::mode(std::int64_t dim, StrictBool keepdim) const {
  return tg::mode(*this, dim, keepdim);
}
Tensor Tensor::repeat_interleave(std::int64_t repeats, std::optional<std::int64_t> dim) const {
  return tg::repeat_interleave(*this, repeats, dim);
}
Tensor Tensor::repeat_interleave(const Tensor& repeats, std::optional<std::int64_t> dim) const {
  return tg::repeat_interleave(*this, repeats, dim);
}
std::tuple<Tensor, Tensor> Tensor::kthvalue(std::int64_t k, std::int64_t dim, StrictBool keepdim) const {
  return tg::kthvalue(*this, k, dim, keepdim);
}
Tensor Tensor::median() const { return tg::median(*this); }
std::tuple<Tensor, Tensor> Tensor::median(std::int64_t dim, StrictBool keepdim) const {
  return tg::median(*this, dim, keepdim);
}

}  // namespace tg
