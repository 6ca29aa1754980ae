#include <tapegrad/core/random.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <optional>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/tensor.h>

namespace tg {

void Generator::seed_with(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& word : s_) {
    // splitmix64: spreads any seed, 0 included, over the whole state.
    x += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    word = z ^ (z >> 31);
  }
  has_cached_normal_ = false;
}

double Generator::normal() {
  if (has_cached_normal_) {
    has_cached_normal_ = false;
    return cached_normal_;
  }
  const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  cached_normal_ = r * std::sin(2 * std::numbers::pi * u2);
  has_cached_normal_ = true;
  return r * std::cos(2 * std::numbers::pi * u2);
}

std::uint64_t Generator::below(std::uint64_t n) {
  // Lemire's multiply-shift with rejection.
  unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * n;
  auto low = static_cast<std::uint64_t>(m);
  if (low < n) {
    const std::uint64_t threshold = -n % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next_u64()) * n;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::vector<std::uint64_t> Generator::state() const {
  std::uint64_t cached_bits;
  std::memcpy(&cached_bits, &cached_normal_, sizeof cached_bits);
  return {s_[0], s_[1], s_[2], s_[3], has_cached_normal_ ? 1u : 0u, cached_bits};
}

void Generator::set_state(const std::vector<std::uint64_t>& words) {
  if (words.size() != 6) throw ValueError(fmt::format("Generator::set_state: expected 6 words, got {}", words.size()));
  if ((words[0] | words[1] | words[2] | words[3]) == 0)
    throw ValueError("Generator::set_state: an all-zero state is not a valid xoshiro256++ state");
  // state() writes 0 or 1, and the cached normal a finite double: anything
  // else is a corrupt state, which would otherwise surface as a NaN draw.
  if (words[4] > 1)
    throw ValueError(
        fmt::format("Generator::set_state: word 4 (a cached normal or not) must be 0 or 1, got {}", words[4]));
  double cached;
  std::memcpy(&cached, &words[5], sizeof cached);
  if (!std::isfinite(cached))
    throw ValueError(fmt::format("Generator::set_state: word 5 (the cached normal) is not finite ({})", cached));
  for (int i = 0; i < 4; ++i) s_[static_cast<std::size_t>(i)] = words[static_cast<std::size_t>(i)];
  has_cached_normal_ = words[4] != 0;
  cached_normal_ = cached;
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(std::uint64_t seed) {
  auto& gen = default_generator();
  std::lock_guard lock(gen.mutex());
  gen.seed_with(seed);
}

namespace {

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

// Fills a fresh contiguous tensor element by element from `draw(gen)`.
template <class Draw>
TensorBase fill_random(Dims shape, DType dtype, Generator* g, const char* op, Draw draw) {
  TensorBase t = make_tensor(shape, dtype);
  auto& gen = pick(g);
  std::lock_guard lock(gen.mutex());
  dispatch(dtype, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(draw(gen));
  });
  (void)op;
  return t;
}

void require_floating(DType d, const char* op) {
  if (!is_floating(d))
    throw DTypeError(fmt::format("{}: expected a floating dtype ({}), got {}", op, kFloatingDTypeNames, dtype_name(d)));
}

}  // namespace

// requires_grad is the autograd level's (autograd/creation.cpp): these only
// make the data.
namespace kernel {

TensorBase rand(Dims shape, TensorOptions options, Generator* gen) {
  require_floating(options.dtype, "rand");
  // As many random bits as the dtype holds below 1: rounding a 53-bit value
  // gave 1 (float16 about once in 3,600 draws, bfloat16 once in 500).
  const int bits = significand_bits(options.dtype);
  return fill_random(shape, options.dtype, gen, "rand", [bits](Generator& g) { return g.uniform(bits); });
}

TensorBase randn(Dims shape, TensorOptions options, Generator* gen) {
  require_floating(options.dtype, "randn");
  return fill_random(shape, options.dtype, gen, "randn", [](Generator& g) { return g.normal(); });
}

namespace {

// The integers that every value of `dtype` holds exactly, [lo, hi]: for a
// floating type up to 2^digits (PyTorch only warns beyond that; here a value
// that would be rounded is refused, since it is silently not what was asked).
std::pair<std::int64_t, std::int64_t> exact_integers(DType dtype) {
  return dispatch(dtype, [&]<class T>() -> std::pair<std::int64_t, std::int64_t> {
    if constexpr (std::is_same_v<T, bool>) return {0, 1};
    else if constexpr (std::is_integral_v<T>) return {std::numeric_limits<T>::min(), std::numeric_limits<T>::max()};
    else {
      constexpr int digits = std::is_same_v<T, Half>       ? 11
                             : std::is_same_v<T, BFloat16> ? 8
                                                           : std::numeric_limits<T>::digits;
      return {-(std::int64_t{1} << digits), std::int64_t{1} << digits};
    }
  });
}

// Uniform integers in [low, high_inclusive], stored as `dtype`, after
// checking that both ends are exact in it (a narrower type would wrap).
TensorBase integers_in(std::int64_t low, std::int64_t high_inclusive, Dims shape, DType dtype, Generator* gen,
                       const char* op) {
  const auto [lo, hi] = exact_integers(dtype);
  for (const auto& [name, v] : {std::pair<const char*, std::int64_t>{"from", low}, {"to - 1", high_inclusive}})
    if (v < lo || v > hi)
      throw ValueError(fmt::format("{}: {} = {} is outside the integers {} holds exactly, [{}, {}]", op, name, v,
                                   dtype_name(dtype), lo, hi));
  // In unsigned arithmetic: the span overflows int64 for ranges wider than
  // 2^63 (and is 0 for all 2^64 values), and going through double would
  // round int64 draws past 2^53.
  const std::uint64_t span = static_cast<std::uint64_t>(high_inclusive) - static_cast<std::uint64_t>(low) + 1;
  TensorBase t = make_tensor(shape, dtype);
  auto& g = pick(gen);
  std::lock_guard lock(g.mutex());
  dispatch(dtype, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const std::uint64_t draw = span == 0 ? g.next_u64() : g.below(span);
      p[i] = convert_element<T>(static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + draw));
    }
  });
  return t;
}

}  // namespace

