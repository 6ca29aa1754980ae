#include <tapegrad/core/dims.h>

#include <fmt/format.h>

namespace tg {

std::string shape_str(IntArrayRef dims) { return fmt::format("[{}]", fmt::join(dims, ", ")); }

void throw_numel_overflow(const char* op, std::span<const std::int64_t> shape) {
  // A negative size overflows too (a product of two near INT64_MIN): say so.
  bool negative = false;
  for (auto x : shape) negative = negative || x < 0;
  const std::string what = fmt::format("shape {} {}", shape_str(shape),
                                       negative ? "has a negative size" : "has more elements than an int64 can count");
  // Dims::product() knows no op ("shape"): the op running names it, if any.
  if (std::string_view(op) == "shape") throw ShapeError(detail::in_current_op(what));
  throw ShapeError(fmt::format("{}: {}", op, what));
}

Dims contiguous_strides(const Dims& sizes, const char* op) {
  Dims strides = Dims::filled(sizes.size(), 1);
  std::int64_t running = 1;
  for (int d = sizes.size() - 1; d >= 0; --d) {
    strides[d] = running;
    // The last product is never used as a stride, so it may overflow.
    if (mul_overflows(running, std::max<std::int64_t>(sizes[d], 1), &running) && d > 0)
      throw ShapeError(fmt::format("{}: the strides of shape {} do not fit in int64", op, shape_str(sizes)));
  }
  return strides;
}

int wrap_dim(std::int64_t dim, int ndim, const char* op) {
  // A 0-d tensor accepts dim 0 and -1, as PyTorch.
  const std::int64_t n = std::max(ndim, 1);
  if (dim < -n || dim >= n)
    throw IndexError(
        fmt::format("{}: dimension {} out of range for a tensor with {} dimension{} (expected in [{}, {}])", op, dim,
                    ndim, ndim == 1 ? "" : "s", -n, n - 1));
  return static_cast<int>(dim < 0 ? dim + n : dim);
}

Dims broadcast_shapes(const Dims& a, const Dims& b, const char* op) {
  const int n = std::max(a.size(), b.size());
  Dims out = Dims::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    const int ia = a.size() - n + i, ib = b.size() - n + i;
    const std::int64_t sa = ia >= 0 ? a[ia] : 1, sb = ib >= 0 ? b[ib] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      throw ShapeError(fmt::format("{}: shapes {} and {} cannot be broadcast (dimension {}: {} vs {})", op,
                                   shape_str(a), shape_str(b), i, sa, sb));
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

}  // namespace tg
