// The math functions and activations of core/kernels/math.h. Each is one pass
// through ew::unary_into/binary_into (a contiguous loop the compiler can
// vectorise, the strided plan otherwise).
#include <tapegrad/core/kernels/math.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>
#include <type_traits>

#include <fmt/format.h>

#include <tapegrad/core/dtype_check.h>
#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/elementwise_loop.h>

namespace tg::kernel {

using namespace ew;

namespace {

// y = f(x) for a real function: int64 and bool inputs compute in float32.
template <class F>
TensorBase real_unary(const TensorBase& x, F f) {
  const DType dt = is_floating(x.dtype()) ? x.dtype() : kFloat32;
  TensorBase out = make_tensor(x.shape(), dt);
  // A 16-bit float computes in float32 and rounds once on store, as PyTorch's.
  if (dt == kFloat64) unary_compute<double>(out, x, f);
  else if (dt == kFloat16) unary_compute<float, Half>(out, x, f);
  else if (dt == kBFloat16) unary_compute<float, BFloat16>(out, x, f);
  else unary_compute<float>(out, x, f);
  return out;
}

// y = f(x) for an op PyTorch defines on floating tensors only.
template <class F>
TensorBase floating_unary(const char* op, const TensorBase& x, F f) {
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&]<class T>() { unary_into<T, T>(out, x, f); });
  return out;
}

// floor, ceil, round, trunc: an integer tensor is already whole (a copy), bool has no order.
template <class F>
TensorBase rounding(const char* op, const TensorBase& x, F f) {
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_numeric(x.dtype(), op, [&]<class T>() {
    if constexpr (is_floating_v<T>) unary_into<T, T>(out, x, f);
    else unary_into<T, T>(out, x, [](T v) { return v; });
  });
  return out;
}

// As PyTorch: a bool operand promotes (bool with int64 is int64), only a
// bool result has no fmod/remainder ("not implemented for 'Bool'").
void check_no_bool(const char* op, const TensorBase& a, const TensorBase& b) {
  if (result_type(a, b) == kBool)
    throw DTypeError(fmt::format("{}: not supported for bool tensors (got {} and {})", op, dtype_name(a.dtype()),
                                 dtype_name(b.dtype())));
}

// Integer fmod/remainder by zero is undefined (SIGFPE); PyTorch raises
// ZeroDivisionError. The divisor is checked as the op reads it, in the
// result's dtype `dt`: an int64 256 divides a uint8 tensor as 0.
void check_no_zero_divisor(const char* op, const TensorBase& b, DType dt) {
  const TensorBase zero = eq(b.dtype() == dt ? b : to(b, dt), 0.0);
  const TensorBase c = contiguous(zero);
  const bool* p = c.data_ptr<bool>();
  for (std::int64_t i = 0, n = c.numel(); i < n; ++i)
    if (p[i])
      throw ValueError(fmt::format("{}: integer division by zero (divisor {} holds a 0 as {})", op,
                                   shape_str(b.shape()), dtype_name(dt)));
}

template <class T>
T int_fmod(T x, T y) {
  return y == -1 ? T(0) : x % y;  // INT64_MIN % -1 overflows
}
template <class T>
T int_remainder(T x, T y) {
  const T r = int_fmod(x, y);
  return r != 0 && ((r < 0) != (y < 0)) ? r + y : r;
}
// PyTorch's float remainder: fmod moved to the divisor's sign.
template <class T>
T float_remainder(T x, T y) {
  T r = std::fmod(x, y);
  if (r != 0 && ((y < 0) != (r < 0))) r += y;
  return r;
}

template <class T>
T lerp_value(T s, T e, T w) {
  // Two-sided so that weight 0 gives start and weight 1 gives end exactly.
  return std::abs(w) < T(0.5) ? s + w * (e - s) : e - (e - s) * (T(1) - w);
}

