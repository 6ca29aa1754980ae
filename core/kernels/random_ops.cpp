#include <tapegrad/core/kernels/random_ops.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/random.h>

namespace tg::kernel {

namespace {

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

template <class Draw>
TensorBase fill(Dims shape, DType dtype, Generator* gen, const char* op, Draw draw) {
  TensorBase t = make_tensor(shape, dtype);
  auto& g = pick(gen);
  std::lock_guard lock(g.mutex());
  dispatch_floating(dtype, op, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(draw(g));
  });
  return t;
}

}  // namespace

TensorBase multinomial(const TensorBase& probs, std::int64_t n, bool replacement, Generator* gen) {
  const char* op = "multinomial";
  if (probs.dim() != 1 && probs.dim() != 2)
    throw ShapeError(fmt::format("{}: probabilities must be 1-D or 2-D, got {}", op, shape_str(probs.sizes())));
  if (!is_floating(probs.dtype()))
    throw DTypeError(fmt::format("{}: probabilities must be floating ({}), got {}", op, kFloatingDTypeNames,
                                 dtype_name(probs.dtype())));
  if (n <= 0) throw ValueError(fmt::format("{}: the number of samples must be positive, got {}", op, n));
  const std::int64_t rows = probs.dim() == 2 ? probs.size(0) : 1, k = probs.size(-1);
  if (!replacement && n > k)
    throw ValueError(fmt::format("{}: cannot draw {} samples without replacement from {} categories ({})", op, n, k,
                                 shape_str(probs.sizes())));
  const TensorBase p = contiguous(to(probs, kFloat64));
  const double* w = p.data_ptr<double>();
  // Every row is checked before anything is drawn.
  for (std::int64_t r = 0; r < rows; ++r) {
    double total = 0;
    std::int64_t positive = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      const double v = w[r * k + j];
      if (!std::isfinite(v) || v < 0)
        throw ValueError(fmt::format("{}: probability {} at [{}, {}] is not a finite non-negative number ({})", op, v,
                                     r, j, shape_str(probs.sizes())));
      total += v;
      positive += v > 0 ? 1 : 0;
    }
    if (!(total > 0))
      throw ValueError(fmt::format("{}: the probabilities of row {} sum to {}, not a positive number ({})", op, r,
                                   total, shape_str(probs.sizes())));
    if (!replacement && positive < n)
      throw ValueError(fmt::format(
          "{}: cannot draw {} samples without replacement from row {}, which has {} non-zero probabilities ({})", op, n,
          r, positive, shape_str(probs.sizes())));
  }
  TensorBase out = make_tensor(probs.dim() == 2 ? Dims{rows, n} : Dims{n}, kInt64);
  auto* o = out.data_ptr<std::int64_t>();
  auto& g = pick(gen);
  std::lock_guard lock(g.mutex());
  std::vector<double> cdf(static_cast<std::size_t>(k));
  std::vector<std::pair<double, std::int64_t>> keys(static_cast<std::size_t>(k));
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* row = w + r * k;
    if (replacement) {
      std::partial_sum(row, row + k, cdf.begin());
      const double total = cdf.back();
      for (std::int64_t i = 0; i < n; ++i) {
        const double u = g.uniform() * total;
        // The first category whose cumulative weight exceeds u; one of
        // weight 0 never is (its cumulative weight equals the previous one).
        auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
        if (it == cdf.end()) --it;  // u rounded up to total
        while (row[it - cdf.begin()] == 0) --it;
        o[r * n + i] = it - cdf.begin();
      }
    } else {
      // Exponential race: category j finishes at E_j / w_j with E_j ~ Exp(1);
      // the n first to finish are a draw without replacement, in order.
      for (std::int64_t j = 0; j < k; ++j) {
        const double e = -std::log1p(-g.uniform());
        keys[static_cast<std::size_t>(j)] = {row[j] > 0 ? e / row[j] : HUGE_VAL, j};
      }
      std::partial_sort(keys.begin(), keys.begin() + n, keys.end());
      for (std::int64_t i = 0; i < n; ++i) o[r * n + i] = keys[static_cast<std::size_t>(i)].second;
    }
  }
  return out;
}

TensorBase normal(const TensorBase& mean, const TensorBase& std, DType dtype, Generator* gen, const char* op) {
  const double* m = mean.data_ptr<double>();
  const double* s = std.data_ptr<double>();
  for (std::int64_t i = 0; i < std.numel(); ++i)
    if (!(s[i] >= 0)) throw ValueError(fmt::format("{}: std must be >= 0, got {} at flat index {}", op, s[i], i));
  std::int64_t i = 0;
  return fill(mean.shape(), dtype, gen, op, [&](Generator& g) {
    const double v = m[i] + s[i] * g.normal();
    ++i;
    return v;
  });
}

TensorBase uniform(Dims shape, DType dtype, double from, double to, Generator* gen, const char* op) {
  if (!(from <= to) || !std::isfinite(to - from))
    throw ValueError(fmt::format("{}: expected a finite range from <= to, got from={} to={}", op, from, to));
  // As PyTorch: bounds the dtype cannot hold, or a width it cannot, would
  // fill with infinities (float16's -1e6..1e6) or NaN.
  const double max = floating_max(dtype);
  if (from < -max || to > max || to - from > max)
    throw ValueError(fmt::format("{}: the range [{}, {}) is out of bounds for {}, whose largest value is {}", op, from,
                                 to, dtype_name(dtype), max));
  // u with the dtype's significand bits, as rand: from + (to - from) u then
  // stays below `to` wherever the range's rounding allows (PyTorch draws the same way).
  const int bits = significand_bits(dtype);
  return fill(shape, dtype, gen, op, [&](Generator& g) { return from + (to - from) * g.uniform(bits); });
}

TensorBase exponential(Dims shape, DType dtype, double lambd, Generator* gen, const char* op) {
  if (!(lambd > 0)) throw ValueError(fmt::format("{}: expected lambd > 0, got {}", op, lambd));
  // 1 - u is in (0, 1]: the log stays finite.
  return fill(shape, dtype, gen, op, [&](Generator& g) { return -std::log1p(-g.uniform()) / lambd; });
}

}  // namespace tg::kernel
