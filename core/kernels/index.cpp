#include <tapegrad/core/kernels/index.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <limits>

#include <fmt/format.h>

#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/wrapping.h>

namespace tg::kernel {

namespace {

void check_index_dtype(const TensorBase& index, const char* op) {
  if (index.dtype() != kInt64)
    throw DTypeError(fmt::format("{}: index must be int64, got {}", op, dtype_name(index.dtype())));
}

void check_vector_index(const TensorBase& index, const char* op) {
  check_index_dtype(index, op);
  if (index.dim() != 1)
    throw ShapeError(fmt::format("{}: index must be 1-D, got shape {}", op, shape_str(index.sizes())));
}

void check_in_range(std::int64_t v, std::int64_t size, int dim, const char* op) {
  if (v < 0 || v >= size)
    throw IndexError(fmt::format("{}: index {} is out of range for dimension {} with size {}", op, v, dim, size));
}

// Visits every position of `shape` in row-major order, passing for each of the
// N strided layouts the element offset of that position.
template <std::size_t N, class F>
void for_each_position(const Dims& shape, const std::array<Dims, N>& strides, F f) {
  const std::int64_t total = shape.product();
  const int nd = shape.size();
  Dims pos = Dims::filled(nd, 0);
  std::array<std::int64_t, N> off{};
  for (std::int64_t count = 0; count < total; ++count) {
    f(off);
    for (int d = nd - 1; d >= 0; --d) {
      if (++pos[d] < shape[d]) {
        for (std::size_t k = 0; k < N; ++k) off[k] += strides[k][d];
        break;
      }
      for (std::size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * (shape[d] - 1);
      pos[d] = 0;
    }
  }
}

// index_select and its adjoint see x as [outer, size, inner] around `dim`;
// a 0-d tensor counts as shape [1].
struct Rows {
  std::int64_t outer = 1, size = 1, inner = 1;
};
Rows rows_around(const Dims& shape, int dim) {
  Rows r;
  if (shape.empty()) return r;
  for (int d = 0; d < dim; ++d) r.outer *= shape[d];
  r.size = shape[dim];
  for (int d = dim + 1; d < shape.size(); ++d) r.inner *= shape[d];
  return r;
}

}  // namespace

TensorBase index_select(const TensorBase& x, std::int64_t dim, const TensorBase& index) {
  check_vector_index(index, "index_select");
  const int d = wrap_dim(dim, x.dim(), "index_select");
  const Rows r = rows_around(x.shape(), d);
  const TensorBase idx = contiguous(index);
  const std::int64_t n = idx.numel();
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  for (std::int64_t j = 0; j < n; ++j) check_in_range(ip[j], r.size, d, "index_select");
  Dims out_shape = x.shape();
  if (x.dim() == 0) {
    if (n != 1) throw ShapeError(fmt::format("index_select: a 0-d input takes exactly one index, got {}", n));
  } else {
    out_shape[d] = n;
  }
  TensorBase out = make_tensor(out_shape, x.dtype());
  const TensorBase xc = contiguous(x);
  const auto bytes = static_cast<std::size_t>(r.inner) * x.element_size();
  auto* dst = static_cast<char*>(out.raw_data());
  const auto* src = static_cast<const char*>(xc.raw_data());
  if (bytes == 0) return out;
  for (std::int64_t o = 0; o < r.outer; ++o)
    for (std::int64_t j = 0; j < n; ++j)
      std::memcpy(dst + static_cast<std::size_t>(o * n + j) * bytes,
                  src + static_cast<std::size_t>(o * r.size + ip[j]) * bytes, bytes);
  return out;
}

TensorBase index_add_zeros(const Dims& shape, std::int64_t dim, const TensorBase& index, const TensorBase& src) {
  const char* op = "index_select_backward";
  check_vector_index(index, op);
  const int d = wrap_dim(dim, shape.size(), op);
  const Rows r = rows_around(shape, d);
  const TensorBase idx = contiguous(index);
  const std::int64_t n = idx.numel();
  Dims expected = shape;
  if (!shape.empty()) expected[d] = n;
  if (src.shape() != expected || (shape.empty() && n != 1))
    throw ShapeError(fmt::format("{}: source of shape {} does not fit {} indices into shape {} along dimension {}", op,
                                 shape_str(src.sizes()), n, shape_str(shape), d));
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  for (std::int64_t j = 0; j < n; ++j) check_in_range(ip[j], r.size, d, op);
  TensorBase out = make_tensor(shape, src.dtype());
  fill_(out, 0);
  const TensorBase sc = contiguous(src);
  dispatch_numeric(src.dtype(), op, [&]<class T>() {
    T* o = out.data_ptr<T>();
    const T* s = sc.data_ptr<T>();
    for (std::int64_t a = 0; a < r.outer; ++a)
      for (std::int64_t j = 0; j < n; ++j) {
        T* row = o + (a * r.size + ip[j]) * r.inner;
        const T* from = s + (a * n + j) * r.inner;
        for (std::int64_t i = 0; i < r.inner; ++i) row[i] += from[i];
      }
  });
  return out;
}

TensorBase gather(const TensorBase& x, std::int64_t dim, const TensorBase& index) {
  check_index_dtype(index, "gather");
  if (index.dim() != x.dim())
    throw ShapeError(
        fmt::format("gather: index of shape {} and input of shape {} must have the same number of "
                    "dimensions",
                    shape_str(index.sizes()), shape_str(x.sizes())));
  const int d = wrap_dim(dim, x.dim(), "gather");
  for (int k = 0; k < x.dim(); ++k)
    if (k != d && index.size(k) > x.size(k))
      throw ShapeError(
          fmt::format("gather: index of shape {} is larger than input of shape {} at dimension {} "
                      "(only the gather dimension {} may be larger)",
                      shape_str(index.sizes()), shape_str(x.sizes()), k, d));
  TensorBase out = make_tensor(index.shape(), x.dtype());
  const std::int64_t size = x.dim() == 0 ? 1 : x.size(d);
  const std::int64_t step = x.dim() == 0 ? 0 : x.stride(d);
  Dims x_strides(x.strides());
  if (x.dim() > 0) x_strides[d] = 0;  // the index supplies this coordinate
  const std::array<Dims, 3> strides{out.strides(), index.strides(), x_strides};
  dispatch(x.dtype(), [&]<class T>() {
    T* o = out.data_ptr<T>();
    const T* xp = x.data_ptr<T>();
    const std::int64_t* ip = index.data_ptr<std::int64_t>();
    for_each_position<3>(index.shape(), strides, [&](const std::array<std::int64_t, 3>& off) {
      const std::int64_t v = ip[off[1]];
      check_in_range(v, size, d, "gather");
      o[off[0]] = xp[off[2] + v * step];
    });
  });
  return out;
}

TensorBase scatter_add(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src) {
  check_index_dtype(index, "scatter_add");
  if (src.dtype() != x.dtype())
    throw DTypeError(
        fmt::format("scatter_add: src has dtype {} but self has {}", dtype_name(src.dtype()), dtype_name(x.dtype())));
  const int d = wrap_dim(dim, x.dim(), "scatter_add");
  TensorBase out = clone(x);
  if (index.numel() == 0) return out;
  if (index.dim() != x.dim() || src.dim() != x.dim())
    throw ShapeError(fmt::format("scatter_add: self {}, index {} and src {} must have the same number of dimensions",
                                 shape_str(x.sizes()), shape_str(index.sizes()), shape_str(src.sizes())));
  for (int k = 0; k < x.dim(); ++k) {
    if (index.size(k) > src.size(k))
      throw ShapeError(fmt::format("scatter_add: index of shape {} is larger than src of shape {} at dimension {}",
                                   shape_str(index.sizes()), shape_str(src.sizes()), k));
    if (k != d && index.size(k) > x.size(k))
      throw ShapeError(
          fmt::format("scatter_add: index of shape {} is larger than self of shape {} at dimension {} "
                      "(only the scatter dimension {} may be larger)",
                      shape_str(index.sizes()), shape_str(x.sizes()), k, d));
  }
  const std::int64_t size = x.dim() == 0 ? 1 : x.size(d);
  const std::int64_t step = x.dim() == 0 ? 0 : out.stride(d);
  Dims out_strides(out.strides());
  if (x.dim() > 0) out_strides[d] = 0;
  const std::array<Dims, 3> strides{out_strides, index.strides(), src.strides()};
  // Serial on purpose: repeated indices add into the same element.
  dispatch_numeric(x.dtype(), "scatter_add", [&]<class T>() {
    T* o = out.data_ptr<T>();
    const T* sp = src.data_ptr<T>();
    const std::int64_t* ip = index.data_ptr<std::int64_t>();
    for_each_position<3>(index.shape(), strides, [&](const std::array<std::int64_t, 3>& off) {
      const std::int64_t v = ip[off[1]];
      check_in_range(v, size, d, "scatter_add");
      T& slot = o[off[0] + v * step];
      slot = wrap_add(slot, sp[off[2]]);
    });
  });
  return out;
}

TensorBase masked_fill(const TensorBase& x, const TensorBase& mask, double value) {
  if (mask.dtype() != kBool)
    throw DTypeError(fmt::format("masked_fill: mask must be bool, got {}", dtype_name(mask.dtype())));
  TensorBase out = make_tensor(broadcast_shapes(x.shape(), mask.shape(), "masked_fill"), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T fill = checked_scalar<T>(value, "masked_fill");
    map2<T, T, bool>(out, x, mask, [fill](T a, bool m) { return m ? fill : a; });
  });
  return out;
}

TensorBase one_hot(const TensorBase& labels, std::int64_t num_classes) {
  if (labels.dtype() != kInt64)
    throw DTypeError(fmt::format("one_hot: labels must be int64, got {}", dtype_name(labels.dtype())));
  if (num_classes < -1)
    throw ValueError(fmt::format("one_hot: num_classes must be non-negative, or -1 to infer it; got {}", num_classes));
  const TensorBase lc = contiguous(labels);
  const std::int64_t n = lc.numel();
  const std::int64_t* p = lc.data_ptr<std::int64_t>();
  if (num_classes == -1) {
    if (n == 0) throw ValueError("one_hot: cannot infer num_classes from an empty tensor; pass it explicitly");
    const std::int64_t top = *std::max_element(p, p + n);
    if (top == std::numeric_limits<std::int64_t>::max())
      throw ShapeError(fmt::format("one_hot: label {} gives more classes than an int64 can count", top));
    num_classes = top + 1;
  }
  for (std::int64_t i = 0; i < n; ++i)
    if (p[i] < 0 || p[i] >= num_classes)
      throw IndexError(
          fmt::format("one_hot: label {} (element {}) is out of range for {} classes", p[i], i, num_classes));
  Dims shape = labels.shape();
  shape.push_back(num_classes);
  TensorBase out = make_tensor(shape, kInt64);
  fill_(out, 0);
  std::int64_t* o = out.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) o[i * num_classes + p[i]] = 1;
  return out;
}

}  // namespace tg::kernel