void check_same_dtype(const char* op, const char* what, const TensorBase& a, const TensorBase& b) {
  if (a.dtype() != b.dtype())
    throw DTypeError(
        fmt::format("{}: expected {} of dtype {}, got {}", op, what, dtype_name(a.dtype()), dtype_name(b.dtype())));
}

// erfinv in double: Giles' single-precision approximation ("Approximating the
// erfinv function", GPU Gems 2012), then Newton steps; near +-1 the steps
// solve erfc(y) = 1 - |x|, whose right side is exact there, so the tail keeps
// full precision instead of losing it to 1 - erf(y).
double erfinv_double(double x) {
  if (std::isnan(x)) return x;
  const double ax = std::abs(x);
  if (ax >= 1)
    return ax == 1 ? std::copysign(std::numeric_limits<double>::infinity(), x)
                   : std::numeric_limits<double>::quiet_NaN();
  if (ax == 0) return x;
  double w = -std::log((1.0 - ax) * (1.0 + ax)), p;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double y = p * ax;
  constexpr double k = 2 * std::numbers::inv_sqrtpi;  // erf'(0)
  if (ax <= 0.5) {
    for (int i = 0; i < 3; ++i) y -= (std::erf(y) - ax) / (k * std::exp(-y * y));
  } else {
    // Newton on log(erfc(y)) = log(1 - |x|): nearly quadratic in y, so it
    // converges from the approximation's few digits even deep in the tail.
    const double target = std::log(1.0 - ax);
    for (int i = 0; i < 8; ++i) {
      const double c = std::erfc(y);
      const double step = (std::log(c) - target) * c / (k * std::exp(-y * y));
      y += step;
      if (std::abs(step) <= 1e-17 * y) break;
    }
  }
  return std::copysign(y, x);
}

template <class T>
T softplus_value(T v, T beta, T threshold) {
  const T bx = v * beta;
  return bx > threshold ? v : T(std::log1p(std::exp(bx)) / beta);
}

}  // namespace

// ---- real functions -----------------------------------------------------------------

// `v` is a float or a double.
#define TG_REAL_UNARY(name, expr)                                     \
  TensorBase name(const TensorBase& x) {                              \
    return real_unary(x, [](auto v) -> decltype(v) { return expr; }); \
  }

TG_REAL_UNARY(sin, std::sin(v))
TG_REAL_UNARY(cos, std::cos(v))
TG_REAL_UNARY(tan, std::tan(v))
TG_REAL_UNARY(asin, std::asin(v))
TG_REAL_UNARY(acos, std::acos(v))
TG_REAL_UNARY(atan, std::atan(v))
TG_REAL_UNARY(sinh, std::sinh(v))
TG_REAL_UNARY(cosh, std::cosh(v))
TG_REAL_UNARY(asinh, std::asinh(v))
TG_REAL_UNARY(acosh, std::acosh(v))
TG_REAL_UNARY(atanh, std::atanh(v))
TG_REAL_UNARY(erf, std::erf(v))
TG_REAL_UNARY(erfc, std::erfc(v))
TG_REAL_UNARY(expm1, std::expm1(v))
TG_REAL_UNARY(exp2, std::exp2(v))
TG_REAL_UNARY(reciprocal, decltype(v)(1) / v)

#undef TG_REAL_UNARY

// Functions that take a subnormal input apart by its bits (libm's log
// family, erfinv's scaling near 0): under denormals-are-zero they read it
// half as a number and half as zero and return neither f(x) nor f(0), so
// they run with subnormals kept (float_mode.h, "libm").
#define TG_REAL_UNARY(name, expr)                                     \
  TensorBase name(const TensorBase& x) {                              \
    const KeepDenormalsGuard exact;                                   \
    return real_unary(x, [](auto v) -> decltype(v) { return expr; }); \
  }

TG_REAL_UNARY(erfinv, static_cast<decltype(v)>(erfinv_double(static_cast<double>(v))))
TG_REAL_UNARY(log2, std::log2(v))
TG_REAL_UNARY(log10, std::log10(v))

#undef TG_REAL_UNARY

