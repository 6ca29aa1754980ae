// The gradient contract: whatever hands the engine a gradient (a custom
// function's backward, a hook, set_grad, a seed) hands it one of exactly the
// right shape and dtype, or gets an AutogradError naming who, which input,
// what was expected and what came. Nothing is silently reshaped or cast.
#include <doctest/doctest.h>

#include <vector>

#include <tapegrad/autograd/custom_function.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

namespace test_gradient_contract {

using tg::Tensor;
using tg::autograd::AutogradContext;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};
constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};

// Returns whatever `make` builds from the incoming gradient.
Tensor (*g_make)(const Tensor& grad) = nullptr;

struct Returns : tg::autograd::Function<Returns> {
  static Tensor forward(AutogradContext*, const Tensor& x) { return x * 1.0; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) { return {g_make(grads[0])}; }
};

Tensor run_returning(Tensor (*make)(const Tensor&), const Tensor& x) {
  g_make = make;
  Returns::apply(x).sum().backward();
  return x.grad();
}

}  // namespace

TEST_CASE("a custom function's gradient of the wrong shape is an error, even with the same element count") {
  Tensor x = tg::arange(0, 6, 1, kF64).reshape({2, 3}).detach().set_requires_grad();
  // A [3, 2] gradient for a [2, 3] input used to be reshaped: a transposed,
  // wrong gradient with no error.
  CHECK_THROWS_WITH_AS(run_returning([](const Tensor& g) { return g.transpose(0, 1).contiguous(); }, x),
                       doctest::Contains("Returns: backward returned a gradient of shape [3, 2] and dtype float64 "
                                         "for input 0, which has shape [2, 3]"),
                       tg::AutogradError);
  CHECK_THROWS_AS(run_returning([](const Tensor& g) { return g.reshape({6}); }, x), tg::AutogradError);
  CHECK_THROWS_AS(run_returning([](const Tensor& g) { return g.reshape({1, 6}); }, x), tg::AutogradError);
  CHECK_THROWS_AS(run_returning([](const Tensor& g) { return g.sum(); }, x), tg::AutogradError);
  CHECK_THROWS_AS(run_returning([](const Tensor&) { return tg::ones({2, 4}, kF64); }, x), tg::AutogradError);
}

TEST_CASE("a custom function's gradient of the wrong dtype is an error") {
  Tensor x = tg::ones({2, 3}, kF64Grad);
  CHECK_THROWS_WITH_AS(run_returning([](const Tensor& g) { return g.to(tg::kFloat32); }, x),
                       doctest::Contains("dtype float32 for input 0, which has shape [2, 3] and dtype float64"),
                       tg::AutogradError);
}

TEST_CASE("a custom function's gradient with extra broadcast dims is summed, as in PyTorch") {
  Tensor x = tg::ones({2, 3}, kF64Grad);
  Tensor g = run_returning([](const Tensor& g) { return tg::stack({g, g * 2.0}); }, x);  // [2, 2, 3]
  CHECK(g.shape() == tg::Dims{2, 3});
  for (double v : g.to_vector<double>()) CHECK(v == 3.0);
}

