// One LSTM training step: forward over a [T, B, I] batch, a sum of the
// outputs, backward. The LibTorch twin is BM_lstm_step in bench/libtorch/bench.cpp.
#include <benchmark/benchmark.h>

#include <tapegrad/tapegrad.h>

namespace {

// Arguments: seq_len, batch, hidden (= input size), threads.
void BM_lstm_step(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(3)));
  tg::manual_seed(0);
  const auto T = state.range(0), B = state.range(1), H = state.range(2);
  tg::nn::LSTM lstm(H, H);
  tg::Tensor x = tg::randn({T, B, H});
  for (auto _ : state) {
    lstm.zero_grad();
    auto [out, hc] = lstm(x);
    tg::Tensor loss = out.sum();
    loss.backward();
    benchmark::DoNotOptimize(loss.impl());
  }
}
BENCHMARK(BM_lstm_step)
    ->ArgNames({"T", "batch", "hidden", "threads"})
    ->Args({32, 16, 128, 1})
    ->Args({32, 64, 256, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