// ---- rounding -------------------------------------------------------------------------

TensorBase floor(const TensorBase& x) {
  return rounding("floor", x, [](auto v) { return std::floor(v); });
}
TensorBase ceil(const TensorBase& x) {
  return rounding("ceil", x, [](auto v) { return std::ceil(v); });
}
// nearbyint in the default rounding mode rounds halves to even, as torch.round.
TensorBase round(const TensorBase& x) {
  return rounding("round", x, [](auto v) { return std::nearbyint(v); });
}
// PyTorch's formula, so that results agree to the last bit: x * 10^d (or
// x / 10^-d) rounded, then scaled back.
TensorBase round(const TensorBase& x, std::int64_t decimals) {
  if (decimals == 0) return round(x);
  const bool negative = decimals < 0;
  // |decimals| in double: -INT64_MIN does not exist as an int64.
  const double ten_pow = std::pow(10.0, std::abs(static_cast<double>(decimals)));
  return floating_unary("round", x, [negative, ten_pow](auto v) {
    using T = decltype(v);
    const T p = static_cast<T>(ten_pow);
    return negative ? std::nearbyint(v / p) * p : std::nearbyint(v * p) / p;
  });
}

TensorBase trunc(const TensorBase& x) {
  return rounding("trunc", x, [](auto v) { return std::trunc(v); });
}
TensorBase frac(const TensorBase& x) {
  return floating_unary("frac", x, [](auto v) { return v - std::trunc(v); });
}

// ---- binary functions ---------------------------------------------------------------------

TensorBase atan2(const TensorBase& a, const TensorBase& b) {
  // libm's atan2 scales a subnormal operand by its bits: under
  // denormals-are-zero atan2(1e-39, 1e-39) was NaN, atan2(1e-310, -1) -pi
  // (neither f(x) nor f(0)), so the operands are kept ("libm" in float_mode.h).
  const KeepDenormalsGuard exact;
  const Dims shape = binary_shape(a, b, "atan2");
  const DType rt = result_type(a, b);
  const DType dt = is_floating(rt) ? rt : kFloat32;
  TensorBase out = make_tensor(shape, dt);
  dispatch_floating(dt, "atan2",
                    [&]<class T>() { binary_compute<T>(out, a, b, [](T y, T x) { return std::atan2(y, x); }); });
  return out;
}

TensorBase hypot(const TensorBase& a, const TensorBase& b) {
  const Dims shape = binary_shape(a, b, "hypot");
  const DType dt = result_type(a, b);
  TensorBase out = make_tensor(shape, dt);
  dispatch_floating(dt, "hypot",
                    [&]<class T>() { binary_compute<T>(out, a, b, [](T x, T y) { return std::hypot(x, y); }); });
  return out;
}

TensorBase fmod(const TensorBase& a, const TensorBase& b) {
  // Exact, as fmod is: a subnormal operand is not read as 0 ("libm" in float_mode.h).
  const KeepDenormalsGuard exact;
  check_no_bool("fmod", a, b);
  const Dims shape = binary_shape(a, b, "fmod");
  const DType dt = result_type(a, b);
  if (!is_floating(dt)) check_no_zero_divisor("fmod", b, dt);
  TensorBase out = make_tensor(shape, dt);
  dispatch_numeric(dt, "fmod", [&]<class T>() {
    binary_compute<T>(out, a, b, [](T x, T y) -> T {
      if constexpr (is_floating_v<T>) return std::fmod(x, y);
      else return int_fmod(x, y);
    });
  });
  return out;
}

TensorBase remainder(const TensorBase& a, const TensorBase& b) {
  // Exact, as fmod is: a subnormal operand is not read as 0 ("libm" in float_mode.h).
  const KeepDenormalsGuard exact;
  check_no_bool("remainder", a, b);
  const Dims shape = binary_shape(a, b, "remainder");
  const DType dt = result_type(a, b);
  if (!is_floating(dt)) check_no_zero_divisor("remainder", b, dt);
  TensorBase out = make_tensor(shape, dt);
  dispatch_numeric(dt, "remainder", [&]<class T>() {
    binary_compute<T>(out, a, b, [](T x, T y) -> T {
      if constexpr (is_floating_v<T>) return float_remainder(x, y);
      else return int_remainder(x, y);
    });
  });
  return out;
}

