// dropout's mask (declared in dropout.h).
#include <tapegrad/core/kernels/dropout.h>

#include <mutex>

#include <fmt/format.h>

namespace tg::kernel {

TensorBase dropout_mask(const TensorBase& x, double p, Generator& gen) {
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("dropout: expected a floating-point input, got {}", dtype_name(x.dtype())));
  TensorBase mask = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    // p == 1 keeps nothing (uniform() < 1 always), so the scale is never used.
    const T keep_scale = p < 1 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    T* m = mask.data_ptr<T>();
    std::lock_guard lock(gen.mutex());
    // gen.uniform() < p, compared as integers (the same draws and masks).
    const std::uint64_t threshold = dropout_threshold(p);
    for (std::int64_t i = 0; i < mask.numel(); ++i) m[i] = (gen.next_u64() >> 11) < threshold ? T(0) : keep_scale;
  });
  return mask;
}

}  // namespace tg::kernel
