// Gradients of the matrix products against central differences in float64,
// plus hand-derived values and the public ops' error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/core/print.h>

namespace test_linalg_grad {

using tg::Dims;
using tg::Tensor;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor random64(Dims shape) { return tg::randn(shape, {.dtype = tg::kFloat64}); }

double weighted_sum(const Tensor& y, const std::vector<double>& w) {
  const auto v = y.to_vector<double>();
  double s = 0;
  for (std::size_t i = 0; i < v.size(); ++i) s += v[i] * w[i];
  return s;
}

// Checks the gradient of L = sum(f(inputs) * w), w random, for every input
// element against (L(x + eps) - L(x - eps)) / (2 eps). Inputs are float64
// leaves; `wanted[i]` false leaves input i without requires_grad, and then
// it must get no gradient.
void check_gradients(const Fn& f, std::vector<Tensor> inputs, std::vector<bool> wanted = {}) {
  if (wanted.empty()) wanted.assign(inputs.size(), true);
  for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i].set_requires_grad(wanted[i]);
  Tensor y = f(inputs);
  Tensor w = random64(y.shape());
  const auto wv = w.to_vector<double>();
  y.backward(w);

  const double eps = 1e-6;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!wanted[i]) {
      CHECK_FALSE(inputs[i].grad().defined());
      continue;
    }
    REQUIRE(inputs[i].grad().defined());
    REQUIRE(inputs[i].grad().shape() == inputs[i].shape());
    const auto analytic = inputs[i].grad().to_vector<double>();
    const auto base = inputs[i].to_vector<double>();
    for (std::size_t j = 0; j < base.size(); ++j) {
      auto at = [&](double delta) {
        std::vector<Tensor> moved;
        for (const auto& t : inputs) moved.push_back(t.detach());
        auto values = base;
        values[j] += delta;
        moved[i] = tg::tensor(values, inputs[i].shape(), tg::kFloat64);
        return weighted_sum(f(moved), wv);
      };
      const double numeric = (at(eps) - at(-eps)) / (2 * eps);
      INFO("input " << i << " element " << j << ": analytic " << analytic[j] << ", numeric " << numeric);
      CHECK(std::abs(analytic[j] - numeric) <= 1e-6 + 1e-5 * std::abs(numeric));
    }
  }
}

Fn matmul_fn = [](const std::vector<Tensor>& in) { return tg::matmul(in[0], in[1]); };

}  // namespace

TEST_CASE("matmul gradients, every shape case") {
  tg::manual_seed(11);
  const std::vector<std::pair<Dims, Dims>> cases = {
      {{4}, {4}},                 // dot
      {{3}, {3, 2}},              // row vector @ matrix
      {{2, 3}, {3}},              // matrix @ column vector
      {{2, 3}, {3, 4}},           // matrices
      {{2, 3, 4}, {4, 2}},        // stack @ matrix (one GEMM, folded dW)
      {{4}, {2, 4, 3}},           // vector @ stack
      {{2, 3, 4}, {4}},           // stack @ vector
      {{2, 1, 3, 4}, {5, 4, 2}},  // broadcast batch dims on both sides
      {{3, 4}, {2, 4, 2}},        // matrix @ stack
      {{1, 3}, {3, 1}},           // 1x1 result
  };
  for (const auto& [a_shape, b_shape] : cases) {
    // Clang before 16 cannot capture structured bindings in INFO's lambda.
    const auto& sa = a_shape;
    const auto& sb = b_shape;
    INFO("a " << tg::shape_str(sa) << " b " << tg::shape_str(sb));
    check_gradients(matmul_fn, {random64(sa), random64(sb)});
  }
}

TEST_CASE("matmul gradients through transposed inputs, and only where needed") {
  tg::manual_seed(12);
  check_gradients([](const std::vector<Tensor>& in) { return tg::matmul(tg::transpose(in[0], 0, 1), in[1]); },
                  {random64({3, 2}), random64({3, 4})});
  check_gradients([](const std::vector<Tensor>& in) { return tg::matmul(in[0], tg::transpose(in[1], -1, -2)); },
                  {random64({2, 2, 3}), random64({2, 4, 3})});
  check_gradients(matmul_fn, {random64({2, 3}), random64({3, 4})}, {true, false});
  check_gradients(matmul_fn, {random64({2, 3, 4}), random64({4, 2})}, {false, true});
  check_gradients([](const std::vector<Tensor>& in) { return tg::mm(in[0], in[1]); },
                  {random64({2, 3}), random64({3, 4})});
}

