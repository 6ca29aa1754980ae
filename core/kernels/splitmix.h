#pragma once
// The constants of splitmix64's finaliser, the counter-based hash of the
// fused attention's dropout draws: hashed_word (dropout.h) and its AVX2
// counterpart (vector_math_avx2.cpp, which must share no inline code with
// other files, only these numbers).
#include <cstdint>

namespace tg::kernel::splitmix {

inline constexpr std::uint64_t kGamma = 0x9E3779B97F4A7C15ULL;  // the counter's step
inline constexpr std::uint64_t kMul1 = 0xBF58476D1CE4E5B9ULL;
inline constexpr std::uint64_t kMul2 = 0x94D049BB133111EBULL;
inline constexpr int kShift1 = 30, kShift2 = 27, kShift3 = 31;

}  // namespace tg::kernel::splitmix
