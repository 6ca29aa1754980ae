#pragma once
/// @file
/// Random numbers: xoshiro256++ seeded through splitmix64. Fast, small state
/// (saved in checkpoints for exact resume), same stream on every platform.
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <vector>

namespace tg {

/// A stream of random numbers. Every random op takes a `Generator*` as its
/// last argument, PyTorch's generator=: `tg::Generator gen(seed);` then
/// `tg::randn({3}, {}, &gen)`, `tg::multinomial(p, 2, false, &gen)`,
/// `x.uniform_(0, 1, &gen)` draw from gen alone, so one seed gives the same
/// values whatever else draws from the default generator (null, the default
/// argument; reseeded by tg::manual_seed).
class Generator {
 public:
  /// A stream from `seed` (PyTorch's default seed when none is given).
  explicit Generator(std::uint64_t seed = 67280421310721ULL) { seed_with(seed); }
  /// Restarts the stream from `seed`, as torch.Generator.manual_seed.
  void seed_with(std::uint64_t seed);

  /// The next 64 random bits (xoshiro256++; inline, since dropout draws one
  /// per element).
  std::uint64_t next_u64() {
    const std::uint64_t result = std::rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  /// Uniform in [0, 1) with `bits` random bits (clamped to 1 to 53): the
  /// multiples of 2^-bits. With a floating dtype's significand_bits (core/dtype.h)
  /// the value is exact in that dtype, so it never rounds up to 1, as PyTorch
  /// draws rand and uniform_.
  double uniform(int bits) {
    bits = bits < 1 ? 1 : bits > 53 ? 53 : bits;
    return static_cast<double>(next_u64() >> (64 - bits)) * std::ldexp(1.0, -bits);
  }
  /// Standard normal (Box-Muller, the second value kept for the next call).
  double normal();
  /// Uniform integer in [0, n) without modulo bias.
  std::uint64_t below(std::uint64_t n);

  /// The whole state as words, for checkpoints.
  std::vector<std::uint64_t> state() const;
  /// Restores a state().
  /// @throws tg::ValueError for the wrong number of words or an all-zero state.
  void set_state(const std::vector<std::uint64_t>& words);

  /// The default generator is shared by all threads, as PyTorch's; lock it
  /// while drawing a batch of numbers.
  std::mutex& mutex() { return mutex_; }

 private:
  std::array<std::uint64_t, 4> s_{};
  double cached_normal_ = 0;
  bool has_cached_normal_ = false;
  std::mutex mutex_;
};

/// The generator random ops use when given none; tg::manual_seed reseeds it.
Generator& default_generator();

}  // namespace tg
