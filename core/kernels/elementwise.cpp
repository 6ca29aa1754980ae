// The elementwise dtype rules, comparisons and logic. Arithmetic is in
// binary.cpp, single-input functions in unary.cpp.
#include <tapegrad/core/kernels/elementwise.h>

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <type_traits>

#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>

#include <tapegrad/core/kernels/elementwise_loop.h>

namespace tg::kernel {

using namespace ew;

namespace ew {

bool is_whole(double v) {
  // [-2^63, 2^63): the doubles that convert to int64 without overflow.
  return std::trunc(v) == v && v >= -9223372036854775808.0 && v < 9223372036854775808.0;
}

}  // namespace ew

// A number is a wrapped scalar of the lowest priority, as in PyTorch: it only
// lifts the category (bool -> int64, integer -> the default float32), never
// the width, so uint8 + 300 stays uint8 (and wraps).
DType scalar_result_type(DType tensor, double scalar) {
  if (is_floating(tensor)) return tensor;
  if (!is_whole(scalar)) return kFloat32;
  return tensor == kBool ? kInt64 : tensor;
}

namespace {

int category(DType d) { return d == kBool ? 0 : is_floating(d) ? 2 : 1; }

// The dtype of dimensioned operands beside 0-d ones: a 0-d one counts only
// when its category is higher.
DType beside_zero_dim(DType dimensioned, DType zero_dim) {
  return category(zero_dim) > category(dimensioned) ? promote_types(dimensioned, zero_dim) : dimensioned;
}

}  // namespace

// PyTorch's rule: a 0-d tensor next to a dimensioned one acts like a scalar,
// so float32 [3] + float64 0-d stays float32 but int64 [3] + float64 0-d is
// float64 (a higher category takes its own dtype, not the default one).
DType result_type(const TensorBase& a, const TensorBase& b) {
  const bool a0 = a.dim() == 0, b0 = b.dim() == 0;
  if (a0 == b0) return promote_types(a.dtype(), b.dtype());
  return a0 ? beside_zero_dim(b.dtype(), a.dtype()) : beside_zero_dim(a.dtype(), b.dtype());
}

DType result_type(std::initializer_list<const TensorBase*> operands) {
  std::optional<DType> dimensioned, zero_dim;
  for (const TensorBase* t : operands) {
    if (!t->defined()) continue;
    std::optional<DType>& d = t->dim() == 0 ? zero_dim : dimensioned;
    d = d ? promote_types(*d, t->dtype()) : t->dtype();
  }
  if (!dimensioned) return *zero_dim;
  if (!zero_dim) return *dimensioned;
  return beside_zero_dim(*dimensioned, *zero_dim);
}

namespace {

template <class Cmp>
TensorBase compare(const TensorBase& a, const TensorBase& b, const char* op, Cmp cmp) {
  const Dims shape = binary_shape(a, b, op);
  const DType dt = result_type(a, b);
  TensorBase out = make_tensor(shape, kBool);
  const KeepDenormalsGuard exact;  // 1e-39f == 0 is false, as IEEE says
  dispatch(dt, [&]<class T>() { binary_compute<T, bool>(out, a, b, [cmp](T x, T y) { return cmp(x, y); }); });
  return out;
}

// The scalar is converted to the dtype of `tensor op scalar` first, as PyTorch.
template <class Cmp>
TensorBase compare(const TensorBase& a, double b, const char* op, Cmp cmp) {
  const DType dt = scalar_result_type(a.dtype(), b);
  TensorBase out = make_tensor(a.shape(), kBool);
  const KeepDenormalsGuard exact;
  dispatch_numeric(dt, op, [&]<class T>() {
    const T v = scalar_as<T>(b);
    unary_compute<T, bool>(out, a, [v, cmp](T x) { return cmp(x, v); });
  });
  return out;
}

// Every element of a bool tensor is true.
bool all_true(const TensorBase& mask) {
  const TensorBase c = contiguous(mask);
  const bool* p = c.data_ptr<bool>();
  for (std::int64_t i = 0, n = c.numel(); i < n; ++i)
    if (!p[i]) return false;
  return true;
}

}  // namespace

TensorBase eq(const TensorBase& a, const TensorBase& b) { return compare(a, b, "eq", std::equal_to<>{}); }
TensorBase ne(const TensorBase& a, const TensorBase& b) { return compare(a, b, "ne", std::not_equal_to<>{}); }
TensorBase lt(const TensorBase& a, const TensorBase& b) { return compare(a, b, "lt", std::less<>{}); }
TensorBase le(const TensorBase& a, const TensorBase& b) { return compare(a, b, "le", std::less_equal<>{}); }
TensorBase gt(const TensorBase& a, const TensorBase& b) { return compare(a, b, "gt", std::greater<>{}); }
TensorBase ge(const TensorBase& a, const TensorBase& b) { return compare(a, b, "ge", std::greater_equal<>{}); }
TensorBase eq(const TensorBase& a, double b) { return compare(a, b, "eq", std::equal_to<>{}); }
TensorBase ne(const TensorBase& a, double b) { return compare(a, b, "ne", std::not_equal_to<>{}); }
TensorBase lt(const TensorBase& a, double b) { return compare(a, b, "lt", std::less<>{}); }
TensorBase le(const TensorBase& a, double b) { return compare(a, b, "le", std::less_equal<>{}); }
TensorBase gt(const TensorBase& a, double b) { return compare(a, b, "gt", std::greater<>{}); }
TensorBase ge(const TensorBase& a, double b) { return compare(a, b, "ge", std::greater_equal<>{}); }

TensorBase logical_and(const TensorBase& a, const TensorBase& b) {
  const Dims shape = binary_shape(a, b, "logical_and");
  TensorBase out = make_tensor(shape, kBool);
  const KeepDenormalsGuard exact;  // a subnormal is true
  binary_compute<bool>(out, a, b, [](bool x, bool y) { return x && y; });
  return out;
}

TensorBase logical_or(const TensorBase& a, const TensorBase& b) {
  const Dims shape = binary_shape(a, b, "logical_or");
  TensorBase out = make_tensor(shape, kBool);
  const KeepDenormalsGuard exact;
  binary_compute<bool>(out, a, b, [](bool x, bool y) { return x || y; });
  return out;
}

TensorBase logical_not(const TensorBase& a) {
  TensorBase out = make_tensor(a.shape(), kBool);
  const KeepDenormalsGuard exact;
  unary_compute<bool>(out, a, [](bool x) { return !x; });
  return out;
}

TensorBase isnan(const TensorBase& x) {
  TensorBase out = make_tensor(x.shape(), kBool);
  if (!is_floating(x.dtype())) {
    fill_(out, 0);
    return out;
  }
  dispatch_floating(x.dtype(), "isnan",
                    [&]<class T>() { unary_into<bool, T>(out, x, [](T v) { return std::isnan(v); }); });
  return out;
}

TensorBase isfinite(const TensorBase& x) {
  TensorBase out = make_tensor(x.shape(), kBool);
  if (!is_floating(x.dtype())) {
    fill_(out, 1);
    return out;
  }
  dispatch_floating(x.dtype(), "isfinite",
                    [&]<class T>() { unary_into<bool, T>(out, x, [](T v) { return std::isfinite(v); }); });
  return out;
}

TensorBase reads_as_zero(const TensorBase& x) {
  if (!is_floating(x.dtype())) return eq(x, 0.0);
  // Whether arithmetic on this thread reads a subnormal as zero: DAZ under
  // the kernels' flush guard (the workers of a parallel loop share the mode).
  bool daz = false;
#if defined(__SSE__)
  {
    const FlushDenormalGuard flush;
    daz = (_mm_getcsr() & 0x0040u) != 0;
  }
#endif
  TensorBase out = make_tensor(x.shape(), kBool);
  dispatch_floating(x.dtype(), "reads_as_zero", [&]<class T>() {
    // 16-bit floats compute in float32, where a float16 subnormal is normal.
    using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
    unary_into<bool, T>(out, x, [daz](T v) {
      const C c = static_cast<C>(v);
      return c == C(0) || (daz && std::abs(c) < std::numeric_limits<C>::min());
    });
  });
  return out;
}

// Equal values (infinities included) are close; otherwise |a - b| <= atol + rtol |b|.
bool allclose(const TensorBase& a, const TensorBase& b, double rtol, double atol) {
  // Comparisons: a subnormal is not 0 (float_mode.h).
  const KeepDenormalsGuard exact;
  // isclose's checks, as torch.allclose is isclose(...).all(): comparing
  // float32 with float64 hid that the two were computed differently.
  if (a.dtype() != b.dtype())
    throw DTypeError(fmt::format("allclose: expected both inputs to have the same dtype, got {} and {}",
                                 dtype_name(a.dtype()), dtype_name(b.dtype())));
  if (!(rtol >= 0) || !(atol >= 0))
    throw ValueError(fmt::format("allclose: rtol and atol must be non-negative, got rtol {} and atol {}", rtol, atol));
  const Dims shape = binary_shape(a, b, "allclose");
  TensorBase close = make_tensor(shape, kBool);
  binary_compute<double, bool>(close, a, b, [rtol, atol](double x, double y) {
    const double diff = std::abs(x - y);
    return x == y || (std::isfinite(diff) && diff <= atol + rtol * std::abs(y));
  });
  return all_true(close);
}

bool equal(const TensorBase& a, const TensorBase& b) {
  if (a.shape() != b.shape()) return false;
  return all_true(eq(a, b));
}

}  // namespace tg::kernel
