// Gradients of the indexing ops: repeated indices accumulate, masks zero the
// gradient, one_hot records nothing, and gradients of gradients flow.
#include <doctest/doctest.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>

namespace test_index_grad {

using namespace tg;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
Tensor f64(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat64});
}
Tensor i64(std::initializer_list<double> v, tg::OptionalDims shape = {}) { return tensor(v, shape, {.dtype = kInt64}); }
Tensor leaf(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat64, .requires_grad = true});
}
Tensor ramp(Dims shape) {
  Tensor t = arange(static_cast<double>(shape.product()), {.dtype = kFloat64}).view(shape);
  t.set_requires_grad(true);
  return t;
}
}  // namespace

TEST_CASE("index_select: repeated indices accumulate") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor y = index_select(x, 0, i64({2, 0, 2}));
  REQUIRE(y.grad_fn());
  CHECK(y.grad_fn()->name() == "index_select");
  y.backward(f64({1, 2, 3, 4, 5, 6}, {3, 2}));
  // row 2 gets rows 0 and 2 of dy, row 0 gets row 1, row 1 nothing
  CHECK(values(x.grad()) == std::vector<double>{3, 4, 0, 0, 6, 8});

  Tensor c = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  index_select(c, 1, i64({1, 1})).backward(f64({1, 2, 3, 4}, {2, 2}));
  CHECK(values(c.grad()) == std::vector<double>{0, 3, 0, 0, 7, 0});
}

TEST_CASE("gather scatters its gradient back, repeats accumulating") {
  Tensor x = leaf({1, 2, 3, 4});
  gather(x, 0, i64({0, 0, 2})).backward(f64({1, 2, 3}));
  CHECK(values(x.grad()) == std::vector<double>{3, 0, 3, 0});

  Tensor m = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  gather(m, 1, i64({2, 2, 0}, {1, 3})).backward(f64({1, 10, 100}, {1, 3}));
  CHECK(values(m.grad()) == std::vector<double>{100, 0, 11, 0, 0, 0});
}

TEST_CASE("scatter_add: self gets the gradient as is, src gets it gathered") {
  Tensor x = leaf({1, 2, 3});
  Tensor src = leaf({4, 5, 6});
  scatter_add(x, 0, i64({0, 0, 2}), src).backward(f64({7, 8, 9}));
  CHECK(values(x.grad()) == std::vector<double>{7, 8, 9});
  CHECK(values(src.grad()) == std::vector<double>{7, 7, 9});

  // src larger than index: the part index does not reach gets zero.
  Tensor s2 = leaf({1, 2, 3, 4}, {2, 2});
  scatter_add(zeros({2, 2}, {.dtype = kFloat64}), 1, i64({1}, {1, 1}), s2).backward(f64({1, 2, 3, 4}, {2, 2}));
  CHECK(values(s2.grad()) == std::vector<double>{2, 0, 0, 0});
}

TEST_CASE("masked_fill: no gradient where filled") {
  Tensor x = leaf({1, 2, 3});
  Tensor mask = tensor({0, 1, 0, 1, 1, 0}, {2, 3}, {.dtype = kBool});
  Tensor y = masked_fill(x, mask, 9);
  CHECK(y.shape() == Dims{2, 3});
  y.backward(f64({1, 2, 3, 4, 5, 6}, {2, 3}));
  // Filled places get nothing, then the broadcast rows are summed: [1 + 0, 0 + 0, 3 + 6]
  CHECK(values(x.grad()) == std::vector<double>{1, 0, 9});
}

TEST_CASE("one_hot records nothing") {
  Tensor oh = one_hot(i64({1, 0}), 2);
  CHECK_FALSE(oh.requires_grad());
  CHECK_FALSE(oh.grad_fn());
}

TEST_CASE("index op gradients match central differences (float64)") {
  using V = std::vector<Tensor>;
  SUBCASE("index_select with duplicates, on a strided input") {
    CHECK(gradcheck([](const V& in) { return index_select(in[0], 0, i64({1, 1, 0, 2})); }, {ramp({3, 2})}));
    CHECK(gradcheck([](const V& in) { return index_select(in[0].t(), 1, i64({2, 0, 2})); }, {ramp({3, 2})}));
  }
  SUBCASE("gather with duplicates") {
    CHECK(gradcheck([](const V& in) { return gather(in[0], 1, i64({0, 0, 2, 1, 1, 1}, {2, 3})); }, {ramp({2, 3})}));
    CHECK(gradcheck([](const V& in) { return gather(in[0], 0, i64({1, 1, 1}, {3, 1})); }, {ramp({2, 2})}));
  }
  SUBCASE("scatter_add with duplicates, both inputs, src larger than index") {
    CHECK(gradcheck(
        [](const V& in) {
          return scatter_add(in[0], 1, i64({1, 1, 0, 2, 2, 2}, {2, 3}), in[1]);
        },
        {ramp({2, 3}), ramp({2, 3})}));
    CHECK(gradcheck(
        [](const V& in) {
          return scatter_add(in[0], 0, i64({1, 1}, {2, 1}), in[1]);
        },
        {ramp({2, 2}), ramp({3, 2})}));
  }
  SUBCASE("masked_fill with a broadcast mask") {
    const Tensor mask = tensor({1, 0, 0}, {3, 1}, {.dtype = kBool});
    CHECK(gradcheck([mask](const V& in) { return masked_fill(in[0], mask, -5); }, {ramp({3, 2})}));
  }
  SUBCASE("second derivatives") {
    CHECK(gradgradcheck([](const V& in) { return index_select(in[0], 0, i64({2, 0, 2})); }, {ramp({3, 2})}));
    CHECK(gradgradcheck([](const V& in) { return gather(in[0], 1, i64({0, 0, 2, 1}, {2, 2})); }, {ramp({2, 3})}));
    CHECK(gradgradcheck(
        [](const V& in) {
          return scatter_add(in[0], 0, i64({1, 1}, {2, 1}), in[1]);
        },
        {ramp({2, 2}), ramp({3, 2})}));
    const Tensor mask = tensor({0, 1}, {}, {.dtype = kBool});
    CHECK(gradgradcheck([mask](const V& in) { return masked_fill(in[0], mask, 0); }, {ramp({3, 2})}));
  }
}

TEST_CASE("index ops are differentiable to higher order") {
  // dx = index_select_backward(w): its gradient with respect to w is index_select.
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor w = leaf({1, 2, 3, 4}, {2, 2});
  Tensor dx = grad({index_select(x, 0, i64({2, 2}))}, {x}, {w}, {.create_graph = true})[0];
  CHECK(values(dx) == std::vector<double>{0, 0, 0, 0, 4, 6});
  REQUIRE(dx.requires_grad());
  CHECK(values(grad({dx}, {w}, {f64({1, 2, 3, 4, 5, 6}, {3, 2})})[0]) == std::vector<double>{5, 6, 5, 6});

  // gather's backward is scatter_add, whose gradient for src is gather again.
  Tensor g = leaf({1, 2, 3});
  Tensor v = leaf({1, 10});
  Tensor dg = grad({gather(g, 0, i64({2, 2}))}, {g}, {v}, {.create_graph = true})[0];
  CHECK(values(dg) == std::vector<double>{0, 0, 11});
  CHECK(values(grad({dg}, {v}, {f64({4, 5, 6})})[0]) == std::vector<double>{6, 6});
}

}  // namespace test_index_grad
