#include <tapegrad/core/kernels/index.h>

#include <algorithm>
#include <array>

#include <limits>
#include <string_view>
#include <type_traits>
#include <vector>

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

// The index of index_select, index_add, index_copy and index_fill as
// contiguous int64: int32 is taken too, as PyTorch's index_select and
// index_add take IntTensor and LongTensor alike (gather and scatter: int64).
TensorBase slice_index(const TensorBase& index, const char* op) {
  if (index.dtype() == kInt64) return contiguous(index);
  if (index.dtype() == kInt32) return to(index, kInt64);
  throw DTypeError(fmt::format("{}: index must be int64 or int32, got {}", op, dtype_name(index.dtype())));
}

// index_select's index: 1-D, or 0-d as one index (as PyTorch's, which then
// keeps the indexed dim with size 1).
TensorBase vector_index(const TensorBase& index, const char* op) {
  TensorBase idx = slice_index(index, op);
  if (index.dim() > 1)
    throw ShapeError(fmt::format("{}: index must be 1-D or 0-d, got shape {}", op, shape_str(index.sizes())));
  return idx;
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
  const TensorBase idx = vector_index(index, "index_select");
  const int d = wrap_dim(dim, x.dim(), "index_select");
  const Rows r = rows_around(x.shape(), d);
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
  if (r.inner == 0 || out.numel() == 0) return out;
  // Moved as unsigned words of the element's size: along the last dim a row
  // is one element, and a memcpy call of a run-time size for each was 8x
  // PyTorch's time (1024 x 1024 float32, 512 indices along dim 1).
  dispatch_bits(x.dtype(), [&]<class T>() {
    T* dst = elements<T>(out);
    const T* src = elements<T>(xc);
    for (std::int64_t o = 0; o < r.outer; ++o)
      for (std::int64_t j = 0; j < n; ++j) {
        const T* from = src + (o * r.size + ip[j]) * r.inner;
        T* to = dst + (o * n + j) * r.inner;
        if (r.inner == 1) *to = *from;
        else std::copy_n(from, r.inner, to);
      }
  });
  return out;
}

TensorBase index_add_zeros(const Dims& shape, std::int64_t dim, const TensorBase& index, const TensorBase& src) {
  const char* op = "index_select_backward";
  const TensorBase idx = vector_index(index, op);
  const int d = wrap_dim(dim, shape.size(), op);
  const Rows r = rows_around(shape, d);
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
  dispatch_bits(x.dtype(), [&]<class T>() {  // moves elements only
    T* o = elements<T>(out);
    const T* xp = elements<T>(x);
    const std::int64_t* ip = index.data_ptr<std::int64_t>();
    for_each_position<3>(index.shape(), strides, [&](const std::array<std::int64_t, 3>& off) {
      const std::int64_t v = ip[off[1]];
      check_in_range(v, size, d, "gather");
      o[off[0]] = xp[off[2] + v * step];
    });
  });
  return out;
}

