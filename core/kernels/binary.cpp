// Binary elementwise kernels: arithmetic (tensor and scalar forms), pow,
// maximum/minimum, where.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/elementwise_loop.h>
#include <tapegrad/core/kernels/vector_math.h>

namespace tg::kernel {

using namespace ew;

namespace {

void check_no_bool_sub(const char* op, DType a, DType b) {
  if (a == kBool || b == kBool)
    throw DTypeError(fmt::format(
        "{}: subtraction with a bool tensor is not supported; use logical_not, or ne for an exclusive or, instead",
        op));
}

void check_alpha(const char* op, DType result, double alpha) {
  if (!is_floating(result) && !is_whole(alpha))
    throw DTypeError(
        fmt::format("{}: alpha must be a whole number for a {} result, got {}", op, dtype_name(result), alpha));
}

// Whether a nonzero value of x, y or out (n each) is at most the smallest
// normal, where flushing could change an operation's result (a subnormal
// operand, or a result that underflowed or rounded up to the smallest
// normal). On the bits without the sign, |v| in (0, min] is bits - 1 <
// bits(min) unsigned (0 wraps to the largest value; infinities and NaNs lie
// above): one pass, no branch per element. It runs on every small add, sub,
// mul and div; std::abs and two compares per element, in three loops, were
// about 100 of a recorded 1-element add's 1,900 instructions.
template <class T>
bool near_subnormal(const T* x, const T* y, const T* out, std::int64_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr Bits kMagnitude = std::numeric_limits<Bits>::max() >> 1;
  constexpr Bits kMin = std::bit_cast<Bits>(std::numeric_limits<T>::min());
  // 0 or 1 as unsigned, so that the ors below are bitwise on purpose (no
  // branch per element; bitwise | on bools is what Clang warns about).
  const auto tiny = [](T v) -> unsigned { return (std::bit_cast<Bits>(v) & kMagnitude) - 1 < kMin; };
  unsigned any = 0;
  for (std::int64_t i = 0; i < n; ++i) any |= tiny(x[i]) | tiny(y[i]) | tiny(out[i]);
  return any != 0;
}

// Operands this small skip the flush guard's MXCSR writes (about 15 ns, a
// tenth of a recorded one-element add) unless a value is near the subnormal
// range, when the operation runs again under the guard: the same bits as
// always flushing, since each element is one operation (x86 detects tininess
// after rounding, so an underflow shows as a result of magnitude at most the
// smallest normal). The unflushed attempt may leave the denormal and
// underflow exception flags set, which the guarded loop would not raise.
constexpr std::int64_t kUnguardedMax = 16;
constexpr std::int64_t kScalarMax = 4;

template <class T>
T scalar_arith(vec::Arith op, T x, T y) {
  switch (op) {
    case vec::Arith::kAdd:
      return x + y;
    case vec::Arith::kSub:
      return x - y;
    case vec::Arith::kMul:
      return x * y;
    case vec::Arith::kDiv:
      return x / y;
  }
  return x + y;
}

// Same-shape contiguous float or double operands, most of training's
// arithmetic (residual adds, the products of gradients): vec::arith's AVX2
// loops, in blocks on the team when large. False when they do not qualify.
bool flat_arith(vec::Arith op, const TensorBase& out, const TensorBase& a, const TensorBase& b) {
  const DType dt = out.dtype();
  const std::int64_t n = out.numel();
  if ((dt != kFloat32 && dt != kFloat64) || a.dtype() != dt || b.dtype() != dt || a.numel() != n || b.numel() != n ||
      !out.is_contiguous() || !a.is_contiguous() || !b.is_contiguous())
    return false;
  const auto run = [&]<class T>(T) {
    T* o = static_cast<T*>(out.raw_data());
    const T* x = static_cast<const T*>(a.raw_data());
    const T* y = static_cast<const T*>(b.raw_data());
    if (n <= kUnguardedMax) {
      // `out` is a fresh tensor (add, sub, mul and div; in-place ops have
      // their own loops), so x and y still hold the operands for the rerun.
      // A few elements in a scalar loop, without vec::arith's two calls and
      // its dispatch: IEEE arithmetic, so the same bits as its vector loops.
      if (n <= kScalarMax) {
        for (std::int64_t i = 0; i < n; ++i) o[i] = scalar_arith(op, x[i], y[i]);
      } else vec::arith(op, x, y, o, n);
      if (!flush_denormal_enabled() || !near_subnormal(x, y, o, n)) return;
    }
    in_flat_blocks(
        n, [&](std::int64_t begin, std::int64_t count) { vec::arith(op, x + begin, y + begin, o + begin, count); });
  };
  if (dt == kFloat32) run(float{});
  else run(double{});
  return true;
}

// out = a + alpha * b, computed in dt (sub passes -alpha).
void add_into(const TensorBase& out, const TensorBase& a, const TensorBase& b, double alpha, DType dt) {
  if ((alpha == 1 || alpha == -1) && flat_arith(alpha == 1 ? vec::Arith::kAdd : vec::Arith::kSub, out, a, b)) return;
  dispatch(dt, [&]<class T>() {
    const T s = scalar_as<T>(alpha);
    binary_compute<T>(out, a, b, [s](T x, T y) -> T {
      if constexpr (std::is_same_v<T, bool>) return x || (s && y);
      else if constexpr (is_int_v<T>) return wrap_add(x, wrap_mul(s, y));
      else return x + s * y;
    });
  });
}

void mul_into(const TensorBase& out, const TensorBase& a, const TensorBase& b, DType dt) {
  if (flat_arith(vec::Arith::kMul, out, a, b)) return;
  dispatch(dt, [&]<class T>() {
    binary_compute<T>(out, a, b, [](T x, T y) -> T {
      if constexpr (std::is_same_v<T, bool>) return x && y;
      else if constexpr (is_int_v<T>) return wrap_mul(x, y);
      else return x * y;
    });
  });
}

void div_into(const TensorBase& out, const TensorBase& a, const TensorBase& b, DType dt) {
  if (flat_arith(vec::Arith::kDiv, out, a, b)) return;
  dispatch_floating(dt, "div", [&]<class T>() { binary_compute<T>(out, a, b, [](T x, T y) -> T { return x / y; }); });
}

void scalar_add_into(const TensorBase& out, const TensorBase& a, double b, DType dt) {
  dispatch_numeric(dt, "add", [&]<class T>() {
    const T v = scalar_as<T>(b);
    unary_compute<T>(out, a, [v](T x) -> T {
      if constexpr (is_int_v<T>) return wrap_add(x, v);
      else return x + v;
    });
  });
}

void scalar_mul_into(const TensorBase& out, const TensorBase& a, double b, DType dt) {
  dispatch_numeric(dt, "mul", [&]<class T>() {
    const T v = scalar_as<T>(b);
    unary_compute<T>(out, a, [v](T x) -> T {
      if constexpr (is_int_v<T>) return wrap_mul(x, v);
      else return x * v;
    });
  });
}

void scalar_div_into(const TensorBase& out, const TensorBase& a, double b, DType dt) {
  dispatch_floating(dt, "div", [&]<class T>() {
    const T v = scalar_as<T>(b);
    unary_compute<T>(out, a, [v](T x) -> T { return x / v; });
  });
}

DType true_division_type(DType d) { return is_floating(d) ? d : kFloat32; }

// PyTorch's integer power: exponent < 0 gives 0 unless the base is 1 or -1.
template <class T>
T int_pow(T base, T exponent) {
  if constexpr (std::is_signed_v<T>) {
    if (exponent < 0) {
      if (base == 1) return 1;
      if (base == -1) return (exponent & 1) ? T(-1) : T(1);
      return 0;
    }
  }
  T result = 1;
  while (exponent) {
    if (exponent & 1) result = wrap_mul(result, base);
    exponent >>= 1;
    if (exponent) base = wrap_mul(base, base);
  }
  return result;
}

// Shape of where(condition, a, b): all three broadcast together.
Dims where_shape(const Dims& c, const Dims& a, const Dims& b) {
  const int n = std::max({c.size(), a.size(), b.size()});
  Dims out = Dims::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    for (const Dims* d : {&c, &a, &b}) {
      const int j = d->size() - n + i;
      const std::int64_t s = j >= 0 ? (*d)[j] : 1;
      if (s == 1) continue;
      if (out[i] != 1 && out[i] != s)
        throw ShapeError(fmt::format("where: condition {}, a {} and b {} cannot be broadcast together", shape_str(c),
                                     shape_str(a), shape_str(b)));
      out[i] = s;
    }
  }
  return out;
}

void check_condition(const TensorBase& condition) {
  if (condition.dtype() != kBool)
    throw DTypeError(
        fmt::format("where: condition must be a bool tensor, got {} (make one with a comparison, e.g. x > 0)",
                    dtype_name(condition.dtype())));
}

}  // namespace

