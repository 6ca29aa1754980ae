// Gradients of the shape ops: hand-derived values, central differences in
// float64, the tape records views like any op, and higher-order gradients
// through slicing.
#include <doctest/doctest.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>

namespace test_shape_grad {

using namespace tg;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
Tensor f64(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat64});
}
Tensor leaf(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat64, .requires_grad = true});
}
// A float64 leaf holding 0, 1, 2, ... (distinct values expose a misplaced gradient).
Tensor ramp(Dims shape) {
  Tensor t = arange(static_cast<double>(shape.product()), {.dtype = kFloat64}).view(shape);
  t.set_requires_grad(true);
  return t;
}
// A leaf with t's (strided) layout.
Tensor strided_leaf(const Tensor& t) {
  Tensor d = t.detach();
  d.set_requires_grad(true);
  return d;
}
}  // namespace

TEST_CASE("views record a node and share storage") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor t = x.transpose(0, 1);
  REQUIRE(t.grad_fn());
  CHECK(t.grad_fn()->name() == "transpose");
  CHECK(t.storage() == x.storage());
  CHECK_FALSE(t.is_leaf());
  CHECK(t.requires_grad());
  CHECK(x.view({6}).grad_fn()->name() == "view");
  CHECK(x.reshape({3, 2}).grad_fn()->name() == "reshape");
  CHECK(x.slice(1, 0, 3, 2).grad_fn()->name() == "slice");
  CHECK(x.narrow(1, 1, 2).grad_fn()->name() == "narrow");
  CHECK(x[1].grad_fn()->name() == "select");
  CHECK(x.expand({2, 2, 3}).grad_fn()->name() == "expand");
  CHECK(x.unsqueeze(0).grad_fn()->name() == "unsqueeze");
  {
    NoGradGuard no_grad;
    CHECK_FALSE(x.transpose(0, 1).requires_grad());
  }
  CHECK_FALSE(f64({1, 2}).view({2, 1}).grad_fn());

  // contiguous on a contiguous tensor is the tensor itself, history included.
  Tensor v = x.view({3, 2});
  Tensor c = contiguous(v);
  CHECK(c.is_same(v));
  CHECK(c.grad_fn() == v.grad_fn());
  Tensor copied = contiguous(t);
  CHECK(copied.grad_fn()->name() == "contiguous");
  CHECK(to_dtype(x, kFloat64).is_same(x));
}

TEST_CASE("slice, narrow and select write the gradient into zeros") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6});
  x.slice(0, 1, 6, 2).backward(f64({1, 2, 3}));  // elements 1, 3, 5
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 2, 0, 3});

  Tensor m = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  m.select(1, -1).backward(f64({5, 7}));  // column 2
  CHECK(values(m.grad()) == std::vector<double>{0, 0, 5, 0, 0, 7});

  Tensor n = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  n.narrow(1, 1, 2).backward(f64({1, 2, 3, 4}, {2, 2}));
  CHECK(values(n.grad()) == std::vector<double>{0, 1, 2, 0, 3, 4});

  // Two uses of one tensor both count.
  Tensor y = leaf({1, 2, 3});
  backward({y.slice(0, 0, 2), y.slice(0, 1, 3)}, {f64({1, 1}), f64({10, 10})});
  CHECK(values(y.grad()) == std::vector<double>{1, 11, 10});
}

TEST_CASE("expand sums the gradient back over the broadcast dims") {
  Tensor x = leaf({1, 2, 3}, {3, 1});
  x.expand({2, 3, 4}).backward(ones({2, 3, 4}, {.dtype = kFloat64}));
  CHECK(x.grad().shape() == Dims{3, 1});
  CHECK(values(x.grad()) == std::vector<double>{8, 8, 8});
  Tensor s = leaf({2});
  s.reshape({}).expand({3}).backward(f64({1, 2, 3}));
  CHECK(values(s.grad()) == std::vector<double>{6});
}

