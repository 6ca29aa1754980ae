#pragma once
// Element types and the one helper that turns a runtime dtype into a
// compile-time type: kernels are written once as templates and dispatched here.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

#include <tapegrad/core/error.h>

namespace tg {

enum class DType : std::uint8_t { Float32, Float64, Int64, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;

constexpr std::size_t itemsize(DType d) {
  switch (d) {
    case DType::Float32:
      return 4;
    case DType::Float64:
      return 8;
    case DType::Int64:
      return 8;
    case DType::Bool:
      return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Int64:
      return "int64";
    case DType::Bool:
      return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType d) { return d == DType::Float32 || d == DType::Float64; }

// A floating value as T, for converting tensors (scalars that are stored go
// through checked_scalar below). bool is v != 0. An integer type truncates toward
// zero and saturates: out-of-range values give its minimum or maximum and NaN
// gives 0, where a plain cast would be undefined behaviour.
template <class T, class F>
constexpr T cast_floating(F v) {
  static_assert(std::is_floating_point_v<F>);
  if constexpr (std::is_same_v<T, bool>) {
    return v != F(0);
  } else if constexpr (std::is_integral_v<T>) {
    constexpr auto lo = static_cast<F>(std::numeric_limits<T>::min());  // -2^63: exact
    if (v != v) return T(0);
    if (v < lo) return std::numeric_limits<T>::min();
    if (v >= -lo) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

// One element converted between dtypes, as copies, item() and to_vector() do:
// to bool is v != 0, from floating as cast_floating, between integers a cast.
template <class To, class From>
constexpr To convert_element(From v) {
  if constexpr (std::is_same_v<To, bool>) return v != From(0);
  else if constexpr (std::is_floating_point_v<From>) return cast_floating<To>(v);
  else return static_cast<To>(v);
}

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::Float32;
  else if constexpr (std::is_same_v<T, double>) return DType::Float64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::Int64;
  else if constexpr (std::is_same_v<T, bool>) return DType::Bool;
  else static_assert(!sizeof(T), "tapegrad supports float, double, int64_t and bool");
}

// ValueError: "{op}: value {value} cannot be converted to {dtype} without overflow".
[[noreturn]] void throw_unrepresentable(std::string_view op, double value, DType dtype);

// A scalar given to an op that stores it (full, fill_, masked_fill, ...) as
// T, checked as PyTorch checks such scalars: an integer dtype refuses NaN,
// infinities and values outside its range (a fraction truncates toward zero);
// float32 refuses finite values beyond its range (NaN and infinities are
// kept); bool takes anything (true unless 0, so NaN is true). Silently storing
// 0 or INT64_MAX for NaN would hide the bug that produced the NaN.
template <class T>
T checked_scalar(double v, std::string_view op) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T>) {
    static_assert(std::is_same_v<T, std::int64_t>);
    if (!(v >= -0x1p63 && v < 0x1p63)) throw_unrepresentable(op, v, dtype_of<T>());
    return static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, float>) {
    if (std::isfinite(v) && std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max()))
      throw_unrepresentable(op, v, dtype_of<T>());
    return static_cast<float>(v);
  } else {
    return static_cast<T>(v);
  }
}

// Calls fn.template operator()<T>() with the C++ type of `d`.
// Usage: dispatch(d, [&]<class T>() { ... });
template <class F>
decltype(auto) dispatch(DType d, F&& fn) {
  switch (d) {
    case DType::Float32:
      return fn.template operator()<float>();
    case DType::Float64:
      return fn.template operator()<double>();
    case DType::Int64:
      return fn.template operator()<std::int64_t>();
    case DType::Bool:
      return fn.template operator()<bool>();
  }
  throw DTypeError("dispatch: unknown dtype");
}

// Same, but only for floating types; any other dtype is a DTypeError naming `op`.
template <class F>
decltype(auto) dispatch_floating(DType d, std::string_view op, F&& fn) {
  switch (d) {
    case DType::Float32:
      return fn.template operator()<float>();
    case DType::Float64:
      return fn.template operator()<double>();
    default:
      throw DTypeError(std::string(op) + ": expected a floating-point tensor (float32 or float64), got " +
                       std::string(dtype_name(d)));
  }
}

// Numeric types (everything but bool).
template <class F>
decltype(auto) dispatch_numeric(DType d, std::string_view op, F&& fn) {
  switch (d) {
    case DType::Float32:
      return fn.template operator()<float>();
    case DType::Float64:
      return fn.template operator()<double>();
    case DType::Int64:
      return fn.template operator()<std::int64_t>();
    default:
      throw DTypeError(std::string(op) + ": expected a numeric tensor, got " + std::string(dtype_name(d)));
  }
}

// Type promotion for binary ops, as PyTorch's for our four dtypes:
// bool < int64 < float32 < float64.
constexpr DType promote_types(DType a, DType b) {
  auto rank = [](DType d) {
    switch (d) {
      case DType::Bool:
        return 0;
      case DType::Int64:
        return 1;
      case DType::Float32:
        return 2;
      case DType::Float64:
        return 3;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace tg
