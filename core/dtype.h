#pragma once
/// @file
/// Element types and the one helper that turns a runtime dtype into a
/// compile-time type: kernels are written once as templates and dispatched here.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include <tapegrad/core/error.h>
#include <tapegrad/core/half.h>

namespace tg {

/// The order is PyTorch's ScalarType order, so a table indexed by DType reads
/// like c10's.
enum class DType : std::uint8_t { UInt8, Int8, Int16, Int32, Int64, Float16, Float32, Float64, Bool, BFloat16 };

/// The dtypes under PyTorch's names (torch.uint8 is tg::kUInt8, ...).
///@{
inline constexpr DType kUInt8 = DType::UInt8;
inline constexpr DType kInt8 = DType::Int8;
inline constexpr DType kInt16 = DType::Int16;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kFloat16 = DType::Float16;
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kBool = DType::Bool;
inline constexpr DType kBFloat16 = DType::BFloat16;
///@}
/// PyTorch's aliases (torch.long is tg::kLong, ...).
///@{
inline constexpr DType kByte = kUInt8;
inline constexpr DType kChar = kInt8;
inline constexpr DType kShort = kInt16;
inline constexpr DType kInt = kInt32;
inline constexpr DType kLong = kInt64;
inline constexpr DType kHalf = kFloat16;
inline constexpr DType kFloat = kFloat32;
inline constexpr DType kDouble = kFloat64;
///@}

/// Every dtype, in enum order (tests and tables iterate it).
inline constexpr DType kAllDTypes[] = {kUInt8,   kInt8,    kInt16,   kInt32, kInt64,
                                       kFloat16, kFloat32, kFloat64, kBool,  kBFloat16};

/// Bytes per element.
constexpr std::size_t itemsize(DType d) {
  switch (d) {
    case DType::UInt8:
    case DType::Int8:
    case DType::Bool:
      return 1;
    case DType::Int16:
    case DType::Float16:
    case DType::BFloat16:
      return 2;
    case DType::Int32:
    case DType::Float32:
      return 4;
    case DType::Int64:
    case DType::Float64:
      return 8;
  }
  return 0;
}

/// The name PyTorch prints without "torch.": "float32", "int64", ...
constexpr std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::UInt8:
      return "uint8";
    case DType::Int8:
      return "int8";
    case DType::Int16:
      return "int16";
    case DType::Int32:
      return "int32";
    case DType::Int64:
      return "int64";
    case DType::Float16:
      return "float16";
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Bool:
      return "bool";
    case DType::BFloat16:
      return "bfloat16";
  }
  return "?";
}

/// The floating dtypes: float16, bfloat16, float32, float64.
constexpr bool is_floating(DType d) {
  return d == DType::Float32 || d == DType::Float64 || d == DType::Float16 || d == DType::BFloat16;
}
/// The dtypes is_floating accepts, as error messages list them.
inline constexpr std::string_view kFloatingDTypeNames = "float16, bfloat16, float32 or float64";
/// A floating dtype's significand bits, the implicit one included: 11
/// (float16), 8 (bfloat16), 24 (float32), 53 (float64); 0 for the others.
/// Random values in [0, 1) drawn with this many bits are exact in the dtype.
constexpr int significand_bits(DType d) {
  return d == DType::Float16 ? 11 : d == DType::BFloat16 ? 8 : d == DType::Float32 ? 24 : d == DType::Float64 ? 53 : 0;
}
/// A floating dtype's largest finite value (65504 for float16, about 3.39e38
/// for bfloat16, FLT_MAX, DBL_MAX); 0 for the others.
constexpr double floating_max(DType d) {
  return d == DType::Float16    ? 65504.0
         : d == DType::BFloat16 ? 3.3895313892515355e38
         : d == DType::Float32  ? 3.4028234663852886e38
         : d == DType::Float64  ? 1.7976931348623157e308
                                : 0.0;
}
/// The 16-bit floating dtypes, float16 and bfloat16 (is_reduced_float_v for C++ types).
constexpr bool is_reduced_float(DType d) { return d == DType::Float16 || d == DType::BFloat16; }
/// The integer dtypes (bool is not one, as in PyTorch's is_integral(include_bool=false)).
constexpr bool is_integer(DType d) {
  return d == DType::UInt8 || d == DType::Int8 || d == DType::Int16 || d == DType::Int32 || d == DType::Int64;
}