TensorBase fmod(const TensorBase& a, double b) {
  // Exact, as fmod is: a subnormal operand is not read as 0 ("libm" in float_mode.h).
  const KeepDenormalsGuard exact;
  const DType dt = scalar_result_type(a.dtype(), b);
  TensorBase out = make_tensor(a.shape(), dt);
  dispatch_numeric(dt, "fmod", [&]<class T>() {
    const T d = scalar_as<T>(b);
    // As the op reads it: 256 is 0 as uint8.
    if (!is_floating(dt) && d == T(0))
      throw ValueError(
          b == 0 ? std::string("fmod: integer division by zero (the divisor is 0)")
                 : fmt::format("fmod: integer division by zero (the divisor {} is 0 as {})", b, dtype_name(dt)));
    unary_compute<T>(out, a, [d](T x) -> T {
      if constexpr (is_floating_v<T>) return std::fmod(x, d);
      else return int_fmod(x, d);
    });
  });
  return out;
}

TensorBase remainder(const TensorBase& a, double b) {
  // Exact, as fmod is: a subnormal operand is not read as 0 ("libm" in float_mode.h).
  const KeepDenormalsGuard exact;
  const DType dt = scalar_result_type(a.dtype(), b);
  TensorBase out = make_tensor(a.shape(), dt);
  dispatch_numeric(dt, "remainder", [&]<class T>() {
    const T d = scalar_as<T>(b);
    // As the op reads it: 256 is 0 as uint8.
    if (!is_floating(dt) && d == T(0))
      throw ValueError(
          b == 0 ? std::string("remainder: integer division by zero (the divisor is 0)")
                 : fmt::format("remainder: integer division by zero (the divisor {} is 0 as {})", b, dtype_name(dt)));
    unary_compute<T>(out, a, [d](T x) -> T {
      if constexpr (is_floating_v<T>) return float_remainder(x, d);
      else return int_remainder(x, d);
    });
  });
  return out;
}

TensorBase div_floor(const TensorBase& a, const TensorBase& b) {
  const Dims shape = binary_shape(a, b, "div_floor");
  const DType dt = result_type(a, b);
  TensorBase out = make_tensor(shape, dt);
  dispatch_floating(dt, "div_floor", [&]<class T>() {
    binary_compute<T>(out, a, b, [](T x, T y) -> T {
      if (y == 0) return x / y;
      const T mod = std::fmod(x, y);
      T d = (x - mod) / y;
      if (mod != 0 && ((y < 0) != (mod < 0))) d -= T(1);
      if (d == 0) return std::copysign(T(0), x / y);
      T f = std::floor(d);
      if (d - f > T(0.5)) f += T(1);
      return f;
    });
  });
  return out;
}

TensorBase lerp(const TensorBase& start, const TensorBase& end, double weight) {
  check_same_dtype("lerp", "end", start, end);
  const Dims shape = binary_shape(start, end, "lerp");
  TensorBase out = make_tensor(shape, start.dtype());
  dispatch_floating(start.dtype(), "lerp", [&]<class T>() {
    using P = param_t<T>;
    const P w = static_cast<P>(weight);
    binary_into<T, T, T>(out, start, end, [w](T s, T e) { return T(lerp_value<P>(P(s), P(e), w)); });
  });
  return out;
}

TensorBase lerp(const TensorBase& start, const TensorBase& end, const TensorBase& weight) {
  check_same_dtype("lerp", "end", start, end);
  check_same_dtype("lerp", "weight", start, weight);
  const Dims shape = broadcast_shapes(binary_shape(start, end, "lerp"), weight.shape(), "lerp");
  TensorBase out = make_tensor(shape, start.dtype());
  dispatch_floating(start.dtype(), "lerp", [&]<class T>() {
    map3<T, T, T, T>(out, start, end, weight, [](T s, T e, T w) { return lerp_value(s, e, w); });
  });
  return out;
}

