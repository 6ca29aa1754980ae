// dropout's mask (declared in dropout.h).
#include <tapegrad/core/kernels/dropout.h>

#include <algorithm>
#include <bit>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>

namespace tg::kernel {

namespace {

// The generator's draws into `out` in chunks: the words first (the
// generator's serial chain alone), then the draws compared and turned into
// multipliers in a loop the compiler vectorises. The same draws meet the same
// comparisons as dropout_multipliers_from_words, so the masks are unchanged;
// this took half the time of one word at a time.
//
// With x, also y = x * out, chunk by chunk while the multipliers are in L1
// (dropout's forward: one pass over memory fewer than a mask, then mul), by
// vec::arith as mul's same-shape loop, under the flush guard mul takes.
template <class T>
void generator_multipliers(std::int64_t n, std::uint64_t threshold, T keep, T* out, Generator& gen,
                           const T* x = nullptr, T* y = nullptr) {
  FlushDenormalGuard flush;
  if (threshold > 0xFFFFFFFFu) {  // p == 1: every draw is below it
    for (std::int64_t i = 0; i < n; ++i) out[i] = T(0);
    for (std::int64_t w = 0; w < (n + 1) / 2; ++w) gen.next_u64();  // the stream moves on as before
    if (x) vec::arith(vec::Arith::kMul, x, out, y, n);
    return;
  }
  constexpr std::int64_t kChunk = 512;  // even: a word's two draws never straddle chunks
  alignas(32) std::uint32_t draws[kChunk];
  for (std::int64_t i = 0; i < n; i += kChunk) {
    const std::int64_t m = std::min(kChunk, n - i);
    for (std::int64_t k = 0; k < m; k += 2) {  // an odd last chunk uses its last word's low half only
      const std::uint64_t w = gen.next_u64();
      draws[k] = static_cast<std::uint32_t>(w);
      draws[k + 1] = static_cast<std::uint32_t>(w >> 32);
    }
    multipliers_from_draws(draws, m, static_cast<std::uint32_t>(threshold), keep, out + i);
    if (x) vec::arith(vec::Arith::kMul, x + i, out + i, y + i, m);
  }
}

// The mask of x's shape and dtype under the generator's lock; with y (only
// for a contiguous float32 or float64 x), y = x * mask as well.
TensorBase draw_mask(const TensorBase& x, double p, Generator& gen, const TensorBase* y) {
  TensorBase mask = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    const T keep = dropout_keep<T>(p);
    T* m = mask.data_ptr<T>();
    std::lock_guard lock(gen.mutex());
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      generator_multipliers(mask.numel(), dropout_threshold(p), keep, m, gen, y ? x.data_ptr<T>() : nullptr,
                            y ? y->data_ptr<T>() : nullptr);
    } else {
      dropout_multipliers_from_words(mask.numel(), dropout_threshold(p), keep, m,
                                     [&gen](std::uint64_t) { return gen.next_u64(); });
    }
  });
  return mask;
}

}  // namespace

TensorBase dropout_mask(const TensorBase& x, double p, Generator& gen) {
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("dropout: expected a floating-point input, got {}", dtype_name(x.dtype())));
  return draw_mask(x, p, gen, nullptr);
}

std::optional<std::pair<TensorBase, TensorBase>> dropout_apply(const TensorBase& x, double p, Generator& gen) {
  if ((x.dtype() != kFloat32 && x.dtype() != kFloat64) || !x.is_contiguous()) return std::nullopt;
  TensorBase y = make_tensor(x.shape(), x.dtype());
  TensorBase mask = draw_mask(x, p, gen, &y);
  return std::pair{std::move(y), std::move(mask)};
}

}  // namespace tg::kernel
