#include <tapegrad/core/tensor.h>

#include <cstring>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/core/dtype_check.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>

namespace tg {

bool TensorImpl::is_contiguous() const {
  std::int64_t expected = 1;
  for (int d = sizes.size() - 1; d >= 0; --d) {
    if (sizes[d] == 1) continue;
    if (strides[d] != expected) return false;
    // Only an empty view's other sizes can overflow here ([0, 2^32, 2^32]).
    if (mul_overflows(expected, sizes[d], &expected)) return false;
  }
  return true;
}

namespace {
// A 0-d tensor has no size or stride to read: ops accept dim 0 and -1 for it
// (wrap_dim), but these accessors would read past its empty Dims, so they
// refuse it, as PyTorch's "Dimension specified as 0 but tensor has no dimensions".
int accessor_dim(const TensorBase& x, std::int64_t dim, const char* op) {
  if (x.dim() == 0)
    throw IndexError(fmt::format("{}: dimension {} out of range: the tensor is 0-d (it has no dimensions)", op, dim));
  return wrap_dim(dim, x.dim(), op);
}
}  // namespace

std::int64_t TensorBase::size(std::int64_t dim) const { return checked().sizes[accessor_dim(*this, dim, "size")]; }
std::int64_t TensorBase::stride(std::int64_t dim) const {
  return checked().strides[accessor_dim(*this, dim, "stride")];
}

void check_dtype(const TensorBase& x, const char* op, DTypeClass accepted) {
  const DType d = x.dtype();
  if (accepted == DTypeClass::Floating ? is_floating(d) : d != kBool) return;
  throw DTypeError(fmt::format("{}: expected a {} tensor, got {} (shape {})", op,
                               accepted == DTypeClass::Floating ? "floating-point" : "numeric", dtype_name(d),
                               shape_str(x.sizes())));
}

void refuse_bool(const TensorBase& x, const char* op) { check_dtype(x, op, DTypeClass::Numeric); }

TensorBase make_tensor(Dims shape, DType dtype) {
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
    // extent * s * 8 <= INT64_MAX, tested without a division (make_tensor
    // runs once per op; an idiv was a sixth of its time).
    if (mul_overflows(extent, s, &extent) || extent > std::numeric_limits<std::int64_t>::max() / 8)
      throw ShapeError(detail::in_current_op(
          fmt::format("cannot create a tensor of shape {}: too many elements", shape_str(shape))));
  }
  const std::int64_t numel = empty ? 0 : extent;
  const std::size_t nbytes = static_cast<std::size_t>(numel) * itemsize(dtype);
  auto impl = std::allocate_shared<TensorImpl>(CachingAllocator<TensorImpl>{});
  try {
    impl->storage = std::allocate_shared<Storage>(CachingAllocator<Storage>{}, nbytes, Device{});
  } catch (const OutOfMemoryError&) {
    throw OutOfMemoryError(
        detail::in_current_op(fmt::format("out of memory: cannot allocate {} bytes for a tensor of shape {} ({})",
                                          nbytes, shape_str(shape), dtype_name(dtype))));
  }
  // Row-major strides, products of the non-zero sizes: the loop above bounded
  // them all by `extent`, so unlike contiguous_strides() nothing can overflow.
  impl->strides = shape;
  std::int64_t running = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    impl->strides[d] = running;
    running *= std::max<std::int64_t>(shape[d], 1);
  }
  impl->sizes = shape;
  impl->numel = numel;
  impl->dtype = dtype;
  return TensorBase(std::move(impl));
}

namespace {

// Cold path of make_view's checks, out of line to keep the hot path small.
[[noreturn]] void throw_bad_view(const char* why, const Dims& sizes, const Dims& strides, std::int64_t offset,
                                 std::size_t storage_elems) {
  throw ShapeError(
      fmt::format("make_view: a view of size {}, stride {} and offset {} {} (its storage holds {} "
                  "elements)",
                  shape_str(sizes), shape_str(strides), offset, why, storage_elems));
}

}  // namespace