// ---- arithmetic ----------------------------------------------------------------

TensorBase add(const TensorBase& a, const TensorBase& b, double alpha) {
  const Dims shape = binary_shape(a, b, "add");
  const DType dt = result_type(a, b);
  if (alpha != 1) check_alpha("add", dt, alpha);
  TensorBase out = make_tensor(shape, dt);
  add_into(out, a, b, alpha, dt);
  return out;
}

TensorBase sub(const TensorBase& a, const TensorBase& b, double alpha) {
  check_no_bool_sub("sub", a.dtype(), b.dtype());
  const Dims shape = binary_shape(a, b, "sub");
  const DType dt = result_type(a, b);
  if (alpha != 1) check_alpha("sub", dt, alpha);
  TensorBase out = make_tensor(shape, dt);
  add_into(out, a, b, -alpha, dt);
  return out;
}

TensorBase mul(const TensorBase& a, const TensorBase& b) {
  const Dims shape = binary_shape(a, b, "mul");
  const DType dt = result_type(a, b);
  TensorBase out = make_tensor(shape, dt);
  mul_into(out, a, b, dt);
  return out;
}

TensorBase div(const TensorBase& a, const TensorBase& b) {
  const Dims shape = binary_shape(a, b, "div");
  const DType dt = true_division_type(result_type(a, b));
  TensorBase out = make_tensor(shape, dt);
  div_into(out, a, b, dt);
  return out;
}

