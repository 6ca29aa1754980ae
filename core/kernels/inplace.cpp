#include <tapegrad/core/kernels/inplace.h>

#include <cmath>
#include <limits>
#include <string_view>

#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/elementwise_loop.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/wrapping.h>

namespace tg::kernel {
namespace {

void check_broadcast(const TensorBase& self, const TensorBase& other, const char* op) {
  if (broadcast_shapes(self.shape(), other.shape(), op) != self.shape())
    throw ShapeError(
        fmt::format("{}: the other operand of shape {} cannot be broadcast to the shape {} of the "
                    "tensor being modified",
                    op, shape_str(other.sizes()), shape_str(self.sizes())));
}

// PyTorch's canCast: a floating result cannot go into an integer or bool
// tensor, nor a non-bool result into a bool tensor.
bool can_cast(DType from, DType to) {
  return !(is_floating(from) && !is_floating(to)) && !(from != kBool && to == kBool);
}

void check_alpha(DType result, double alpha, const char* op) {
  if (result == kBool && alpha != 1)
    throw DTypeError(fmt::format("{}: alpha must be 1 for a bool result, got {}", op, alpha));
  if (is_integer(result) && !ew::is_whole(alpha))
    throw DTypeError(
        fmt::format("{}: alpha must be a whole number for a {} result, got {}", op, dtype_name(result), alpha));
}

// A double scalar counts as an integer for an integer tensor when its value
// is one, within the dtype's range: a fraction would be silently dropped, and
// converting an out-of-range value (or an infinity) is undefined behaviour.
void check_scalar(const TensorBase& self, double value, const char* op, const char* what) {
  if (self.dtype() == kBool)
    throw DTypeError(fmt::format("{}: arithmetic on a bool tensor is not supported; convert it with to() first", op));
  if (!is_integer(self.dtype())) return;
  if (std::trunc(value) != value)
    throw DTypeError(fmt::format("{}: {} {} is not an integer and cannot be applied to a {} tensor in place", op, what,
                                 value, dtype_name(self.dtype())));
  dispatch_numeric(self.dtype(), op, [&]<class T>() {
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
    constexpr double hi = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
    if (!(value >= lo && value < hi))
      throw ValueError(fmt::format("{}: {} {} is out of the range of {}", op, what, value, dtype_name(self.dtype())));
  });
}

// self[i] = f(self[i], other[i]) computed in `common`, the promoted type of
// the two operands, and stored in self's dtype. Promotion can pick a third
// dtype (bfloat16 and float16 give float32, int8 and uint8 give int16), so
// both operands are seen in `common`: a converted copy of `other` where its
// dtype differs, and of `self` (written back with copy_) where self's does.
// The loop is then instantiated once per dtype, not once per pair of dtypes
// (the pairs made this file 5 MB of the library); the common case, an update
// with an operand of self's own dtype, converts nothing.
template <class F>
void update2(const TensorBase& self, const TensorBase& other_in, DType common, const char* op, F f) {
  check_writable(self, op);
  check_broadcast(self, other_in, op);
  const TensorBase unaliased_other = unaliased(self, other_in);
  const ew::As other(unaliased_other, common);
  const TensorBase acc = common == self.dtype() ? self : to(self, common);
  dispatch(common,
           [&]<class T>() { map2<T, T, T>(acc, acc, *other, [f](T a, T b) { return static_cast<T>(f(a, b)); }); });
  if (common != self.dtype()) copy_(self, acc);
}

template <class F>
void update1(const TensorBase& self, const char* op, F f) {
  check_writable(self, op);
  dispatch_numeric(self.dtype(), op, [&]<class T>() { map1<T, T>(self, self, [f](T a) { return f(a); }); });
}

}  // namespace

// In-place ops compute in the promoted type `result` (of self and the other
// operand, as the out-of-place op would) and store it in self's dtype.
void check_result(const TensorBase& self, DType result, const char* op) {
  if (!can_cast(result, self.dtype()))
    throw DTypeError(
        fmt::format("{}: result type {} can't be cast to the desired output type {} (the dtype of the "
                    "tensor being modified)",
                    op, dtype_name(result), dtype_name(self.dtype())));
}

TensorBase unaliased(const TensorBase& self, const TensorBase& other) {
  if (other.storage() != self.storage()) return other;
  if (other.storage_offset() == self.storage_offset() && other.shape() == self.shape() &&
      Dims(other.strides()) == Dims(self.strides()))
    return other;
  return clone(other);
}

void check_writable(const TensorBase& self, const char* op) {
  for (int d = 0; d < self.dim(); ++d)
    if (self.stride(d) == 0 && self.size(d) > 1)
      throw ValueError(fmt::format(
          "{}: the tensor being modified (shape {}, strides {}) is expanded along dim {}, so several of its "
          "elements share one memory location; call clone() or contiguous() first",
          op, shape_str(self.sizes()), shape_str(self.strides()), d));
}

void add_(const TensorBase& self, const TensorBase& other, double alpha, const char* op) {
  if (std::string_view(op) == "sub_" && (self.dtype() == kBool || other.dtype() == kBool))
    throw DTypeError(
        fmt::format("{}: subtraction with a bool tensor is not supported; use logical_not, or ne for an "
                    "exclusive or, instead",
                    op));
  const DType common = result_type(self, other);
  check_result(self, common, op);
  check_alpha(common, alpha, op);
  if (alpha == 1) {
    update2(self, other, common, op, [](auto a, auto b) { return wrap_add(a, b); });
  } else {
    update2(self, other, common, op, [alpha](auto a, auto b) {
      using C = decltype(a);
      if constexpr (std::is_same_v<C, bool>) return wrap_add(a, b);  // alpha is 1 (checked)
      else return wrap_add(a, wrap_mul(ew::scalar_as<C>(alpha), b));
    });
  }
}

void add_(const TensorBase& self, double other, const char* op) {
  check_result(self, scalar_result_type(self.dtype(), other), op);
  update1(self, op, [other](auto a) { return wrap_add(a, ew::scalar_as<decltype(a)>(other)); });
}

void mul_(const TensorBase& self, const TensorBase& other, const char* op) {
  const DType common = result_type(self, other);
  check_result(self, common, op);
  update2(self, other, common, op, [](auto a, auto b) { return wrap_mul(a, b); });
}

void mul_(const TensorBase& self, double other, const char* op) {
  check_result(self, scalar_result_type(self.dtype(), other), op);
  update1(self, op, [other](auto a) { return wrap_mul(a, ew::scalar_as<decltype(a)>(other)); });
}

// True division: only a floating tensor can hold its result.
void div_(const TensorBase& self, const TensorBase& other, const char* op) {
  const DType common = result_type(self, other);
  check_result(self, is_floating(common) ? common : kFloat32, op);
  update2(self, other, common, op, [](auto a, auto b) {
    if constexpr (is_floating_v<decltype(a)>) return a / b;
    else return a;  // not reached: the result is floating
  });
}

void div_(const TensorBase& self, double other, const char* op) {
  check_result(self, is_floating(self.dtype()) ? self.dtype() : kFloat32, op);
  update1(self, op, [other](auto a) {
    if constexpr (is_floating_v<decltype(a)>) return a / static_cast<decltype(a)>(other);
    else return a;  // not reached: the result is floating
  });
}

// NaN stays NaN: both comparisons are false for it.
void clamp_(const TensorBase& self, std::optional<double> min, std::optional<double> max, const char* op) {
  if (!min && !max) throw ValueError(fmt::format("{}: at least one of min and max must be given", op));
  if (min) check_scalar(self, *min, op, "min");
  if (max) check_scalar(self, *max, op, "max");
  check_writable(self, op);
  // Selections: a subnormal compares as IEEE says (clamp_into, unary.cpp).
  const KeepDenormalsGuard exact;
  dispatch_numeric(self.dtype(), op, [&]<class T>() {
    const bool has_lo = min.has_value(), has_hi = max.has_value();
    const T lo = checked_scalar<T>(min.value_or(0), op), hi = checked_scalar<T>(max.value_or(0), op);
    // A NaN bound gives NaN everywhere, as clamp's (core/kernels/unary.cpp).
    if constexpr (is_floating_v<T>) {
      if ((has_lo && lo != lo) || (has_hi && hi != hi)) {
        const T nan = has_lo && lo != lo ? lo : hi;
        return map1<T, T>(self, self, [nan](T) { return nan; });
      }
    }
    // As PyTorch, a min above max gives max everywhere.
    map1<T, T>(self, self, [=](T a) {
      if (has_lo && a < lo) a = lo;
      if (has_hi && a > hi) a = hi;
      return a;
    });
  });
}

void relu_(const TensorBase& self, const char* op) {
  // A selection: -1e-39 < 0 as IEEE says, not read as -0 < 0 (float_mode.h).
  const KeepDenormalsGuard exact;
  update1(self, op, [](auto a) { return a < 0 ? decltype(a)(0) : a; });
}

void masked_fill_(const TensorBase& self, const TensorBase& mask, double value, const char* op) {
  if (mask.dtype() != kBool)
    throw DTypeError(fmt::format("{}: the mask must be a bool tensor, got {}", op, dtype_name(mask.dtype())));
  check_writable(self, op);
  check_broadcast(self, mask, op);
  TensorBase m = unaliased(self, mask);
  dispatch(self.dtype(), [&]<class T>() {
    const T v = checked_scalar<T>(value, op);
    map2<T, T, bool>(self, self, m, [v](T a, bool fill) { return fill ? v : a; });
  });
}

TensorBase clamp_mask(const TensorBase& x, std::optional<double> min, std::optional<double> max) {
  const KeepDenormalsGuard exact;  // the comparisons of clamp_
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "clamp_", [&]<class T>() {
    const double lo = min.value_or(-INFINITY), hi = max.value_or(INFINITY);
    map1<T, T>(out, x, [lo, hi](T a) { return (a >= lo && a <= hi) ? T(1) : T(0); });
  });
  return out;
}

TensorBase positive_mask(const TensorBase& x) {
  const KeepDenormalsGuard exact;  // the comparison of relu_
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "relu_",
                    [&]<class T>() { map1<T, T>(out, x, [](T a) { return a > 0 ? T(1) : T(0); }); });
  return out;
}

}  // namespace tg::kernel
