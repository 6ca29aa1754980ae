// Training late enough that gradients are tiny: Adam's g * g falls below
// FLT_MIN and, without flush-to-zero, its loop runs on subnormal floats,
// which x86 handles in slow microcode (issue 13: a fitted step took 270 us
// against 82 us with FTZ/DAZ). These rows keep that regime measured.
//
// `mxcsr` 0 runs in the caller's default floating-point mode (gradual
// underflow); 1 sets FTZ/DAZ for the calling thread first, as a user who
// knows the trick would. tapegrad's kernels should make the two equal.
#include <benchmark/benchmark.h>

#include <ctime>

#if defined(__SSE__)
#include <immintrin.h>
#endif

#include <tapegrad/tapegrad.h>

namespace {

namespace F = tg::nn::functional;

// FTZ (bit 15) and DAZ (bit 6) of MXCSR for the calling thread, restored on exit.
class CallerMode {
 public:
  explicit CallerMode(bool flush) {
#if defined(__SSE__)
    saved_ = _mm_getcsr();
    _mm_setcsr(flush ? (saved_ | 0x8040u) : (saved_ & ~0x8040u));
#else
    (void)flush;
#endif
  }
  ~CallerMode() {
#if defined(__SSE__)
    _mm_setcsr(saved_);
#endif
  }
  CallerMode(const CallerMode&) = delete;
  CallerMode& operator=(const CallerMode&) = delete;

 private:
  unsigned saved_ = 0;
};

// CPU time of the calling thread: on a shared machine wall time mostly
// measures the other tenants.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

tg::nn::Sequential seed_model() {
  return tg::nn::Sequential{tg::nn::Linear(784, 32), tg::nn::ReLU(), tg::nn::Linear(32, 64), tg::nn::ReLU(),
                            tg::nn::Linear(64, 10)};
}

const tg::data::FashionMnist& fashion() {
  static const tg::data::FashionMnist data = tg::data::load_fashion_mnist(tg::data::default_fashion_mnist_dir());
  return data;
}

// The same images as uint8, for the epochs: bench_epoch.cpp says why.
const tg::data::FashionMnist& fashion_bytes() {
  static const tg::data::FashionMnist data =
      tg::data::load_fashion_mnist(tg::data::default_fashion_mnist_dir(), tg::kUInt8);
  return data;
}

// One step of the seed model (784-32-64-10, batch 32, Adam lr 1e-3) on a
// batch it has already been trained on for 2,000 steps: the first 32
// Fashion-MNIST images. Their border pixels are always 0, so the first
// layer's weights there get zero gradients and Adam's moments decay into
// subnormals (and stay: 0.9 * the smallest subnormal rounds back to it).
// Arguments: mxcsr, threads.
void BM_step_fitted(benchmark::State& state) {
  CallerMode mode(state.range(0) != 0);
  tg::set_num_threads(static_cast<int>(state.range(1)));
  tg::manual_seed(0);
  tg::nn::Sequential model = seed_model();
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
  tg::Tensor x = tg::Tensor(fashion().train_images).narrow(0, 0, 32).flatten(1).contiguous();
  tg::Tensor y = tg::Tensor(fashion().train_labels).narrow(0, 0, 32).contiguous();
  auto step = [&] {
    opt.zero_grad();
    tg::Tensor loss = F::cross_entropy(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  for (int i = 0; i < 2000; ++i) step();
  for (auto _ : state) benchmark::DoNotOptimize(step().impl());
}
BENCHMARK(BM_step_fitted)->ArgNames({"mxcsr", "threads"})->ArgsProduct({{0, 1}, {1}})->Unit(benchmark::kMicrosecond);

// A full 10-epoch Fashion-MNIST run of the seed model (batch 32, shuffled,
// Adam lr 1e-3), one benchmark iteration per epoch on the same model, so the
// later epochs run in the regime of tiny gradients. The time is the mean
// epoch; counters give the first and the last epoch's CPU time. Arguments: mxcsr, threads.
void BM_epochs10(benchmark::State& state) {
  CallerMode mode(state.range(0) != 0);
  tg::set_num_threads(static_cast<int>(state.range(1)));
  tg::manual_seed(0);
  const auto& data = fashion_bytes();
  tg::data::DataLoader loader(
      tg::data::TensorDataset(data.train_images, data.train_labels, tg::data::InputTransform::kToUnitFloat),
      {.batch_size = 32, .shuffle = true, .seed = 0});
  tg::nn::Sequential model = seed_model();
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
  int epoch = 0;
  for (auto _ : state) {
    const double start = thread_cpu_seconds();
    double total = 0;
    for (auto& batch : loader) {
      opt.zero_grad();
      tg::Tensor loss = F::cross_entropy(model.forward(batch.input.flatten(1)), batch.target);
      loss.backward();
      opt.step();
      total += loss.item<double>();
    }
    benchmark::DoNotOptimize(total);
    const double seconds = thread_cpu_seconds() - start;
    ++epoch;
    if (epoch == 1) state.counters["epoch1_cpu_s"] = seconds;
    if (epoch == 10) state.counters["epoch10_cpu_s"] = seconds;
  }
}
BENCHMARK(BM_epochs10)
    ->ArgNames({"mxcsr", "threads"})
    ->ArgsProduct({{0, 1}, {1}})
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);

}  // namespace
