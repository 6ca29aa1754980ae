#pragma once
// Integer sums and products that wrap modulo 2^bits, as PyTorch's do. Signed
// overflow is undefined behaviour in C++, so integers go through their
// unsigned type (the conversion back is modular since C++20). bool adds as
// `or` and multiplies as `and`; floating types use their own operators.
#include <type_traits>

namespace tg::kernel {

template <class T>
T wrap_add(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) return a || b;
  else if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) + static_cast<std::make_unsigned_t<T>>(b));
  else return a + b;
}

template <class T>
T wrap_sub(T a, T b) {
  static_assert(!std::is_same_v<T, bool>, "bool has no subtraction");
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) - static_cast<std::make_unsigned_t<T>>(b));
  else return a - b;
}

template <class T>
T wrap_mul(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) return a && b;
  else if constexpr (std::is_integral_v<T>) {
    // At least `unsigned int`: a narrower unsigned type would promote to
    // (signed) int, and 65535 * 65535 overflows it.
    using U = std::common_type_t<unsigned, std::make_unsigned_t<T>>;
    return static_cast<T>(static_cast<U>(static_cast<std::make_unsigned_t<T>>(a)) *
                          static_cast<U>(static_cast<std::make_unsigned_t<T>>(b)));
  } else return a * b;
}

}  // namespace tg::kernel
