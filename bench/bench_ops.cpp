// Per-op cost on small tensors, with and without recording, and a 100-op
// chain forward + backward: the overhead a define-by-run engine adds to
// every line of model code. Names and arguments match
// bench/libtorch/bench.cpp so scripts/bench.sh can pair them.
#include <benchmark/benchmark.h>

#include <tapegrad/tapegrad.h>

namespace {

void BM_add(benchmark::State& state) {
  const auto n = state.range(0);
  const bool record = state.range(1) != 0;
  tg::set_num_threads(static_cast<int>(state.range(2)));
  tg::Tensor a = tg::ones({n, n}, {.requires_grad = record});
  tg::Tensor b = tg::ones({n, n});
  for (auto _ : state) {
    tg::Tensor c = tg::add(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
}
BENCHMARK(BM_add)
    ->ArgNames({"n", "record", "threads"})
    ->ArgsProduct({{1, 32}, {0, 1}, {1}});

void BM_relu(benchmark::State& state) {
  const bool record = state.range(0) != 0;
  tg::set_num_threads(static_cast<int>(state.range(1)));
  tg::Tensor a = tg::randn({32, 32}, {.requires_grad = record});
  for (auto _ : state) {
    tg::Tensor c = tg::relu(a);
    benchmark::DoNotOptimize(c.impl());
  }
}
BENCHMARK(BM_relu)->ArgNames({"record", "threads"})->ArgsProduct({{0, 1}, {1}});

void BM_matmul64(benchmark::State& state) {
  const bool record = state.range(0) != 0;
  tg::set_num_threads(static_cast<int>(state.range(1)));
  tg::Tensor a = tg::randn({64, 64}, {.requires_grad = record});
  tg::Tensor b = tg::randn({64, 64});
  for (auto _ : state) {
    tg::Tensor c = tg::matmul(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
}
BENCHMARK(BM_matmul64)->ArgNames({"record", "threads"})->ArgsProduct({{0, 1}, {1}});

// 100 ops on a 1-element tensor, then backward (101 recorded ops with the
// sum); the per_op counter is seconds per op.
void BM_chain100(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  tg::Tensor x = tg::ones({1}, {.requires_grad = true});
  for (auto _ : state) {
    tg::Tensor y = x;
    for (int i = 0; i < 50; ++i) y = tg::mul(tg::add(y, 1.0), 0.5);
    y.sum().backward();
    x.mutable_grad().reset();
  }
  state.counters["per_op"] = benchmark::Counter(static_cast<double>(state.iterations()) * 101,
                                                benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_chain100)->ArgNames({"threads"})->Arg(1);

}  // namespace
