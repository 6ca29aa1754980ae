// core used on its own, as a plain tensor library: this file sees only core's
// headers (its own binary, compiled against core's include root and linked
// against core's objects alone, see tests/CMakeLists.txt), so any need for
// autograd here fails to compile or to link.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <tuple>
#include <vector>

#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/inplace.h>
#include <tapegrad/core/kernels/linalg.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/core/print.h>
#include <tapegrad/core/random.h>
#include <tapegrad/core/tensor.h>

using tg::Dims;
using tg::TensorBase;
namespace kernel = tg::kernel;

TEST_CASE("core alone: creation gives the values asked for") {
  const TensorBase a = kernel::arange(1, 7, 1, {.dtype = tg::kFloat64});
  CHECK(a.shape() == Dims{6});
  CHECK(a.dtype() == tg::kFloat64);
  CHECK(a.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(kernel::full({2, 2}, 2.5).to_vector<float>() == std::vector<float>{2.5f, 2.5f, 2.5f, 2.5f});
  CHECK(kernel::eye(2, 3).to_vector<float>() == std::vector<float>{1, 0, 0, 0, 1, 0});
  CHECK(kernel::linspace(0, 1, 5).to_vector<double>() == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  CHECK(kernel::tensor(std::vector<std::int64_t>{3, 1, 2}, {3}, tg::kFloat32).to_vector<float>() ==
        std::vector<float>{3, 1, 2});
  CHECK(kernel::zeros_like(a, tg::kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>(6, 0));
  CHECK(kernel::scalar_tensor(4).item<float>() == 4.0f);
}

TEST_CASE("core alone: requires_grad in the options is autograd's, and core leaves no tape state") {
  // A TensorBase has no tape to join: core makes the data and nothing else.
  const TensorBase z = kernel::zeros({2}, {.requires_grad = true});
  CHECK(z.impl()->autograd == nullptr);
  CHECK(tg::repr(z) == "tensor([0., 0.])");
}

TEST_CASE("core alone: kernels compute on TensorBase") {
  const TensorBase x = kernel::tensor({1.0, -2.0, 3.0, -4.0, 5.0, -6.0}, {2, 3});
  const TensorBase y = kernel::tensor({10.0, 20.0, 30.0, 40.0, 50.0, 60.0}, {2, 3});
  CHECK(kernel::add(x, y, 2).to_vector<float>() == std::vector<float>{21, 38, 63, 76, 105, 114});
  CHECK(kernel::relu(x).to_vector<float>() == std::vector<float>{1, 0, 3, 0, 5, 0});
  CHECK(kernel::sum(x, Dims{1}, false).to_vector<float>() == std::vector<float>{2, -5});
  const auto [values, indices] = kernel::max(y, 0, false);
  CHECK(values.to_vector<float>() == std::vector<float>{40, 50, 60});
  CHECK(indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 1, 1});

  // A transposed view, then a GEMM on it, then a contiguous copy of the view.
  const TensorBase xt = kernel::transpose(x, 0, 1);
  CHECK(xt.shape() == Dims{3, 2});
  CHECK_FALSE(xt.is_contiguous());
  CHECK(xt.storage() == x.storage());
  CHECK(kernel::matmul(x, xt).to_vector<float>() == std::vector<float>{14, -32, -32, 77});
  const TensorBase c = kernel::contiguous(xt);
  CHECK(c.is_contiguous());
  CHECK(c.to_vector<float>() == std::vector<float>{1, -4, -2, 5, 3, -6});
  CHECK(kernel::to(c, tg::kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -4, -2, 5, 3, -6});

  // In place through a view writes the base, and clone() does not alias.
  const TensorBase copy = kernel::clone(x);
  kernel::mul_(kernel::reshape(x, {6}), 2.0, "mul_");
  CHECK(x.to_vector<float>() == std::vector<float>{2, -4, 6, -8, 10, -12});
  CHECK(copy.to_vector<float>() == std::vector<float>{1, -2, 3, -4, 5, -6});
}

TEST_CASE("core alone: random numbers follow the generator") {
  tg::Generator g1(7), g2(7);
  const TensorBase a = kernel::randn({4}, {}, &g1);
  const TensorBase b = kernel::randn({4}, {}, &g2);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  const TensorBase p = kernel::randperm(5, &g1);
  std::vector<std::int64_t> sorted = p.to_vector<std::int64_t>();
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  // bernoulli makes its input contiguous with core's kernel: a strided view works.
  const TensorBase probs = kernel::transpose(kernel::tensor({1.0, 0.0, 1.0, 0.0}, {2, 2}), 0, 1);
  CHECK(kernel::bernoulli(probs, &g1).to_vector<float>() == std::vector<float>{1, 1, 0, 0});
}

TEST_CASE("core alone: printing and errors") {
  const TensorBase x = kernel::tensor({1.5, 2, 3, 4}, {2, 2});
  std::ostringstream out;
  out << x;
  CHECK(out.str() == "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])");
  CHECK(fmt::format("{}", x) == out.str());
  CHECK_THROWS_AS(kernel::matmul(x, kernel::ones({3, 2})), tg::ShapeError);
  CHECK_THROWS_AS((void)TensorBase().numel(), tg::Error);
}

// The shared loop of the kernels (core/kernels/loop.h, internal): its row
// stepping and its OpenMP region are compiled once, behind a pointer to the
// row, so these check them directly, on one thread and on two.
TEST_CASE("core alone: parallel_for visits each index once and rethrows a body's exception") {
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    std::vector<int> seen(1000, 0);
    kernel::parallel_for(1000, threads, [&seen](std::int64_t i) { ++seen[static_cast<std::size_t>(i)]; });
    CHECK(std::all_of(seen.begin(), seen.end(), [](int k) { return k == 1; }));
    CHECK_THROWS_WITH_AS(kernel::parallel_for(1000, threads,
                                              [](std::int64_t i) {
                                                if (i == 700) throw tg::ValueError("body failed at 700");
                                              }),
                         "body failed at 700", tg::ValueError);
  }
  // The thread's number, on both schedules: each index once, on worker 0 or 1.
  for (auto schedule : {kernel::Schedule::Static, kernel::Schedule::Dynamic}) {
    std::vector<int> worker(1000, -1);
    kernel::parallel_for(
        1000, 2, [&worker](std::int64_t i, int thread) { worker[static_cast<std::size_t>(i)] = thread; }, schedule);
    CHECK(std::all_of(worker.begin(), worker.end(), [](int t) { return t == 0 || t == 1; }));
  }
  std::vector<std::int64_t> order;
  kernel::parallel_for(5, 1, [&order](std::int64_t i) { order.push_back(i); });
  CHECK(order == std::vector<std::int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("core alone: map2 over transposed and broadcast operands, on one thread and on two") {
  // 400 x 400 = 160000 elements: above kParallelThreshold (the threshold under
  // OpenMP's default wait policy, as ctest runs it), so two threads split the rows.
  const TensorBase a =
      kernel::transpose(kernel::view(kernel::arange(0, 160000, 1, {.dtype = tg::kFloat64}), {400, 400}), 0, 1);
  const TensorBase b = kernel::arange(0, 400, 1, {.dtype = tg::kFloat64});
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    tg::set_num_threads(threads);
    const TensorBase out = tg::make_tensor({400, 400}, tg::kFloat64);
    kernel::map2<double, double, double>(out, a, b, [](double x, double y) { return x * 1000 + y; });
    const std::vector<double> v = out.to_vector<double>();
    bool all = true;
    for (std::int64_t i = 0; i < 400 && all; ++i)
      for (std::int64_t j = 0; j < 400 && all; ++j)
        all = v[static_cast<std::size_t>(i * 400 + j)] ==
              static_cast<double>(j * 400 + i) * 1000 + static_cast<double>(j);
    CHECK(all);
  }
  tg::reset_num_threads();
}
