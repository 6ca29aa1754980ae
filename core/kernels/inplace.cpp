#include "core/kernels/inplace.h"

#include <cmath>

#include <fmt/format.h>

#include "core/kernels/copy.h"
#include "core/kernels/loop.h"

namespace tg::kernel {
namespace {

void check_broadcast(const Tensor& self, const Tensor& other, const char* op) {
  if (broadcast_shapes(self.shape(), other.shape(), op) != self.shape())
    throw ShapeError(fmt::format("{}: the other operand of shape {} cannot be broadcast to the shape {} of the "
                                 "tensor being modified",
                                 op, shape_str(other.sizes()), shape_str(self.sizes())));
}

void check_arithmetic(const Tensor& self, DType other, const char* op) {
  if (self.dtype() == kBool)
    throw DTypeError(fmt::format("{}: arithmetic on a bool tensor is not supported; convert it with to() first", op));
  if (!is_floating(self.dtype()) && is_floating(promote_types(self.dtype(), other)))
    throw DTypeError(fmt::format("{}: the result is {} and cannot be stored in the {} tensor being modified", op,
                                 dtype_name(promote_types(self.dtype(), other)), dtype_name(self.dtype())));
}

// A double scalar counts as an integer for int64 tensors when its value is one.
void check_scalar(const Tensor& self, double value, const char* op, const char* what) {
  if (self.dtype() == kBool)
    throw DTypeError(fmt::format("{}: arithmetic on a bool tensor is not supported; convert it with to() first", op));
  if (self.dtype() == kInt64 && std::trunc(value) != value)
    throw DTypeError(fmt::format("{}: {} {} is not an integer and cannot be applied to an int64 tensor in place", op,
                                 what, value));
  // Infinities pass the test above, and casting them to int64 is undefined.
  if (self.dtype() == kInt64 && !(value >= -0x1p63 && value < 0x1p63))
    throw ValueError(fmt::format("{}: {} {} is out of the range of int64", op, what, value));
}

// a + b and a * b; int64 wraps modulo 2^64 as the out-of-place ops do
// (signed overflow is undefined behaviour).
template <class T>
T plus(T a, T b) {
  if constexpr (std::is_same_v<T, std::int64_t>)
    return static_cast<T>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
  else
    return a + b;
}
template <class T>
T times(T a, T b) {
  if constexpr (std::is_same_v<T, std::int64_t>)
    return static_cast<T>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
  else
    return a * b;
}

// self[i] = f(self[i], other[i]) with other's elements converted to self's type.
template <class F>
void update2(const Tensor& self, const Tensor& other_in, const char* op, F f) {
  check_writable(self, op);
  check_broadcast(self, other_in, op);
  Tensor other = unaliased(self, other_in);
  dispatch_numeric(self.dtype(), op, [&]<class T>() {
    dispatch(other.dtype(), [&]<class O>() {
      map2<T, T, O>(self, self, other, [f](T a, O b) { return f(a, static_cast<T>(b)); });
    });
  });
}

template <class F>
void update1(const Tensor& self, const char* op, F f) {
  check_writable(self, op);
  dispatch_numeric(self.dtype(), op, [&]<class T>() { map1<T, T>(self, self, [f](T a) { return f(a); }); });
}

}  // namespace

Tensor unaliased(const Tensor& self, const Tensor& other) {
  if (other.storage() != self.storage()) return other;
  if (other.storage_offset() == self.storage_offset() && other.shape() == self.shape() &&
      Dims(other.strides()) == Dims(self.strides()))
    return other;
  return clone(other);
}

void check_writable(const Tensor& self, const char* op) {
  for (int d = 0; d < self.dim(); ++d)
    if (self.stride(d) == 0 && self.size(d) > 1)
      throw ValueError(fmt::format(
          "{}: the tensor being modified (shape {}, strides {}) is expanded along dim {}, so several of its "
          "elements share one memory location; call clone() or contiguous() first",
          op, shape_str(self.sizes()), shape_str(self.strides()), d));
}

void add_(const Tensor& self, const Tensor& other, double alpha, const char* op) {
  check_arithmetic(self, other.dtype(), op);
  check_scalar(self, alpha, op, "alpha");
  if (alpha == 1) update2(self, other, op, [](auto a, auto b) { return plus(a, b); });
  else update2(self, other, op, [alpha](auto a, auto b) { return plus(a, times(static_cast<decltype(a)>(alpha), b)); });
}

void add_(const Tensor& self, double other, const char* op) {
  check_scalar(self, other, op, "the scalar");
  update1(self, op, [other](auto a) { return plus(a, static_cast<decltype(a)>(other)); });
}

void mul_(const Tensor& self, const Tensor& other, const char* op) {
  check_arithmetic(self, other.dtype(), op);
  update2(self, other, op, [](auto a, auto b) { return times(a, b); });
}

void mul_(const Tensor& self, double other, const char* op) {
  check_scalar(self, other, op, "the scalar");
  update1(self, op, [other](auto a) { return times(a, static_cast<decltype(a)>(other)); });
}

// True division: an integer tensor cannot hold its result.
void div_(const Tensor& self, const Tensor& other, const char* op) {
  dispatch_floating(self.dtype(), op, []<class>() {});
  update2(self, other, op, [](auto a, auto b) { return a / b; });
}

void div_(const Tensor& self, double other, const char* op) {
  dispatch_floating(self.dtype(), op, []<class>() {});
  update1(self, op, [other](auto a) { return a / static_cast<decltype(a)>(other); });
}

// NaN stays NaN: both comparisons are false for it.
void clamp_(const Tensor& self, std::optional<double> min, std::optional<double> max, const char* op) {
  if (!min && !max) throw ValueError(fmt::format("{}: at least one of min and max must be given", op));
  if (min) check_scalar(self, *min, op, "min");
  if (max) check_scalar(self, *max, op, "max");
  check_writable(self, op);
  dispatch_numeric(self.dtype(), op, [&]<class T>() {
    const bool has_lo = min.has_value(), has_hi = max.has_value();
    const T lo = static_cast<T>(min.value_or(0)), hi = static_cast<T>(max.value_or(0));
    // As PyTorch, a min above max gives max everywhere.
    map1<T, T>(self, self, [=](T a) {
      if (has_lo && a < lo) a = lo;
      if (has_hi && a > hi) a = hi;
      return a;
    });
  });
}

void relu_(const Tensor& self, const char* op) {
  update1(self, op, [](auto a) { return a < 0 ? decltype(a)(0) : a; });
}

void masked_fill_(const Tensor& self, const Tensor& mask, double value, const char* op) {
  if (mask.dtype() != kBool)
    throw DTypeError(fmt::format("{}: the mask must be a bool tensor, got {}", op, dtype_name(mask.dtype())));
  check_writable(self, op);
  check_broadcast(self, mask, op);
  Tensor m = unaliased(self, mask);
  dispatch(self.dtype(), [&]<class T>() {
    const T v = checked_scalar<T>(value, op);
    map2<T, T, bool>(self, self, m, [v](T a, bool fill) { return fill ? v : a; });
  });
}

Tensor clamp_mask(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  Tensor out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "clamp_", [&]<class T>() {
    const double lo = min.value_or(-INFINITY), hi = max.value_or(INFINITY);
    map1<T, T>(out, x, [lo, hi](T a) { return (a >= lo && a <= hi) ? T(1) : T(0); });
  });
  return out;
}

Tensor positive_mask(const Tensor& x) {
  Tensor out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "relu_", [&]<class T>() { map1<T, T>(out, x, [](T a) { return a > 0 ? T(1) : T(0); }); });
  return out;
}

}  // namespace tg::kernel
