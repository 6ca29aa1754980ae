// Gradients of the reductions and softmax: finite differences in float64
// (tg::gradcheck, and gradgradcheck for second derivatives), and
// hand-computed values at the awkward points: ties, zeros, norms at 0 and
// inputs of 1e4.
#include <cmath>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/random.h>

#include "support/close.h"

namespace test_reduce_grad {

using namespace tg;

namespace {

using Inputs = std::vector<Tensor>;

Tensor leaf(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat64, .requires_grad = true});
}

// Normal values in float64 that require grad (ties have probability 0).
Tensor random_leaf(Dims shape, std::uint64_t seed) {
  manual_seed(seed);
  return randn(shape, {.dtype = kFloat64}).set_requires_grad(true);
}

// d(sum(y)) / dx.
std::vector<double> grad_of_sum(const Tensor& y, const Tensor& x) {
  return tg::grad({tg::sum(y)}, {x})[0].to_vector<double>();
}

void check_values(const std::vector<double>& got, const std::vector<double>& expected, double tol = 1e-9) {
  tg_test::check_close(got, expected, tol);
}

}  // namespace

TEST_CASE("sum and mean broadcast the gradient back") {
  Tensor x = random_leaf({3, 4}, 1);
  CHECK(gradcheck([](const Inputs& in) { return tg::sum(in[0]); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::sum(in[0], {1}); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::sum(in[0], {-2}, true); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::mean(in[0], {0, 1}, true); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::mean(in[0]); }, {x}));
  // Through a transposed (non-contiguous) input.
  CHECK(gradcheck([](const Inputs& in) { return tg::sum(in[0].t(), {0}); }, {x}));
  Tensor y = random_leaf({2, 3, 4}, 2);
  CHECK(gradcheck([](const Inputs& in) { return tg::mean(in[0], {0, -1}); }, {y}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::mul(tg::sum(in[0], {1}, true), in[0]); }, {y}));

  // By hand: d/dx sum_j w_j * sum_i x_ij = w_j;  mean over 3 rows divides by 3.
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = tensor({1, 10, 100}, {3}, {.dtype = kFloat64});
  check_values(grad_of_sum(tg::mul(tg::sum(a, {0}), w), a), {1, 10, 100, 1, 10, 100});
  check_values(grad_of_sum(tg::mean(a, {1}, true), a), {1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3});
  // A 0-d input.
  Tensor s = scalar_tensor(2.5, {.dtype = kFloat64, .requires_grad = true});
  check_values(grad_of_sum(tg::sum(s, {0}), s), {1});
}

TEST_CASE("var and std, first and second derivatives") {
  Tensor x = random_leaf({3, 5}, 3);
  for (double correction : {0.0, 1.0}) {
    CAPTURE(correction);
    CHECK(gradcheck([=](const Inputs& in) { return tg::var(in[0], {1}, correction); }, {x}));
    CHECK(gradcheck([=](const Inputs& in) { return tg::var(in[0], {}, correction, true); }, {x}));
    CHECK(gradcheck([=](const Inputs& in) { return tg::std(in[0], {0}, correction, true); }, {x}));
    CHECK(gradgradcheck([=](const Inputs& in) { return tg::var(in[0], {-1}, correction); }, {x}));
    CHECK(gradgradcheck([=](const Inputs& in) { return tg::std(in[0], {1}, correction); }, {x}));
  }
  // By hand: var([1, 2, 3]) = 1, d/dx = 2 (x - 2) / 2 = [-1, 0, 1];  std = 1, d/dx = (x - 2) / 2.
  Tensor a = leaf({1, 2, 3});
  check_values(grad_of_sum(tg::var(a, {0}), a), {-1, 0, 1});
  check_values(grad_of_sum(tg::std(a, {0}), a), {-0.5, 0, 0.5});
  // std of a constant slice: gradient 0, not NaN (as PyTorch).
  Tensor c = leaf({4, 4, 4});
  check_values(grad_of_sum(tg::std(c, {0}), c), {0, 0, 0});
}

TEST_CASE("amax, amin and max over everything share the gradient among ties") {
  Tensor x = leaf({1, 3, 3, 2});
  check_values(grad_of_sum(tg::amax(x, {0}), x), {0, 0.5, 0.5, 0});
  check_values(grad_of_sum(tg::max(x), x), {0, 0.5, 0.5, 0});
  Tensor y = leaf({1, 3, 1, 2});
  check_values(grad_of_sum(tg::min(y), y), {0.5, 0, 0.5, 0});
  // Per slice: [[5 1 5] [0 0 7]] amin over dim 1 -> ties in row 1.
  Tensor m = leaf({5, 1, 5, 0, 0, 7}, {2, 3});
  check_values(grad_of_sum(tg::amin(m, {1}, true), m), {0, 1, 0, 0.5, 0.5, 0});
  check_values(grad_of_sum(tg::amax(m, {0, 1}), m), {0, 0, 0, 0, 0, 1});
  Tensor r = random_leaf({3, 4}, 4);
  CHECK(gradcheck([](const Inputs& in) { return tg::amax(in[0], {1}); }, {r}));
  CHECK(gradcheck([](const Inputs& in) { return tg::amin(in[0], {0, -1}, true); }, {r}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::amax(in[0], {0}); }, {r}));
}