TensorBase randint(std::int64_t low, std::int64_t high, Dims shape, TensorOptions options, Generator* gen) {
  if (high <= low) throw ValueError(fmt::format("randint: empty range [{}, {})", low, high));
  if (options.dtype == kBool) throw DTypeError("randint: bool is not an integer dtype");
  return integers_in(low, high - 1, std::move(shape), options.dtype, gen, "randint");
}

TensorBase random_integers(Dims shape, DType dtype, std::int64_t from, std::optional<std::int64_t> to, Generator* gen,
                           const char* op) {
  if (to && *to <= from) throw ValueError(fmt::format("{}: empty range [{}, {})", op, from, *to));
  return integers_in(from, to ? *to - 1 : exact_integers(dtype).second, std::move(shape), dtype, gen, op);
}

TensorBase bernoulli(const TensorBase& probabilities, Generator* gen) {
  require_floating(probabilities.dtype(), "bernoulli");
  TensorBase p = kernel::contiguous(probabilities);
  TensorBase out = make_tensor(p.shape(), p.dtype());
  auto& g = pick(gen);
  std::lock_guard lock(g.mutex());
  dispatch_floating(p.dtype(), "bernoulli", [&]<class T>() {
    const T* src = p.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    for (std::int64_t i = 0; i < p.numel(); ++i) {
      if (!(src[i] >= 0 && src[i] <= 1))
        throw ValueError(fmt::format("bernoulli: probability {} at index {} is outside [0, 1]", src[i], i));
      dst[i] = g.uniform() < static_cast<double>(src[i]) ? T(1) : T(0);
    }
  });
  return out;
}

TensorBase bernoulli(Dims shape, double p, TensorOptions options, Generator* gen) {
  if (!(p >= 0 && p <= 1)) throw ValueError(fmt::format("bernoulli: probability {} is outside [0, 1]", p));
  return fill_random(shape, options.dtype, gen, "bernoulli", [p](Generator& g) { return g.uniform() < p ? 1.0 : 0.0; });
}

TensorBase randperm(std::int64_t n, Generator* gen) {
  if (n < 0) throw ValueError(fmt::format("randperm: n must be non-negative, got {}", n));
  TensorBase t = make_tensor({n}, kInt64);
  auto* p = t.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = i;
  auto& g = pick(gen);
  std::lock_guard lock(g.mutex());
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[g.below(static_cast<std::uint64_t>(i + 1))]);
  return t;
}

}  // namespace kernel
}  // namespace tg
