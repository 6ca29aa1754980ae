// backward(inputs=...), which accumulates into the given tensors only, and
// detach_(), which drops a tensor's own history. Values are PyTorch 1.13's
// (y.backward(inputs=[a, h]) and friends), worked by hand below.
#include <doctest/doctest.h>

#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/memory.h>

#include "support/close.h"

namespace test_backward_inputs {

using tg::Tensor;
using tg_test::check_close;

namespace {
constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};
constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};
}  // namespace

TEST_CASE("backward(inputs) fills only the inputs' .grad, leaves and non-leaves alike") {
  Tensor a = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor b = tg::tensor({3, 4}, {2}, kF64Grad);
  Tensor h = a * b;
  Tensor y = (h * h).sum();
  y.backward({}, /*retain_graph=*/true, false, {a, h});
  check_close(a.grad(), {18, 64});  // 2 h b
  check_close(h.grad(), {6, 16});   // 2 h
  CHECK_FALSE(b.grad().defined());
  CHECK(h.retains_grad());  // as PyTorch, which calls retain_grad() on a non-leaf input

  // Again, now into b alone: a's .grad keeps its value. h's node runs on
  // the way to b, and h retains its gradient since the first call, so it
  // adds again: PyTorch gives the same [12, 32].
  y.backward({}, true, false, {b});
  check_close(b.grad(), {6, 32});  // 2 h a
  check_close(a.grad(), {18, 64});
  check_close(h.grad(), {12, 32});

  // The vector form, two outputs, as torch::autograd::backward.
  a.mutable_grad().reset();
  b.mutable_grad().reset();
  tg::backward({y, (a * 3).sum()}, {}, false, false, {a});
  check_close(a.grad(), {21, 67});
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("backward(inputs) stops at an input: what flows through it to other leaves is not computed") {
  Tensor p = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor q = p * 3;
  (q * p).sum().backward({}, false, false, {q});
  check_close(q.grad(), {1, 2});  // d/dq = p
  CHECK_FALSE(p.grad().defined());
}

TEST_CASE("backward(inputs) runs only the part of the graph that leads to an input") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor w = tg::tensor({5, 7}, {2}, kF64Grad);
  Tensor z = x * 2;
  int z_hook = 0, x_hook = 0, w_hook = 0;
  z.register_hook([&](const Tensor&) {
    ++z_hook;
    return Tensor();
  });
  x.register_hook([&](const Tensor&) {
    ++x_hook;
    return Tensor();
  });
  w.register_hook([&](const Tensor&) {
    ++w_hook;
    return Tensor();
  });
  (z * w).sum().backward({}, false, false, {w});
  check_close(w.grad(), {2, 4});
  CHECK(w_hook == 1);
  CHECK(z_hook == 0);  // z's node leads only to x, which is not an input
  CHECK(x_hook == 0);
  CHECK_FALSE(x.grad().defined());
}

// The engine captured each input's gradient for tg::grad's use, and that
// second handle made accumulate_leaf copy it instead of adopting it.
TEST_CASE("backward(inputs) adopts a fresh gradient as .grad without a copy, as backward() does") {
  Tensor w = tg::ones({1000}, kF64Grad);
  const auto allocations = [&](bool with_inputs) {
    w.mutable_grad().reset();
    const Tensor loss = (w * 3.0).sum();
    const auto before = tg::memory_stats().num_allocations;
    if (with_inputs) loss.backward({}, false, false, {w});
    else loss.backward();
    return tg::memory_stats().num_allocations - before;
  };
  const auto plain = allocations(false);
  CHECK(allocations(true) == plain);
  check_close(w.grad(), std::vector<double>(1000, 3.0));
}

TEST_CASE("backward(inputs): an unused input keeps its .grad, as PyTorch (no error)") {
  Tensor a = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor b = tg::tensor({3, 4}, {2}, kF64Grad);
  (a * 2).sum().backward({}, false, false, {b});
  CHECK_FALSE(b.grad().defined());
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("backward(inputs) refuses an input that is undefined or does not require grad, before running") {
  Tensor a = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y = (a * a).sum();
  CHECK_THROWS_WITH_AS(y.backward({}, false, false, {a, tg::ones({3}, kF64)}),
                       doctest::Contains("input 1 (shape [3]) does not require grad"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(y.backward({}, false, false, {Tensor()}), doctest::Contains("input 0 is undefined"),
                       tg::AutogradError);
  CHECK_FALSE(a.grad().defined());
  y.backward({}, false, false, {a});  // the graph is intact
  check_close(a.grad(), {2, 4});
}

TEST_CASE("backward(inputs) with create_graph records the inputs' gradients") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor w = tg::tensor({3, 4}, {2}, kF64Grad);
  (w * x * x).sum().backward({}, false, /*create_graph=*/true, {x});
  CHECK(x.grad().requires_grad());
  CHECK_FALSE(w.grad().defined());
  check_close(x.grad(), {6, 16});  // 2 w x
  Tensor penalty = x.grad().sum();
  check_close(tg::grad(penalty, w)[0], {2, 4});  // d/dw of sum(2 w x) = 2 x
}

TEST_CASE("detach_ makes the tensor itself a leaf; the graph it was recorded in stays") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y = x * 2;
  Tensor other_handle = y;
  Tensor z = y * 3;  // recorded before: keeps its path to x
  Tensor& same = y.detach_();
  CHECK(&same == &y);
  CHECK_FALSE(y.requires_grad());
  CHECK(y.is_leaf());
  CHECK(y.grad_fn() == nullptr);
  CHECK_FALSE(other_handle.requires_grad());  // one tensor, whichever handle
  CHECK((y * 5).grad_fn() == nullptr);
  z.sum().backward();
  check_close(x.grad(), {6, 6});

  x.detach_();  // a leaf stops requiring grad
  CHECK_FALSE(x.requires_grad());
  check_close(x, {1, 2});
  Tensor plain = tg::tensor({1.0}, {1}, kF64);
  CHECK_FALSE(plain.detach_().requires_grad());
  CHECK_FALSE(x.detach().detach_().requires_grad());  // a detached copy is no view of x's history
}

TEST_CASE("detach_ refuses a view, whose history is its base's") {
  Tensor x = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad);
  Tensor v = (x * 2).narrow(0, 1, 2);
  CHECK_THROWS_WITH_AS(v.detach_(), doctest::Contains("detach_: this tensor (shape [2]) is a view"), tg::AutogradError);
  CHECK(v.requires_grad());
  Tensor leaf_view = x.view({2, 2});
  CHECK_THROWS_AS(leaf_view.detach_(), tg::AutogradError);
  Tensor undefined;
  CHECK_THROWS_WITH_AS(undefined.detach_(), doctest::Contains("detach_"), tg::AutogradError);
}

}  // namespace test_backward_inputs
