// In-place Tensor members: values, dtype and shape rules, the version
// counter, and their autograd (leaf errors, rebasing, views, saved tensors).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

#include "support/close.h"

namespace test_inplace {

using tg::Tensor;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};
constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

using tg_test::check_close;

}  // namespace

TEST_CASE("in-place arithmetic computes in place and bumps the version") {
  Tensor a = tg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2});
  const auto v0 = a.version();
  const void* data = a.raw_data();

  a.add_(tg::tensor({10.0, 20.0}, {2}));  // broadcast along rows
  check_close(a, {11, 22, 13, 24});
  CHECK(a.version() == v0 + 1);
  CHECK(a.raw_data() == data);

  a.add_(tg::tensor({1.0, 1.0, 1.0, 1.0}, {2, 2}), 2);
  check_close(a, {13, 24, 15, 26});
  a.sub_(tg::tensor({3.0, 4.0}, {2}), 3);
  check_close(a, {4, 12, 6, 14});
  a.add_(1.5).sub_(0.5);
  check_close(a, {5, 13, 7, 15});
  a.mul_(tg::tensor({2.0}, {1})).mul_(0.5);
  check_close(a, {5, 13, 7, 15});
  a.div_(tg::tensor({5.0, 13.0}, {2})).div_(2);
  check_close(a, {0.5, 0.5, 0.7, 15.0 / 26.0}, 1e-6);
  CHECK(a.version() == v0 + 9);
}

TEST_CASE("fill_, zero_, copy_, clamp_, relu_ and masked_fill_ values") {
  Tensor a = tg::tensor({-2, -0.5, 0, 0.5, 2, 3}, {2, 3});
  Tensor c = a.clone();
  c.clamp_(-1, 1);
  check_close(c, {-1, -0.5, 0, 0.5, 1, 1});
  c = a.clone();
  c.clamp_(std::nullopt, 0.5);
  check_close(c, {-2, -0.5, 0, 0.5, 0.5, 0.5});
  c = a.clone();
  c.clamp_(1, std::nullopt);
  check_close(c, {1, 1, 1, 1, 2, 3});
  c = a.clone();
  c.clamp_(2, 1);  // min above max: max everywhere, as PyTorch
  check_close(c, {1, 1, 1, 1, 1, 1});
  CHECK_THROWS_WITH_AS(c.clamp_(std::nullopt, std::nullopt), doctest::Contains("clamp_"), tg::ValueError);

  c = a.clone();
  c.relu_();
  check_close(c, {0, 0, 0, 0.5, 2, 3});

  c = a.clone();
  c.masked_fill_(tg::tensor({1, 0, 1}, {3}, {.dtype = tg::kBool}), 9);
  check_close(c, {9, -0.5, 9, 9, 2, 9});
  CHECK_THROWS_WITH_AS(c.masked_fill_(tg::tensor({1.0, 0.0, 1.0}, {3}), 9), doctest::Contains("masked_fill_"),
                       tg::DTypeError);

  c.fill_(7);
  check_close(c, {7, 7, 7, 7, 7, 7});
  c.zero_();
  check_close(c, {0, 0, 0, 0, 0, 0});

  // copy_ broadcasts and converts dtypes (float to int truncates, as PyTorch).
  Tensor i = tg::zeros({2, 3}, {.dtype = tg::kInt64});
  i.copy_(tg::tensor({1.7, -2.2, 3.0}, {3}));
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 3, 1, -2, 3});
  Tensor f = tg::zeros({3}, kF64);
  f.copy_(tg::tensor({4, 5, 6}, {3}, {.dtype = tg::kInt64}));
  check_close(f, {4, 5, 6});
  CHECK_THROWS_WITH_AS(f.copy_(tg::zeros({2})), doctest::Contains("copy_"), tg::ShapeError);
}

