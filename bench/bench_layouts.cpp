// Elementwise ops and reductions on the layouts real models produce, at
// sizes where the loop itself (not the per-op overhead) is the cost: the
// shared loop of core/kernels/loop.h on each of its paths.
//
//   BM_layout_add/layout:L   a + b, 1024×1024 float32, where b is
//                            L=0 contiguous, 1 a row broadcast ([1024]),
//                            2 transposed, 3 every other column of a
//                            1024×2048 tensor, 4 a column broadcast
//                            ([1024, 1]);
//   BM_layout_narrow_rows    exp of a transposed [4, 262144] tensor:
//                            rows of 4 elements, the most rows per element;
//   BM_layout_sum/dim:D      sum over dim D of a 1024×1024 float32 tensor;
//   BM_layout_softmax        softmax over the last dim of [256, 1024];
//   BM_gelu/backward:B       GELU of [2048, 384] float32 (the char-GPT
//                            MLP's hidden layer), B=1 with its backward;
//   BM_layout_thin_add       x + y, x a transposed [2, 524288] float32
//                            (points stored by coordinate), y contiguous;
//   BM_layout_inplace_t      x.t().mul_(c), x 1024×1024 float32: an
//                            in-place op on a transposed view;
//   BM_topk                  topk(5) along the last dim of 1024×1024;
//   BM_grad_history          tg::grad of a loss with respect to a tensor
//                            that has 2000 recorded ops below it;
//   BM_row_sum/cols:C        sum(1) of a float32 [2^20 / C, C]: rows of
//                            16, 256 and 4096 (the 32-lane path from 128).
// bench/libtorch/bench.cpp has the same rows, so scripts/bench.sh pairs them.
#include <benchmark/benchmark.h>
#include <tapegrad/tapegrad.h>

#include <cstdint>

namespace {

tg::Tensor layout_operand(std::int64_t layout) {
  switch (layout) {
    case 1:
      return tg::randn({1024});
    case 2:
      return tg::randn({1024, 1024}).t();
    case 3:
      return tg::randn({1024, 2048}).slice(1, 0, 2048, 2);
    case 4:
      return tg::randn({1024, 1});
    default:
      return tg::randn({1024, 1024});
  }
}

void BM_layout_add(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(1)));
  const tg::Tensor a = tg::randn({1024, 1024});
  const tg::Tensor b = layout_operand(state.range(0));
  for (auto _ : state) {
    tg::Tensor c = a + b;
    benchmark::DoNotOptimize(c.impl());
  }
}
BENCHMARK(BM_layout_add)->ArgNames({"layout", "threads"})->ArgsProduct({{0, 1, 2, 3, 4}, {1}});

void BM_layout_narrow_rows(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  const tg::Tensor x = tg::randn({262144, 4}).t();
  for (auto _ : state) {
    tg::Tensor y = x.exp();
    benchmark::DoNotOptimize(y.impl());
  }
}
BENCHMARK(BM_layout_narrow_rows)->ArgNames({"threads"})->Arg(1);

void BM_layout_sum(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(1)));
  const tg::Tensor x = tg::randn({1024, 1024});
  const std::int64_t dim = state.range(0);
  for (auto _ : state) {
    tg::Tensor s = x.sum(dim);
    benchmark::DoNotOptimize(s.impl());
  }
}
BENCHMARK(BM_layout_sum)->ArgNames({"dim", "threads"})->ArgsProduct({{0, 1}, {1}});

void BM_layout_softmax(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  const tg::Tensor x = tg::randn({256, 1024});
  for (auto _ : state) {
    tg::Tensor y = tg::softmax(x, -1);
    benchmark::DoNotOptimize(y.impl());
  }
}
BENCHMARK(BM_layout_softmax)->ArgNames({"threads"})->Arg(1);

void BM_gelu(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(1)));
  const bool backward = state.range(0) != 0;
  const tg::Tensor x = tg::randn({2048, 384}).requires_grad_(backward);
  const tg::Tensor dy = tg::randn({2048, 384});
  for (auto _ : state) {
    tg::Tensor y = tg::gelu(x);
    if (backward) y.backward(dy);
    benchmark::DoNotOptimize(y.impl());
  }
}
BENCHMARK(BM_gelu)->ArgNames({"backward", "threads"})->ArgsProduct({{0, 1}, {1}});

void BM_layout_thin_add(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  const tg::Tensor x = tg::randn({2, 524288}).t();
  const tg::Tensor y = tg::randn({524288, 2});
  for (auto _ : state) {
    tg::Tensor z = x + y;
    benchmark::DoNotOptimize(z.impl());
  }
}
BENCHMARK(BM_layout_thin_add)->ArgNames({"threads"})->Arg(1);

void BM_layout_inplace_t(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  tg::Tensor x = tg::randn({1024, 1024});
  for (auto _ : state) {
    x.t().mul_(1.0);
    benchmark::DoNotOptimize(x.impl());
  }
}
BENCHMARK(BM_layout_inplace_t)->ArgNames({"threads"})->Arg(1);

void BM_topk(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  const tg::Tensor x = tg::randn({1024, 1024});
  for (auto _ : state) {
    auto [values, indices] = x.topk(5, 1);
    benchmark::DoNotOptimize(values.impl());
  }
}
BENCHMARK(BM_topk)->ArgNames({"threads"})->Arg(1);

void BM_row_sum(benchmark::State& state) {
  tg::set_num_threads(1);
  const std::int64_t cols = state.range(0);
  const tg::Tensor x = tg::randn({(std::int64_t{1} << 20) / cols, cols});
  for (auto _ : state) {
    const tg::Tensor s = x.sum(1);
    benchmark::DoNotOptimize(s.impl());
  }
}
BENCHMARK(BM_row_sum)->ArgNames({"cols"})->Arg(16)->Arg(256)->Arg(4096);

void BM_grad_history(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  tg::Tensor y = tg::ones({4}, {.requires_grad = true});
  for (int i = 0; i < 2000; ++i) y = y * 1.0001;
  for (auto _ : state) {
    const tg::Tensor loss = (y * y).sum();
    auto g = tg::grad({loss}, {y});
    benchmark::DoNotOptimize(g[0].impl());
  }
}
BENCHMARK(BM_grad_history)->ArgNames({"threads"})->Arg(1);

}  // namespace
