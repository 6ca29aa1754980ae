// One training step (forward, cross-entropy, backward, Adam) of the seed
// model 784-32-64-10 and of a wide model 784-1024-1024-10, and those steps'
// GEMMs alone through the GEMM layer the step calls (BM_step_gemms).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <vector>

#include <tapegrad/core/kernels/blas.h>
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
// Arguments: hidden1, hidden2, batch, threads. BM_step and BM_step_gemms
// take the same ones: scripts/bench.sh pairs their rows by name.
void step_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"h1", "h2", "batch", "threads"})
      ->Args({32, 64, 32, 1})
      ->Args({32, 64, 32, 2})
      ->Args({1024, 1024, 256, 1})
      ->Args({1024, 1024, 256, 2})
      ->Unit(benchmark::kMicrosecond);
}

void BM_step(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(3)));
  run_steps(state);
}
BENCHMARK(BM_step)->Apply(step_shapes);

// The GEMMs of that step alone, straight through the GEMM layer at the same
// shapes and thread count, each into a fresh output as the step allocates
// one: per layer (in -> out, batch B) the forward A W^T + b (the bias copied
// into the output first and added with beta = 1, as tg::nn::Linear does), the
// weight gradient dY^T A and, except for the first layer (the input needs no
// gradient), the input gradient dY W. What the step costs beyond them is the
// engine's and the other kernels' (issue 13: the wide step within 1.15x).
// tg::kernel::gemm, not cblas_sgemm: it sends each product to oneDNN or
// OpenBLAS by size as the step's own products go, so both sides of the
// comparison run the same GEMM code.
void gemm(int m, int n, int k, const float* a, tg::kernel::GemmLayout la, const float* b, tg::kernel::GemmLayout lb,
          double beta, float* c, int ldc) {
  tg::kernel::gemm(tg::kFloat32, m, n, k, 1.0, a, la, b, lb, beta, c, ldc);
}

void BM_step_gemms(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(3)));
  const int batch = static_cast<int>(state.range(2));
  const std::array<int, 4> width{784, static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), 10};
  std::vector<tg::Tensor> acts, weights, biases, grads;
  for (std::size_t l = 0; l < 3; ++l) {
    acts.push_back(tg::randn({batch, width[l]}));
    weights.push_back(tg::randn({width[l + 1], width[l]}));
    biases.push_back(tg::randn({width[l + 1]}));
    grads.push_back(tg::randn({batch, width[l + 1]}));
  }
  for (auto _ : state) {
    for (std::size_t l = 0; l < 3; ++l) {
      const int in = width[l], out = width[l + 1];
      const float* a = acts[l].data_ptr<float>();
      const float* w = weights[l].data_ptr<float>();
      const float* dy = grads[l].data_ptr<float>();
      tg::Tensor y = tg::empty({batch, out});
      float* yp = y.data_ptr<float>();
      const float* b = biases[l].data_ptr<float>();
      for (int r = 0; r < batch; ++r) std::copy(b, b + out, yp + static_cast<std::ptrdiff_t>(r) * out);
      gemm(batch, out, in, a, {false, in}, w, {true, in}, 1.0, yp, out);
      tg::Tensor dw = tg::empty({out, in});
      gemm(out, in, batch, dy, {true, out}, a, {false, in}, 0.0, dw.data_ptr<float>(), in);
      benchmark::DoNotOptimize(y.impl());
      benchmark::DoNotOptimize(dw.impl());
      if (l == 0) continue;
      tg::Tensor da = tg::empty({batch, in});
      gemm(batch, in, out, dy, {false, out}, w, {false, in}, 0.0, da.data_ptr<float>(), in);
      benchmark::DoNotOptimize(da.impl());
    }
  }
}
BENCHMARK(BM_step_gemms)->Apply(step_shapes);

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