/// An integer C++ type other than bool: the ones whose arithmetic wraps.
template <class T>
inline constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

/// A floating value as T, for converting tensors (scalars that are stored go
/// through checked_scalar below). bool is v != 0. An integer type truncates toward
/// zero and saturates: out-of-range values give its minimum or maximum and NaN
/// gives 0, where a plain cast would be undefined behaviour.
template <class T, class F>
constexpr T cast_floating(F v) {
  static_assert(is_floating_v<F>);
  if constexpr (is_reduced_float_v<F>) {
    return cast_floating<T>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != F(0);
  } else if constexpr (std::is_integral_v<T>) {
    // Both bounds are 0 or powers of two, exact in every floating type (max()
    // rounds up to the power of two where F cannot hold it, and + 1 keeps it).
    constexpr auto lo = static_cast<F>(std::numeric_limits<T>::min());
    constexpr auto hi = static_cast<F>(std::numeric_limits<T>::max()) + F(1);
    if (v != v) return T(0);
    if (v < lo) return std::numeric_limits<T>::min();
    if (v >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

/// One element converted between dtypes, as copies, item() and to_vector() do:
/// to bool is v != 0, from floating as cast_floating, between integers a cast
/// (modular, as PyTorch's), and a 16-bit float goes through float.
template <class To, class From>
constexpr To convert_element(From v) {
  if constexpr (std::is_same_v<To, From>) return v;
  else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (is_reduced_float_v<From>) return static_cast<float>(v) != 0.0f;
    else return v != From(0);
  } else if constexpr (is_floating_v<From>) return cast_floating<To>(v);
  else if constexpr (is_reduced_float_v<To>) return To(static_cast<float>(v));
  else return static_cast<To>(v);
}

/// The C++ types a tensor stores, one per DType (float for kFloat32, ...).
template <class T>
concept ElementType = std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int16_t> || std::is_same_v<T, std::int8_t> ||
    std::is_same_v<T, std::uint8_t> || std::is_same_v<T, bool> || std::is_same_v<T, Half> ||
    std::is_same_v<T, BFloat16>;

/// The DType of the C++ element type T (float is kFloat32, ...).
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::Float32;
  else if constexpr (std::is_same_v<T, double>) return DType::Float64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::Int64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return DType::Int32;
  else if constexpr (std::is_same_v<T, std::int16_t>) return DType::Int16;
  else if constexpr (std::is_same_v<T, std::int8_t>) return DType::Int8;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return DType::UInt8;
  else if constexpr (std::is_same_v<T, bool>) return DType::Bool;
  else if constexpr (std::is_same_v<T, Half>) return DType::Float16;
  else if constexpr (std::is_same_v<T, BFloat16>) return DType::BFloat16;
  else static_assert(!sizeof(T), "tapegrad stores float, double, Half, BFloat16, int64/32/16/8, uint8 and bool");
}

/// ValueError: "{op}: value {value} cannot be converted to {dtype} without overflow".
[[noreturn]] void throw_unrepresentable(std::string_view op, double value, DType dtype);
/// Throws the DTypeError of `op` given a tensor of the non-floating dtype `d`.
[[noreturn]] void throw_not_floating(std::string_view op, DType d);

namespace detail {
// An integer type's range as doubles, [integer_lo, integer_hi): integer_hi is
// max() + 1, a power of two a double holds exactly (int64's max() itself
// rounds up to it).
template <class T>
inline constexpr double integer_lo = static_cast<double>(std::numeric_limits<T>::min());
template <class T>
inline constexpr double integer_hi = -static_cast<double>(std::numeric_limits<std::make_signed_t<T>>::min()) *
                                     (std::is_signed_v<T> ? 1.0 : 2.0);
// A floating element's value as a double (the 16-bit types through float).
template <class F>
constexpr double floating_as_double(F v) {
  if constexpr (is_reduced_float_v<F>) return static_cast<double>(static_cast<float>(v));
  else return static_cast<double>(v);
}
}  // namespace detail

/// Whether the element `v` read out as To (item, to_vector) would not fit,
/// as PyTorch's c10::checked_convert decides: an integer To refuses NaN,
/// infinities and values outside its range (compared before a fraction
/// truncates toward zero, so -0.5 does not read as uint8),
/// except that a negative integer may wrap into an unsigned type of at least
/// its magnitude (int64 -1 reads as uint8 255, as in PyTorch); a floating To
/// refuses finite values beyond its range (NaN and infinities are kept).
/// Reading as bool, or reading a bool, always fits.
template <class To, class From>
constexpr bool element_overflows(From v) {
  if constexpr (std::is_same_v<To, bool> || std::is_same_v<From, bool> || std::is_same_v<To, From>) {
    return false;
  } else if constexpr (is_floating_v<From> || is_reduced_float_v<From>) {
    const double d = detail::floating_as_double(v);
    if constexpr (std::is_integral_v<To>) {
      // As c10: the value itself against the bounds, before truncation (so
      // -0.5 and 255.5 do not read as uint8); integer_hi, 2^63 for int64, is
      // where max() rounds to as a double, itself out of range.
      constexpr double max = static_cast<double>(std::numeric_limits<To>::max());
      return !(d >= detail::integer_lo<To> && d <= max && d < detail::integer_hi<To>);
    } else {
      return std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<To>::max());
    }
  } else if constexpr (std::is_integral_v<To>) {
    if (std::is_unsigned_v<To> && v < 0)
      return std::cmp_greater(-static_cast<std::uint64_t>(v), std::numeric_limits<To>::max());
    return std::cmp_less(v, std::numeric_limits<To>::min()) || std::cmp_greater(v, std::numeric_limits<To>::max());
  } else {
    return std::fabs(static_cast<double>(v)) > static_cast<double>(std::numeric_limits<To>::max());
  }
}

