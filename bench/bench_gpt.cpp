// One training step of examples/char_gpt's model (the same class, from
// examples/char_gpt/model.h) at the example's default size: forward over a
// [batch, T] window of random characters (114-byte vocabulary, as Debian's
// fortunes give), cross-entropy, backward, gradient clipping at 1.0, AdamW.
// Dropout 0.1 is on (training mode), as in the example. The LibTorch twin,
// the same architecture written with torch::nn, is BM_gpt_step in
// bench/libtorch/bench.cpp.
#include <benchmark/benchmark.h>

#include <tapegrad/tapegrad.h>

#include "model.h"

namespace {

namespace F = tg::nn::functional;

constexpr std::int64_t kVocab = 114;

// Arguments: batch, T (context), d_model, layers, heads, threads.
void BM_gpt_step(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(5)));
  tg::manual_seed(0);
  const auto B = state.range(0), T = state.range(1);
  const char_gpt::Shape shape{
      .block = T, .d_model = state.range(2), .layers = state.range(3), .heads = state.range(4), .dropout = 0.1};
  char_gpt::CharGPT model(kVocab, shape);
  model.train();
  tg::optim::AdamW opt(model.parameters(), {.lr = 2e-3, .betas = {0.9, 0.99}, .eps = 1e-8, .weight_decay = 0.01});
  const tg::Tensor x = tg::randint(0, kVocab, {B, T});
  const tg::Tensor y = tg::randint(0, kVocab, {B, T});
  std::int64_t params = 0;
  for (const auto& p : model.parameters()) params += p.numel();
  state.counters["params"] = static_cast<double>(params);  // 352,800 at the defaults, as LibTorch's twin
  for (auto _ : state) {
    const tg::Tensor logits = model(x);
    const tg::Tensor loss = F::cross_entropy(logits.reshape({-1, kVocab}), y.reshape({-1}));
    opt.zero_grad();
    loss.backward();
    tg::nn::utils::clip_grad_norm_(model.parameters(), 1.0);
    opt.step();
    benchmark::DoNotOptimize(loss.impl());
  }
}
BENCHMARK(BM_gpt_step)
    ->ArgNames({"batch", "T", "d_model", "layers", "heads", "threads"})
    ->Args({32, 64, 96, 3, 4, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace
