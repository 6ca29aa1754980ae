#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include <tapegrad/core/export.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/tensor.h>

// requires_grad is the autograd level's (autograd/creation.cpp): these only
// make the data.
namespace tg::kernel {

TensorBase empty(Dims shape, TensorOptions options) { return make_tensor(shape, options.dtype); }

namespace {
TensorBase full_as(const char* op, Dims shape, double value, TensorOptions options) {
  TensorBase t = make_tensor(shape, options.dtype);
  kernel::fill_(t, value, op);
  return t;
}
}  // namespace

TensorBase full(Dims shape, double value, TensorOptions options) { return full_as("full", shape, value, options); }
TensorBase zeros(Dims shape, TensorOptions options) { return full(shape, 0, options); }
TensorBase ones(Dims shape, TensorOptions options) { return full(shape, 1, options); }
TensorBase scalar_tensor(double value, TensorOptions options) { return full_as("scalar_tensor", {}, value, options); }

TensorBase empty_like(const TensorBase& t, std::optional<DType> dtype) {
  return make_tensor(t.shape(), dtype.value_or(t.dtype()));
}
TensorBase zeros_like(const TensorBase& t, std::optional<DType> dtype) {
  return full(t.shape(), 0, {dtype.value_or(t.dtype())});
}
TensorBase ones_like(const TensorBase& t, std::optional<DType> dtype) {
  return full(t.shape(), 1, {dtype.value_or(t.dtype())});
}
TensorBase full_like(const TensorBase& t, double value, std::optional<DType> dtype) {
  return full_as("full_like", t.shape(), value, {dtype.value_or(t.dtype())});
}

TensorBase arange_range(double start, double end, double step, TensorOptions options) {
  detail::CurrentOpScope op("arange");
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    throw ValueError(fmt::format("arange: invalid range start={} end={} step={}", start, end, step));
  if ((end - start) / step < 0)
    throw ValueError(fmt::format("arange: step {} does not lead from {} to {}", step, start, end));
  // Checked before the conversion, which is undefined for a count past int64.
  const double count = std::ceil((end - start) / step);
  if (!(count < 0x1p63))
    throw ValueError(fmt::format("arange: start={} end={} step={} gives {} elements, more than a tensor can hold",
                                 start, end, step, count));
  const auto n = static_cast<std::int64_t>(count);
  TensorBase t = make_tensor({n}, options.dtype);
  dispatch(options.dtype, [&]<class T>() {
    T* p = t.data_ptr<T>();
    // Checked: arange(0, 1e30, 1e28) with an integer dtype has values int64 cannot hold.
    for (std::int64_t i = 0; i < n; ++i) p[i] = checked_scalar<T>(start + static_cast<double>(i) * step, "arange");
  });
  return t;
}

TensorBase arange_integers(std::int64_t start, std::int64_t end, std::int64_t step, TensorOptions options) {
  detail::CurrentOpScope op("arange");
  if (step == 0) throw ValueError(fmt::format("arange: invalid range start={} end={} step={}", start, end, step));
  if ((end < start && step > 0) || (end > start && step < 0))
    throw ValueError(fmt::format("arange: step {} does not lead from {} to {}", step, start, end));
  // Counted in uint64: |end - start| can pass int64 (INT64_MIN to INT64_MAX), as can |step|.
  using U = std::uint64_t;
  const U span = step > 0 ? static_cast<U>(end) - static_cast<U>(start) : static_cast<U>(start) - static_cast<U>(end);
  const U stride = step > 0 ? static_cast<U>(step) : U{0} - static_cast<U>(step);
  const U count = span / stride + (span % stride != 0);  // ceil(span / stride)
  if (count > static_cast<U>(std::numeric_limits<std::int64_t>::max()))
    throw ValueError(
        fmt::format("arange: start={} end={} step={} gives more elements than a tensor can hold", start, end, step));
  const auto n = static_cast<std::int64_t>(count);
  TensorBase t = make_tensor({n}, options.dtype);
  dispatch(options.dtype, [&]<class T>() {
    T* p = t.data_ptr<T>();
    // Every value lies between start and end, so start + i * step is an int64,
    // though i * step alone may not be: summed modulo 2^64. Other dtypes take it as the double path's scalar (exact
    // below 2^53, beyond every narrower integer's range; uint8 wraps -1 as PyTorch).
    for (std::int64_t i = 0; i < n; ++i) {
      const auto v = static_cast<std::int64_t>(static_cast<U>(start) + static_cast<U>(i) * static_cast<U>(step));
      if constexpr (std::is_same_v<T, std::int64_t>) p[i] = v;
      else p[i] = checked_scalar<T>(static_cast<double>(v), "arange");
    }
  });
  return t;
}

TensorBase linspace(double start, double end, std::int64_t steps, TensorOptions options) {
  if (steps < 0) throw ValueError(fmt::format("linspace: number of steps must be non-negative, got {}", steps));
  TensorBase t = make_tensor({steps}, options.dtype);
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0;
  dispatch(options.dtype, [&]<class T>() {
    T* p = t.data_ptr<T>();
    // Fill from both ends, as PyTorch, so the last value is exactly `end`;
    // one step is `start` alone (the half from `end` would be all of it).
    const std::int64_t half = steps == 1 ? 1 : steps / 2;
    for (std::int64_t i = 0; i < steps; ++i)
      p[i] = checked_scalar<T>(
          i < half ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - 1 - i),
          "linspace");
  });
  return t;
}