TEST_CASE("matmul gradient, hand-derived") {
  // y = sum(a @ b) with a = [[1, 2]], b = [[3], [4]]: da = b^T = [[3, 4]], db = a^T = [[1], [2]].
  Tensor a = tg::tensor({1.0, 2.0}, {1, 2}), b = tg::tensor({3.0, 4.0}, {2, 1});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  tg::matmul(a, b).backward(tg::ones({1, 1}));
  CHECK(a.grad().to_vector<float>() == std::vector<float>{3, 4});
  CHECK(b.grad().to_vector<float>() == std::vector<float>{1, 2});
}

TEST_CASE("linear gradients: 1-D, 2-D and 3-D input, with and without bias") {
  tg::manual_seed(13);
  Fn with_bias = [](const std::vector<Tensor>& in) { return tg::linear(in[0], in[1], in[2]); };
  Fn without_bias = [](const std::vector<Tensor>& in) { return tg::linear(in[0], in[1]); };
  for (Dims xs : {Dims{5, 3}, Dims{2, 4, 3}, Dims{3}}) {
    INFO("x " << tg::shape_str(xs));
    check_gradients(with_bias, {random64(xs), random64({4, 3}), random64({4})});
    check_gradients(without_bias, {random64(xs), random64({4, 3})});
    check_gradients(with_bias, {random64(xs), random64({4, 3}), random64({4})}, {false, true, true});
    check_gradients(with_bias, {random64(xs), random64({4, 3}), random64({4})}, {true, false, false});
  }
  // A bias of shape [1] broadcasts; its gradient is summed to one value.
  check_gradients(with_bias, {random64({5, 3}), random64({4, 3}), random64({1})});
}

TEST_CASE("linear gradient, hand-derived") {
  // y = x W^T + b, x = [[1, 2]], W = [[1, 0], [0, 1], [1, 1]], dy = [[1, 1, 1]]:
  // dx = dy W = [[2, 2]], dW = dy^T x = [[1, 2], [1, 2], [1, 2]], db = [1, 1, 1].
  Tensor x = tg::tensor({1.0, 2.0}, {1, 2}), w = tg::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 1.0}, {3, 2}),
         b = tg::tensor({10.0, 20.0, 30.0});
  for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
  tg::linear(x, w, b).backward(tg::ones({1, 3}));
  CHECK(x.grad().to_vector<float>() == std::vector<float>{2, 2});
  CHECK(w.grad().to_vector<float>() == std::vector<float>{1, 2, 1, 2, 1, 2});
  CHECK(b.grad().to_vector<float>() == std::vector<float>{1, 1, 1});
}

TEST_CASE("addmm, dot and outer gradients") {
  tg::manual_seed(14);
  for (Dims input : {Dims{2, 4}, Dims{4}, Dims{1}}) {
    check_gradients([](const std::vector<Tensor>& in) { return tg::addmm(in[0], in[1], in[2], 0.5, -2); },
                    {random64(input), random64({2, 3}), random64({3, 4})});
    check_gradients([](const std::vector<Tensor>& in) { return tg::addmm(in[0], in[1], in[2]); },
                    {random64(input), random64({2, 3}), random64({3, 4})});
  }
  check_gradients([](const std::vector<Tensor>& in) { return tg::dot(in[0], in[1]); }, {random64({5}), random64({5})});
  check_gradients([](const std::vector<Tensor>& in) { return tg::outer(in[0], in[1]); },
                  {random64({3}), random64({4})});
  check_gradients([](const std::vector<Tensor>& in) { return tg::outer(in[0], in[1]); }, {random64({3}), random64({4})},
                  {false, true});
}

