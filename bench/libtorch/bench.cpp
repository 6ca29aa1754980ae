// The workloads of bench/bench_*.cpp against LibTorch, with the same
// benchmark names and arguments so scripts/bench.sh can pair them. One file:
// torch headers take about a minute each to compile.
#include <benchmark/benchmark.h>
#include <torch/torch.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// LibTorch keeps two pools: its own (OpenMP) and OpenBLAS's. Debian's
// torch links the system BLAS; if that is OpenBLAS, set its pool too.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace {

void set_threads(benchmark::State& state, int index) {
  const int n = static_cast<int>(state.range(index));
  torch::set_num_threads(n);
  if (openblas_set_num_threads) openblas_set_num_threads(n);
}

void BM_add(benchmark::State& state) {
  const auto n = state.range(0);
  const bool record = state.range(1) != 0;
  set_threads(state, 2);
  torch::Tensor a = torch::ones({n, n}, torch::requires_grad(record));
  torch::Tensor b = torch::ones({n, n});
  for (auto _ : state) {
    torch::Tensor c = torch::add(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
}
BENCHMARK(BM_add)->ArgNames({"n", "record", "threads"})->ArgsProduct({{1, 32}, {0, 1}, {1}});

void BM_relu(benchmark::State& state) {
  const bool record = state.range(0) != 0;
  set_threads(state, 1);
  torch::Tensor a = torch::randn({32, 32}, torch::requires_grad(record));
  for (auto _ : state) {
    torch::Tensor c = torch::relu(a);
    benchmark::DoNotOptimize(c.data_ptr());
  }
}
BENCHMARK(BM_relu)->ArgNames({"record", "threads"})->ArgsProduct({{0, 1}, {1}});

void BM_matmul64(benchmark::State& state) {
  const bool record = state.range(0) != 0;
  set_threads(state, 1);
  torch::Tensor a = torch::randn({64, 64}, torch::requires_grad(record));
  torch::Tensor b = torch::randn({64, 64});
  for (auto _ : state) {
    torch::Tensor c = torch::mm(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
}
BENCHMARK(BM_matmul64)->ArgNames({"record", "threads"})->ArgsProduct({{0, 1}, {1}});

void BM_chain100(benchmark::State& state) {
  set_threads(state, 0);
  torch::Tensor x = torch::ones({1}, torch::requires_grad());
  for (auto _ : state) {
    torch::Tensor y = x;
    for (int i = 0; i < 50; ++i) y = torch::mul(torch::add(y, 1.0), 0.5);
    y.sum().backward();
    x.mutable_grad() = torch::Tensor();
  }
  state.counters["per_op"] = benchmark::Counter(static_cast<double>(state.iterations()) * 101,
                                                benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_chain100)->ArgNames({"threads"})->Arg(1);

void run_steps(benchmark::State& state) {
  torch::manual_seed(0);
  const auto h1 = state.range(0);
  const auto h2 = state.range(1);
  torch::nn::Sequential model(torch::nn::Linear(784, h1), torch::nn::ReLU(), torch::nn::Linear(h1, h2),
                              torch::nn::ReLU(), torch::nn::Linear(h2, 10));
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  const auto batch = state.range(2);
  torch::Tensor x = torch::randn({batch, 784});
  torch::Tensor y = torch::randint(0, 10, {batch}, torch::kLong);
  for (auto _ : state) {
    opt.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    loss.backward();
    opt.step();
    benchmark::DoNotOptimize(loss.data_ptr());
  }
}
void BM_step(benchmark::State& state) {
  set_threads(state, 3);
  run_steps(state);
}
BENCHMARK(BM_step)
    ->ArgNames({"h1", "h2", "batch", "threads"})
    ->Args({32, 64, 32, 1})
    ->Args({32, 64, 32, 2})
    ->Args({1024, 1024, 256, 1})
    ->Args({1024, 1024, 256, 2})
    ->Unit(benchmark::kMicrosecond);

// LibTorch's default: one thread per core (hardware_concurrency), wall time.
void BM_step_default_threads(benchmark::State& state) {
  torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  run_steps(state);
}
BENCHMARK(BM_step_default_threads)
    ->ArgNames({"h1", "h2", "batch"})
    ->Args({32, 64, 32})
    ->Args({1024, 1024, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_lstm_step(benchmark::State& state) {
  set_threads(state, 3);
  torch::manual_seed(0);
  const auto T = state.range(0), B = state.range(1), H = state.range(2);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(H, H));
  torch::Tensor x = torch::randn({T, B, H});
  for (auto _ : state) {
    lstm->zero_grad();
    torch::Tensor loss = std::get<0>(lstm->forward(x)).sum();
    loss.backward();
    benchmark::DoNotOptimize(loss.data_ptr());
  }
}
BENCHMARK(BM_lstm_step)
    ->ArgNames({"T", "batch", "hidden", "threads"})
    ->Args({32, 16, 128, 1})
    ->Args({32, 64, 256, 1})
    ->Unit(benchmark::kMicrosecond);

// examples/char_gpt's model written with torch::nn (tapegrad's side is
// bench/bench_gpt.cpp): token + position embeddings, pre-norm blocks as
// PyTorch's TransformerEncoderLayer with norm_first (x + dropout(attn(norm1(x))),
// x + dropout(linear2(dropout(gelu(linear1(norm2(x))))))), causal
// self-attention through nn::MultiheadAttention with a [T, T] float mask
// (LibTorch 1.13's C++ TransformerEncoderLayer has no norm_first), a final
// LayerNorm, the head tied to the token embedding. Sequence first, [T, B, d],
// as LibTorch's MultiheadAttention wants.
struct GPTBlockImpl : torch::nn::Module {
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::MultiheadAttention self_attn{nullptr};
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  double p;
  GPTBlockImpl(std::int64_t d, std::int64_t heads, double dropout) : p(dropout) {
    norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    self_attn = register_module(
        "self_attn", torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(d, heads).dropout(dropout)));
    linear1 = register_module("linear1", torch::nn::Linear(d, 4 * d));
    linear2 = register_module("linear2", torch::nn::Linear(4 * d, d));
  }
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask) {
    namespace F = torch::nn::functional;
    const auto drop = F::DropoutFuncOptions().p(p).training(is_training());
    const torch::Tensor h = norm1(x);
    x = x + F::dropout(std::get<0>(self_attn->forward(h, h, h, /*key_padding_mask=*/{}, /*need_weights=*/false, mask)),
                       drop);
    const torch::Tensor f = F::dropout(F::gelu(linear1(norm2(x))), drop);
    return x + F::dropout(linear2(f), drop);
  }
};
TORCH_MODULE(GPTBlock);

struct CharGPTImpl : torch::nn::Module {
  torch::nn::Embedding tok_emb{nullptr};
  torch::Tensor pos_emb;
  std::vector<GPTBlock> blocks;
  torch::nn::LayerNorm norm{nullptr};
  CharGPTImpl(std::int64_t vocab, std::int64_t block, std::int64_t d, std::int64_t layers, std::int64_t heads,
              double dropout) {
    tok_emb = register_module("tok_emb", torch::nn::Embedding(vocab, d));
    torch::nn::init::normal_(tok_emb->weight, 0, 0.02);
    pos_emb = register_parameter("pos_emb", torch::zeros({block, d}));
    torch::nn::init::normal_(pos_emb, 0, 0.02);
    for (std::int64_t i = 0; i < layers; ++i)
      blocks.push_back(register_module("block" + std::to_string(i), GPTBlock(d, heads, dropout)));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  }
  // idx [T, B] -> logits [T, B, vocab]; mask [T, T], -inf above the diagonal.
  torch::Tensor forward(const torch::Tensor& idx, const torch::Tensor& mask) {
    torch::Tensor x = tok_emb(idx) + pos_emb.narrow(0, 0, idx.size(0)).unsqueeze(1);
    for (auto& b : blocks) x = b(x, mask);
    return torch::nn::functional::linear(norm(x), tok_emb->weight);
  }
};
TORCH_MODULE(CharGPT);

// Arguments: batch, T (context), d_model, layers, heads, threads.
void BM_gpt_step(benchmark::State& state) {
  set_threads(state, 5);
  torch::manual_seed(0);
  const std::int64_t V = 114;
  const auto B = state.range(0), T = state.range(1);
  CharGPT model(V, T, state.range(2), state.range(3), state.range(4), 0.1);
  model->train();
  torch::optim::AdamW opt(model->parameters(),
                          torch::optim::AdamWOptions(2e-3).betas({0.9, 0.99}).eps(1e-8).weight_decay(0.01));
  const torch::Tensor x = torch::randint(0, V, {T, B});
  const torch::Tensor y = torch::randint(0, V, {T, B});
  const torch::Tensor mask = torch::triu(torch::full({T, T}, -INFINITY), 1);
  std::int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  state.counters["params"] = static_cast<double>(params);  // the same count as tapegrad's model
  for (auto _ : state) {
    const torch::Tensor logits = model(x, mask);
    const torch::Tensor loss = torch::nn::functional::cross_entropy(logits.reshape({-1, V}), y.reshape({-1}));
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    opt.step();
    benchmark::DoNotOptimize(loss.data_ptr());
  }
}
BENCHMARK(BM_gpt_step)
    ->ArgNames({"batch", "T", "d_model", "layers", "heads", "threads"})
    ->Args({32, 64, 96, 3, 4, 1})
    ->Unit(benchmark::kMillisecond);

void BM_matmul(benchmark::State& state) {
  const auto n = state.range(0);
  set_threads(state, 1);
  torch::Tensor a = torch::randn({n, n});
  torch::Tensor b = torch::randn({n, n});
  for (auto _ : state) {
    torch::Tensor c = torch::mm(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.counters["flops"] = benchmark::Counter(2.0 * static_cast<double>(n) * static_cast<double>(n) *
                                                   static_cast<double>(n) * static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
}
BENCHMARK(BM_matmul)
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{256, 512, 1024, 2048}, {1, 2}})
    ->Unit(benchmark::kMillisecond);

// Reads one gzip IDX file of Debian's dataset-fashion-mnist into a uint8
// tensor (images [N, 784] or labels [N]); enough for the benchmark, which
// trusts the files.
torch::Tensor read_idx_gz(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error("cannot open " + path);
  std::vector<unsigned char> bytes;
  unsigned char buffer[1 << 16];
  for (int n; (n = gzread(file, buffer, sizeof buffer)) > 0;) bytes.insert(bytes.end(), buffer, buffer + n);
  gzclose(file);
  auto be32 = [&](std::size_t at) {
    return static_cast<std::int64_t>(bytes[at]) << 24 | bytes[at + 1] << 16 | bytes[at + 2] << 8 | bytes[at + 3];
  };
  const int dims = bytes[3];
  const std::int64_t count = be32(4);
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(dims);
  const std::int64_t per_item = static_cast<std::int64_t>(bytes.size() - header) / count;
  return torch::from_blob(bytes.data() + header, {count, per_item}, torch::kUInt8).clone().squeeze(1);
}

// One Fashion-MNIST epoch of the seed model, as a LibTorch user writes it
// with the data in memory: a fresh permutation, then index_select per batch
// (faster than torch::data's per-example collation, so LibTorch's best case).
// The images stay uint8 until the batch, as on tapegrad's side
// (bench/bench_epoch.cpp): index_select of the bytes, then to float / 255.
void BM_epoch(benchmark::State& state) {
  set_threads(state, 0);
  torch::manual_seed(0);
  const char* env = std::getenv("TAPEGRAD_FASHION_MNIST_DIR");
  const std::string dir = env && *env ? env : "/usr/share/datasets/fashion-mnist";
  const torch::Tensor images = read_idx_gz(dir + "/train-images-idx3-ubyte.gz");
  const torch::Tensor labels = read_idx_gz(dir + "/train-labels-idx1-ubyte.gz").to(torch::kLong);
  torch::nn::Sequential model(torch::nn::Linear(784, 32), torch::nn::ReLU(), torch::nn::Linear(32, 64),
                              torch::nn::ReLU(), torch::nn::Linear(64, 10));
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  const std::int64_t batch = 32;
  for (auto _ : state) {
    const torch::Tensor order = torch::randperm(images.size(0), torch::kLong);
    double total = 0;
    for (std::int64_t start = 0; start < images.size(0); start += batch) {
      const torch::Tensor index = order.narrow(0, start, std::min(batch, images.size(0) - start));
      opt.zero_grad();
      const torch::Tensor input = images.index_select(0, index).to(torch::kFloat).div_(255.0);
      torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(input), labels.index_select(0, index));
      loss.backward();
      opt.step();
      total += loss.item<double>();
    }
    benchmark::DoNotOptimize(total);
  }
}
BENCHMARK(BM_epoch)->ArgNames({"threads"})->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// bench/bench_denormal.cpp's rows. `mxcsr` 1 is at::globalContext().setFlushDenormal(true),
// 0 PyTorch's default (gradual underflow).
struct FashionData {
  torch::Tensor images, labels, pixels;  // pixels: the images as uint8, for the epochs
};
const FashionData& fashion() {
  static const FashionData data = [] {
    const char* env = std::getenv("TAPEGRAD_FASHION_MNIST_DIR");
    const std::string dir = env && *env ? env : "/usr/share/datasets/fashion-mnist";
    const torch::Tensor pixels = read_idx_gz(dir + "/train-images-idx3-ubyte.gz");
    return FashionData{pixels.to(torch::kFloat) / 255.0,
                       read_idx_gz(dir + "/train-labels-idx1-ubyte.gz").to(torch::kLong), pixels};
  }();
  return data;
}

// CPU time of the calling thread: on a shared machine wall time mostly
// measures the other tenants.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

torch::nn::Sequential seed_model() {
  return torch::nn::Sequential(torch::nn::Linear(784, 32), torch::nn::ReLU(), torch::nn::Linear(32, 64),
                               torch::nn::ReLU(), torch::nn::Linear(64, 10));
}

void BM_step_fitted(benchmark::State& state) {
  at::globalContext().setFlushDenormal(state.range(0) != 0);
  set_threads(state, 1);
  torch::manual_seed(0);
  auto model = seed_model();
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  const torch::Tensor x = fashion().images.narrow(0, 0, 32).contiguous();
  const torch::Tensor y = fashion().labels.narrow(0, 0, 32).contiguous();
  auto step = [&] {
    opt.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  for (int i = 0; i < 2000; ++i) step();
  for (auto _ : state) benchmark::DoNotOptimize(step().data_ptr());
  at::globalContext().setFlushDenormal(false);
}
BENCHMARK(BM_step_fitted)->ArgNames({"mxcsr", "threads"})->ArgsProduct({{0, 1}, {1}})->Unit(benchmark::kMicrosecond);

void BM_epochs10(benchmark::State& state) {
  at::globalContext().setFlushDenormal(state.range(0) != 0);
  set_threads(state, 1);
  torch::manual_seed(0);
  const auto& data = fashion();
  auto model = seed_model();
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  const std::int64_t batch = 32;
  int epoch = 0;
  for (auto _ : state) {
    const double start = thread_cpu_seconds();
    const torch::Tensor order = torch::randperm(data.images.size(0), torch::kLong);
    double total = 0;
    for (std::int64_t begin = 0; begin < data.images.size(0); begin += batch) {
      const torch::Tensor index = order.narrow(0, begin, std::min(batch, data.images.size(0) - begin));
      opt.zero_grad();
      const torch::Tensor input = data.pixels.index_select(0, index).to(torch::kFloat).div_(255.0);
      torch::Tensor loss =
          torch::nn::functional::cross_entropy(model->forward(input), data.labels.index_select(0, index));
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
  at::globalContext().setFlushDenormal(false);
}
BENCHMARK(BM_epochs10)
    ->ArgNames({"mxcsr", "threads"})
    ->ArgsProduct({{0, 1}, {1}})
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);

// bench/bench_layouts.cpp's rows.
torch::Tensor layout_operand(std::int64_t layout) {
  switch (layout) {
    case 1:
      return torch::randn({1024});
    case 2:
      return torch::randn({1024, 1024}).t();
    case 3:
      return torch::randn({1024, 2048}).slice(1, 0, 2048, 2);
    case 4:
      return torch::randn({1024, 1});
    default:
      return torch::randn({1024, 1024});
  }
}

void BM_layout_add(benchmark::State& state) {
  set_threads(state, 1);
  const torch::Tensor a = torch::randn({1024, 1024});
  const torch::Tensor b = layout_operand(state.range(0));
  for (auto _ : state) {
    torch::Tensor c = a + b;
    benchmark::DoNotOptimize(c.data_ptr());
  }
}
BENCHMARK(BM_layout_add)->ArgNames({"layout", "threads"})->ArgsProduct({{0, 1, 2, 3, 4}, {1}});

void BM_layout_narrow_rows(benchmark::State& state) {
  set_threads(state, 0);
  const torch::Tensor x = torch::randn({262144, 4}).t();
  for (auto _ : state) {
    torch::Tensor y = x.exp();
    benchmark::DoNotOptimize(y.data_ptr());
  }
}
BENCHMARK(BM_layout_narrow_rows)->ArgNames({"threads"})->Arg(1);

void BM_layout_sum(benchmark::State& state) {
  set_threads(state, 1);
  const torch::Tensor x = torch::randn({1024, 1024});
  const std::int64_t dim = state.range(0);
  for (auto _ : state) {
    torch::Tensor s = x.sum(dim);
    benchmark::DoNotOptimize(s.data_ptr());
  }
}
BENCHMARK(BM_layout_sum)->ArgNames({"dim", "threads"})->ArgsProduct({{0, 1}, {1}});

void BM_layout_softmax(benchmark::State& state) {
  set_threads(state, 0);
  const torch::Tensor x = torch::randn({256, 1024});
  for (auto _ : state) {
    torch::Tensor y = torch::softmax(x, -1);
    benchmark::DoNotOptimize(y.data_ptr());
  }
}
BENCHMARK(BM_layout_softmax)->ArgNames({"threads"})->Arg(1);

void BM_gelu(benchmark::State& state) {
  set_threads(state, 1);
  const bool backward = state.range(0) != 0;
  const torch::Tensor x = torch::randn({2048, 384}).requires_grad_(backward);
  const torch::Tensor dy = torch::randn({2048, 384});
  for (auto _ : state) {
    torch::Tensor y = torch::gelu(x);
    if (backward) y.backward(dy);
    benchmark::DoNotOptimize(y.data_ptr());
  }
}
BENCHMARK(BM_gelu)->ArgNames({"backward", "threads"})->ArgsProduct({{0, 1}, {1}});

void BM_layout_thin_add(benchmark::State& state) {
  set_threads(state, 0);
  const torch::Tensor x = torch::randn({2, 524288}).t();
  const torch::Tensor y = torch::randn({524288, 2});
  for (auto _ : state) {
    torch::Tensor z = x + y;
    benchmark::DoNotOptimize(z.data_ptr());
  }
}
BENCHMARK(BM_layout_thin_add)->ArgNames({"threads"})->Arg(1);

void BM_layout_inplace_t(benchmark::State& state) {
  set_threads(state, 0);
  torch::Tensor x = torch::randn({1024, 1024});
  for (auto _ : state) {
    x.t().mul_(1.0);
    benchmark::DoNotOptimize(x.data_ptr());
  }
}
BENCHMARK(BM_layout_inplace_t)->ArgNames({"threads"})->Arg(1);

void BM_topk(benchmark::State& state) {
  set_threads(state, 0);
  const torch::Tensor x = torch::randn({1024, 1024});
  for (auto _ : state) {
    auto [values, indices] = x.topk(5, 1);
    benchmark::DoNotOptimize(values.data_ptr());
  }
}
BENCHMARK(BM_topk)->ArgNames({"threads"})->Arg(1);

void BM_row_sum(benchmark::State& state) {
  torch::set_num_threads(1);
  const std::int64_t cols = state.range(0);
  const torch::Tensor x = torch::randn({(std::int64_t{1} << 20) / cols, cols});
  for (auto _ : state) {
    const torch::Tensor s = x.sum(1);
    benchmark::DoNotOptimize(s.data_ptr());
  }
}
BENCHMARK(BM_row_sum)->ArgNames({"cols"})->Arg(16)->Arg(256)->Arg(4096);

void BM_grad_history(benchmark::State& state) {
  set_threads(state, 0);
  torch::Tensor y = torch::ones({4}, torch::requires_grad());
  for (int i = 0; i < 2000; ++i) y = y * 1.0001;
  for (auto _ : state) {
    const torch::Tensor loss = (y * y).sum();
    auto g = torch::autograd::grad({loss}, {y});
    benchmark::DoNotOptimize(g[0].data_ptr());
  }
}
BENCHMARK(BM_grad_history)->ArgNames({"threads"})->Arg(1);

}  // namespace

BENCHMARK_MAIN();
