// One Fashion-MNIST training epoch of the seed model (784-32-64-10, ReLU,
// cross-entropy, Adam lr 1e-3, batch 32, shuffled), data already in memory:
// the whole define-by-run loop a user writes, DataLoader included.
#include <benchmark/benchmark.h>

#include <tapegrad/tapegrad.h>

namespace {

namespace F = tg::nn::functional;

// The images stay uint8 until a batch is gathered (TensorDataset's
// kToUnitFloat): a shuffled batch then reads 25 KB of pixels instead of
// 100 KB of floats. LibTorch's side does the same (bench/libtorch/bench.cpp).
const tg::data::FashionMnist& fashion() {
  static const tg::data::FashionMnist data =
      tg::data::load_fashion_mnist(tg::data::default_fashion_mnist_dir(), tg::kUInt8);
  return data;
}

void BM_epoch(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  tg::manual_seed(0);
  const auto& data = fashion();
  tg::data::DataLoader loader(
      tg::data::TensorDataset(data.train_images, data.train_labels, tg::data::InputTransform::kToUnitFloat),
      {.batch_size = 32, .shuffle = true, .seed = 0});
  tg::nn::Sequential model{tg::nn::Linear(784, 32), tg::nn::ReLU(), tg::nn::Linear(32, 64), tg::nn::ReLU(),
                           tg::nn::Linear(64, 10)};
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
  for (auto _ : state) {
    double total = 0;
    for (auto& batch : loader) {
      opt.zero_grad();
      tg::Tensor loss = F::cross_entropy(model.forward(batch.input.flatten(1)), batch.target);
      loss.backward();
      opt.step();
      total += loss.item<double>();
    }
    benchmark::DoNotOptimize(total);
  }
}
BENCHMARK(BM_epoch)->ArgNames({"threads"})->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
