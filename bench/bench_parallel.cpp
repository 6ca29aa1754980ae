// Where going parallel starts to pay: a plain elementwise add of n floats,
// serial and on an OpenMP team of 2, at sizes around core/parallel.h's
// kParallelThreshold. The crossover (the smallest n where threads:2 is
// faster in wall time) is what that constant should be. Run with
// BENCH_TIME=real: CPU time of the calling thread hides the second thread.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <vector>

namespace {

void BM_parallel_add(benchmark::State& state) {
  const auto n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  std::vector<float> a(static_cast<std::size_t>(n), 1.f), b(a), c(a);
  const float* pa = a.data();
  const float* pb = b.data();
  float* pc = c.data();
  for (auto _ : state) {
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) pc[i] = pa[i] + pb[i];
    benchmark::DoNotOptimize(pc);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_parallel_add)
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{4096, 16384, 32768, 65536, 131072, 524288}, {1, 2}})
    ->UseRealTime();

}  // namespace
