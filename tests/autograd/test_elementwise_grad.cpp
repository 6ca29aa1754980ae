// Gradients of the elementwise ops: hand-computed values at chosen points
// (kinks and ties included), broadcast inputs summed back, finite
// differences in float64 for every differentiable op (tg::gradcheck) and
// second derivatives (tg::gradgradcheck), gradient dtypes, and the ops that
// must not record.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/random.h>

#include "support/close.h"

namespace test_elementwise_grad {

using namespace tg;

namespace {

using Inputs = std::vector<Tensor>;

Tensor leaf(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat64, .requires_grad = true});
}

Tensor constant(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat64});
}

// Normal values in float64 that require grad (ties and kinks have probability 0).
Tensor random_leaf(Dims shape, std::uint64_t seed) {
  manual_seed(seed);
  return randn(shape, {.dtype = kFloat64}).set_requires_grad(true);
}

// Values in [0.5, inf), for log, sqrt and fractional powers.
Tensor positive_leaf(Dims shape, std::uint64_t seed) {
  manual_seed(seed);
  return add(abs(randn(shape, {.dtype = kFloat64})), 0.5).set_requires_grad(true);
}

// d(sum(y)) / dx.
std::vector<double> grad_of_sum(const Tensor& y, const Tensor& x) {
  return tg::grad({sum(y)}, {x})[0].to_vector<double>();
}

void check_values(const std::vector<double>& got, const std::vector<double>& expected, double tol = 1e-12) {
  tg_test::check_close(got, expected, tol);
}

const double kLn2 = std::numbers::ln2;
// Phi(1) and phi(1): the standard normal CDF and density at 1.
const double kPhi1 = 0.8413447460685429;
const double kPdf1 = 0.24197072451914337;

}  // namespace

TEST_CASE("activations: gradients at hand-computed points, kinks included") {
  Tensor x = leaf({-1, 0, 1});
  check_values(grad_of_sum(relu(x), x), {0, 0, 1});  // 0 at 0, as PyTorch
  Tensor l = leaf({-1, 0, 2});
  check_values(grad_of_sum(leaky_relu(l, 0.1), l), {0.1, 0.1, 1});
  Tensor s = leaf({0, std::log(3.0)});
  check_values(grad_of_sum(sigmoid(s), s), {0.25, 0.1875});  // y (1 - y) with y = 1/2, 3/4
  Tensor t = leaf({0, 1});
  check_values(grad_of_sum(tanh(t), t), {1, 1 - std::pow(std::tanh(1.0), 2)});
  Tensor g = leaf({0, 1, -1});
  // Phi(x) + x phi(x): 1/2 at 0; Phi(-1) = 1 - Phi(1), phi(-1) = phi(1).
  check_values(grad_of_sum(gelu(g), g), {0.5, kPhi1 + kPdf1, (1 - kPhi1) - kPdf1}, 1e-12);
  // clamp passes the gradient where min <= x <= max, bounds included.
  Tensor c = leaf({-1, 0, 0.5, 1, 2});
  check_values(grad_of_sum(clamp(c, 0, 1), c), {0, 1, 1, 1, 0});
  check_values(grad_of_sum(clamp(c, 0, {}), c), {0, 1, 1, 1, 1});
  check_values(grad_of_sum(clamp(c, {}, 0.5), c), {1, 1, 1, 0, 0});
}

TEST_CASE("real functions: gradients at hand-computed points") {
  Tensor e = leaf({0, 1});
  check_values(grad_of_sum(exp(e), e), {1, std::numbers::e});
  Tensor x = leaf({2, 0.5});
  check_values(grad_of_sum(log(x), x), {0.5, 2});
  Tensor p = leaf({0, 1});
  check_values(grad_of_sum(log1p(p), p), {1, 0.5});
  Tensor r = leaf({4, 0.25});
  check_values(grad_of_sum(sqrt(r), r), {0.25, 1});
  check_values(grad_of_sum(rsqrt(r), r), {-1.0 / 16, -4});  // -x^(-3/2) / 2
  Tensor a = leaf({-2, 0, 3});
  check_values(grad_of_sum(abs(a), a), {-1, 0, 1});
  check_values(grad_of_sum(sign(a), a), {0, 0, 0});  // defined zeros, not missing
  check_values(grad_of_sum(neg(a), a), {-1, -1, -1});
  check_values(grad_of_sum(-a, a), {-1, -1, -1});
}