TensorBase clamp_tensors(const TensorBase& x, const TensorBase& min, const TensorBase& max) {
  if (!min.defined() && !max.defined()) throw ValueError("clamp: at least one of min and max must be given");
  // PyTorch's result type of the three together: the dimensioned operands'
  // dtypes promoted, lifted by a 0-d one only of a higher category (a 0-d
  // float64 x with float32 [3] bounds gives float32). Pairwise, x's own
  // dtype came back in.
  const DType dt = result_type({&x, &min, &max});
  Dims shape = x.shape();
  if (min.defined()) shape = broadcast_shapes(shape, min.shape(), "clamp");
  if (max.defined()) shape = broadcast_shapes(shape, max.shape(), "clamp");
  const KeepDenormalsGuard exact;  // a selection (clamp_into)
  TensorBase out = make_tensor(shape, dt);
  // bool too, as PyTorch's and as clamp with scalar bounds (false < true).
  dispatch(dt, [&]<class T>() {
    // NaN in x stays; NaN in a bound gives NaN (the comparisons alone would drop it).
    auto lo = [](T v, T l) -> T {
      if constexpr (is_floating_v<T>)
        if (v != v || l != l) return v != v ? v : l;
      return v < l ? l : v;
    };
    auto hi = [](T v, T h) -> T {
      if constexpr (is_floating_v<T>)
        if (v != v || h != h) return v != v ? v : h;
      return v > h ? h : v;
    };
    As cx(x, dt);
    if (min.defined() && max.defined()) {
      As cl(min, dt), ch(max, dt);
      map3<T, T, T, T>(out, *cx, *cl, *ch, [lo, hi](T v, T l, T h) { return hi(lo(v, l), h); });
    } else if (min.defined()) {
      As cl(min, dt);
      binary_into<T, T, T>(out, *cx, *cl, lo);
    } else {
      As ch(max, dt);
      binary_into<T, T, T>(out, *cx, *ch, hi);
    }
  });
  return out;
}

// ---- non-finite values ------------------------------------------------------------------

TensorBase nan_to_num(const TensorBase& x, double nan, std::optional<double> posinf, std::optional<double> neginf) {
  if (!is_floating(x.dtype())) return clone(x);
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "nan_to_num", [&]<class T>() {
    const T n = checked_scalar<T>(nan, "nan_to_num");
    const T p = posinf ? checked_scalar<T>(*posinf, "nan_to_num") : std::numeric_limits<T>::max();
    const T m = neginf ? checked_scalar<T>(*neginf, "nan_to_num") : std::numeric_limits<T>::lowest();
    unary_into<T, T>(out, x, [n, p, m](T v) {
      return v != v                                     ? n
             : v == std::numeric_limits<T>::infinity()  ? p
             : v == -std::numeric_limits<T>::infinity() ? m
                                                        : v;
    });
  });
  return out;
}

namespace {

template <class Pred>
TensorBase classify(const TensorBase& x, Pred pred) {
  TensorBase out = make_tensor(x.shape(), kBool);
  if (!is_floating(x.dtype())) {
    fill_(out, 0);
    return out;
  }
  dispatch_floating(x.dtype(), "isinf",
                    [&]<class T>() { unary_into<bool, T>(out, x, [pred](T v) { return pred(v); }); });
  return out;
}

}  // namespace

TensorBase isinf(const TensorBase& x) {
  return classify(x, [](auto v) { return std::isinf(v); });
}
TensorBase isposinf(const TensorBase& x) {
  return classify(x, [](auto v) { return std::isinf(v) && v > 0; });
}
TensorBase isneginf(const TensorBase& x) {
  return classify(x, [](auto v) { return std::isinf(v) && v < 0; });
}

