#pragma once
/// @file
/// The two 16-bit storage types, float16 (IEEE binary16) and bfloat16 (the top
/// half of a float32). Kernels compute in float32: a Half or BFloat16 converts
/// implicitly to float, so `x + y` on two of them is a float sum, and it is
/// rounded to 16 bits once, when stored (assigned or returned as the type).
/// The conversions are exact integer code rather than float tricks, so they
/// give the same bits under the kernels' flush-to-zero mode.
#include <bit>
#include <concepts>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace tg {

namespace detail {

/// float -> binary16, rounding to nearest, ties to even, as c10::Half. Every
/// NaN becomes the quiet NaN 0x7E00 with the input's sign; values from 65520
/// up (the midpoint between the largest half, 65504, and 2^16) become inf.
constexpr std::uint16_t half_bits_from_float(float f) {
  const auto x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (a >= 0x38800000u) {  // a normal half (>= 2^-14): rebias the exponent by 127 - 15
    std::uint32_t r = a - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);  // round the 13 dropped bits to nearest even
    return static_cast<std::uint16_t>(sign | (r >> 13));
  }
  // 2^-25 is the midpoint between 0 and the smallest subnormal 2^-24: ties go to 0.
  if (a <= 0x33000000u) return sign;
  // A subnormal half: round(|f| * 2^24) from the 24-bit significand.
  const std::uint32_t e = a >> 23;
  const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126 - e;  // 14 .. 24
  std::uint32_t q = m >> shift;
  const std::uint32_t rem = m & ((1u << shift) - 1);
  const std::uint32_t halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (q & 1u))) ++q;  // q = 0x400 is the smallest normal: still right
  return static_cast<std::uint16_t>(sign | q);
}

