#include <tapegrad/core/float_mode.h>

#include <omp.h>

#include <tapegrad/core/parallel.h>

namespace tg {

namespace {

#if defined(__SSE__)
void set_thread_mode(bool on) {
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(on ? (csr | FlushDenormalGuard::kBits) : (csr & ~FlushDenormalGuard::kBits));
}
#endif

}  // namespace

bool set_flush_denormal(bool on) {
#if defined(__SSE__)
  detail::kernel_flush_denormal.store(on, std::memory_order_relaxed);
  detail::program_flush_denormal.store(on ? 1 : -1, std::memory_order_relaxed);
  set_thread_mode(on);
  detail::apply_flush_denormal_to_workers();
  return true;
#else
  (void)on;
  return false;
#endif
}

namespace detail {

thread_local constinit int keep_denormals TG_TLS_FAST = 0;

void apply_flush_denormal_to_workers() {
#if defined(__SSE__)
  const int mode = program_flush_denormal.load(std::memory_order_relaxed);
  if (mode == 0 || in_parallel_region()) return;
  // Every thread of the team OpenMP keeps for the next regions (the master
  // included, which already has it). GOMP reuses these threads for later
  // regions of this size or smaller, OpenBLAS's among them.
  const int threads = get_num_threads();
  note_team(threads);
#pragma omp parallel num_threads(threads)
  set_thread_mode(mode > 0);
#endif
}

}  // namespace detail

}  // namespace tg