TEST_CASE("max and min along a dim send the gradient to the returned index") {
  Tensor x = leaf({1, 3, 3, 2, 2, 0}, {2, 3});
  auto [values, indices] = tg::max(x, 1);
  CHECK(indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0});
  CHECK_FALSE(indices.requires_grad());
  check_values(grad_of_sum(values, x), {0, 1, 0, 1, 0, 0});
  auto [mv, mi] = tg::min(x, -1, true);
  CHECK(mv.shape() == Dims{2, 1});
  check_values(grad_of_sum(tg::mul(mv, tensor({10, 100}, {2, 1}, {.dtype = kFloat64})), x), {10, 0, 0, 0, 0, 100});
  Tensor r = random_leaf({3, 4}, 5);
  CHECK(gradcheck([](const Inputs& in) { return std::get<0>(tg::max(in[0], 0)); }, {r}));
  CHECK(gradcheck([](const Inputs& in) { return std::get<0>(tg::min(in[0], -1, true)); }, {r}));
  CHECK(gradgradcheck([](const Inputs& in) { return std::get<0>(tg::max(in[0], 1)); }, {r}));
  // argmax and argmin have no gradient: they never record.
  CHECK_FALSE(tg::argmax(r).requires_grad());
  CHECK_FALSE(tg::argmin(r, 1).requires_grad());
}

TEST_CASE("logsumexp: gradient is the softmax, also at 1e4") {
  Tensor x = random_leaf({3, 4}, 6);
  CHECK(gradcheck([](const Inputs& in) { return tg::logsumexp(in[0], {1}); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::logsumexp(in[0], {0, 1}, true); }, {x}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::logsumexp(in[0], {-1}); }, {x}));
  Tensor big = leaf({1e4, 1e4, 1e4 - std::log(2.0)});
  Tensor y = tg::logsumexp(big, {0});
  CHECK(y.item<double>() == doctest::Approx(1e4 + std::log(2.5)));
  check_values(grad_of_sum(y, big), {0.4, 0.4, 0.2}, 1e-12);
  Tensor f32 = tensor({1e4, -1e4}, {2}, {.requires_grad = true});
  check_values(grad_of_sum(tg::logsumexp(f32, {0}), f32), {1, 0}, 1e-6);
}

TEST_CASE("prod with and without zeros") {
  Tensor x = random_leaf({3, 4}, 7);
  CHECK(gradcheck([](const Inputs& in) { return tg::prod(in[0]); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::prod(in[0], 1); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::prod(in[0], -2, true); }, {x}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::prod(in[0], 0); }, {x}));
  // One zero: only the zero gets a gradient, the product of the others.
  Tensor z = leaf({2, 0, 3});
  check_values(grad_of_sum(tg::prod(z), z), {0, 6, 0});
  // Two zeros: nothing.
  Tensor zz = leaf({2, 0, 0, 5});
  check_values(grad_of_sum(tg::prod(zz), zz), {0, 0, 0, 0});
  // Per slice: rows [1 2 3] (no zero), [4 0 5] (one), [0 0 6] (two).
  Tensor rows = leaf({1, 2, 3, 4, 0, 5, 0, 0, 6}, {3, 3});
  check_values(grad_of_sum(tg::prod(rows, 1), rows), {6, 3, 2, 0, 20, 0, 0, 0, 0});
  // Products are multilinear, so finite differences are exact even across a
  // zero, and the second derivative with one zero is checked too.
  Tensor one_zero = leaf({1.5, 0, -2, 0.5, 3, -1}, {2, 3});
  CHECK(gradcheck([](const Inputs& in) { return tg::prod(in[0], 1); }, {one_zero}));
  CHECK(gradcheck([](const Inputs& in) { return tg::prod(in[0]); }, {one_zero}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::prod(in[0], 1); }, {one_zero}));
  // Two and three zeros in a slice: the first derivative is 0 there, the
  // second is not (d2/dx1 dx2 of x0 x1 x2 at (3, 0, 0) is x0 = 3).
  Tensor two = leaf({3, 0, 0});
  const Tensor g = tg::grad({tg::prod(two)}, {two}, {}, {.create_graph = true})[0];
  check_values(g.to_vector<double>(), {0, 0, 0});
  check_values(tg::grad({tg::sum(g)}, {two})[0].to_vector<double>(), {0, 3, 3});
  Tensor zeros = leaf({1.5, 0, 0, 0.5, 0, 0, 0, 2, 0, 3, 0, 0}, {3, 4});
  CHECK(gradcheck([](const Inputs& in) { return tg::prod(in[0], 1); }, {zeros}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::prod(in[0], 1); }, {zeros}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::prod(in[0], 0); }, {zeros}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::prod(in[0]); }, {zeros}));
}

