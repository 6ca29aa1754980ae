#include "core/tensor.h"

#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "core/kernels/loop.h"

namespace tg {

bool TensorImpl::is_contiguous() const {
  std::int64_t expected = 1;
  for (int d = sizes.size() - 1; d >= 0; --d) {
    if (sizes[d] == 1) continue;
    if (strides[d] != expected) return false;
    expected *= sizes[d];
  }
  return true;
}

std::int64_t Tensor::size(std::int64_t dim) const { return checked().sizes[wrap_dim(dim, this->dim(), "size")]; }
std::int64_t Tensor::stride(std::int64_t dim) const {
  return checked().strides[wrap_dim(dim, this->dim(), "stride")];
}

Tensor make_tensor(Dims shape, DType dtype) {
  // The strides multiply the non-zero sizes, so their product must not
  // overflow even when a zero size makes the tensor empty.
  std::int64_t extent = 1;
  bool empty = false;
  for (auto s : shape) {
    if (s < 0) throw ShapeError(fmt::format("cannot create a tensor of shape {}: negative size", shape_str(shape)));
    if (s == 0) {
      empty = true;
      continue;
    }
    if (extent > std::numeric_limits<std::int64_t>::max() / s / 8)
      throw ShapeError(fmt::format("cannot create a tensor of shape {}: too many elements", shape_str(shape)));
    extent *= s;
  }
  const std::int64_t numel = empty ? 0 : extent;
  auto impl = std::allocate_shared<TensorImpl>(CachingAllocator<TensorImpl>{});
  impl->storage = std::allocate_shared<Storage>(CachingAllocator<Storage>{},
                                                static_cast<std::size_t>(numel) * itemsize(dtype), Device{});
  impl->strides = contiguous_strides(shape);
  impl->sizes = shape;
  impl->numel = numel;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, Dims sizes, Dims strides, std::int64_t offset) {
  auto impl = std::allocate_shared<TensorImpl>(CachingAllocator<TensorImpl>{});
  impl->storage = base.storage();
  impl->numel = sizes.product();
  impl->sizes = sizes;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

namespace {
template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) return v != From(0);
  else if constexpr (std::is_floating_point_v<From>) return cast_floating<To>(v);
  else return static_cast<To>(v);
}
}  // namespace

template <class T>
T Tensor::item() const {
  if (numel() != 1)
    throw ShapeError(fmt::format("item: a tensor with {} elements (shape {}) cannot be converted to a scalar",
                                 numel(), shape_str(sizes())));
  return dispatch(dtype(), [&]<class S>() { return convert<T>(*static_cast<const S*>(raw_data())); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor dst = make_tensor(shape(), dtype_of<T>());
  dispatch(dtype(), [&]<class S>() { kernel::map1<T, S>(dst, *this, [](S v) { return convert<T>(v); }); });
  const T* p = static_cast<const T*>(dst.raw_data());
  return std::vector<T>(p, p + numel());
}

template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;
template bool Tensor::item<bool>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

}  // namespace tg
