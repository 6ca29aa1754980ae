#pragma once
// One thread pool: our kernels use OpenMP and we link OpenBLAS's OpenMP
// build, so both share one runtime; set_num_threads sets both.
#include <cstdint>

namespace tg {

void set_num_threads(int n);
int get_num_threads();

// Elementwise and reduction kernels go parallel only from this many elements
// up. Waking an OpenMP team costs several microseconds on these 2-core
// virtual machines, more than a small op's whole work, so small tensors stay
// serial. 32k elements is an estimate from that wake-up cost and a ~1 ns/element
// add; it has not yet been measured here under a quiet load (see
// docs/performance.md, "next steps").
inline constexpr std::int64_t kParallelThreshold = 32768;

// True inside a parallel region (kernels then stay serial).
bool in_parallel_region();

}  // namespace tg
