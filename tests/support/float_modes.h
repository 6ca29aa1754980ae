#pragma once
// The two float modes the sweeps and pinned tests switch between, and putting
// back the mode a test started with (core/float_mode.h has the promise):
//   - Flush, tapegrad's default: the kernels flush subnormals (FTZ/DAZ), the
//     program's mode never set, every thread's MXCSR without FTZ/DAZ;
//   - Ieee: IEEE everywhere, what set_flush_denormal(false) sets.
#include <tapegrad/core/float_mode.h>

#include "support/thread_count.h"

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace tg_test {

enum class FloatMode { Flush, Ieee };

// Only the two switches change here: start_float_modes() cleared FTZ/DAZ on
// this thread and OpenMP's workers through set_flush_denormal(false) once, and
// kernels give their threads their mode back. (set_flush_denormal starts a
// parallel region to reach the workers; 30,000 of them cost more than a
// sweep's ops on a loaded machine.)
inline void set_float_mode(FloatMode mode) {
  const bool flush = mode == FloatMode::Flush;
  tg::detail::kernel_flush_denormal = flush;
  tg::detail::program_flush_denormal = flush ? 0 : -1;
}

inline void start_float_modes() {
  tg::set_flush_denormal(false);
  set_float_mode(FloatMode::Ieee);
}

// Puts back the modes and thread count the test started with (the modes
// first, then the thread count, which gives a larger team the program's mode).
struct FloatModeRestore {
  ThreadCountRestore threads;
#if defined(__SSE__)
  unsigned saved_csr = _mm_getcsr();
#endif
  bool saved_kernel = tg::detail::kernel_flush_denormal.load();
  int saved_program = tg::detail::program_flush_denormal.load();
  FloatModeRestore() = default;
  FloatModeRestore(const FloatModeRestore&) = delete;
  FloatModeRestore& operator=(const FloatModeRestore&) = delete;
  ~FloatModeRestore() {
    if (saved_program != 0) {
      tg::set_flush_denormal(saved_program > 0);
    } else {
      tg::set_flush_denormal(false);
      tg::detail::kernel_flush_denormal = saved_kernel;
      tg::detail::program_flush_denormal = 0;
    }
#if defined(__SSE__)
    _mm_setcsr(saved_csr);
#endif
  }
};

}  // namespace tg_test