TensorBase eye(std::int64_t n, std::optional<std::int64_t> m, TensorOptions options) {
  const std::int64_t cols = m.value_or(n);
  if (n < 0 || cols < 0) throw ValueError(fmt::format("eye: sizes must be non-negative, got {} x {}", n, cols));
  TensorBase t = zeros({n, cols}, {options.dtype});
  dispatch(options.dtype, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < std::min(n, cols); ++i) p[i * cols + i] = T(1);
  });
  return t;
}

TensorBase tensor_values(std::span<const double> values, OptionalDims given, TensorOptions options) {
  const Dims shape = given.value_or_1d(static_cast<std::int64_t>(values.size()));
  if (shape.product() != static_cast<std::int64_t>(values.size()))
    throw ShapeError(fmt::format("tensor: {} values do not fill shape {}", values.size(), shape_str(shape)));
  TensorBase t = make_tensor(shape, options.dtype);
  dispatch(options.dtype, [&]<class T>() {
    T* p = t.data_ptr<T>();
    std::int64_t i = 0;
    for (double v : values) p[i++] = checked_scalar<T>(v, "tensor");
  });
  return t;
}

TensorBase tensor(std::initializer_list<double> values, OptionalDims shape, TensorOptions options) {
  return tensor_values(std::span<const double>(values.begin(), values.size()), std::move(shape), options);
}

template <class V>
TensorBase tensor_stored(const std::vector<V>& values, OptionalDims given, DType dtype) {
  const Dims shape = given.value_or_1d(static_cast<std::int64_t>(values.size()));
  if (shape.product() != static_cast<std::int64_t>(values.size()))
    throw ShapeError(fmt::format("tensor: {} values do not fill shape {}", values.size(), shape_str(shape)));
  TensorBase t = make_tensor(shape, dtype);
  // Each value checked as it is stored in another dtype, as PyTorch's
  // torch.tensor([300], dtype=torch.uint8) refuses (a conversion of the
  // whole vector wrapped 300 to 44 and saturated 300.7 to 255).
  dispatch(dtype, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = checked_element<T>(values[i], "tensor");
  });
  return t;
}

// TG_API: GCC gives an explicit instantiation of a namespace-scope function
// template -fvisibility's default, not the visibility of its declaration.
#define TG_INSTANTIATE_TENSOR(V) \
  template TG_API TensorBase tensor_stored<V>(const std::vector<V>&, OptionalDims, DType);
TG_INSTANTIATE_TENSOR(float)
TG_INSTANTIATE_TENSOR(double)
TG_INSTANTIATE_TENSOR(std::int64_t)
TG_INSTANTIATE_TENSOR(std::int32_t)
TG_INSTANTIATE_TENSOR(std::int16_t)
TG_INSTANTIATE_TENSOR(std::int8_t)
TG_INSTANTIATE_TENSOR(std::uint8_t)
TG_INSTANTIATE_TENSOR(bool)
TG_INSTANTIATE_TENSOR(Half)
TG_INSTANTIATE_TENSOR(BFloat16)
#undef TG_INSTANTIATE_TENSOR

}  // namespace tg::kernel