TEST_CASE("pow: gradients for all three forms, including the limits at 0") {
  Tensor x = leaf({2, -3, 0.25});
  check_values(grad_of_sum(pow(x, 3), x), {12, 27, 0.1875});
  check_values(grad_of_sum(pow(x, 2), x), {4, -6, 0.5});
  check_values(grad_of_sum(pow(x, 1), x), {1, 1, 1});
  check_values(grad_of_sum(pow(x, -1), x), {-0.25, -1.0 / 9, -16});
  Tensor z = leaf({0, 2});
  check_values(grad_of_sum(pow(z, 0), z), {0, 0});  // not 0 * 0^-1 = NaN
  Tensor q = leaf({4});
  check_values(grad_of_sum(pow(q, 0.5), q), {0.25});

  // Tensor exponent: d/dx = e x^(e-1), d/de = x^e log(x).
  Tensor b = leaf({2, 3}), ex = leaf({3, 2});
  auto g = tg::grad({sum(pow(b, ex))}, {b, ex});
  check_values(g[0].to_vector<double>(), {12, 6});
  check_values(g[1].to_vector<double>(), {8 * kLn2, 9 * std::log(3.0)});
  // At x = 0 with e >= 0 the exponent's gradient is the limit 0, and e = 0 gives dx = 0.
  Tensor x0 = leaf({0, 0, 0}), e0 = leaf({2, 0, 1});
  auto g0 = tg::grad({sum(pow(x0, e0))}, {x0, e0});
  check_values(g0[0].to_vector<double>(), {0, 0, 1});
  check_values(g0[1].to_vector<double>(), {0, 0, 0});

  // Scalar base: d/de base^e = base^e log(base).
  Tensor se = leaf({3, -1});
  check_values(grad_of_sum(pow(2, se), se), {8 * kLn2, 0.5 * kLn2});
  Tensor ze = leaf({1, 2});
  check_values(grad_of_sum(pow(0, ze), ze), {0, 0});
}

TEST_CASE("arithmetic: gradients of tensor and scalar forms") {
  Tensor a = leaf({2, 3}), b = leaf({5, 7});
  auto g = tg::grad({sum(add(a, b, 2))}, {a, b});
  check_values(g[0].to_vector<double>(), {1, 1});
  check_values(g[1].to_vector<double>(), {2, 2});
  g = tg::grad({sum(sub(a, b, 3))}, {a, b});
  check_values(g[0].to_vector<double>(), {1, 1});
  check_values(g[1].to_vector<double>(), {-3, -3});
  g = tg::grad({sum(a - b)}, {a, b});
  check_values(g[1].to_vector<double>(), {-1, -1});
  g = tg::grad({sum(mul(a, b))}, {a, b});
  check_values(g[0].to_vector<double>(), {5, 7});
  check_values(g[1].to_vector<double>(), {2, 3});
  Tensor n = leaf({1, 6}), d = leaf({2, 3});
  g = tg::grad({sum(div(n, d))}, {n, d});
  check_values(g[0].to_vector<double>(), {0.5, 1.0 / 3});
  check_values(g[1].to_vector<double>(), {-0.25, -6.0 / 9});

  check_values(grad_of_sum(add(a, 5), a), {1, 1});
  check_values(grad_of_sum(sub(a, 5), a), {1, 1});
  check_values(grad_of_sum(rsub(a, 5), a), {-1, -1});
  check_values(grad_of_sum(mul(a, 3), a), {3, 3});
  check_values(grad_of_sum(div(a, 4), a), {0.25, 0.25});
  Tensor r = leaf({2, 4});
  check_values(grad_of_sum(rdiv(r, 8), r), {-2, -0.5});  // -8 / x^2
  check_values(grad_of_sum(8.0 / r, r), {-2, -0.5});
  check_values(grad_of_sum(1.0 - r, r), {-1, -1});
  check_values(grad_of_sum(3.0 * r + 1.0, r), {3, 3});

  // Only the input that needs a gradient gets one.
  Tensor c = constant({5, 7});
  check_values(grad_of_sum(mul(a, c), a), {5, 7});
  check_values(grad_of_sum(div(c, a), a), {-5.0 / 4, -7.0 / 9});
}