TEST_CASE("prod with one zero and an infinity: the nonzeros' gradient is exactly 0") {
  // d prod / dx_i = the product of the others: 0 * 2 = 0 for the inf, inf * 2
  // for the zero; for the 2, inf * 0 is taken as 0 (PyTorch: NaN), as for
  // every nonzero of a slice with a zero.
  constexpr double inf = std::numeric_limits<double>::infinity();
  Tensor x = leaf({inf, 0, 2});
  check_values(grad_of_sum(tg::prod(x), x), {0, inf, 0});
  Tensor rows = leaf({inf, 0, 2, 1, 2, 3, 0, 0, 3}, {3, 3});
  check_values(grad_of_sum(tg::prod(rows, 1), rows), {0, inf, 0, 6, 3, 2, 0, 0, 0});
  Tensor cols = leaf({inf, 1, 0, 2, 5, 0}, {3, 2});
  check_values(grad_of_sum(tg::prod(cols, 0, true), cols), {0, 0, inf, 0, 0, 2});
}

TEST_CASE("norm: p = 2, 1, inf, 3 and 0.5; the 2-norm at 0 has gradient 0") {
  Tensor x = random_leaf({3, 4}, 8);
  CHECK(gradcheck([](const Inputs& in) { return tg::norm(in[0]); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::norm(in[0], 2, {1}); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::norm(in[0], 1, {0}, true); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::norm(in[0], 3, {-1}); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::norm(in[0], 0.5, {1}); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return tg::norm(in[0], std::numeric_limits<double>::infinity(), {1}); }, {x}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::norm(in[0], 2, {1}); }, {x}));
  CHECK(gradgradcheck([](const Inputs& in) { return tg::norm(in[0], 3, {0}); }, {x}));
  // By hand: |(3, -4)| = 5, gradient x / 5.
  Tensor a = leaf({3, -4});
  check_values(grad_of_sum(tg::norm(a), a), {0.6, -0.8});
  // At 0: 0, not NaN.
  Tensor zero = leaf({0, 0, 0});
  check_values(grad_of_sum(tg::norm(zero), zero), {0, 0, 0});
  Tensor rows = leaf({0, 0, 3, 4}, {2, 2});
  check_values(grad_of_sum(tg::norm(rows, 2, {1}), rows), {0, 0, 0.6, 0.8});
  // inf-norm: ties share, with the sign.
  Tensor t = leaf({3, -3, 1});
  check_values(grad_of_sum(tg::norm(t, std::numeric_limits<double>::infinity()), t), {0.5, -0.5, 0});
  // 0-"norm" counts nonzeros: no gradient.
  check_values(grad_of_sum(tg::norm(t, 0), t), {0, 0, 0});
}

TEST_CASE("softmax and log_softmax gradients along each dim") {
  Tensor x = random_leaf({3, 4}, 9);
  for (std::int64_t d : {0, 1, -1}) {
    CAPTURE(d);
    CHECK(gradcheck([d](const Inputs& in) { return tg::softmax(in[0], d); }, {x}));
    CHECK(gradcheck([d](const Inputs& in) { return tg::log_softmax(in[0], d); }, {x}));
    // Second derivatives take the composite formulas (create_graph).
    CHECK(gradgradcheck([d](const Inputs& in) { return tg::softmax(in[0], d); }, {x}));
    CHECK(gradgradcheck([d](const Inputs& in) { return tg::log_softmax(in[0], d); }, {x}));
  }
  Tensor y = random_leaf({2, 3, 2}, 10);
  CHECK(gradcheck([](const Inputs& in) { return tg::softmax(in[0].transpose(0, 2), 1); }, {y}));
  // By hand: uniform row [0 0], dy = [1 0]: softmax dx = y (dy - y.dy) = [0.25, -0.25];
  // log_softmax dx = dy - softmax * sum(dy) = [0.5, -0.5].
  Tensor u = leaf({0, 0});
  Tensor w = tensor({1, 0}, {2}, {.dtype = kFloat64});
  check_values(grad_of_sum(tg::mul(tg::softmax(u, 0), w), u), {0.25, -0.25});
  check_values(grad_of_sum(tg::mul(tg::log_softmax(u, 0), w), u), {0.5, -0.5});
  // Large inputs stay finite.
  Tensor big = leaf({1e4, 1e4});
  check_values(grad_of_sum(tg::mul(tg::log_softmax(big, 0), w), big), {0.5, -0.5});
}

}  // namespace test_reduce_grad