TensorBase isclose(const TensorBase& a, const TensorBase& b, double rtol, double atol, bool equal_nan) {
  // Comparisons: a subnormal is not 0 (float_mode.h).
  const KeepDenormalsGuard exact;
  if (a.dtype() != b.dtype())
    throw DTypeError(fmt::format("isclose: expected both inputs to have the same dtype, got {} and {}",
                                 dtype_name(a.dtype()), dtype_name(b.dtype())));
  if (!(rtol >= 0) || !(atol >= 0))
    throw ValueError(fmt::format("isclose: rtol and atol must be non-negative, got rtol {} and atol {}", rtol, atol));
  const Dims shape = binary_shape(a, b, "isclose");
  TensorBase out = make_tensor(shape, kBool);
  dispatch(a.dtype(), [&]<class T>() {
    binary_into<bool, T, T>(out, a, b, [rtol, atol, equal_nan](T x, T y) {
      (void)equal_nan;  // read only for floating types
      if (x == y) return true;
      if constexpr (is_floating_v<T>) {
        if (equal_nan && x != x && y != y) return true;
        const T diff = std::abs(x - y);
        return std::isfinite(diff) && diff <= static_cast<T>(atol) + std::abs(static_cast<T>(rtol) * y);
      } else {
        const double diff = std::abs(static_cast<double>(x) - static_cast<double>(y));
        return diff <= atol + std::abs(rtol * static_cast<double>(y));
      }
    });
  });
  return out;
}

// ---- activations ----------------------------------------------------------------------------

TensorBase softplus(const TensorBase& x, double beta, double threshold) {
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "softplus", [&]<class T>() {
    using P = param_t<T>;
    const P b = static_cast<P>(beta), t = static_cast<P>(threshold);
    unary_into<T, T>(out, x, [b, t](T v) { return T(softplus_value<P>(P(v), b, t)); });
  });
  return out;
}

TensorBase silu(const TensorBase& x) {
  return floating_unary("silu", x, [](auto v) { return v / (decltype(v)(1) + std::exp(-v)); });
}

TensorBase elu(const TensorBase& x, double alpha, double scale, double input_scale, const char* op) {
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&]<class T>() {
    using P = param_t<T>;
    const P a = static_cast<P>(alpha), s = static_cast<P>(scale), is = static_cast<P>(input_scale);
    unary_into<T, T>(out, x, [a, s, is](T v) {
      const P w = static_cast<P>(v);
      return T(w > P(0) ? w * s : std::expm1(w * is) * a * s);
    });
  });
  return out;
}

TensorBase mish(const TensorBase& x) {
  return floating_unary("mish", x, [](auto v) { return v * std::tanh(std::log1p(std::exp(v))); });
}

TensorBase hardtanh(const TensorBase& x, double min, double max) {
  check_dtype(x, "hardtanh", DTypeClass::Numeric);
  return clamp(x, min, max);
}

TensorBase hardswish(const TensorBase& x) {
  return floating_unary("hardswish", x, [](auto v) {
    using T = decltype(v);
    return T(v * std::min(std::max(T(v + T(3)), T(0)), T(6)) / T(6));
  });
}

TensorBase hardsigmoid(const TensorBase& x) {
  return floating_unary("hardsigmoid", x, [](auto v) {
    using T = decltype(v);
    return T(std::min(std::max(T(v + T(3)), T(0)), T(6)) / T(6));
  });
}

// min(x, 0) - log1p(exp(-|x|)): no overflow for large |x|.
TensorBase logsigmoid(const TensorBase& x) {
  return floating_unary("logsigmoid", x, [](auto v) {
    using T = decltype(v);
    return std::min(v, T(0)) - std::log1p(std::exp(-std::abs(v)));
  });
}

TensorBase softsign(const TensorBase& x) {
  check_dtype(x, "softsign", DTypeClass::Numeric);
  return real_unary(x, [](auto v) { return v / (decltype(v)(1) + std::abs(v)); });
}

}  // namespace tg::kernel