TEST_CASE("in-place ops write through strided views") {
  Tensor base = tg::arange(6, kF64).reshape({2, 3});
  Tensor col = base.t();  // [3, 2], non-contiguous
  col.mul_(tg::tensor({1, 10}, {2}, kF64));
  check_close(base, {0, 1, 2, 30, 40, 50});
  base.slice(1, 0, 3, 2).fill_(-1);  // columns 0 and 2
  check_close(base, {-1, 1, -1, -1, 40, -1});
}

TEST_CASE("an operand overlapping the tensor being modified is read before it is overwritten") {
  Tensor a = tg::tensor({1, 2, 3, 4}, {2, 2}, kF64);
  a.add_(a.t());  // [[1+1, 2+3], [3+2, 4+4]]
  check_close(a, {2, 5, 5, 8});
  Tensor b = tg::tensor({1, 2, 3}, {3}, kF64);
  b.mul_(b);
  check_close(b, {1, 4, 9});
  Tensor c = tg::tensor({1, 2, 3, 4}, {4}, kF64);
  c.slice(0, 1, 4).copy_(c.slice(0, 0, 3));  // shift right by one
  check_close(c, {1, 1, 2, 3});
}

TEST_CASE("in-place dtype and shape rules") {
  Tensor i = tg::tensor({1, 2, 3}, {3}, {.dtype = tg::kInt64});
  i.add_(2).mul_(3);  // integral scalars are fine on int64
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 12, 15});
  i.add_(tg::tensor({1, 1, 1}, {3}, {.dtype = tg::kInt64}));
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{10, 13, 16});
  CHECK_THROWS_WITH_AS(i.add_(tg::ones({3})), doctest::Contains("add_"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(i.add_(0.5),
                       "add_: result type float32 can't be cast to the desired output type int64 (the dtype of the "
                       "tensor being modified)",
                       tg::DTypeError);
  CHECK_THROWS_WITH_AS(i.div_(2), doctest::Contains("div_"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(i.clamp_(0.5, std::nullopt), doctest::Contains("clamp_"), tg::DTypeError);
  i.clamp_(11, 15);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{11, 13, 15});

  Tensor b = tg::tensor({1, 0}, {2}, {.dtype = tg::kBool});
  CHECK_THROWS_WITH_AS(b.mul_(2), doctest::Contains("bool"), tg::DTypeError);

  Tensor f = tg::zeros({2, 3});
  f.add_(tg::ones({3}, kF64));  // a float64 operand converts into a float32 tensor
  CHECK(f.dtype() == tg::kFloat32);
  CHECK(values(f) == std::vector<double>(6, 1.0));
  CHECK_THROWS_WITH_AS(f.add_(tg::ones({2})), doctest::Contains("[2, 3]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(f.mul_(tg::ones({4, 2, 3})), doctest::Contains("mul_"), tg::ShapeError);

  // Writing an expanded tensor would write one memory location several times.
  Tensor e = tg::zeros({1, 3}).expand({2, 3});
  CHECK_THROWS_WITH_AS(e.add_(1), doctest::Contains("expanded"), tg::ValueError);
}

TEST_CASE("in-place on a leaf that requires grad is an error, except under NoGradGuard") {
  Tensor w = tg::ones({3}, kF64Grad);
  CHECK_THROWS_WITH_AS(w.add_(1), doctest::Contains("add_"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(w.mul_(tg::ones({3}, kF64)), doctest::Contains("leaf"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(w.zero_(), doctest::Contains("zero_"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(w.copy_(tg::zeros({3}, kF64)), doctest::Contains("copy_"), tg::AutogradError);
  check_close(w, {1, 1, 1});  // nothing was written

  const auto v0 = w.version();
  {
    tg::NoGradGuard no_grad;
    w.sub_(tg::full({3}, 0.25, kF64), 2);  // an SGD-like update
  }
  check_close(w, {0.5, 0.5, 0.5});
  CHECK(w.version() == v0 + 1);
  CHECK(w.is_leaf());
  CHECK(w.requires_grad());
}

TEST_CASE("in-place on a non-leaf rebases it onto a new node") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor w = tg::tensor({1, 1, 1}, {3}, kF64Grad);
  Tensor y = x * 2;
  auto old_fn = y.grad_fn();
  y.add_(w);
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->name() == "add_");
  CHECK(y.grad_fn() != old_fn);
  // Edges to the tensor's previous history and to the other operand.
  REQUIRE(y.grad_fn()->next_edges().size() == 2);
  CHECK(y.grad_fn()->next_edges()[0].fn == old_fn);
  CHECK(y.grad_fn()->next_edges()[1].fn == tg::autograd::gradient_edge(w).fn);
  y.mul_(3);  // y = 3 (2x + w)
  REQUIRE(y.grad_fn()->next_edges().size() == 1);
  y.sum().backward();
  check_close(x.grad(), {6, 6, 6});
  check_close(w.grad(), {3, 3, 3});
  check_close(y, {9, 15, 21});
}

TEST_CASE("in-place with an operand that requires grad") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor w = tg::tensor({4, 5, 6}, {3}, kF64Grad);

  SUBCASE("mul_") {
    Tensor y = x * 1;
    y.mul_(w);
    y.sum().backward();
    check_close(x.grad(), {4, 5, 6});
    check_close(w.grad(), {1, 2, 3});  // the value of y before it was overwritten
  }
  SUBCASE("div_") {
    Tensor y = x * 1;
    y.div_(w);
    y.sum().backward();
    check_close(x.grad(), {1 / 4.0, 1 / 5.0, 1 / 6.0});
    check_close(w.grad(), {-1 / 16.0, -2 / 25.0, -3 / 36.0});
  }
  SUBCASE("add_ and sub_ with alpha, broadcast") {
    Tensor b = tg::tensor({2}, {1}, kF64Grad);
    Tensor y = x * 1;
    y.add_(w, 2).sub_(b, 3);
    y.sum().backward();
    check_close(x.grad(), {1, 1, 1});
    check_close(w.grad(), {2, 2, 2});
    check_close(b.grad(), {-9});
  }
  SUBCASE("a tensor that did not require grad starts to") {
    Tensor buf = tg::zeros({3}, kF64);
    buf.copy_(w);
    CHECK(buf.requires_grad());
    CHECK_FALSE(buf.is_leaf());
    buf.mul_(x);
    buf.sum().backward();
    check_close(w.grad(), {1, 2, 3});
    check_close(x.grad(), {4, 5, 6});
  }
  SUBCASE("the same tensor on both sides: d(y*y)/dx = 2y dy/dx") {
    Tensor y = x * 1;
    y.mul_(y);
    y.sum().backward();
    check_close(x.grad(), {2, 4, 6});
  }
}

TEST_CASE("zero_, fill_ and masked_fill_ stop the gradient where they write") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor y = x * 2;
  y.masked_fill_(tg::tensor({0, 1, 0}, {3}, {.dtype = tg::kBool}), 5);
  (y * y).sum().backward();  // y = [2, 5, 6]; d/dx sum(y^2) = 2 y * 2 where not filled
  check_close(x.grad(), {8, 0, 24});

  Tensor z = x * 2;
  z.zero_();
  z.add_(x);
  x.mutable_grad().reset();
  z.sum().backward();
  check_close(x.grad(), {1, 1, 1});
}

TEST_CASE("clamp_ and relu_ gradients") {
  Tensor x = tg::tensor({-2, -0.5, 0, 0.5, 2}, {5}, kF64Grad);
  Tensor y = x * 1;
  y.clamp_(-1, 1);
  y.sum().backward();
  check_close(x.grad(), {0, 1, 1, 1, 0});

  x.mutable_grad().reset();
  Tensor r = x * 1;
  r.relu_();  // gradient 0 at 0
  r.sum().backward();
  check_close(x.grad(), {0, 0, 0, 1, 1});
}

TEST_CASE("in-place ops pass gradcheck and gradgradcheck") {
  tg::manual_seed(7);
  Tensor x = tg::rand({2, 3}, kF64Grad);  // in (0, 1): away from the clamp and relu kinks below
  Tensor w = (tg::rand({3}, kF64) + 0.5).set_requires_grad(true);
  // in[0] is copied (clone) so the op runs on a non-leaf.
  auto with_other = [](auto op) {
    return [op](const std::vector<Tensor>& in) {
      Tensor y = in[0].clone();
      op(y, in[1]);
      return y * y;  // something nonlinear after the op
    };
  };
  auto alone = [](auto op) {
    return [op](const std::vector<Tensor>& in) {
      Tensor y = in[0].clone();
      op(y);
      return y * y;
    };
  };
  const std::vector<Tensor> xw{x, w};
  const std::vector<Tensor> only_x{x};
  struct Case {
    const char* name;
    tg::GradcheckFunction fn;
    const std::vector<Tensor>* inputs;
  };
  const std::vector<Case> cases = {
      {"add_", with_other([](Tensor& y, const Tensor& o) { y.add_(o, 0.5); }), &xw},
      {"sub_", with_other([](Tensor& y, const Tensor& o) { y.sub_(o, 2); }), &xw},
      {"mul_", with_other([](Tensor& y, const Tensor& o) { y.mul_(o); }), &xw},
      {"div_", with_other([](Tensor& y, const Tensor& o) { y.div_(o); }), &xw},
      {"copy_", with_other([](Tensor& y, const Tensor& o) { y.copy_(o); }), &xw},
      {"add_ scalar", alone([](Tensor& y) { y.add_(0.25); }), &only_x},
      {"sub_ scalar", alone([](Tensor& y) { y.sub_(0.25); }), &only_x},
      {"mul_ scalar", alone([](Tensor& y) { y.mul_(-3); }), &only_x},
      {"div_ scalar", alone([](Tensor& y) { y.div_(4); }), &only_x},
      {"fill_", alone([](Tensor& y) { y.fill_(2); }), &only_x},
      {"zero_", alone([](Tensor& y) { y.zero_(); }), &only_x},
      {"clamp_", alone([](Tensor& y) { y.sub_(0.5).clamp_(-0.3, 0.3); }), &only_x},
      {"relu_", alone([](Tensor& y) { y.sub_(0.5).relu_(); }), &only_x},
      {"masked_fill_", alone([](Tensor& y) {
         y.masked_fill_(tg::tensor({1, 0, 1}, {3}, {.dtype = tg::kBool}), 3);
       }),
       &only_x},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(tg::gradcheck(c.fn, *c.inputs));
    CHECK(tg::gradgradcheck(c.fn, *c.inputs));
  }
}

TEST_CASE("the result of mul_ or div_ by a tensor that requires grad can be modified in place again") {
  // Both keep a copy of self from before the op (as PyTorch): y = x / w,
  // then y + 1 and y * 3, give dx = 3 / w and dw = -3 x / w^2 (PyTorch: the same).
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor w = tg::tensor({4, 5}, {2}, kF64Grad);
  Tensor y = x * 1;
  y.div_(w);
  y.add_(1);
  y.mul_(3);
  y.sum().backward();
  check_close(x.grad(), {0.75, 0.6});
  check_close(w.grad(), {-0.1875, -0.24});
  x.mutable_grad().reset();
  w.mutable_grad().reset();
  Tensor z = x * 1;
  z.mul_(w);
  z.sub_(1);
  (z * z).sum().backward();  // z = x w - 1: dx = 2 z w, dw = 2 z x
  check_close(x.grad(), {24, 90});
  check_close(w.grad(), {6, 36});
}

TEST_CASE("a saved tensor modified in place is caught by backward, naming the op that saved it") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y = x.exp();  // exp saves its output
  y.add_(1);
  CHECK_THROWS_WITH_AS(y.sum().backward(), doctest::Contains("exp"), tg::AutogradError);

  // The same through an input saved by mul.
  Tensor a = x * 1;
  Tensor b = a * a;
  a.mul_(2);
  CHECK_THROWS_WITH_AS(b.sum().backward(), doctest::Contains("mul"), tg::AutogradError);
}

TEST_CASE("in-place on a view of a tensor that requires grad rewrites the base's history") {
  // More cases, against PyTorch's values: tests/autograd/test_inplace_views.cpp.
  Tensor x = tg::tensor({1, 2, 3, 4}, {2, 2}, kF64Grad);
  Tensor y = x * 2;
  Tensor row = y.select(0, 0);
  row.add_(1);
  y.t().mul_(2);
  CHECK(y.grad_fn_name() == "CopySlices");
  CHECK(row.grad_fn_name() == "as_strided");
  check_close(y, {6, 10, 12, 16});
  CHECK_THROWS_WITH_AS(x.view({4}).zero_(), doctest::Contains("zero_"), tg::AutogradError);  // a leaf's view
  y.sum().backward();
  check_close(x.grad(), {4, 4, 4, 4});

  // A view whose base is otherwise gone works the same.
  x.mutable_grad().reset();
  Tensor v = (x * 2).view({4});
  v.add_(1);
  v.sum().backward();
  check_close(x.grad(), {2, 2, 2, 2});

  // Writing a value that requires grad into memory that a tensor not
  // following this one's history shares: a detached alias, a view made with
  // grad mode off, a leaf view that requires grad.
  Tensor buf = tg::zeros({2, 2}, kF64);
  {
    Tensor alias = buf.detach();
    CHECK_THROWS_WITH_AS(buf.copy_(tg::ones({2, 2}, kF64Grad)), doctest::Contains("copy_"), tg::AutogradError);
  }
  {
    Tensor no_grad_view;
    {
      tg::NoGradGuard no_grad;
      no_grad_view = buf.view({4});
    }
    CHECK_THROWS_WITH_AS(buf.add_(tg::ones({2, 2}, kF64Grad)), doctest::Contains("add_"), tg::AutogradError);
  }
  {
    Tensor leaf_view = buf.view({4});
    leaf_view.requires_grad_();
    CHECK_THROWS_WITH_AS(buf.mul_(tg::ones({2, 2}, kF64Grad)), doctest::Contains("mul_"), tg::AutogradError);
  }
  {
    // Pieces of chunk and split cannot follow (autograd/views.h): refused at once.
    const std::vector<Tensor> pieces = tg::chunk(buf, 2);
    CHECK_THROWS_WITH_AS(buf.add_(tg::ones({2, 2}, kF64Grad)), doctest::Contains("add_"), tg::AutogradError);
  }
  // Views made with grad mode on follow the base's new history, as in
  // PyTorch, so the base takes the value; once the untracked aliases above
  // are gone it does too.
  {
    Tensor w = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad);
    Tensor base = tg::zeros({4}, kF64);
    Tensor v = base.view({2, 2});
    Tensor vv = base.view({2, 2}).t().select(0, 1);  // a view of a view: base [1] and [3]
    base.add_(w);
    (v * v).sum().backward(Tensor(), /*retain_graph=*/true);  // v = w: dw = 2 w
    check_close(w.grad(), {2, 4, 6, 8});
    w.mutable_grad().reset();
    vv.sum().backward();
    check_close(w.grad(), {0, 1, 0, 1});
    w.mutable_grad().reset();
    Tensor other = tg::zeros({2, 2}, kF64);
    Tensor row = other.select(0, 1);
    other.copy_(tg::reshape(w, {2, 2}) * 2);
    row.sum().backward();
    check_close(w.grad(), {0, 0, 2, 2});
  }
  buf.copy_(tg::ones({2, 2}, kF64Grad));
  CHECK(buf.requires_grad());

  // Under NoGradGuard views are written freely.
  {
    tg::NoGradGuard no_grad;
    y.select(0, 1).fill_(0);
  }
  check_close(y, {6, 10, 0, 0});
}

TEST_CASE("in-place ops record nothing when grad is off or not needed") {
  const auto nodes = tg::autograd::live_node_count();
  Tensor a = tg::ones({3}, kF64);
  a.add_(tg::ones({3}, kF64)).mul_(2).relu_();
  CHECK(a.grad_fn() == nullptr);
  CHECK_FALSE(a.requires_grad());
  Tensor w = tg::ones({3}, kF64Grad);
  {
    tg::NoGradGuard no_grad;
    Tensor y = w * 2;
    y.add_(w);
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK(tg::autograd::live_node_count() == nodes);
}

TEST_CASE("in-place nodes free with their tensors") {
  const auto nodes = tg::autograd::live_node_count();
  {
    Tensor x = tg::ones({3}, kF64Grad);
    Tensor w = tg::ones({3}, kF64Grad);
    Tensor y = x * 2;
    y.mul_(w).clamp_(0, 5).relu_().div_(w);
    y.sum().backward();
    Tensor z = x * 3;
    z.add_(w);  // dropped without backward
  }
  CHECK(tg::autograd::live_node_count() == nodes);
}

TEST_CASE("an in-place op on a tensor saved by a later node leaves no reference cycle") {
  // gelu saves p; add_ then makes p's grad_fn lead back to gelu's node. Found
  // by fuzz_tensor_program as a leak.
  const auto nodes = tg::autograd::live_node_count();
  {
    Tensor x = tg::ones({3}, kF64Grad);
    Tensor p = x * 2;
    p.add_(tg::gelu(p));
    CHECK(tg::autograd::live_node_count() > nodes);
  }
  CHECK(tg::autograd::live_node_count() == nodes);
  {
    // q has no grad, but mul saved it: writing a value that requires grad into
    // q would make that saved copy stale (PyTorch fails later, at backward).
    Tensor q = tg::ones({3}, kF64);
    Tensor w = tg::ones({3}, kF64Grad);
    CHECK_THROWS_WITH_AS(q.add_(tg::mul(q, w)), doctest::Contains("saved for backward"), tg::AutogradError);
  }
  CHECK(tg::autograd::live_node_count() == nodes);
}

TEST_CASE("a saved non-leaf still carries its history into a recorded backward") {
  // d/dx of (x^2)^2 = 4x^3; the second derivative, through the saved x^2, 12x^2.
  Tensor x = tg::tensor({1.5}, {1}, kF64Grad);
  Tensor y = x * x;
  Tensor z = (y * y).sum();
  Tensor g = tg::grad({z}, {x}, {}, {.create_graph = true})[0];
  CHECK(g.item<double>() == doctest::Approx(4 * 1.5 * 1.5 * 1.5));
  Tensor gg = tg::grad({g.sum()}, {x})[0];
  CHECK(gg.item<double>() == doctest::Approx(12 * 1.5 * 1.5));
}

TEST_CASE("in-place int64 arithmetic: infinite scalars are errors, overflow wraps") {
  // Found by fuzz_tensor_program: add_(inf) on an int64 tensor passed the
  // integer check (trunc(inf) == inf) and cast inf to int64, undefined
  // behaviour; and the in-place sums overflowed signed integers.
  Tensor x = tg::tensor(std::vector<std::int64_t>{INT64_MAX, 1});
  // An infinite scalar is a float, whose result int64 cannot hold (PyTorch:
  // "result type Float can't be cast to the desired output type Long").
  CHECK_THROWS_AS(x.add_(INFINITY), tg::DTypeError);
  CHECK_THROWS_AS(x.mul_(-INFINITY), tg::DTypeError);
  CHECK_THROWS_AS(x.clamp_(1e300, std::nullopt), tg::ValueError);
  x.add_(1.0);
  CHECK(x.to_vector<std::int64_t>() == std::vector<std::int64_t>{INT64_MIN, 2});
  x.add_(tg::tensor(std::vector<std::int64_t>{-1, 0}));
  CHECK(x.to_vector<std::int64_t>() == std::vector<std::int64_t>{INT64_MAX, 2});
  x.mul_(2.0);
  CHECK(x.to_vector<std::int64_t>() == std::vector<std::int64_t>{-2, 4});
}

}  // namespace test_inplace
