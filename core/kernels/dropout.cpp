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
    // p == 1 keeps nothing (every draw is below 2^32), so the scale is never used.
    const T keep = p < 1 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    T* m = mask.data_ptr<T>();
    std::lock_guard lock(gen.mutex());
    dropout_multipliers_from_words(mask.numel(), dropout_threshold(p), keep, m,
                                   [&gen](std::uint64_t) { return gen.next_u64(); });
  });
  return mask;
}

}  // namespace tg::kernel