TensorBase make_view(const TensorBase& base, Dims sizes, Dims strides, std::int64_t offset) {
  // Every view goes through here, so this is where no view can reach outside
  // its storage: the lowest and highest elements it can address must both
  // lie in it. A few multiply-adds per dim, no allocation.
  const std::size_t storage_elems = base.storage()->nbytes() / itemsize(base.dtype());
  if (sizes.size() != strides.size())
    throw_bad_view("has a different number of sizes and strides", sizes, strides, offset, storage_elems);
  std::int64_t numel = 1, lo = offset, hi = offset;
  bool empty = false, numel_overflow = false, reach_overflow = false;
  for (int d = 0; d < sizes.size(); ++d) {
    const std::int64_t n = sizes[d];
    if (n <= 0) {
      if (n < 0) throw_bad_view("has a negative size", sizes, strides, offset, storage_elems);
      empty = true;
      continue;
    }
    numel_overflow |= mul_overflows(numel, n, &numel);
    std::int64_t reach = 0;
    reach_overflow |= mul_overflows(n - 1, strides[d], &reach);
    if (reach >= 0) reach_overflow |= add_overflows(hi, reach, &hi);
    else reach_overflow |= add_overflows(lo, reach, &lo);
  }
  // Any strides and offset are fine for an empty view: it reads nothing.
  if (empty) {
    numel = 0;
  } else {
    if (numel_overflow) throw_numel_overflow("make_view", sizes);
    if (reach_overflow || lo < 0 || static_cast<std::uint64_t>(hi) >= storage_elems)
      throw_bad_view("reaches outside its storage", sizes, strides, offset, storage_elems);
  }
  auto impl = std::allocate_shared<TensorImpl>(CachingAllocator<TensorImpl>{});
  impl->storage = base.storage();
  impl->numel = numel;
  impl->sizes = sizes;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return TensorBase(std::move(impl));
}

template <ElementType T>
T TensorBase::item() const {
  if (numel() != 1)
    throw ShapeError(fmt::format("item: a tensor with {} elements (shape {}) cannot be converted to a scalar", numel(),
                                 shape_str(sizes())));
  return dispatch(dtype(), [&]<class S>() { return checked_element<T>(*static_cast<const S*>(raw_data()), "item"); });
}

template <ElementType T>
std::vector<T> TensorBase::to_vector() const {
  TensorBase dst = make_tensor(shape(), dtype_of<T>());
  if (dtype() == dtype_of<T>()) {
    dispatch(dtype(), [&]<class S>() { kernel::map1<T, S>(dst, *this, [](S v) { return convert_element<T>(v); }); });
  } else {
    // One thread: a value that does not fit throws, which must not happen
    // inside a parallel loop. Reading a tensor out is not a hot path.
    const TensorBase src = kernel::contiguous(*this);
    T* out = static_cast<T*>(dst.raw_data());
    dispatch(dtype(), [&]<class S>() {
      const S* in = static_cast<const S*>(src.raw_data());
      for (std::int64_t i = 0; i < numel(); ++i) out[i] = checked_element<T>(in[i], "to_vector");
    });
  }
  const T* p = static_cast<const T*>(dst.raw_data());
  return std::vector<T>(p, p + numel());
}

// Every element type the header's ElementType admits, so none fails to link.
#define TG_INSTANTIATE_SCALAR_READS(T)    \
  template T TensorBase::item<T>() const; \
  template std::vector<T> TensorBase::to_vector<T>() const;
TG_INSTANTIATE_SCALAR_READS(float)
TG_INSTANTIATE_SCALAR_READS(double)
TG_INSTANTIATE_SCALAR_READS(std::int64_t)
TG_INSTANTIATE_SCALAR_READS(std::int32_t)
TG_INSTANTIATE_SCALAR_READS(std::int16_t)
TG_INSTANTIATE_SCALAR_READS(std::int8_t)
TG_INSTANTIATE_SCALAR_READS(std::uint8_t)
TG_INSTANTIATE_SCALAR_READS(bool)
TG_INSTANTIATE_SCALAR_READS(Half)
TG_INSTANTIATE_SCALAR_READS(BFloat16)
#undef TG_INSTANTIATE_SCALAR_READS

}  // namespace tg
