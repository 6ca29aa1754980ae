#include <tapegrad/core/parallel.h>

#include <omp.h>

#include <tapegrad/core/error.h>
#include <tapegrad/core/float_mode.h>

extern "C" void openblas_set_num_threads(int);

namespace tg {

void set_num_threads(int n) {
  if (n < 1) throw ValueError("set_num_threads: need at least one thread, got " + std::to_string(n));
  omp_set_num_threads(n);
  // OpenBLAS's OpenMP build takes its team size from the same runtime, but
  // keeps its own cap too.
  openblas_set_num_threads(n);
  // A larger team brings threads that never saw set_flush_denormal.
  detail::apply_flush_denormal_to_workers();
}

int get_num_threads() { return omp_get_max_threads(); }

bool in_parallel_region() { return omp_in_parallel() != 0; }

}  // namespace tg