constexpr float float_from_half_bits(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1fu;
  std::uint32_t m = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (e == 0x1f) {
    bits = sign | 0x7f800000u | (m << 13);
  } else if (e == 0) {
    if (m == 0) {
      bits = sign;
    } else {  // subnormal: normalise, every one is a normal float
      std::uint32_t exp = 113;
      while (!(m & 0x400u)) {
        m <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((m & 0x3ffu) << 13);
    }
  } else {
    bits = sign | ((e + 112) << 23) | (m << 13);
  }
  return std::bit_cast<float>(bits);
}

/// float -> bfloat16, rounding to nearest even, as c10::BFloat16's scalar
/// conversion: every NaN becomes 0x7FC0 (PyTorch's vectorised CPU path writes
/// 0xFFFF instead; both are NaN). Overflow rounds to inf by the same carry.
constexpr std::uint16_t bfloat16_bits_from_float(float f) {
  const auto x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

constexpr float float_from_bfloat16_bits(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

/// A value converted to float on its way into a 16-bit type: a double is
/// rounded to float first, as PyTorch does (c10::Half has only a float
/// constructor), so both libraries give the same bits.
template <class V>
constexpr float to_float(V v) {
  return static_cast<float>(v);
}

}  // namespace detail

struct Half;
struct BFloat16;

/// IEEE binary16 (float16, PyTorch's torch.half): a storage type that
/// computes in float and rounds to nearest even when assigned.
/// @code
/// tg::Half h = 0.1;            // rounded once to 16 bits
/// float f = h + 1.0f;          // float arithmetic
/// @endcode
struct Half {
  std::uint16_t bits = 0;  ///< the binary16 bit pattern

  Half() = default;  ///< +0
  /// From any number (or a BFloat16), through float, rounding to nearest even.
  template <class V>
  requires std::is_arithmetic_v<V> || std::is_same_v<V, BFloat16>
  constexpr Half(V v)  // NOLINT: implicit on purpose, a kernel's `T out = x + y` rounds here
      : bits(detail::half_bits_from_float(detail::to_float(v))) {}
  /// The exact float value.
  constexpr operator float() const { return detail::float_from_half_bits(bits); }  // NOLINT: computes in float
  /// The Half with bit pattern b.
  static constexpr Half from_bits(std::uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
  /// Compound assignment rounds once per step, as storing into a half tensor would.
  ///@{
  template <class V>
  constexpr Half& operator+=(V v) {
    return *this = Half(static_cast<float>(*this) + static_cast<float>(v));
  }
  template <class V>
  constexpr Half& operator-=(V v) {
    return *this = Half(static_cast<float>(*this) - static_cast<float>(v));
  }
  template <class V>
  constexpr Half& operator*=(V v) {
    return *this = Half(static_cast<float>(*this) * static_cast<float>(v));
  }
  template <class V>
  constexpr Half& operator/=(V v) {
    return *this = Half(static_cast<float>(*this) / static_cast<float>(v));
  }
  ///@}
};

/// bfloat16 (the top half of a float32, PyTorch's torch.bfloat16): a storage
/// type that computes in float and rounds to nearest even when assigned.
struct BFloat16 {
  std::uint16_t bits = 0;  ///< the bfloat16 bit pattern

  BFloat16() = default;  ///< +0
  /// From any number (or a Half), through float, rounding to nearest even.
  template <class V>
  requires std::is_arithmetic_v<V> || std::is_same_v<V, Half>
  constexpr BFloat16(V v)  // NOLINT: implicit on purpose, as Half
      : bits(detail::bfloat16_bits_from_float(detail::to_float(v))) {}
  /// The exact float value.
  constexpr operator float() const { return detail::float_from_bfloat16_bits(bits); }  // NOLINT
  /// The BFloat16 with bit pattern b.
  static constexpr BFloat16 from_bits(std::uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
  /// Compound assignment rounds once per step, as Half's.
  ///@{
  template <class V>
  constexpr BFloat16& operator+=(V v) {
    return *this = BFloat16(static_cast<float>(*this) + static_cast<float>(v));
  }
  template <class V>
  constexpr BFloat16& operator-=(V v) {
    return *this = BFloat16(static_cast<float>(*this) - static_cast<float>(v));
  }
  template <class V>
  constexpr BFloat16& operator*=(V v) {
    return *this = BFloat16(static_cast<float>(*this) * static_cast<float>(v));
  }
  template <class V>
  constexpr BFloat16& operator/=(V v) {
    return *this = BFloat16(static_cast<float>(*this) / static_cast<float>(v));
  }
  ///@}
};

/// Whether T is one of the 16-bit storage types (Half, BFloat16).
template <class T>
inline constexpr bool is_reduced_float_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
/// Whether T is a floating type: float, double (long double) or a 16-bit one.
template <class T>
inline constexpr bool is_floating_v = std::is_floating_point_v<T> || is_reduced_float_v<T>;
/// Whether v is a NaN; false for every integer and bool T.
/// @param v the value
template <class T>
constexpr bool is_nan(T v) {
  if constexpr (is_floating_v<T>) return v != v;
  else return false;
}

}  // namespace tg

namespace std {

template <>
class numeric_limits<tg::Half> {
 public:
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr int digits = 11;
  static constexpr tg::Half min() { return tg::Half::from_bits(0x0400); }
  static constexpr tg::Half lowest() { return tg::Half::from_bits(0xfbff); }
  static constexpr tg::Half max() { return tg::Half::from_bits(0x7bff); }
  static constexpr tg::Half epsilon() { return tg::Half::from_bits(0x1400); }
  static constexpr tg::Half infinity() { return tg::Half::from_bits(0x7c00); }
  static constexpr tg::Half quiet_NaN() { return tg::Half::from_bits(0x7e00); }
  static constexpr tg::Half denorm_min() { return tg::Half::from_bits(0x0001); }
};

template <>
class numeric_limits<tg::BFloat16> {
 public:
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr int digits = 8;
  static constexpr tg::BFloat16 min() { return tg::BFloat16::from_bits(0x0080); }
  static constexpr tg::BFloat16 lowest() { return tg::BFloat16::from_bits(0xff7f); }
  static constexpr tg::BFloat16 max() { return tg::BFloat16::from_bits(0x7f7f); }
  static constexpr tg::BFloat16 epsilon() { return tg::BFloat16::from_bits(0x3c00); }
  static constexpr tg::BFloat16 infinity() { return tg::BFloat16::from_bits(0x7f80); }
  static constexpr tg::BFloat16 quiet_NaN() { return tg::BFloat16::from_bits(0x7fc0); }
  static constexpr tg::BFloat16 denorm_min() { return tg::BFloat16::from_bits(0x0001); }
};

}  // namespace std
