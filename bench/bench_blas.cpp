// Our matmul against a direct call of the GEMM layer it ends in
// (tg::kernel::gemm: oneDNN's or OpenBLAS's sgemm by size) on the same square
// float32 operands: what the tensor layer costs on top of the BLAS call.
#include <benchmark/benchmark.h>

#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/tapegrad.h>

namespace {

void set_flops(benchmark::State& state, std::int64_t n) {
  state.counters["flops"] = benchmark::Counter(2.0 * static_cast<double>(n) * static_cast<double>(n) *
                                                   static_cast<double>(n) * static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
}

// Arguments: n, threads.
void BM_matmul(benchmark::State& state) {
  const auto n = state.range(0);
  tg::set_num_threads(static_cast<int>(state.range(1)));
  tg::Tensor a = tg::randn({n, n});
  tg::Tensor b = tg::randn({n, n});
  for (auto _ : state) {
    tg::Tensor c = tg::matmul(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
  set_flops(state, n);
}

void BM_sgemm(benchmark::State& state) {
  const auto n = state.range(0);
  tg::set_num_threads(static_cast<int>(state.range(1)));
  tg::Tensor a = tg::randn({n, n});
  tg::Tensor b = tg::randn({n, n});
  for (auto _ : state) {
    // A fresh output each time, as matmul allocates one.
    tg::Tensor c = tg::empty({n, n});
    tg::kernel::gemm(tg::kFloat32, n, n, n, 1.0, a.data_ptr<float>(), {false, n}, b.data_ptr<float>(), {false, n}, 0.0,
                     c.data_ptr<float>(), n);
    benchmark::DoNotOptimize(c.impl());
  }
  set_flops(state, n);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "threads"})->ArgsProduct({{256, 512, 1024, 2048}, {1, 2}})->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_matmul)->Apply(sizes);
BENCHMARK(BM_sgemm)->Apply(sizes);

}  // namespace