TEST_CASE("a hook returning the wrong shape or dtype is an error naming the hook") {
  SUBCASE("leaf hook, transposed") {
    Tensor w = tg::ones({2, 3}, kF64Grad);
    w.register_hook([](const Tensor& g) { return g.transpose(0, 1).contiguous(); });
    CHECK_THROWS_WITH_AS((w * 2.0).sum().backward(),
                         doctest::Contains("hook 0 on a leaf returned a gradient of shape [3, 2]"), tg::AutogradError);
    CHECK_FALSE(w.grad().defined());
  }
  SUBCASE("leaf hook, second of two, another dtype") {
    Tensor w = tg::ones({2, 3}, kF64Grad);
    w.register_hook([](const Tensor& g) { return g * 2.0; });
    w.register_hook([](const Tensor& g) { return g.to(tg::kFloat32); });
    CHECK_THROWS_WITH_AS((w * 2.0).sum().backward(), doctest::Contains("hook 1 on a leaf"), tg::AutogradError);
  }
  SUBCASE("non-leaf hook, reshaped") {
    Tensor w = tg::ones({2, 3}, kF64Grad);
    Tensor y = w * 2.0;
    y.register_hook([](const Tensor& g) { return g.reshape({6}); });
    CHECK_THROWS_WITH_AS(y.sum().backward(), doctest::Contains("a hook on output 0 of mul"), tg::AutogradError);
  }
  SUBCASE("non-leaf hook, broadcastable but not equal") {
    Tensor w = tg::ones({2, 3}, kF64Grad);
    Tensor y = w * 2.0;
    y.register_hook([](const Tensor& g) { return tg::stack({g, g}); });
    CHECK_THROWS_AS(y.sum().backward(), tg::AutogradError);
  }
  SUBCASE("hooks that return the right thing still work") {
    Tensor w = tg::ones({2, 3}, kF64Grad);
    w.register_hook([](const Tensor& g) { return g * 3.0; });
    Tensor y = w * 2.0;
    y.register_hook([](const Tensor& g) { return g + 1.0; });
    y.sum().backward();
    for (double v : w.grad().to_vector<double>()) CHECK(v == 12.0);
  }
}

TEST_CASE("set_grad and seeds refuse another shape or dtype") {
  Tensor w = tg::ones({2, 3}, kF64Grad);
  CHECK_THROWS_WITH_AS(w.set_grad(tg::ones({3, 2}, kF64)),
                       doctest::Contains("expected a gradient of shape [2, 3] and dtype float64"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(w.set_grad(tg::ones({2, 3})), doctest::Contains("got shape [2, 3] and dtype float32"),
                       tg::AutogradError);
  w.set_grad(tg::ones({2, 3}, kF64));
  CHECK(w.grad().defined());
  Tensor y = w * 2.0;
  CHECK_THROWS_AS(y.backward(tg::ones({2, 3})), tg::AutogradError);
  CHECK_THROWS_AS(y.backward(tg::ones({3, 2}, kF64)), tg::ShapeError);
}

TEST_CASE("tg::grad with no inputs is an error and leaves the graph usable") {
  Tensor w = tg::ones({2}, kF64Grad);
  Tensor loss = (w * w).sum();
  CHECK_THROWS_WITH_AS(tg::grad({loss}, {}), doctest::Contains("no inputs"), tg::AutogradError);
  loss.backward();  // the graph was not freed by the failed call
  for (double v : w.grad().to_vector<double>()) CHECK(v == 2.0);
  CHECK_THROWS_WITH_AS(tg::grad({(w * 2.0).sum()}, {Tensor()}), doctest::Contains("input 0 is undefined"),
                       tg::AutogradError);
  CHECK_THROWS_AS(tg::backward({}), tg::AutogradError);
}

TEST_CASE("every autograd entry point refuses an undefined tensor") {
  Tensor u;
  CHECK_THROWS_AS(u.mutable_grad(), tg::AutogradError);
  CHECK_THROWS_AS(u.set_grad(tg::ones({1})), tg::AutogradError);
  CHECK_THROWS_AS(u.set_requires_grad(true), tg::AutogradError);
  CHECK_THROWS_AS(u.requires_grad_(), tg::AutogradError);
  CHECK_THROWS_AS(u.backward(), tg::AutogradError);
  CHECK_THROWS_AS(u.retain_grad(), tg::AutogradError);
  CHECK_THROWS_AS(u.register_hook([](const Tensor& g) { return g; }), tg::AutogradError);
  CHECK_THROWS_AS(u.detach(), tg::AutogradError);
  CHECK_THROWS_AS(tg::backward({u}), tg::Error);
  CHECK_THROWS_AS(tg::grad({u}, {tg::ones({1}, kF64Grad)}), tg::Error);
  // Queries answer as for a tensor without history, as in LibTorch.
  CHECK_FALSE(u.requires_grad());
  CHECK_FALSE(u.grad().defined());
  CHECK(u.is_leaf());
  CHECK(u.grad_fn() == nullptr);
  Tensor w = tg::ones({1}, kF64Grad);
  CHECK_THROWS_AS(w.register_hook(nullptr), tg::AutogradError);
}

}  // namespace test_gradient_contract
