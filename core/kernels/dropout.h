#pragma once
// dropout's masks: 0 with probability p, else 1 / (1 - p), so that x * mask
// has the expected value x. One rule for every dropout: a decision compares a
// 32-bit draw d with dropout_threshold(p), and each 64-bit random word gives
// two draws, its low half first. 32 bits, not 53: half the generator's (or
// the hash's) work per element, and p moves by less than 2^-32.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <utility>

#include <tapegrad/core/kernels/splitmix.h>
#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/core/random.h>
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// p as a bound on 32-bit draws d (a uniform u = d * 2^-32): u < p exactly
// when d < dropout_threshold(p), so masks compare integers, no conversion.
inline std::uint64_t dropout_threshold(double p) {
  if (!(p > 0)) return 0;
  return p >= 1 ? std::uint64_t{1} << 32 : static_cast<std::uint64_t>(std::ceil(p * 0x1p32));
}

// A kept element's multiplier, 1 / (1 - p), in T. p == 1 keeps nothing
// (every draw is below the threshold), so 0 there, never used.
template <class T>
T dropout_keep(double p) {
  return p < 1 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
}

// A mask of x's shape and (floating) dtype, drawn in one pass under the
// generator's lock. p is checked by the caller.
TensorBase dropout_mask(const TensorBase& x, double p, Generator& generator);

// x * mask and the mask dropout_mask(x, p, generator) would draw, in one pass,
// for a contiguous float32 or float64 x (the values x * mask gives, from the
// same stream); nullopt, drawing nothing, for any other x.
std::optional<std::pair<TensorBase, TensorBase>> dropout_apply(const TensorBase& x, double p, Generator& generator);

// Word `counter` of the counter-based stream `seed` (splitmix64's
// finaliser): what the fused attention draws its weights' decisions from, so
// that forward and backward recompute a tile's mask from (seed, index) alone.
// vec::hashed_words computes many at once.
inline std::uint64_t hashed_word(std::uint64_t seed, std::uint64_t counter) {
  std::uint64_t z = seed + (counter + 1) * splitmix::kGamma;
  z = (z ^ (z >> splitmix::kShift1)) * splitmix::kMul1;
  z = (z ^ (z >> splitmix::kShift2)) * splitmix::kMul2;
  return z ^ (z >> splitmix::kShift3);
}

// A draw's multiplier, 0 or keep, without a branch: a branch on the draw is
// mispredicted at rate p, which cost more than the generator itself (dropout
// masks took three times as long).
// (GCC turns `T(draw >= threshold) * keep` back into a branch, so float and
// double select keep's bits with an all-ones or all-zeros mask.)
template <class T>
T dropout_multiplier(std::uint64_t draw, std::uint64_t threshold, T keep) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    using Bits = std::conditional_t<std::is_same_v<T, float>, std::uint32_t, std::uint64_t>;
    const Bits all = Bits{0} - static_cast<Bits>(draw >= threshold);
    return std::bit_cast<T>(static_cast<Bits>(std::bit_cast<Bits>(keep) & all));
  } else {
    return draw >= threshold ? keep : T(0);
  }
}

// out[k] = dropout_multiplier(draws[k], threshold, keep) for k < n, for
// float and double and a threshold below 2^32, in a loop the compiler
// vectorises (the chunked paths: dropout_mask's generator words, the
// hashed words of hashed_dropout_multipliers).
template <class T>
void multipliers_from_draws(const std::uint32_t* draws, std::int64_t n, std::uint32_t threshold, T keep, T* out) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const Bits keep_bits = std::bit_cast<Bits>(keep);
  for (std::int64_t k = 0; k < n; ++k)
    out[k] = std::bit_cast<T>(static_cast<Bits>(keep_bits & (Bits{0} - static_cast<Bits>(draws[k] >= threshold))));
}

// out[i] = 0 or keep for i < n, from the draws of the 64-bit words
// word(0), word(1), ..., taken in that order: the low half of word k decides
// out[2k], its high half out[2k + 1] (the rule of this header, for the
// generator's words and the hashed ones alike); the last word of an odd n
// uses its low half only.
template <class T, class Word>
void dropout_multipliers_from_words(std::int64_t n, std::uint64_t threshold, T keep, T* out, Word word) {
  std::int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    const std::uint64_t w = word(static_cast<std::uint64_t>(i / 2));
    out[i] = dropout_multiplier(w & 0xFFFFFFFFu, threshold, keep);
    out[i + 1] = dropout_multiplier(w >> 32, threshold, keep);
  }
  if (i < n) out[i] = dropout_multiplier(word(static_cast<std::uint64_t>(i / 2)) & 0xFFFFFFFFu, threshold, keep);
}

// out[i] = the multiplier (0 or keep) of draw first + i of the stream
// `seed`, i < n: draw k is the low (k even) or high (k odd) half of
// hashed_word(seed, k / 2), so one hash serves two elements wherever a row
// starts.
template <class T>
void hashed_dropout_multipliers(std::uint64_t seed, std::uint64_t first, std::int64_t n, std::uint64_t threshold,
                                T keep, T* out) {
  if (n <= 0) return;
  std::uint64_t base = first >> 1;
  if ((first & 1) != 0) {  // a row starting at an odd draw: the high half of its first word
    out[0] = dropout_multiplier(hashed_word(seed, base++) >> 32, threshold, keep);
    ++out;
    --n;
  }
  if constexpr ((std::is_same_v<T, float> || std::is_same_v<T, double>)&&std::endian::native == std::endian::little) {
    if (threshold <= 0xFFFFFFFFu) {
      // The words in chunks from vec::hashed_words (AVX2 where the CPU has
      // it), whose bytes are the draws in order, low half first; then one
      // vectorised comparison per draw: the same multipliers as below.
      constexpr std::int64_t kWords = 128;
      std::uint64_t words[kWords];
      for (std::int64_t i = 0; i < n; i += 2 * kWords) {
        const std::int64_t m = std::min(2 * kWords, n - i), w = (m + 1) / 2;
        vec::hashed_words(seed, base + static_cast<std::uint64_t>(i / 2), w, words);
        std::uint32_t draws[2 * kWords];
        std::memcpy(draws, words, static_cast<std::size_t>(w) * sizeof(std::uint64_t));  // word k's low half: draw 2k
        multipliers_from_draws(draws, m, static_cast<std::uint32_t>(threshold), keep, out + i);
      }
      return;
    }
  }
  // The words by index, not by a counter the lambda increments: each hash is
  // then independent of the last, and the loop overlaps them.
  dropout_multipliers_from_words(n, threshold, keep, out,
                                 [seed, base](std::uint64_t k) { return hashed_word(seed, base + k); });
}

}  // namespace tg::kernel