/// convert_element, refusing (ValueError naming `op`, the value and To's
/// dtype) a value that element_overflows says does not fit.
template <class To, class From>
To checked_element(From v, std::string_view op) {
  if (element_overflows<To>(v)) {
    if constexpr (is_floating_v<From> || is_reduced_float_v<From>)
      throw_unrepresentable(op, detail::floating_as_double(v), dtype_of<To>());
    else throw_unrepresentable(op, static_cast<double>(v), dtype_of<To>());
  }
  return convert_element<To>(v);
}

/// A scalar given to an op that stores it (full, fill_, masked_fill, ...) as
/// T, checked as PyTorch checks such scalars (c10::checked_convert): an
/// integer dtype refuses NaN, infinities and values outside its range, the
/// value compared before its fraction is dropped (uint8 takes 255.9 as 255
/// in no case, -0.5 neither; int64 takes 2.5 as 2);
/// float32 refuses finite values beyond its range (NaN and infinities are
/// kept); bool takes anything (true unless 0, so NaN is true). Silently storing
/// 0 or INT64_MAX for NaN would hide the bug that produced the NaN. An
/// unsigned dtype takes a whole negative value down to -max, wrapped (-1 is
/// 255 as uint8), as c10 takes an integer scalar, unless `wrap_negative` is
/// false (clamp's bounds, where a wrapped bound would clamp to the top).
template <class T>
T checked_scalar(double v, std::string_view op, bool wrap_negative = true) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_unsigned_v<T>) {
      if (wrap_negative && v < 0 && v == std::trunc(v) && -v <= static_cast<double>(std::numeric_limits<T>::max()))
        return static_cast<T>(static_cast<std::int64_t>(v));
    }
    // The same rule as a value read out (element_overflows), as PyTorch's
    // full(-0.5, uint8) and full(255.5, uint8) refuse.
    if (element_overflows<T>(v)) throw_unrepresentable(op, v, dtype_of<T>());
    return static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, float> || is_reduced_float_v<T>) {
    if (element_overflows<T>(v)) throw_unrepresentable(op, v, dtype_of<T>());  // the same rule as reading out
    return T(static_cast<float>(v));
  } else {
    return static_cast<T>(v);
  }
}

namespace detail {
template <class T, class F>
[[gnu::cold, gnu::noinline]] decltype(auto) call_cold(F& fn) {
  return fn.template operator()<T>();
}
}  // namespace detail

