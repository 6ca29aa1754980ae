#pragma once
// dropout's masks: 0 with probability p, else 1 / (1 - p), so that x * mask
// has the expected value x. One rule for every dropout: a decision compares a
// 32-bit draw d with dropout_threshold(p), and each 64-bit random word gives
// two draws, its low half first. 32 bits, not 53: half the generator's (or
// the hash's) work per element, and p moves by less than 2^-32.
#include <cmath>
#include <cstdint>

#include <tapegrad/core/random.h>
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// p as a bound on 32-bit draws d (a uniform u = d * 2^-32): u < p exactly
// when d < dropout_threshold(p), so masks compare integers, no conversion.
inline std::uint64_t dropout_threshold(double p) {
  if (!(p > 0)) return 0;
  return p >= 1 ? std::uint64_t{1} << 32 : static_cast<std::uint64_t>(std::ceil(p * 0x1p32));
}

// A mask of x's shape and (floating) dtype, drawn in one pass under the
// generator's lock. p is checked by the caller.
TensorBase dropout_mask(const TensorBase& x, double p, Generator& generator);

// Word `counter` of the counter-based stream `seed` (splitmix64's
// finaliser): what the fused attention draws its weights' decisions from, so
// that forward and backward recompute a tile's mask from (seed, index) alone.
inline std::uint64_t hashed_word(std::uint64_t seed, std::uint64_t counter) {
  std::uint64_t z = seed + (counter + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// out[i] = 0 or keep for i < n, from the draws of successive 64-bit words
// next_word(): the low half of each word decides out[i], its high half
// out[i + 1] (the rule of this header, for the generator's words and the
// hashed ones alike); the last word of an odd n uses its low half only.
template <class T, class NextWord>
void dropout_multipliers_from_words(std::int64_t n, std::uint64_t threshold, T keep, T* out, NextWord next_word) {
  const auto decide = [&](std::uint64_t draw) { return draw < threshold ? T(0) : keep; };
  std::int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    const std::uint64_t w = next_word();
    out[i] = decide(w & 0xFFFFFFFFu);
    out[i + 1] = decide(w >> 32);
  }
  if (i < n) out[i] = decide(next_word() & 0xFFFFFFFFu);
}

// out[i] = the multiplier (0 or keep) of draw first + i of the stream
// `seed`, i < n: draw k is the low (k even) or high (k odd) half of
// hashed_word(seed, k / 2), so one hash serves two elements wherever a row
// starts.
template <class T>
void hashed_dropout_multipliers(std::uint64_t seed, std::uint64_t first, std::int64_t n, std::uint64_t threshold,
                                T keep, T* out) {
  if (n <= 0) return;
  std::uint64_t word = first >> 1;
  if ((first & 1) != 0) {  // a row starting at an odd draw: the high half of its first word
    out[0] = (hashed_word(seed, word++) >> 32) < threshold ? T(0) : keep;
    ++out;
    --n;
  }
  dropout_multipliers_from_words(n, threshold, keep, out, [&] { return hashed_word(seed, word++); });
}

}  // namespace tg::kernel
