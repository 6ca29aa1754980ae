#pragma once
/// @file
/// Subnormal (denormal) floats and tapegrad's kernels.
///
/// Late in training gradients get tiny and products such as Adam's g * g fall
/// below FLT_MIN. x86 handles subnormal operands and results in microcode,
/// tens of times slower than normal arithmetic (issue 13 measured Adam 9x
/// slower). So by default tapegrad runs its own loops (optimizer steps,
/// elementwise, reduction, softmax, normalization, pooling and convolution
/// kernels, in every OpenMP thread) with flush-to-zero and
/// denormals-are-zero set, and gives the calling thread its mode back when the
/// kernel returns. Only values below FLT_MIN (DBL_MIN for float64) change:
/// they read and write as zero in arithmetic. Results on normal numbers are
/// bit-identical. Dtype conversions, comparisons and logical ops keep them
/// (KeepDenormalsGuard below): they are not arithmetic.
///
/// libm: functions that take a subnormal input apart by its bits (log,
/// log2, log10, pow with a general exponent, erfinv, fmod, remainder) keep
/// subnormals too and give what PyTorch gives. Under denormals-are-zero they
/// read it half as a number, half as zero: log(1e-310) was -745.1, neither
/// log's -713.8 nor log(0)'s -inf.
///
/// set_flush_denormal(true), as torch.set_flush_denormal(True), extends this
/// to the whole program: FTZ/DAZ in the calling thread and every OpenMP worker,
/// so the caller's own code and OpenBLAS flush too. set_flush_denormal(false)
/// turns flushing off everywhere, tapegrad's kernels included: IEEE gradual
/// underflow, PyTorch's default, for code that needs subnormals.
/// On machines without SSE's MXCSR both return false and change nothing.
#include <atomic>

#include <tapegrad/core/export.h>

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace tg {

/// Returns whether the machine supports it (false: nothing changed).
bool set_flush_denormal(bool on);

namespace detail {
/// Whether tapegrad's kernels flush subnormals; set_flush_denormal sets it.
inline std::atomic<bool> kernel_flush_denormal{true};
/// The mode set_flush_denormal(true/false) last asked for the whole program:
/// 0 never called, 1 flush, -1 gradual underflow.
inline std::atomic<int> program_flush_denormal{0};
/// Gives every thread of OpenMP's current team that mode (set_num_threads
/// calls it, as a larger team brings new threads).
void apply_flush_denormal_to_workers();
/// Nonzero while this thread runs a kernel that must read subnormals as they
/// are (KeepDenormalsGuard); FlushDenormalGuard then does nothing.
/// Defined once in the library and exported, so a user's guard and the
/// library's kernels see one counter per thread.
TG_API extern thread_local constinit int keep_denormals TG_TLS_FAST;
}  // namespace detail

/// Whether tapegrad's kernels currently flush subnormals to zero.
inline bool flush_denormal_enabled() { return detail::kernel_flush_denormal.load(std::memory_order_relaxed); }

/// Scoped FTZ/DAZ for the calling thread around one of tapegrad's loops, when
/// flushing is on. Restores only the two mode bits, so exception flags the
/// loop raised stay visible to the caller. When the thread already flushes
/// (the common case once set_flush_denormal(true) ran) it costs one read of
/// MXCSR; otherwise two writes, a few nanoseconds per kernel call.
class FlushDenormalGuard {
 public:
#if defined(__SSE__)
  static constexpr unsigned kBits = 0x8040u;  ///< FTZ (bit 15) | DAZ (bit 6)

  // Always inlined: a call and return around ldmxcsr cost 40 ns an op in a
  // 100-op chain for one code layout and nothing for another (round 21).
  [[gnu::always_inline]] FlushDenormalGuard() noexcept {
    if (!flush_denormal_enabled() || detail::keep_denormals) return;
    const unsigned csr = _mm_getcsr();
    if ((csr & kBits) == kBits) return;
    saved_ = csr & kBits;
    active_ = true;
    _mm_setcsr(csr | kBits);
  }
  [[gnu::always_inline]] ~FlushDenormalGuard() {
    if (active_) _mm_setcsr((_mm_getcsr() & ~kBits) | saved_);
  }
#else
  FlushDenormalGuard() noexcept {}
#endif
  FlushDenormalGuard(const FlushDenormalGuard&) = delete;
  FlushDenormalGuard& operator=(const FlushDenormalGuard&) = delete;

 private:
#if defined(__SSE__)
  unsigned saved_ = 0;
  bool active_ = false;
#endif
};

/// Scoped: tapegrad's flush guards on this thread leave subnormals alone,
/// for the kernels whose answer is not arithmetic (dtype conversions,
/// comparisons, logical ops): under denormals-are-zero a float32 1e-39 read
/// as 0, so it converted to float64 0 and to bool false, and compared equal
/// to 0. Parallel loops give their workers the caller's setting (`on`
/// false: no change). The mode set_flush_denormal(true) asked for stays: the
/// program chose to flush everywhere.
class KeepDenormalsGuard {
 public:
  /// Keeps subnormals on this thread until destroyed; `on` false does nothing.
  /// Also clears a flush mode an enclosing guard set on this thread (an
  /// optimizer step holds one), unless set_flush_denormal(true) asked for it.
  explicit KeepDenormalsGuard(bool on = true) noexcept : on_(on) {
    if (!on_) return;
    ++detail::keep_denormals;
#if defined(__SSE__)
    const unsigned csr = _mm_getcsr();
    saved_ = csr & FlushDenormalGuard::kBits;
    if (saved_ && detail::program_flush_denormal.load(std::memory_order_relaxed) != 1)
      _mm_setcsr(csr & ~FlushDenormalGuard::kBits);
    else saved_ = 0;
#endif
  }
  ~KeepDenormalsGuard() {  ///< back to the mode before
    if (!on_) return;
    --detail::keep_denormals;
#if defined(__SSE__)
    if (saved_) _mm_setcsr(_mm_getcsr() | saved_);
#endif
  }
  KeepDenormalsGuard(const KeepDenormalsGuard&) = delete;
  KeepDenormalsGuard& operator=(const KeepDenormalsGuard&) = delete;

 private:
  bool on_;
#if defined(__SSE__)
  unsigned saved_ = 0;
#endif
};

}  // namespace tg