TEST_CASE("cat sends slices of the gradient back to each input") {
  Tensor a = leaf({1, 2}, {1, 2});
  Tensor b = leaf({3, 4, 5, 6}, {2, 2});
  Tensor c = leaf({7, 8}, {1, 2});
  cat({a, b, c}).backward(f64({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2}));
  CHECK(values(a.grad()) == std::vector<double>{1, 2});
  CHECK(values(b.grad()) == std::vector<double>{3, 4, 5, 6});
  CHECK(values(c.grad()) == std::vector<double>{7, 8});

  // Inputs that need no gradient are skipped; a legacy [0] input gets zeros.
  Tensor d = leaf({1, 2});
  Tensor skip = zeros({0}, {.dtype = kFloat64, .requires_grad = true});
  cat({f64({0}), skip, d}).backward(f64({9, 8, 7}));
  CHECK(values(d.grad()) == std::vector<double>{8, 7});
  CHECK(skip.grad().shape() == Dims{0});
}

TEST_CASE("reshape, permute, squeeze and friends route gradients back") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  x.t().reshape({6}).backward(f64({1, 2, 3, 4, 5, 6}));  // copy path: order 0,3,1,4,2,5
  CHECK(values(x.grad()) == std::vector<double>{1, 3, 5, 2, 4, 6});

  Tensor p = leaf({0, 1, 2, 3, 4, 5}, {1, 2, 3});
  p.permute({2, 0, 1}).backward(f64({10, 20, 30, 40, 50, 60}, {3, 1, 2}));
  // out[k][0][j] = p[0][j][k]
  CHECK(values(p.grad()) == std::vector<double>{10, 30, 50, 20, 40, 60});

  Tensor q = leaf({1, 2}, {2, 1});
  q.squeeze().unsqueeze(0).backward(f64({3, 4}, {1, 2}));
  CHECK(q.grad().shape() == Dims{2, 1});
  CHECK(values(q.grad()) == std::vector<double>{3, 4});

  Tensor f = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  f.flatten(1).backward(f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4}));
  CHECK(values(f.grad()) == std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("dtype casts: floating casts carry the gradient, integer casts cut the tape") {
  Tensor x = tensor({1.5, -2}, {}, {.requires_grad = true});
  Tensor y = x.to(kFloat64);
  REQUIRE(y.grad_fn());
  y.backward(f64({3, 4}));
  CHECK(x.grad().dtype() == kFloat32);
  CHECK(values(x.grad()) == std::vector<double>{3, 4});
  CHECK_FALSE(x.to(kInt64).requires_grad());
  CHECK_FALSE(x.to(kBool).requires_grad());

  Tensor c = leaf({1, 2});
  Tensor k = c.clone();
  CHECK(k.grad_fn()->name() == "clone");
  k.backward(f64({5, 6}));
  CHECK(values(c.grad()) == std::vector<double>{5, 6});
}

TEST_CASE("shape op gradients match central differences (float64)") {
  using V = std::vector<Tensor>;
  SUBCASE("view and reshape, including the copying path") {
    CHECK(gradcheck([](const V& in) { return in[0].view({3, 2}); }, {ramp({2, 3})}));
    CHECK(gradcheck([](const V& in) { return in[0].reshape({-1}); }, {strided_leaf(ramp({2, 3}).t())}));
  }
  SUBCASE("transpose and permute of strided inputs") {
    CHECK(gradcheck([](const V& in) { return in[0].transpose(0, 2); }, {ramp({2, 3, 2})}));
    CHECK(gradcheck([](const V& in) { return in[0].permute({1, 0}).unsqueeze(1); }, {strided_leaf(ramp({2, 3}).t())}));
  }
  SUBCASE("slices with step, negative bounds and select with a negative index") {
    CHECK(gradcheck([](const V& in) { return in[0].slice(1, -4, 100, 2); }, {ramp({2, 5})}));
    CHECK(gradcheck([](const V& in) { return in[0].select(0, -1); }, {ramp({3, 2})}));
    CHECK(gradcheck([](const V& in) { return in[0].narrow(0, 1, 2).select(1, -2); }, {strided_leaf(ramp({3, 3}).t())}));
  }
  SUBCASE("expand") {
    CHECK(gradcheck([](const V& in) { return in[0].expand({2, 3, 4}); }, {ramp({3, 1})}));
    CHECK(gradcheck([](const V& in) { return in[0].expand({4, -1}); }, {ramp({1, 2})}));
  }
  SUBCASE("squeeze, unsqueeze, flatten") {
    CHECK(gradcheck([](const V& in) { return in[0].squeeze().unsqueeze(-1); }, {ramp({1, 3, 1})}));
    CHECK(gradcheck([](const V& in) { return in[0].squeeze(2); }, {ramp({2, 1, 1})}));
    CHECK(gradcheck([](const V& in) { return in[0].transpose(0, 1).flatten(); }, {ramp({2, 2, 2})}));
  }
  SUBCASE("cat of three tensors, stack, split and chunk") {
    CHECK(gradcheck(
        [](const V& in) {
          return cat({in[0], in[1], in[2]}, 1);
        },
        {ramp({2, 1}), ramp({2, 3}), strided_leaf(ramp({2, 2}).t())}));
    CHECK(gradcheck([](const V& in) { return stack({in[0], in[1]}, 1); }, {ramp({3}), ramp({3})}));
    CHECK(gradcheck([](const V& in) { return split(in[0], 2, 1); }, {ramp({2, 5})}));
    CHECK(gradcheck([](const V& in) { return chunk(in[0], 3); }, {ramp({7})}));
  }
  SUBCASE("copies and casts") {
    CHECK(gradcheck([](const V& in) { return in[0].contiguous(); }, {strided_leaf(ramp({2, 3}).t())}));
    CHECK(gradcheck([](const V& in) { return in[0].clone(); }, {ramp({4})}));
  }
}

TEST_CASE("shape op second derivatives (gradgradcheck)") {
  using V = std::vector<Tensor>;
  CHECK(gradgradcheck([](const V& in) { return in[0].slice(0, 1, 5, 2); }, {ramp({5, 2})}));
  CHECK(gradgradcheck([](const V& in) { return in[0].select(1, -1); }, {ramp({2, 3})}));
  CHECK(gradgradcheck([](const V& in) { return in[0].expand({3, 2, 2}); }, {ramp({2, 1})}));
  CHECK(gradgradcheck([](const V& in) { return cat({in[0], in[1]}, 0); }, {ramp({1, 2}), ramp({2, 2})}));
  CHECK(gradgradcheck([](const V& in) { return in[0].t().reshape({6}); }, {ramp({2, 3})}));
}

TEST_CASE("slicing is differentiable to higher order") {
  // dx = slice_backward(w) depends on w; its own gradient with respect to w
  // is slicing again.
  Tensor x = leaf({1, 2, 3, 4, 5});
  Tensor w = leaf({10, 20});
  Tensor y = x.slice(0, 1, 5, 3);  // elements 1 and 4
  Tensor dx = grad({y}, {x}, {w}, {.create_graph = true})[0];
  CHECK(values(dx) == std::vector<double>{0, 10, 0, 0, 20});
  REQUIRE(dx.requires_grad());
  Tensor dw = grad({dx}, {w}, {f64({1, 2, 3, 4, 5})})[0];
  CHECK(values(dw) == std::vector<double>{2, 5});

  // select goes through unsqueeze and slice_backward.
  Tensor m = leaf({1, 2, 3, 4}, {2, 2});
  Tensor v = leaf({7, 8});
  Tensor dm = grad({m.select(1, -1)}, {m}, {v}, {.create_graph = true})[0];
  CHECK(values(dm) == std::vector<double>{0, 7, 0, 8});
  CHECK(values(grad({dm}, {v}, {f64({1, 2, 3, 4}, {2, 2})})[0]) == std::vector<double>{2, 4});
}

}  // namespace test_shape_grad