TEST_CASE("a tensor used several times accumulates every use: x*x*x + x -> 3x^2 + 1") {
  Tensor x = leaf({1, 2, -3});
  check_values(grad_of_sum(x * x * x + x, x), {4, 13, 28});
  Tensor y = x * x * x + x;
  sum(y).backward();
  check_values(x.grad().to_vector<double>(), {4, 13, 28});
  check_values(grad_of_sum(x + x, x), {2, 2, 2});
  check_values(grad_of_sum(x / x, x), {0, 0, 0});
  check_values(grad_of_sum(x - x, x), {0, 0, 0});
  check_values(grad_of_sum(maximum(x, x), x), {1, 1, 1});  // two halves of a tie
  check_values(grad_of_sum(where(x > 0.0, x, x), x), {1, 1, 1});
}

TEST_CASE("maximum and minimum: the larger (smaller) input takes the gradient, ties split it") {
  Tensor a = leaf({1, 2, 3}), b = leaf({3, 2, 1});
  auto g = tg::grad({sum(maximum(a, b))}, {a, b});
  check_values(g[0].to_vector<double>(), {0, 0.5, 1});
  check_values(g[1].to_vector<double>(), {1, 0.5, 0});
  g = tg::grad({sum(minimum(a, b))}, {a, b});
  check_values(g[0].to_vector<double>(), {1, 0.5, 0});
  check_values(g[1].to_vector<double>(), {0, 0.5, 1});
  // Against a constant.
  check_values(grad_of_sum(maximum(a, constant({2})), a), {0, 0.5, 1});
}

TEST_CASE("where: the gradient goes to the chosen branch") {
  Tensor c = tensor({1, 0, 1}, {}, {.dtype = kBool});
  Tensor a = leaf({1, 2, 3}), b = leaf({10, 20, 30});
  auto g = tg::grad({sum(where(c, a, b))}, {a, b});
  check_values(g[0].to_vector<double>(), {1, 0, 1});
  check_values(g[1].to_vector<double>(), {0, 1, 0});
  check_values(grad_of_sum(where(c, a, 0.0), a), {1, 0, 1});
  check_values(grad_of_sum(where(c, 0.0, b), b), {0, 1, 0});
  // A broadcast branch collects the gradient of every row that chose it.
  Tensor c2 = tensor({1, 0, 1, 1}, {2, 2}, {.dtype = kBool});
  Tensor row = leaf({1, 2});
  check_values(grad_of_sum(where(c2, row, 0.0), row), {2, 1});
  CHECK_THROWS_AS(where(constant({1, 0, 1}), a, b), DTypeError);
}

