#pragma once
// One thread pool: our kernels use OpenMP and we link OpenBLAS's OpenMP
// build, so both share one runtime; set_num_threads sets both.
#include <cstdint>

namespace tg {

void set_num_threads(int n);
int get_num_threads();

// Elementwise and reduction kernels go parallel only from this many elements
// up: waking an OpenMP team costs microseconds, more than a small op's whole
// work. Measured with bench/bench_parallel.cpp (a float add, wall time, 2 CPUs,
// OpenMP's default wait policy): 2 threads lose at 32k elements (5.2 vs
// 4.5 us) and win from 64k (6.6 vs 7.8 us). With OMP_WAIT_POLICY=PASSIVE a
// sleeping team costs ~25 us to wake and 2 threads only break even near 512k.
inline constexpr std::int64_t kParallelThreshold = 65536;

// True inside a parallel region (kernels then stay serial).
bool in_parallel_region();

}  // namespace tg