TensorBase add(const TensorBase& a, double b) {
  const DType dt = scalar_result_type(a.dtype(), b);
  TensorBase out = make_tensor(a.shape(), dt);
  scalar_add_into(out, a, b, dt);
  return out;
}

TensorBase sub(const TensorBase& a, double b) {
  check_no_bool_sub("sub", a.dtype(), a.dtype());
  return add(a, -b);
}

TensorBase rsub(const TensorBase& a, double b) {
  check_no_bool_sub("rsub", a.dtype(), a.dtype());
  const DType dt = scalar_result_type(a.dtype(), b);
  TensorBase out = make_tensor(a.shape(), dt);
  dispatch_numeric(dt, "rsub", [&]<class T>() {
    const T v = scalar_as<T>(b);
    unary_compute<T>(out, a, [v](T x) -> T {
      if constexpr (is_int_v<T>) return wrap_sub(v, x);
      else return v - x;
    });
  });
  return out;
}

TensorBase mul(const TensorBase& a, double b) {
  const DType dt = scalar_result_type(a.dtype(), b);
  TensorBase out = make_tensor(a.shape(), dt);
  scalar_mul_into(out, a, b, dt);
  return out;
}

TensorBase div(const TensorBase& a, double b) {
  const DType dt = true_division_type(a.dtype());
  TensorBase out = make_tensor(a.shape(), dt);
  scalar_div_into(out, a, b, dt);
  return out;
}

TensorBase rdiv(const TensorBase& a, double b) {
  const DType dt = true_division_type(a.dtype());
  TensorBase out = make_tensor(a.shape(), dt);
  dispatch_floating(dt, "rdiv", [&]<class T>() {
    const T v = scalar_as<T>(b);
    unary_compute<T>(out, a, [v](T x) -> T { return v / x; });
  });
  return out;
}

// ---- pow -------------------------------------------------------------------------------

TensorBase pow(const TensorBase& x, double exponent) {
  const DType dt = scalar_result_type(x.dtype(), exponent);
  if (!is_floating(dt) && exponent < 0)
    throw ValueError(fmt::format("pow: integers to negative integer powers are not allowed (exponent {})", exponent));
  TensorBase out = make_tensor(x.shape(), dt);
  dispatch_numeric(dt, "pow", [&]<class T>() {
    if constexpr (is_int_v<T>) {
      // An exponent the dtype cannot hold is refused, as PyTorch's (int8
      // ^ 128): the cast would be undefined, and wrapped gave 3^128 == 1.
      const T e = checked_element<T>(exponent, "pow");
      unary_compute<T>(out, x, [e](T v) { return int_pow(v, e); });
    } else if (exponent == 2) {
      unary_compute<T>(out, x, [](T v) { return v * v; });
    } else if (exponent == 3) {
      unary_compute<T>(out, x, [](T v) { return v * v * v; });
    } else if (exponent == 1) {
      unary_compute<T>(out, x, [](T v) { return v; });
    } else if (exponent == 0.5) {
      unary_compute<T>(out, x, [](T v) { return std::sqrt(v); });
    } else if (exponent == -1) {
      unary_compute<T>(out, x, [](T v) { return T(1) / v; });
    } else {
      // libm's pow reads a subnormal base by its bits ("libm" in float_mode.h).
      const KeepDenormalsGuard exact;
      const T e = static_cast<T>(exponent);
      unary_compute<T>(out, x, [e](T v) { return std::pow(v, e); });
    }
  });
  return out;
}

