#include <tapegrad/core/kernels/loop.h>

namespace tg::kernel {

Dims broadcast_strides(const TensorBase& t, const Dims& shape) {
  const int n = shape.size(), tn = t.dim();
  Dims out = Dims::filled(n, 0);
  const auto sizes = t.sizes();
  const auto strides = t.strides();
  for (int i = 0; i < tn; ++i) {
    const int o = n - tn + i;
    out[o] = sizes[static_cast<std::size_t>(i)] == 1 ? 0 : strides[static_cast<std::size_t>(i)];
  }
  return out;
}

}  // namespace tg::kernel
