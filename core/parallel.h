#pragma once
// One thread pool: our kernels use OpenMP and we link OpenBLAS's OpenMP
// build, so both share one runtime; set_num_threads sets both.
#include <cstdint>

namespace tg {

void set_num_threads(int n);
int get_num_threads();

// Elementwise and reduction kernels go parallel only from this many elements
// up. Waking an OpenMP team costs several microseconds on these 2-core
// virtual machines, more than a small op's whole work. Measured with
// bench/parallel_threshold (see docs/performance.md): at 2 threads a float
// add breaks even near 64k elements and an exp near 8k; 32k keeps cheap ops
// from losing and lets expensive ones gain.
inline constexpr std::int64_t kParallelThreshold = 32768;

// True inside a parallel region (kernels then stay serial).
bool in_parallel_region();

}  // namespace tg