/// Calls `fn.template operator()<T>()` with the C++ type of `d`.
/// Usage: `dispatch(d, [&]<class T>() { ... });`
/// Every kernel dispatches through these three, so a dtype is added here once.
template <class F>
decltype(auto) dispatch(DType d, F&& fn) {
  switch (d) {
    case DType::UInt8:
      return fn.template operator()<std::uint8_t>();
    case DType::Int8:
      return detail::call_cold<std::int8_t>(fn);
    case DType::Int16:
      return detail::call_cold<std::int16_t>(fn);
    case DType::Int32:
      return detail::call_cold<std::int32_t>(fn);
    case DType::Int64:
      return fn.template operator()<std::int64_t>();
    case DType::Float16:
      return detail::call_cold<Half>(fn);
    case DType::Float32:
      return fn.template operator()<float>();
    case DType::Float64:
      return fn.template operator()<double>();
    case DType::Bool:
      return detail::call_cold<bool>(fn);
    case DType::BFloat16:
      return detail::call_cold<BFloat16>(fn);
  }
  throw DTypeError("dispatch: unknown dtype");
}

/// Same, but only for floating types; any other dtype is a DTypeError naming `op`.
template <class F>
decltype(auto) dispatch_floating(DType d, std::string_view op, F&& fn) {
  switch (d) {
    case DType::Float16:
      return detail::call_cold<Half>(fn);
    case DType::Float32:
      return fn.template operator()<float>();
    case DType::Float64:
      return fn.template operator()<double>();
    case DType::BFloat16:
      return detail::call_cold<BFloat16>(fn);
    default:
      throw_not_floating(op, d);
  }
}

/// dispatch() over the three dtypes that sorting, scanning and reducing kernels
/// compute in (float32, float64, int64; kernel::widen gives them); any other
/// dtype is a DTypeError naming `op`.
template <class F>
decltype(auto) dispatch_compute(DType d, std::string_view op, F&& fn) {
  switch (d) {
    case DType::Float32:
      return fn.template operator()<float>();
    case DType::Float64:
      return fn.template operator()<double>();
    case DType::Int64:
      return fn.template operator()<std::int64_t>();
    default:
      throw DTypeError(std::string(op) + ": " + std::string(dtype_name(d)) + " is not a compute dtype (widen it)");
  }
}

/// The same over float32 and float64, with dispatch_floating's error for any other dtype.
template <class F>
decltype(auto) dispatch_compute_floating(DType d, std::string_view op, F&& fn) {
  switch (d) {
    case DType::Float32:
      return fn.template operator()<float>();
    case DType::Float64:
      return fn.template operator()<double>();
    default:
      throw_not_floating(op, d);
  }
}

/// Calls `fn.template operator()<U>()` with an unsigned integer U of `d`'s
/// size: for kernels that only move elements or write zeros (all bits zero is
/// zero, false or +0 in every dtype), which need no more than one copy per size.
template <class F>
decltype(auto) dispatch_bits(DType d, F&& fn) {
  switch (itemsize(d)) {
    case 1:
      return fn.template operator()<std::uint8_t>();
    case 2:
      return fn.template operator()<std::uint16_t>();
    case 4:
      return fn.template operator()<std::uint32_t>();
    case 8:
      return fn.template operator()<std::uint64_t>();
  }
  throw DTypeError("dispatch_bits: unexpected element size");
}

/// Numeric types (everything but bool).
template <class F>
decltype(auto) dispatch_numeric(DType d, std::string_view op, F&& fn) {
  if (d == DType::Bool) throw DTypeError(std::string(op) + ": expected a numeric tensor, got bool");
  return dispatch(d, [&]<class T>() -> decltype(auto) {
    if constexpr (std::is_same_v<T, bool>) return fn.template operator()<float>();  // unreachable
    else return fn.template operator()<T>();
  });
}

/// Type promotion for binary ops, PyTorch's promoteTypes: bool below every
/// number; an integer with a floating type gives the floating type; two
/// floating or two integer types give the wider, except that uint8 with int8
/// gives int16 (the smallest type holding both ranges) and float16 with
/// bfloat16 gives float32.
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::Bool) return b;
  if (b == DType::Bool) return a;
  if (is_floating(a) != is_floating(b)) return is_floating(a) ? a : b;
  if (is_floating(a)) {
    if (itemsize(a) == 2 && itemsize(b) == 2) return DType::Float32;  // float16 with bfloat16
    return itemsize(a) >= itemsize(b) ? a : b;
  }
  if (a == DType::UInt8 || b == DType::UInt8) {
    const DType other = a == DType::UInt8 ? b : a;
    return other == DType::Int8 ? DType::Int16 : other;
  }
  return itemsize(a) >= itemsize(b) ? a : b;
}

}  // namespace tg