bool zero_d_counts_as_one(std::initializer_list<const TensorBase*> operands) {
  const int first = (*operands.begin())->dim();
  bool differ = false;
  for (const TensorBase* t : operands) {
    if (std::max(t->dim(), 1) != std::max(first, 1)) return false;
    differ = differ || t->dim() != first;
  }
  return differ;
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
    // 16-bit floats add up in float and round once, as scatter_reduce's sum
    // (in float16, 2048 + 1 is 2048); other types in their own.
    using Acc = std::conditional_t<is_reduced_float_v<T>, float, T>;
    std::vector<Acc> wide;
    if constexpr (!std::is_same_v<Acc, T>) wide.assign(o, o + out.numel());
    for_each_position<3>(index.shape(), strides, [&](const std::array<std::int64_t, 3>& off) {
      const std::int64_t v = ip[off[1]];
      check_in_range(v, size, d, "scatter_add");
      const std::int64_t at = off[0] + v * step;
      if constexpr (std::is_same_v<Acc, T>) o[at] = wrap_add(o[at], sp[off[2]]);
      else wide[static_cast<std::size_t>(at)] += static_cast<float>(sp[off[2]]);
    });
    if constexpr (!std::is_same_v<Acc, T>)
      for (std::size_t i = 0; i < wide.size(); ++i) o[i] = static_cast<T>(wide[i]);
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

// ---- scatter, index_copy/fill, nonzero (issue 14) ----------------------------
namespace tg::kernel {

namespace {

// index_copy, index_fill: a 1-D or 0-d int64 (or int32) index; its values wrapped
// (negative from the end) when `wrap`, checked against the dim's size.
std::vector<std::int64_t> slice_indices(const TensorBase& index, std::int64_t size, int dim, bool wrap,
                                        const char* op) {
  const TensorBase idx = slice_index(index, op);
  if (index.dim() > 1)
    throw ShapeError(fmt::format("{}: index must be 1-D or 0-d, got shape {}", op, shape_str(index.sizes())));
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  std::vector<std::int64_t> out(ip, ip + idx.numel());
  for (auto& v : out) {
    if (wrap && v < 0 && v >= -size) v += size;
    check_in_range(v, size, dim, op);
  }
  return out;
}

template <class T>
bool is_nan_value(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

}  // namespace

ScatterReduce scatter_reduce_kind(std::string_view name, const char* op) {
  if (name == "sum") return ScatterReduce::Sum;
  if (name == "prod") return ScatterReduce::Prod;
  if (name == "mean") return ScatterReduce::Mean;
  if (name == "amax") return ScatterReduce::Amax;
  if (name == "amin") return ScatterReduce::Amin;
  throw ValueError(
      fmt::format("{}: reduce must be one of \"sum\", \"prod\", \"mean\", \"amax\", \"amin\", got \"{}\"", op, name));
}

TensorBase scatter_reduce(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src,
                          ScatterReduce reduce, bool include_self, const char* op) {
  check_index_dtype(index, op);
  if (src.dtype() != x.dtype())
    throw DTypeError(
        fmt::format("{}: src has dtype {} but self has {}", op, dtype_name(src.dtype()), dtype_name(x.dtype())));
  const int d = wrap_dim(dim, x.dim(), op);
  if (index.numel() > 0 && (index.dim() != x.dim() || src.dim() != x.dim()))
    throw ShapeError(fmt::format("{}: self {}, index {} and src {} must have the same number of dimensions", op,
                                 shape_str(x.sizes()), shape_str(index.sizes()), shape_str(src.sizes())));
  if (index.numel() > 0)
    for (int k = 0; k < x.dim(); ++k) {
      if (index.size(k) > src.size(k))
        throw ShapeError(fmt::format("{}: index of shape {} is larger than src of shape {} at dimension {}", op,
                                     shape_str(index.sizes()), shape_str(src.sizes()), k));
      if (k != d && index.size(k) > x.size(k))
        throw ShapeError(
            fmt::format("{}: index of shape {} is larger than self of shape {} at dimension {} "
                        "(only the scatter dimension {} may be larger)",
                        op, shape_str(index.sizes()), shape_str(x.sizes()), k, d));
    }
  TensorBase out = clone(x);
  if (index.numel() == 0) return out;
  const std::int64_t size = x.dim() == 0 ? 1 : x.size(d);
  const std::int64_t step = x.dim() == 0 ? 0 : out.stride(d);
  Dims out_strides(out.strides());
  if (x.dim() > 0) out_strides[d] = 0;
  const std::array<Dims, 3> strides{out_strides, index.strides(), src.strides()};
  const std::int64_t* ip = index.data_ptr<std::int64_t>();
  // Checked before anything is written, so a bad index leaves nothing half done.
  for_each_position<3>(index.shape(), strides,
                       [&](const std::array<std::int64_t, 3>& off) { check_in_range(ip[off[1]], size, d, op); });
  const auto run = [&]<class T>() {
    T* o = out.data_ptr<T>();
    const T* sp = src.data_ptr<T>();
    // Sums and means add up in a wide type and round once at the end: 16-bit
    // floats in float (in their own type 2048 + 1 is 2048), integers in int64
    // (a sum wraps as in T after the narrowing, which is modular; a mean is
    // exact however many values, and always fits in T). PyTorch 1.13 adds
    // and counts in T itself, so its uint8 mean of 256 ones divides by a
    // count of 0 (taken as 1) and gives 0, and its float16 counts stop at 2048.
    using Acc =
        std::conditional_t<is_reduced_float_v<T>, float,
                           std::conditional_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, std::int64_t, T>>;
    const bool widen = reduce == ScatterReduce::Sum || reduce == ScatterReduce::Mean;
    std::vector<Acc> acc;
    if (widen) {
      acc.resize(static_cast<std::size_t>(out.numel()));
      for (std::size_t i = 0; i < acc.size(); ++i) acc[i] = static_cast<Acc>(o[i]);
    }
    // How many values each element of out has taken (mean divides by it); int64, never T.
    std::vector<std::int64_t> count;
    if (reduce == ScatterReduce::Mean) count.assign(static_cast<std::size_t>(out.numel()), include_self ? 1 : 0);
    if (!include_self)
      for_each_position<3>(index.shape(), strides, [&](const std::array<std::int64_t, 3>& off) {
        const std::int64_t at = off[0] + ip[off[1]] * step;
        T& slot = o[at];
        switch (reduce) {
          case ScatterReduce::Prod:
            slot = T(1);
            break;
          case ScatterReduce::Amax:
            slot = std::numeric_limits<T>::has_infinity ? T(-std::numeric_limits<T>::infinity())
                                                        : T(std::numeric_limits<T>::lowest());
            break;
          case ScatterReduce::Amin:
            slot = std::numeric_limits<T>::has_infinity ? T(std::numeric_limits<T>::infinity())
                                                        : T(std::numeric_limits<T>::max());
            break;
          case ScatterReduce::Sum:
          case ScatterReduce::Mean:
            acc[static_cast<std::size_t>(at)] = Acc(0);
            break;
          default:
            slot = T(0);
        }
      });
    // Serial on purpose: repeated indices combine into the same element, in order.
    for_each_position<3>(index.shape(), strides, [&](const std::array<std::int64_t, 3>& off) {
      const std::int64_t at = off[0] + ip[off[1]] * step;
      T& slot = o[at];
      const T v = sp[off[2]];
      switch (reduce) {
        case ScatterReduce::Assign:
          slot = v;
          break;
        case ScatterReduce::Sum:
          acc[static_cast<std::size_t>(at)] =
              wrap_add(static_cast<Acc>(acc[static_cast<std::size_t>(at)]), static_cast<Acc>(v));
          break;
        case ScatterReduce::Mean:
          acc[static_cast<std::size_t>(at)] =
              wrap_add(static_cast<Acc>(acc[static_cast<std::size_t>(at)]), static_cast<Acc>(v));
          ++count[static_cast<std::size_t>(at)];
          break;
        case ScatterReduce::Prod:
          slot = wrap_mul(slot, v);
          break;
        case ScatterReduce::Amax:
          if (is_nan_value(v) || (!is_nan_value(slot) && v > slot)) slot = v;
          break;
        case ScatterReduce::Amin:
          if (is_nan_value(v) || (!is_nan_value(slot) && v < slot)) slot = v;
          break;
      }
    });
    if (reduce == ScatterReduce::Sum)
      for (std::size_t i = 0; i < acc.size(); ++i) o[i] = static_cast<T>(acc[i]);
    if (reduce == ScatterReduce::Mean)
      for (std::size_t i = 0; i < count.size(); ++i) {
        const Acc a = acc[i];
        const std::int64_t c = count[i];
        if (c <= 1) {  // 0: untouched (self, or 0 without include_self); 1: the value itself
          o[i] = static_cast<T>(a);
        } else if constexpr (is_floating_v<T>) {
          o[i] = static_cast<T>(static_cast<double>(a) / static_cast<double>(c));
        } else if constexpr (!std::is_same_v<T, bool>) {
          // Floor division, as PyTorch's integer mean (c > 0).
          std::int64_t q = a / c;
          if (a % c != 0 && a < 0) --q;
          o[i] = static_cast<T>(q);
        }
      }
  };
  // bool sums as `or` and multiplies as `and` (as PyTorch); its mean means nothing.
  if (reduce == ScatterReduce::Mean) dispatch_numeric(x.dtype(), op, run);
  else dispatch(x.dtype(), run);
  return out;
}

namespace {

// index_copy and index_add: x's slices at index along dim replaced by (or
// increased by alpha times) src's.
TensorBase index_copy_or_add(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src,
                             bool add, double alpha, const char* op) {
  if (src.dtype() != x.dtype())
    throw DTypeError(
        fmt::format("{}: source has dtype {} but self has {}", op, dtype_name(src.dtype()), dtype_name(x.dtype())));
  const int d = wrap_dim(dim, x.dim(), op);
  const Rows r = rows_around(x.shape(), d);
  const std::vector<std::int64_t> idx = slice_indices(index, r.size, d, false, op);
  const auto n = static_cast<std::int64_t>(idx.size());
  Dims expected = x.shape();
  if (x.dim() > 0) expected[d] = n;
  // A 0-d self takes one element (src [] or [1]); so does a 1-D self from a
  // 0-d src with one index, as PyTorch's (x.index_add(0, tensor(1), tensor(5.))).
  const bool one_element =
      n == 1 && src.numel() == 1 && (x.dim() == 0 ? src.dim() <= 1 : src.dim() == 0 && x.dim() == 1);
  const bool fits = one_element || src.shape() == expected;
  if (!fits)
    throw ShapeError(
        fmt::format("{}: source of shape {} does not fit {} indices into self of shape {} along dimension {}", op,
                    shape_str(src.sizes()), n, shape_str(x.sizes()), d));
  TensorBase out = clone(x);
  const TensorBase sc = contiguous(src);
  if (r.inner == 0) return out;
  const auto run = [&]<class T>() {
    T* o = out.data_ptr<T>();
    const T* from = sc.data_ptr<T>();
    const T a = add ? checked_scalar<T>(alpha, op) : T(1);
    if constexpr (is_reduced_float_v<T>) {
      if (add) {
        // Repeated indices add up in float and round once, as scatter_add's
        // (in float16, 2048 + 1 is 2048); index_put_(accumulate) comes here.
        std::vector<float> wide(o, o + out.numel());
        const auto fa = static_cast<float>(a);
        for (std::int64_t b = 0; b < r.outer; ++b)
          for (std::int64_t j = 0; j < n; ++j) {
            float* row = wide.data() + (b * r.size + idx[static_cast<std::size_t>(j)]) * r.inner;
            const T* s = from + (b * n + j) * r.inner;
            for (std::int64_t i = 0; i < r.inner; ++i) row[i] += fa * static_cast<float>(s[i]);
          }
        for (std::size_t i = 0; i < wide.size(); ++i) o[i] = static_cast<T>(wide[i]);
        return;
      }
    }
    for (std::int64_t b = 0; b < r.outer; ++b)
      for (std::int64_t j = 0; j < n; ++j) {
        T* row = o + (b * r.size + idx[static_cast<std::size_t>(j)]) * r.inner;
        const T* s = from + (b * n + j) * r.inner;
        if (!add) std::copy_n(s, r.inner, row);
        else
          for (std::int64_t i = 0; i < r.inner; ++i) row[i] = wrap_add(row[i], wrap_mul(a, s[i]));
      }
  };
  dispatch(x.dtype(), run);
  return out;
}

}  // namespace

TensorBase index_copy(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src) {
  return index_copy_or_add(x, dim, index, src, false, 1, "index_copy");
}

TensorBase index_add(const TensorBase& x, std::int64_t dim, const TensorBase& index, const TensorBase& src,
                     double alpha) {
  return index_copy_or_add(x, dim, index, src, true, alpha, "index_add");
}

TensorBase index_fill(const TensorBase& x, std::int64_t dim, const TensorBase& index, double value) {
  const char* op = "index_fill";
  const int d = wrap_dim(dim, x.dim(), op);
  const Rows r = rows_around(x.shape(), d);
  const std::vector<std::int64_t> idx = slice_indices(index, r.size, d, true, op);
  TensorBase out = clone(x);
  dispatch(x.dtype(), [&]<class T>() {
    const T fill = checked_scalar<T>(value, op);
    T* o = out.data_ptr<T>();
    for (std::int64_t a = 0; a < r.outer; ++a)
      for (std::int64_t j : idx) std::fill_n(o + (a * r.size + j) * r.inner, r.inner, fill);
  });
  return out;
}

TensorBase nonzero(const TensorBase& x) {
  const TensorBase xc = contiguous(x);
  const int nd = x.dim();
  const Dims sizes = x.sizes();
  // Counted first, then written straight into the result: no growing
  // buffer (its doublings needed twice the result and let std::bad_alloc
  // escape where the result itself fitted), and an allocation that fails
  // is make_tensor's OutOfMemoryError.
  TensorBase out;
  dispatch(x.dtype(), [&]<class T>() {
    const T* p = xc.data_ptr<T>();
    const std::int64_t n = xc.numel();
    std::int64_t count = 0;
    for (std::int64_t i = 0; i < n; ++i) count += p[i] != T(0);
    out = make_tensor({count, nd}, kInt64);
    if (count == 0 || nd == 0) return;
    std::int64_t* o = out.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i) {
      if (p[i] == T(0)) continue;
      // The multi-index of flat position i, last dim fastest.
      std::int64_t rest = i;
      for (int k = nd - 1; k >= 0; --k) {
        o[k] = rest % sizes[k];
        rest /= sizes[k];
      }
      o += nd;
    }
  });
  return out;
}

}  // namespace tg::kernel
