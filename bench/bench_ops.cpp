// Per-op cost on small tensors, with and without recording, for every op of
// the op registry (testing/op_registry.h), and a 100-op chain forward +
// backward: the overhead a define-by-run engine adds to every line of model
// code.
//
//   BM_op/<entry>/record:<0|1>   each registry entry that is no alias of
//                                another, on its first sample shapes;
//   BM_add, BM_relu, BM_matmul64 tg::add, tg::relu and tg::matmul called
//                                directly, at the sizes and names of
//                                bench/libtorch/bench.cpp, so scripts/bench.sh
//                                pairs them with LibTorch's;
//   BM_chain100                  the chain.
// Recording means the first input requires grad (as in the LibTorch side).
// In-place entries run without recording (on a leaf they are refused).
#include <benchmark/benchmark.h>
#include <tapegrad/tapegrad.h>
#include <tapegrad/testing/op_registry.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using tg::testing::OpInfo;

// Copies of values, the first one requiring grad when recording (and floating).
std::vector<tg::Tensor> inputs_of(const std::vector<tg::Tensor>& values, bool record) {
  std::vector<tg::Tensor> inputs;
  for (std::size_t i = 0; i < values.size(); ++i) {
    tg::Tensor t = values[i].clone();
    if (record && i == 0 && t.is_floating_point()) t.set_requires_grad(true);
    inputs.push_back(t);
  }
  return inputs;
}

void run_op(benchmark::State& state, const OpInfo& op, const std::vector<tg::Tensor>& values, bool record) {
  tg::set_num_threads(1);
  const std::vector<tg::Tensor> inputs = inputs_of(values, record);
  tg::testing::Args fixed;
  for (auto _ : state) {
    auto out = op.fn(inputs, fixed);
    benchmark::DoNotOptimize(out.data());
  }
}

template <class F>
void run_direct(benchmark::State& state, const std::vector<tg::Tensor>& values, bool record, F fn) {
  tg::set_num_threads(1);
  const std::vector<tg::Tensor> inputs = inputs_of(values, record);
  for (auto _ : state) {
    tg::Tensor out = fn(inputs);
    benchmark::DoNotOptimize(out.impl());
  }
}

std::vector<tg::Tensor> sample(const OpInfo& op, std::size_t k) {
  tg::Generator gen(42);
  const bool f32 = std::find(op.dtypes.begin(), op.dtypes.end(), tg::kFloat32) != op.dtypes.end();
  return op.sample(k, f32 ? tg::kFloat32 : op.dtypes.front(), gen);
}

std::vector<tg::Tensor> randn(std::vector<tg::Dims> shapes) {
  std::vector<tg::Tensor> out;
  for (const auto& s : shapes) out.push_back(tg::randn(s));
  return out;
}

const bool registered = [] {
  for (const auto& op : tg::testing::op_registry()) {
    if (!op.alias_of.empty()) continue;
    std::string name = "BM_op/" + op.name + (op.variant.empty() ? "" : "/" + op.variant);
    for (char& c : name)
      if (c == ' ') c = '_';
    const auto values = sample(op, 0);
    for (bool record : {false, true}) {
      if (record && (op.in_place || !op.differentiable)) continue;
      benchmark::RegisterBenchmark((name + "/record:" + (record ? "1" : "0")).c_str(),
                                   [&op, values, record](benchmark::State& s) { run_op(s, op, values, record); });
    }
  }
  // The LibTorch side's names and sizes, calling the public functions as it
  // calls torch::add, torch::relu and torch::mm: the registry's entries add a
  // std::function call and a std::vector of results (a malloc and a free, 5 %
  // of a 1-element add) that no user program pays.
  for (bool record : {false, true}) {
    const std::string r = record ? "1" : "0";
    for (std::int64_t n : {1, 32})
      benchmark::RegisterBenchmark(("BM_add/n:" + std::to_string(n) + "/record:" + r + "/threads:1").c_str(),
                                   [n, record](benchmark::State& s) {
                                     run_direct(s, {tg::ones({n, n}), tg::ones({n, n})}, record,
                                                [](const auto& x) { return tg::add(x[0], x[1]); });
                                   });
    benchmark::RegisterBenchmark(("BM_relu/record:" + r + "/threads:1").c_str(), [record](benchmark::State& s) {
      run_direct(s, randn({{32, 32}}), record, [](const auto& x) { return tg::relu(x[0]); });
    });
    benchmark::RegisterBenchmark(("BM_matmul64/record:" + r + "/threads:1").c_str(), [record](benchmark::State& s) {
      run_direct(s, randn({{64, 64}, {64, 64}}), record, [](const auto& x) { return tg::matmul(x[0], x[1]); });
    });
  }
  return true;
}();

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