TensorBase pow(const TensorBase& x, const TensorBase& exponent) {
  const KeepDenormalsGuard exact;  // libm's pow ("libm" in float_mode.h)
  const Dims shape = binary_shape(x, exponent, "pow");
  const DType dt = result_type(x, exponent);
  TensorBase out = make_tensor(shape, dt);
  dispatch_numeric(dt, "pow", [&]<class T>() {
    binary_compute<T>(out, x, exponent, [](T v, T e) -> T {
      if constexpr (is_int_v<T>) return int_pow(v, e);
      else return std::pow(v, e);
    });
  });
  return out;
}

TensorBase pow(double base, const TensorBase& exponent) {
  const KeepDenormalsGuard exact;  // libm's pow ("libm" in float_mode.h)
  const DType dt = scalar_result_type(exponent.dtype(), base);
  TensorBase out = make_tensor(exponent.shape(), dt);
  dispatch_numeric(dt, "pow", [&]<class T>() {
    const T b = scalar_as<T>(base);
    unary_compute<T>(out, exponent, [b](T e) -> T {
      if constexpr (is_int_v<T>) return int_pow(b, e);
      else return std::pow(b, e);
    });
  });
  return out;
}

// ---- maximum, minimum, where -------------------------------------------------------

// `x != x` is true only for NaN, which wins both ways, as PyTorch.
TensorBase maximum(const TensorBase& a, const TensorBase& b) {
  // Comparisons: a subnormal is not 0 (float_mode.h).
  const KeepDenormalsGuard exact;
  const Dims shape = binary_shape(a, b, "maximum");
  const DType dt = result_type(a, b);
  TensorBase out = make_tensor(shape, dt);
  dispatch(dt,
           [&]<class T>() { binary_compute<T>(out, a, b, [](T x, T y) -> T { return (x > y || x != x) ? x : y; }); });
  return out;
}

TensorBase minimum(const TensorBase& a, const TensorBase& b) {
  const KeepDenormalsGuard exact;
  const Dims shape = binary_shape(a, b, "minimum");
  const DType dt = result_type(a, b);
  TensorBase out = make_tensor(shape, dt);
  dispatch(dt,
           [&]<class T>() { binary_compute<T>(out, a, b, [](T x, T y) -> T { return (x < y || x != x) ? x : y; }); });
  return out;
}

TensorBase max_grad_weight(const TensorBase& a, const TensorBase& b, DType dtype) {
  const KeepDenormalsGuard exact;  // the forward's comparisons (maximum, minimum)
  const Dims shape = binary_shape(a, b, "maximum");
  const DType compare = result_type(a, b);
  TensorBase out = make_tensor(shape, dtype);
  dispatch_floating(dtype, "max_grad_weight", [&]<class O>() {
    dispatch(compare, [&]<class T>() {
      binary_compute<T, O>(out, a, b, [](T x, T y) -> O { return x < y ? O(0) : x == y ? O(0.5) : O(1); });
    });
  });
  return out;
}

TensorBase where(const TensorBase& condition, const TensorBase& a, const TensorBase& b) {
  check_condition(condition);
  const Dims shape = where_shape(condition.shape(), a.shape(), b.shape());
  const DType dt = result_type(a, b);
  TensorBase out = make_tensor(shape, dt);
  dispatch(dt, [&]<class T>() {
    As ca(a, dt), cb(b, dt);
    map3<T, bool, T, T>(out, condition, *ca, *cb, [](bool c, T x, T y) { return c ? x : y; });
  });
  return out;
}

TensorBase where(const TensorBase& condition, const TensorBase& a, double b) {
  check_condition(condition);
  const Dims shape = binary_shape(condition, a, "where");
  const DType dt = scalar_result_type(a.dtype(), b);
  TensorBase out = make_tensor(shape, dt);
  dispatch(dt, [&]<class T>() {
    As ca(a, dt);
    // Stored in the result, so checked as full's value (PyTorch refuses 1e300 for float32).
    const T v = checked_scalar<T>(b, "where");
    binary_into<T, bool, T>(out, condition, *ca, [v](bool c, T x) { return c ? x : v; });
  });
  return out;
}

TensorBase where(const TensorBase& condition, double a, const TensorBase& b) {
  check_condition(condition);
  const Dims shape = binary_shape(condition, b, "where");
  const DType dt = scalar_result_type(b.dtype(), a);
  TensorBase out = make_tensor(shape, dt);
  dispatch(dt, [&]<class T>() {
    As cb(b, dt);
    const T v = checked_scalar<T>(a, "where");
    binary_into<T, bool, T>(out, condition, *cb, [v](bool c, T y) { return c ? v : y; });
  });
  return out;
}

}  // namespace tg::kernel