TEST_CASE("second derivatives: backward formulas are differentiable") {
  tg::manual_seed(15);
  auto leaf = [](Dims shape) { return random64(shape).set_requires_grad(true); };
  CHECK(tg::gradgradcheck(matmul_fn, {leaf({2, 3}), leaf({3, 4})}));
  CHECK(tg::gradgradcheck(matmul_fn, {leaf({2, 1, 2, 3}), leaf({2, 3, 2})}));
  CHECK(tg::gradgradcheck(matmul_fn, {leaf({3}), leaf({2, 3, 2})}));
  CHECK(tg::gradgradcheck([](const std::vector<Tensor>& in) { return tg::linear(in[0], in[1], in[2]); },
                          {leaf({2, 2, 3}), leaf({4, 3}), leaf({4})}));
  CHECK(tg::gradgradcheck([](const std::vector<Tensor>& in) { return tg::addmm(in[0], in[1], in[2], 0.5, 2); },
                          {leaf({4}), leaf({2, 3}), leaf({3, 4})}));
}

TEST_CASE("linear and matmul backward read transposes as GEMM flags, without copies") {
  tg::manual_seed(16);
  Tensor x = tg::randn({4, 5, 6}).set_requires_grad(true);
  Tensor w = tg::randn({3, 6}).set_requires_grad(true);
  Tensor b = tg::randn({3}).set_requires_grad(true);
  const auto before = tg::kernel::gemm_stats();
  tg::linear(x, w, b).backward(tg::ones({4, 5, 3}));
  const auto after = tg::kernel::gemm_stats();
  CHECK(after.calls - before.calls == 3);  // forward, dx, dW: one GEMM each
  CHECK(after.operand_copies == before.operand_copies);
  // db sums dy over the 20 rows: every entry is 20.
  CHECK(b.grad().to_vector<float>() == std::vector<float>{20, 20, 20});

  Tensor a = tg::randn({4, 5, 6}).set_requires_grad(true);
  Tensor m = tg::randn({6, 2}).set_requires_grad(true);
  const auto before2 = tg::kernel::gemm_stats();
  tg::matmul(a, m).backward(tg::ones({4, 5, 2}));
  const auto after2 = tg::kernel::gemm_stats();
  CHECK(after2.calls - before2.calls == 3);  // the stack folds into one GEMM each way
  CHECK(after2.operand_copies == before2.operand_copies);
}

TEST_CASE("no recording without requires_grad; grad_fn is printed") {
  Tensor a = tg::tensor({1.0, 2.0, 3.0}), b = tg::tensor({1.0, 2.0, 3.0});
  CHECK_FALSE(tg::dot(a, b).requires_grad());
  a.set_requires_grad(true);
  Tensor y = tg::dot(a, b);
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(tg::repr(y) == "tensor(14., grad_fn=<DotBackward>)");
  CHECK(tg::repr(tg::matmul(tg::ones({1, 3}), a)) == "tensor([6.], grad_fn=<MatmulBackward>)");
  {
    tg::NoGradGuard no_grad;
    CHECK_FALSE(tg::matmul(a, b).requires_grad());
  }
}

TEST_CASE("public ops report errors with the op's name") {
  CHECK_THROWS_WITH_AS(tg::matmul(tg::zeros({32, 784}), tg::zeros({10, 64})),
                       "matmul: cannot multiply [32, 784] by [10, 64] (784 != 10)", tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::linear(tg::zeros({32, 100}), tg::zeros({10, 784})),
                       "linear: input has 100 features but the weight expects 784 (input [32, 100], weight [10, 784])",
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::mm(tg::zeros({2, 3}), tg::zeros({3, 2}, {.dtype = tg::kFloat64})),
                       doctest::Contains("float32 [2, 3] and float64 [3, 2]"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(tg::addmm(tg::zeros({3}), tg::zeros({2, 2}), tg::zeros({2, 2})), doctest::Contains("addmm"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::dot(tg::zeros({2}), tg::zeros({3})), doctest::Contains("dot"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::outer(tg::zeros({2, 1}), tg::zeros({3})), doctest::Contains("outer"), tg::ShapeError);
}

}  // namespace test_linalg_grad
