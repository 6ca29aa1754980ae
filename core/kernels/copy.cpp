#include <tapegrad/core/kernels/copy.h>

#include <cstring>

#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/loop.h>

namespace tg::kernel {

void copy_(const TensorBase& dst, const TensorBase& src) {
  broadcast_shapes(dst.shape(), src.shape(), "copy_");  // throws on mismatch
  if (broadcast_shapes(dst.shape(), src.shape(), "copy_") != dst.shape())
    throw ShapeError(fmt::format("copy_: source of shape {} cannot be broadcast to destination shape {}",
                                 shape_str(src.sizes()), shape_str(dst.sizes())));
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous() && dst.shape() == src.shape()) {
    if (dst.raw_data() != src.raw_data())
      std::memmove(dst.raw_data(), src.raw_data(), static_cast<std::size_t>(dst.numel()) * dst.element_size());
    return;
  }
  // A conversion is not arithmetic: a subnormal keeps its value (float64
  // holds every float32 one) or its truth (to bool).
  const KeepDenormalsGuard exact;
  dispatch(dst.dtype(), [&]<class D>() {
    dispatch(src.dtype(), [&]<class S>() { map1<D, S>(dst, src, [](S v) { return convert_element<D>(v); }); });
  });
}

void fill_(const TensorBase& dst, double value, const char* op) {
  dispatch(dst.dtype(), [&]<class T>() {
    const T v = checked_scalar<T>(value, op);
    if (dst.is_contiguous()) {
      T* p = dst.data_ptr<T>();
      std::fill(p, p + dst.numel(), v);
      return;
    }
    auto plan = make_plan<1>(dst.shape(), {&dst});
    for_each_row(plan, [v](std::array<char*, 1> p, std::array<std::int64_t, 1> s, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
    });
  });
}

TensorBase clone(const TensorBase& x) {
  TensorBase out = make_tensor(x.shape(), x.dtype());
  copy_(out, x);
  return out;
}

bool is_compute_dtype(DType d) { return d == kFloat32 || d == kFloat64 || d == kInt64; }

TensorBase widen(const TensorBase& x) {
  if (is_compute_dtype(x.dtype())) return x;
  const DType wide = is_floating(x.dtype()) ? kFloat32 : kInt64;
  std::int64_t span = 1;
  for (int d = 0; d < x.dim(); ++d) {
    if (x.size(d) == 0 || x.stride(d) < 0) return to(x, wide);
    span += (x.size(d) - 1) * x.stride(d);
  }
  // A sparse view (every 1000th element) would convert more than its own
  // elements: it is copied out instead, so memory stays at most x's numel.
  if (span > x.numel()) return to(x, wide);
  const TensorBase elements = to(make_view(x, Dims{span}, Dims{1}, x.storage_offset()), wide);
  return make_view(elements, Dims(x.sizes()), Dims(x.strides()), 0);
}

TensorBase contiguous(const TensorBase& x) { return x.is_contiguous() ? x : clone(x); }

TensorBase to(const TensorBase& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  TensorBase out = make_tensor(x.shape(), dtype);
  copy_(out, x);
  return out;
}

}  // namespace tg::kernel
