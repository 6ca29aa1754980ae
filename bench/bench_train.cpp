// One training step (forward, cross-entropy, backward, Adam) of the seed
// model 784-32-64-10 and of a wide model 784-1024-1024-10.
#include <benchmark/benchmark.h>

#include <tapegrad/tapegrad.h>

namespace {

namespace F = tg::nn::functional;

tg::nn::Sequential make_mlp(std::int64_t h1, std::int64_t h2) {
  return tg::nn::Sequential{tg::nn::Linear(784, h1), tg::nn::ReLU(), tg::nn::Linear(h1, h2), tg::nn::ReLU(),
                            tg::nn::Linear(h2, 10)};
}

void run_steps(benchmark::State& state) {
  tg::manual_seed(0);
  tg::nn::Sequential model = make_mlp(state.range(0), state.range(1));
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
  const auto batch = state.range(2);
  tg::Tensor x = tg::randn({batch, 784});
  tg::Tensor y = tg::randint(0, 10, {batch});
  for (auto _ : state) {
    opt.zero_grad();
    tg::Tensor loss = F::cross_entropy(model.forward(x), y);
    loss.backward();
    opt.step();
    benchmark::DoNotOptimize(loss.impl());
  }
}
// Arguments: hidden1, hidden2, batch, threads.
void BM_step(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(3)));
  run_steps(state);
}
BENCHMARK(BM_step)
    ->ArgNames({"h1", "h2", "batch", "threads"})
    ->Args({32, 64, 32, 1})
    ->Args({32, 64, 32, 2})
    ->Args({1024, 1024, 256, 1})
    ->Args({1024, 1024, 256, 2})
    ->Unit(benchmark::kMicrosecond);

// The same step with the default thread count a user gets who never sets
// one (tapegrad: all cores, fewer while other processes keep them busy), in
// wall time: run it on an idle and on a loaded machine (issue 13).
void BM_step_default_threads(benchmark::State& state) {
  tg::reset_num_threads();
  run_steps(state);
}
BENCHMARK(BM_step_default_threads)
    ->ArgNames({"h1", "h2", "batch"})
    ->Args({32, 64, 32})
    ->Args({1024, 1024, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
