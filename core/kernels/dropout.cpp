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
    const std::uint64_t threshold = dropout_threshold(p);
    const auto decide = [&](std::uint64_t draw) { return draw < threshold ? T(0) : keep; };
    T* m = mask.data_ptr<T>();
    const std::int64_t n = mask.numel();
    std::lock_guard lock(gen.mutex());
    // Two draws per word, its low half first (dropout.h).
    std::int64_t i = 0;
    for (; i + 1 < n; i += 2) {
      const std::uint64_t w = gen.next_u64();
      m[i] = decide(w & 0xFFFFFFFFu);
      m[i + 1] = decide(w >> 32);
    }
    if (i < n) m[i] = decide(gen.next_u64() & 0xFFFFFFFFu);
  });
  return mask;
}

}  // namespace tg::kernel