TEST_CASE("broadcast inputs get their gradient summed back to their shape") {
  // y[i][j] = a[i] * b[j]:  da[i] = sum_j b[j],  db[j] = sum_i a[i].
  Tensor a = leaf({1, 2, 3}, {3, 1}), b = leaf({1, 10, 100, 1000}, {1, 4});
  auto g = tg::grad({sum(mul(a, b))}, {a, b});
  CHECK(g[0].shape() == Dims{3, 1});
  CHECK(g[1].shape() == Dims{1, 4});
  check_values(g[0].to_vector<double>(), {1111, 1111, 1111});
  check_values(g[1].to_vector<double>(), {6, 6, 6, 6});
  // [3,1] + [3,4]: each of a's elements was used 4 times.
  Tensor big = random_leaf({3, 4}, 11);
  g = tg::grad({sum(add(a, big))}, {a, big});
  check_values(g[0].to_vector<double>(), {4, 4, 4});
  CHECK(g[1].shape() == Dims{3, 4});
  // A leading broadcast dim: [4] against [2, 4].
  Tensor v = leaf({1, 2, 3, 4});
  check_values(grad_of_sum(sub(big.detach().narrow(0, 0, 2), v), v), {-2, -2, -2, -2});
  // A 0-d tensor against a [2, 3].
  Tensor s = scalar_tensor(2, {.dtype = kFloat64, .requires_grad = true});
  Tensor m = constant({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor gs = tg::grad({sum(mul(s, m))}, {s})[0];
  CHECK(gs.dim() == 0);
  CHECK(gs.item<double>() == 21);
}

TEST_CASE("gradcheck: every differentiable op in float64") {
  Tensor x = random_leaf({3, 4}, 1), y = random_leaf({3, 4}, 2);
  Tensor p = positive_leaf({3, 4}, 3), q = positive_leaf({3, 4}, 4);
  Tensor col = random_leaf({3, 1}, 5), row = positive_leaf({4}, 6);
  using Fn = Tensor (*)(const Inputs&);
  struct Case {
    const char* name;
    Fn fn;
    Inputs inputs;
  };
  const std::vector<Case> cases = {
      {"add", [](const Inputs& in) { return add(in[0], in[1], 0.5); }, {x, y}},
      {"add broadcast", [](const Inputs& in) { return add(in[0], in[1]); }, {col, row}},
      {"sub", [](const Inputs& in) { return sub(in[0], in[1], 1.5); }, {x, col}},
      {"mul", [](const Inputs& in) { return mul(in[0], in[1]); }, {x, y}},
      {"mul broadcast", [](const Inputs& in) { return mul(in[0], in[1]); }, {col, row}},
      {"div", [](const Inputs& in) { return div(in[0], in[1]); }, {x, p}},
      {"div broadcast", [](const Inputs& in) { return div(in[0], in[1]); }, {col, row}},
      {"add scalar", [](const Inputs& in) { return add(in[0], 2.0); }, {x}},
      {"sub scalar", [](const Inputs& in) { return sub(in[0], 2.0); }, {x}},
      {"rsub", [](const Inputs& in) { return rsub(in[0], 2.0); }, {x}},
      {"mul scalar", [](const Inputs& in) { return mul(in[0], -1.5); }, {x}},
      {"div scalar", [](const Inputs& in) { return div(in[0], 3.0); }, {x}},
      {"rdiv", [](const Inputs& in) { return rdiv(in[0], 3.0); }, {p}},
      {"neg", [](const Inputs& in) { return neg(in[0]); }, {x}},
      {"exp", [](const Inputs& in) { return exp(in[0]); }, {x}},
      {"log", [](const Inputs& in) { return log(in[0]); }, {p}},
      {"log1p", [](const Inputs& in) { return log1p(in[0]); }, {p}},
      {"sqrt", [](const Inputs& in) { return sqrt(in[0]); }, {p}},
      {"rsqrt", [](const Inputs& in) { return rsqrt(in[0]); }, {p}},
      {"pow 2", [](const Inputs& in) { return pow(in[0], 2); }, {x}},
      {"pow 3", [](const Inputs& in) { return pow(in[0], 3); }, {x}},
      {"pow -1", [](const Inputs& in) { return pow(in[0], -1); }, {p}},
      {"pow 2.5", [](const Inputs& in) { return pow(in[0], 2.5); }, {p}},
      {"pow tensor", [](const Inputs& in) { return pow(in[0], in[1]); }, {p, x}},
      {"pow tensor broadcast", [](const Inputs& in) { return pow(in[0], in[1]); }, {row, col}},
      {"pow scalar base", [](const Inputs& in) { return pow(1.7, in[0]); }, {x}},
      {"abs", [](const Inputs& in) { return abs(in[0]); }, {x}},
      {"sign", [](const Inputs& in) { return sign(in[0]); }, {x}},
      {"relu", [](const Inputs& in) { return relu(in[0]); }, {x}},
      {"leaky_relu", [](const Inputs& in) { return leaky_relu(in[0], 0.2); }, {x}},
      {"sigmoid", [](const Inputs& in) { return sigmoid(in[0]); }, {x}},
      {"tanh", [](const Inputs& in) { return tanh(in[0]); }, {x}},
      {"gelu", [](const Inputs& in) { return gelu(in[0]); }, {x}},
      {"clamp", [](const Inputs& in) { return clamp(in[0], -0.5, 0.5); }, {x}},
      {"clamp min", [](const Inputs& in) { return clamp(in[0], 0.0, {}); }, {x}},
      {"clamp max", [](const Inputs& in) { return clamp(in[0], {}, 0.3); }, {x}},
      {"maximum", [](const Inputs& in) { return maximum(in[0], in[1]); }, {x, y}},
      {"minimum broadcast", [](const Inputs& in) { return minimum(in[0], in[1]); }, {x, col}},
      {"where", [](const Inputs& in) { return where(in[0] > 0.0, in[0], in[1]); }, {x, y}},
      {"where broadcast", [](const Inputs& in) { return where(in[1] > 0.0, in[0], in[1]); }, {col, row}},
      {"where scalar b", [](const Inputs& in) { return where(in[0] > 0.0, in[0], 2.0); }, {x}},
      {"where scalar a", [](const Inputs& in) { return where(in[0] > 0.0, 2.0, in[0]); }, {x}},
      {"composite", [](const Inputs& in) { return sigmoid(in[0] * in[1] - 1.0) / (in[1] + 2.0); }, {x, p}},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    CHECK(gradcheck(c.fn, c.inputs));
  }
}

TEST_CASE("gradcheck through strided inputs: transposed, sliced, expanded") {
  Tensor x = random_leaf({4, 3}, 21), y = random_leaf({3, 4}, 22), p = positive_leaf({6, 4}, 23);
  CHECK(gradcheck([](const Inputs& in) { return mul(in[0].t(), in[1]); }, {x, y}));
  CHECK(gradcheck([](const Inputs& in) { return gelu(in[0].t()); }, {x}));
  CHECK(gradcheck([](const Inputs& in) { return div(in[1], in[0].slice(0, 0, 6, 2).t()); }, {p, x}));
  CHECK(gradcheck([](const Inputs& in) { return tanh(in[0].narrow(1, 1, 2)); }, {y}));
  CHECK(gradcheck([](const Inputs& in) { return mul(in[0].expand({3, 4}), in[1]); }, {random_leaf({1, 4}, 24), y}));
  CHECK(gradcheck([](const Inputs& in) { return maximum(in[0].t(), in[1].slice(0, 0, 3)); },
                  {x, random_leaf({5, 4}, 25)}));
}

TEST_CASE("second derivatives (gradgradcheck), including the fused activation gradients") {
  Tensor x = random_leaf({2, 3}, 31), y = random_leaf({2, 3}, 32), p = positive_leaf({2, 3}, 33);
  Tensor col = random_leaf({2, 1}, 34);
  using Fn = Tensor (*)(const Inputs&);
  struct Case {
    const char* name;
    Fn fn;
    Inputs inputs;
  };
  const std::vector<Case> cases = {
      {"mul broadcast", [](const Inputs& in) { return mul(in[0], in[1]); }, {x, col}},
      {"div", [](const Inputs& in) { return div(in[0], in[1]); }, {x, p}},
      {"rdiv", [](const Inputs& in) { return rdiv(in[0], 2.0); }, {p}},
      {"exp", [](const Inputs& in) { return exp(in[0]); }, {x}},
      {"log", [](const Inputs& in) { return log(in[0]); }, {p}},
      {"log1p", [](const Inputs& in) { return log1p(in[0]); }, {p}},
      {"sqrt", [](const Inputs& in) { return sqrt(in[0]); }, {p}},
      {"rsqrt", [](const Inputs& in) { return rsqrt(in[0]); }, {p}},
      {"pow 3", [](const Inputs& in) { return pow(in[0], 3); }, {x}},
      {"pow 2.5", [](const Inputs& in) { return pow(in[0], 2.5); }, {p}},
      {"pow tensor", [](const Inputs& in) { return pow(in[0], in[1]); }, {p, x}},
      {"pow scalar base", [](const Inputs& in) { return pow(1.7, in[0]); }, {x}},
      {"abs", [](const Inputs& in) { return abs(in[0]); }, {x}},
      {"relu", [](const Inputs& in) { return relu(in[0]); }, {x}},
      {"leaky_relu", [](const Inputs& in) { return leaky_relu(in[0], 0.2); }, {x}},
      {"sigmoid", [](const Inputs& in) { return sigmoid(in[0]); }, {x}},
      {"tanh", [](const Inputs& in) { return tanh(in[0]); }, {x}},
      {"gelu", [](const Inputs& in) { return gelu(in[0]); }, {x}},
      {"clamp", [](const Inputs& in) { return clamp(in[0], -0.5, 0.5); }, {x}},
      {"maximum", [](const Inputs& in) { return maximum(in[0], in[1]); }, {x, y}},
      {"where", [](const Inputs& in) { return where(in[0] > 0.0, in[0] * in[1], in[1]); }, {x, y}},
      {"sigmoid of product", [](const Inputs& in) { return sigmoid(in[0] * in[1]); }, {x, y}},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    CHECK(gradgradcheck(c.fn, c.inputs));
  }
}

TEST_CASE("higher derivatives by hand: d2/dx2 of x^3, sigmoid, tanh and gelu") {
  Tensor x = leaf({0.5});
  auto second = [&](Tensor y) {
    Tensor dx = tg::grad({sum(y)}, {x}, {}, {.retain_graph = true, .create_graph = true})[0];
    return tg::grad({sum(dx)}, {x})[0].item<double>();
  };
  CHECK(second(pow(x, 3)) == doctest::Approx(3.0));  // 6x
  const double s = 1 / (1 + std::exp(-0.5));
  CHECK(second(sigmoid(x)) == doctest::Approx(s * (1 - s) * (1 - 2 * s)).epsilon(1e-12));
  const double t = std::tanh(0.5);
  CHECK(second(tanh(x)) == doctest::Approx(-2 * t * (1 - t * t)).epsilon(1e-12));
  // gelu'' = phi(x) (2 - x^2).
  const double pdf = std::exp(-0.125) / std::sqrt(2 * std::numbers::pi);
  CHECK(second(gelu(x)) == doctest::Approx(pdf * (2 - 0.25)).epsilon(1e-12));
}

// a equals want (infinities included), or is within a relative eps of it.
bool near(double a, double want, double eps) {
  return a == want || (std::isfinite(want) && std::abs(a - want) <= eps * std::max(std::abs(want), 1e-300));
}

// d2y/dx2 elementwise: the gradient of sum(dy/dx).
Tensor second_derivative(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
  const Tensor leaf = x.detach().set_requires_grad(true);
  const Tensor dydx = grad({f(leaf).sum()}, {leaf}, {}, {.create_graph = true})[0];
  return grad({dydx.sum()}, {leaf})[0];
}

// At second order where() gives the branch it does not pick a zero
// gradient, and a zero times an infinity in that branch's own backward is
// NaN: elu's exp(x) past 88 in float32 (celu's exp(x / alpha) past 8.9 for
// alpha 0.1) gave NaN for large positive x, and 1 / x's -dy / x^2 gave 0/0
// at x = 0 and inf/inf at x = inf.
TEST_CASE("second derivatives stay exact where a branch not taken overflows: elu, selu, celu, c / x") {
  const double inf = std::numeric_limits<double>::infinity();
  for (const DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(dtype));
    const std::vector<double> points = {-2.0, -0.5, 0.0, 1.0, 9.0, 100.0, 1000.0, 1e30, inf};
    const Tensor x = tensor(points, {}, dtype);
    struct Case {
      const char* name;
      std::function<Tensor(const Tensor&)> f;
      double alpha, scale, input_scale;
    };
    const double selu_alpha = 1.6732632423543772848170429916717, selu_scale = 1.0507009873554804934193349852946;
    for (const Case& c : {Case{"elu", [](const Tensor& t) { return elu(t, 1.0); }, 1.0, 1.0, 1.0},
                          Case{"selu", [](const Tensor& t) { return selu(t); }, selu_alpha, selu_scale, 1.0},
                          Case{"celu 0.1", [](const Tensor& t) { return celu(t, 0.1); }, 0.1, 1.0, 10.0}}) {
      CAPTURE(c.name);
      const std::vector<double> got = second_derivative(c.f, x).to(kFloat64).to_vector<double>();
      for (std::size_t i = 0; i < points.size(); ++i) {
        CAPTURE(points[i]);
        // x <= 0 (0 on the negative branch, as the first derivative there):
        // alpha scale input_scale^2 exp(input_scale x); x > 0: 0.
        const double want =
            points[i] > 0 ? 0.0
                          : c.alpha * c.scale * c.input_scale * c.input_scale * std::exp(c.input_scale * points[i]);
        CHECK(near(got[i], want, dtype == kFloat32 ? 1e-5 : 1e-12));
      }
    }
    // c / x: d2/dx2 = 2 c / x^3, inf at +0 and 0 at inf (PyTorch's too).
    const Tensor r = tensor({0.0, 1.0, 2.0, -2.0, inf, -inf}, {}, dtype);
    for (const double c : {1.0, -3.0}) {
      CAPTURE(c);
      const std::vector<double> got =
          second_derivative([c](const Tensor& t) { return c / t; }, r).to(kFloat64).to_vector<double>();
      const std::vector<double> want = {c > 0 ? inf : -inf, 2 * c, c / 4, -c / 4, 0.0, 0.0};
      for (std::size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        CHECK(near(got[i], want[i], 1e-6));
      }
      // An in-place change to c / x leaves its backward valid (nothing of it is saved).
      {
        const Tensor leaf = r.detach().set_requires_grad(true);
        Tensor z = c / leaf;
        z.add_(1.0);
        z.sum().backward();
        CHECK(near(leaf.grad().to(kFloat64).to_vector<double>()[1], -c, 1e-6));
      }
      // First order unchanged: -c / x^2.
      const Tensor leaf = r.detach().set_requires_grad(true);
      const std::vector<double> first = grad({(c / leaf).sum()}, {leaf})[0].to(kFloat64).to_vector<double>();
      const std::vector<double> want_first = {-c * inf, -c, -c / 4, -c / 4, -0.0, -0.0};
      for (std::size_t i = 0; i < want_first.size(); ++i) {
        CAPTURE(i);
        CHECK(near(first[i], want_first[i], 1e-6));
      }
    }
  }
}

TEST_CASE("gelu's gradient from the forward's saved derivative has gelu_backward's bits") {
  // Training saves Phi(x) + x phi(x) from the forward instead of computing
  // Phi and phi again in backward: the gradient must not move by a bit, in
  // either dtype, for any layout, with or without create_graph.
  for (const DType dt : {kFloat32, kFloat64, kFloat16}) {
    CAPTURE(dtype_name(dt));
    manual_seed(3);
    const Tensor base = mul(randn({37, 29}, {.dtype = kFloat64}), 4.0).to(dt);  // the tails too
    const Tensor dy = randn({29, 37}, {.dtype = dt});
    for (const bool create_graph : {false, true}) {
      const Tensor x = base.detach().set_requires_grad(true);
      const Tensor xt = x.t();  // a transposed input
      const Tensor got = tg::grad({gelu(xt)}, {x}, {dy}, {.create_graph = create_graph})[0];
      const Tensor want = Tensor(kernel::gelu_backward(dy, xt.detach())).t();
      CHECK(equal(got, want));
      CHECK(equal(gelu(xt).detach(), Tensor(kernel::gelu(xt.detach()))));
    }
  }
}

TEST_CASE("gradient dtypes follow the inputs") {
  Tensor a = tensor({1, 2}, {}, {.dtype = kFloat32, .requires_grad = true});
  Tensor b = tensor({3, 4}, {}, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = mul(a, b);
  CHECK(y.dtype() == kFloat64);
  auto g = tg::grad({sum(y)}, {a, b});
  CHECK(g[0].dtype() == kFloat32);
  CHECK(g[1].dtype() == kFloat64);
  CHECK(g[0].to_vector<double>() == std::vector<double>{3, 4});
  // An int64 operand gets no gradient and the float one gets its values.
  Tensor i = tensor({5, 6}, {}, {.dtype = kInt64});
  Tensor gi = tg::grad({sum(mul(a, i))}, {a})[0];
  CHECK(gi.dtype() == kFloat32);
  CHECK(gi.to_vector<double>() == std::vector<double>{5, 6});
  // float32 activations and their fused gradients.
  Tensor f = tensor({-1, 0, 2}, {}, {.dtype = kFloat32, .requires_grad = true});
  Tensor gf = tg::grad({sum(relu(f))}, {f})[0];
  CHECK(gf.dtype() == kFloat32);
  CHECK(gf.to_vector<float>() == std::vector<float>{0, 0, 1});
  Tensor gs = tg::grad({sum(sigmoid(f))}, {f})[0];
  CHECK(gs.to_vector<double>()[1] == doctest::Approx(0.25));
}

TEST_CASE("comparisons, logic and no-grad mode record nothing") {
  Tensor x = random_leaf({3}, 41);
  for (const Tensor& t : {eq(x, x), ne(x, x), lt(x, x), le(x, x), gt(x, x), ge(x, x), x > 0.0, x == 1.0, logical_not(x),
                          logical_and(x, x), logical_or(x, x), isnan(x), isfinite(x)}) {
    CHECK(t.dtype() == kBool);
    CHECK_FALSE(t.requires_grad());
    CHECK(t.grad_fn() == nullptr);
  }
  CHECK(add(x, x).requires_grad());
  CHECK(add(x, 1.0).grad_fn() != nullptr);
  {
    NoGradGuard guard;
    CHECK_FALSE(add(x, x).requires_grad());
    CHECK_FALSE(sigmoid(x).requires_grad());
    CHECK_FALSE(where(x > 0.0, x, 0.0).requires_grad());
  }
  // Constants only: nothing to record.
  Tensor c = constant({1, 2});
  CHECK_FALSE(exp(c).requires_grad());
  CHECK(exp(c).grad_fn() == nullptr);
}

}  // namespace test_elementwise_grad
