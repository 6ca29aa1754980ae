// tg::autograd::jacobian, hessian, vjp, jvp, hvp and vhp against hand-derived values.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/functional.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

#include "support/close.h"

namespace test_functional {

using tg::Tensor;
namespace ag = tg::autograd;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};

using tg_test::check_close;

}  // namespace

TEST_CASE("jacobian of elementwise, linear and reducing functions") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64);
  // f(x) = x^2: J = diag(2x).
  check_close(ag::jacobian([](const Tensor& v) { return v * v; }, x), {3, 3}, {2, 0, 0, 0, 4, 0, 0, 0, 6});
  // f(x) = A x: J = A.
  Tensor A = tg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kF64);
  check_close(ag::jacobian([&](const Tensor& v) { return tg::matmul(A, v); }, x), {2, 3}, {1, 2, 3, 4, 5, 6});
  // f(x) = sum(x^2), a scalar: J has the input's shape, 2x.
  check_close(ag::jacobian([](const Tensor& v) { return (v * v).sum(); }, x), {3}, {2, 4, 6});
  // f(X) = X.sum(0) for X [2, 3]: J[j][i][k] = (j == k), shape [3, 2, 3].
  Tensor X = tg::ones({2, 3}, kF64);
  std::vector<double> expected;
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 3; ++k) expected.push_back(j == k ? 1 : 0);
  check_close(ag::jacobian([](const Tensor& v) { return v.sum({0}); }, X), {3, 2, 3}, expected);
}

TEST_CASE("jacobian of several inputs and outputs") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64);
  Tensor y = tg::tensor({3, 4}, {2}, kF64);
  auto J = ag::jacobian(
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{in[0] * in[1], in[0] + in[1] * 2};
      },
      {x, y});
  REQUIRE(J.size() == 2);
  REQUIRE(J[0].size() == 2);
  check_close(J[0][0], {2, 2}, {3, 0, 0, 4});  // d(xy)/dx = diag(y)
  check_close(J[0][1], {2, 2}, {1, 0, 0, 2});  // d(xy)/dy = diag(x)
  check_close(J[1][0], {2, 2}, {1, 0, 0, 1});
  check_close(J[1][1], {2, 2}, {2, 0, 0, 2});
}

TEST_CASE("jacobian: independent inputs, strict mode, create_graph") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64);
  Tensor y = tg::tensor({3, 4}, {2}, kF64);
  auto only_x = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * 2}; };
  auto J = ag::jacobian(only_x, {x, y});
  check_close(J[0][1], {2, 2}, {0, 0, 0, 0});
  CHECK_THROWS_WITH_AS(ag::jacobian(only_x, {x, y}, {.strict = true}), doctest::Contains("input 1"), tg::AutogradError);

  // Without create_graph the result is a plain tensor and the input is untouched.
  Tensor w = tg::tensor({1, 2}, {2}, {.dtype = tg::kFloat64, .requires_grad = true});
  Tensor plain = ag::jacobian([](const Tensor& v) { return v * v * v; }, w);
  CHECK_FALSE(plain.requires_grad());
  CHECK_FALSE(w.grad().defined());
  // With it, J = diag(3 w^2) can be differentiated: d/dw sum(J) = 6 w.
  Tensor J2 = ag::jacobian([](const Tensor& v) { return v * v * v; }, w, {.create_graph = true});
  check_close(J2, {2, 2}, {3, 0, 0, 12});
  REQUIRE(J2.requires_grad());
  J2.sum().backward();
  check_close(w.grad(), {2}, {6, 12});
}

TEST_CASE("strict mode with create_graph refuses a result that does not depend on the inputs, as PyTorch") {
  // torch 1.13 raises "... is independent of input 0. This is not allowed in
  // strict mode when create_graph=True." for a function linear in its input
  // (a constant Jacobian), and takes one that is not.
  const Tensor x = tg::tensor({1, 2}, {2}, kF64), v = tg::tensor({1, -1}, {2}, kF64);
  const ag::FunctionalOptions both{.create_graph = true, .strict = true};
  auto linear = [](const Tensor& t) { return t * 3; };
  auto identity = [](const Tensor& t) { return t; };
  auto cube = [](const Tensor& t) { return t * t * t; };
  const std::string message = "does not depend on the inputs' values, which strict mode with create_graph";
  CHECK_THROWS_WITH_AS(ag::jacobian(linear, x, both), doctest::Contains(message.c_str()), tg::AutogradError);
  CHECK_THROWS_WITH_AS(ag::jacobian(identity, x, both),
                       doctest::Contains("jacobian: the Jacobian of output 0 with respect to input 0"),
                       tg::AutogradError);
  CHECK_THROWS_WITH_AS(ag::vjp(identity, x, v, both), doctest::Contains("vjp: the product for input 0"),
                       tg::AutogradError);
  CHECK_THROWS_WITH_AS(ag::jvp(linear, x, v, both), doctest::Contains("jvp: the product for output 0"),
                       tg::AutogradError);
  // A quadratic function's Hessian is constant: refused by hessian, hvp and vhp.
  auto square_sum = [](const Tensor& t) { return (t * t).sum(); };
  CHECK_THROWS_WITH_AS(ag::hessian(square_sum, x, both), doctest::Contains("hessian: the Hessian of output 0"),
                       tg::AutogradError);
  CHECK_THROWS_WITH_AS(ag::hvp(square_sum, x, v, both), doctest::Contains("hvp: the Hessian product for input 0"),
                       tg::AutogradError);
  CHECK_THROWS_WITH_AS(ag::vhp(square_sum, x, v, both), doctest::Contains("vhp: the Hessian product for input 0"),
                       tg::AutogradError);
  // Each alone is fine, and so are both together where the result depends on x.
  check_close(ag::jacobian(linear, x, {.strict = true}), {2, 2}, {3, 0, 0, 3});
  check_close(ag::jacobian(linear, x, {.create_graph = true}), {2, 2}, {3, 0, 0, 3});
  check_close(ag::jacobian(cube, x, both), {2, 2}, {3, 0, 0, 12});
  check_close(ag::vjp(cube, x, v, both).second, {2}, {3, -12});
  check_close(ag::jvp(cube, x, v, both).second, {2}, {3, -12});
  auto cube_sum = [](const Tensor& t) { return (t * t * t).sum(); };
  check_close(ag::hvp(cube_sum, x, v, both).second, {2}, {6, -12});
  // A v that requires grad makes the product depend on it: allowed, as in PyTorch.
  const Tensor tracked = v.clone().set_requires_grad(true);
  check_close(ag::vjp(linear, x, tracked, both).second, {2}, {3, -3});
}

TEST_CASE("hessian against hand formulas") {
  Tensor x = tg::tensor({1, -2, 0.5}, {3}, kF64);
  // f = sum(x^3): H = diag(6x).
  check_close(ag::hessian([](const Tensor& v) { return (v * v * v).sum(); }, x), {3, 3}, {6, 0, 0, 0, -12, 0, 0, 0, 3});
  // f = (x.x)^2: H = 4 (x.x) I + 8 x x^T, with x.x = 5.25.
  std::vector<double> expected;
  const double xs[] = {1, -2, 0.5};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) expected.push_back((i == j ? 4 * 5.25 : 0) + 8 * xs[i] * xs[j]);
  check_close(ag::hessian(
                  [](const Tensor& v) {
                    Tensor s = (v * v).sum();
                    return s * s;
                  },
                  x),
              {3, 3}, expected);
  // A matrix input: f = sum(X^2) for X [2, 2] gives H of shape [2, 2, 2, 2] = 2 I.
  Tensor H = ag::hessian([](const Tensor& v) { return (v * v).sum(); }, tg::ones({2, 2}, kF64));
  std::vector<double> two_identity(16, 0);
  for (int i = 0; i < 4; ++i) two_identity[static_cast<std::size_t>(i * 4 + i)] = 2;
  check_close(H, {2, 2, 2, 2}, two_identity);

  CHECK_THROWS_WITH_AS(ag::hessian([](const Tensor& v) { return v * v; }, x), doctest::Contains("single-element"),
                       tg::ShapeError);
}

TEST_CASE("hessian of several inputs") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64);
  Tensor y = tg::tensor({3, 4}, {2}, kF64);
  // f = sum(x^2 y): H_xx = diag(2y), H_xy = H_yx = diag(2x), H_yy = 0.
  auto H = ag::hessian([](const std::vector<Tensor>& in) { return (in[0] * in[0] * in[1]).sum(); }, {x, y});
  check_close(H[0][0], {2, 2}, {6, 0, 0, 8});
  check_close(H[0][1], {2, 2}, {2, 0, 0, 4});
  check_close(H[1][0], {2, 2}, {2, 0, 0, 4});
  check_close(H[1][1], {2, 2}, {0, 0, 0, 0});
}

TEST_CASE("vjp") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64);
  Tensor v = tg::tensor({1, 0.5, -1}, {3}, kF64);
  auto [y, g] = ag::vjp([](const Tensor& t) { return t * t; }, x, v);
  check_close(y, {3}, {1, 4, 9});
  check_close(g, {3}, {2, 2, -6});  // v^T diag(2x)
  CHECK_FALSE(y.requires_grad());

  // A scalar output needs no v.
  auto [s, gs] = ag::vjp([](const Tensor& t) { return (t * t).sum(); }, x);
  check_close(s, tg::Dims{}, {14});
  check_close(gs, {3}, {2, 4, 6});

  // A x with v: A^T v.
  Tensor A = tg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kF64);
  auto [ax, atv] = ag::vjp([&](const Tensor& t) { return tg::matmul(A, t); }, x, tg::tensor({1, -1}, {2}, kF64));
  check_close(ax, {2}, {14, 32});
  check_close(atv, {3}, {-3, -3, -3});

  CHECK_THROWS_WITH_AS(ag::vjp([](const Tensor& t) { return t * t; }, x), doctest::Contains("v is needed"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(ag::vjp([](const Tensor& t) { return t * t; }, x, tg::ones({2}, kF64)), doctest::Contains("vjp"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(ag::vjp([](const Tensor& t) { return t; }, tg::ones({2}, {.dtype = tg::kInt64})),
                       doctest::Contains("int64"), tg::DTypeError);
}

// A v of another dtype than its output (vjp) or input (jvp): the error names
// the call the user made, not the tg::grad inside it.
TEST_CASE("vjp and jvp name themselves for a v of the wrong dtype") {
  const Tensor x = tg::tensor({1, 2, 3}, {3}, kF64);
  const Tensor v32 = tg::ones({3});
  CHECK_THROWS_WITH_AS(ag::vjp([](const Tensor& t) { return t * t; }, x, v32),
                       "vjp: v[0] has dtype float32 but output 0 has dtype float64", tg::AutogradError);
  CHECK_THROWS_WITH_AS(ag::jvp([](const Tensor& t) { return t * t; }, x, v32),
                       "jvp: v[0] has dtype float32 but input 0 has dtype float64", tg::AutogradError);
  // The list forms, v[1] wrong; with create_graph too.
  const auto two = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * 2, in[1].to(tg::kFloat32)}; };
  CHECK_THROWS_WITH_AS(ag::vjp(two, {x, x}, {tg::ones({3}, kF64), tg::ones({3}, kF64)}, {.create_graph = true}),
                       "vjp: v[1] has dtype float64 but output 1 has dtype float32", tg::AutogradError);
  CHECK_THROWS_WITH_AS(ag::jvp(two, {x, x}, {tg::ones({3}, kF64), v32}),
                       "jvp: v[1] has dtype float32 but input 1 has dtype float64", tg::AutogradError);
  // Matching dtypes where an output's differs from its input's work.
  auto [outs, g] = ag::vjp(two, {x, x}, {tg::ones({3}, kF64), v32});
  CHECK(g[1].dtype() == tg::kFloat64);
  check_close(g[1], {3}, {1, 1, 1});
  // jacobian and hessian take no v: their own errors name them.
  CHECK_THROWS_WITH_AS(ag::jacobian([](const Tensor& t) { return t.to(tg::kInt64); }, x),
                       doctest::Contains("jacobian: output 0 of the function is int64"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(ag::hessian([](const Tensor& t) { return t.sum().to(tg::kInt64); }, x),
                       doctest::Contains("hessian: output 0 of the function is int64"), tg::DTypeError);
}

TEST_CASE("jvp by the double-vjp trick") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64);
  Tensor u = tg::tensor({1, 0.5, -1}, {3}, kF64);
  auto [y, d] = ag::jvp([](const Tensor& t) { return t * t; }, x, u);
  check_close(y, {3}, {1, 4, 9});
  check_close(d, {3}, {2, 2, -6});  // diag(2x) u

  Tensor A = tg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kF64);
  auto [ax, au] = ag::jvp([&](const Tensor& t) { return tg::matmul(A, t); }, x, u);
  check_close(au, {2}, {-1, 0.5});  // A u

  // Scalar output: the directional derivative 2 x . u.
  auto [s, ds] = ag::jvp([](const Tensor& t) { return (t * t).sum(); }, x, u);
  check_close(ds, tg::Dims{}, {-2});

  // Two inputs: d(xy) = y dx + x dy.
  Tensor y2 = tg::tensor({4, 5, 6}, {3}, kF64);
  auto [outs, tangents] = ag::jvp([](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * in[1]}; },
                                  {x, y2}, {u, tg::ones({3}, kF64)});
  check_close(tangents[0], {3}, {4 + 1, 2.5 + 2, -6 + 3});

  // A single-element input needs no v.
  auto [c, dc] = ag::jvp([](const Tensor& t) { return t * t * t; }, tg::tensor({2}, {1}, kF64));
  check_close(dc, {1}, std::vector<double>{12});  // {12} alone would be the tolerance

  // An output that does not depend on the input has a zero tangent.
  auto [k, dk] = ag::jvp([](const Tensor& t) { return tg::ones({2}, kF64) + t.sum() * 0; }, x, u);
  check_close(dk, {2}, {0, 0});
  CHECK_THROWS_WITH_AS(ag::jvp([](const Tensor& t) { return t * t; }, x), doctest::Contains("v is needed"),
                       tg::ValueError);
}

TEST_CASE("hvp and vhp: Hessian-vector products against hand formulas and the Hessian itself") {
  const Tensor x = tg::tensor({1, 2}, {2}, kF64);
  const Tensor y = tg::tensor({3, 4}, {2}, kF64);
  const Tensor u = tg::tensor({0.5, -1}, {2}, kF64);
  const Tensor w = tg::tensor({2, 3}, {2}, kF64);
  // f = sum(x^2 y): (H v)_x = 2y u + 2x w, (H v)_y = 2x u; H is symmetric, so v^T H is the same.
  const auto f = [](const std::vector<Tensor>& in) { return (in[0] * in[0] * in[1]).sum(); };
  for (const bool create_graph : {false, true}) {
    CAPTURE(create_graph);
    auto [value, hv] = ag::hvp(f, {x, y}, {u, w}, {.create_graph = create_graph});
    check_close(value, tg::Dims{}, {1 * 3 + 4 * 4});
    REQUIRE(hv.size() == 2);
    check_close(hv[0], {2}, {2 * 3 * 0.5 + 2 * 1 * 2, 2 * 4 * -1 + 2 * 2 * 3});
    check_close(hv[1], {2}, {2 * 1 * 0.5, 2 * 2 * -1});
    auto [value2, vh] = ag::vhp(f, {x, y}, {u, w}, {.create_graph = create_graph});
    check_close(vh[0], {2}, hv[0].to_vector<double>());
    check_close(vh[1], {2}, hv[1].to_vector<double>());
    CHECK(value.requires_grad() == create_graph);  // the inputs do not require grad: recorded only with create_graph
  }

  // f = (x . x)^2 in 3 dims: H = 4 (x . x) I + 8 x x^T, against hessian() times v.
  const Tensor a = tg::tensor({0.3, -1.2, 2.0}, {3}, kF64);
  const Tensor v = tg::tensor({1.5, 0.25, -0.75}, {3}, kF64);
  const auto g = [](const Tensor& t) { return (t * t).sum() * (t * t).sum(); };
  const Tensor H = ag::hessian(g, a);
  const Tensor want = tg::matmul(H, v);
  check_close(ag::hvp(g, a, v).second, {3}, want.to_vector<double>());
  check_close(ag::vhp(g, a, v).second, {3}, tg::matmul(v, H).to_vector<double>());
  // By hand for the first entry: 4 (x.x) v_0 + 8 x_0 (x.v).
  const double xx = 0.09 + 1.44 + 4.0, xv = 0.45 - 0.3 - 1.5;
  CHECK(want.to_vector<double>()[0] == doctest::Approx(4 * xx * 1.5 + 8 * 0.3 * xv));

  // A single-element input needs no v: f = t^4, H = 12 t^2.
  auto [c, hc] = ag::hvp([](const Tensor& t) { return (t * t * t * t).sum(); }, tg::tensor({2}, {1}, kF64));
  check_close(hc, {1}, std::vector<double>{48});
}

TEST_CASE("hvp with create_graph is differentiable again; an input that requires grad keeps its history") {
  // f = sum(x^3): H v = 6 x v, whose sum has gradient 6 v with respect to x.
  const Tensor x = tg::tensor({1, -2, 0.5}, {3}, kF64).set_requires_grad(true);
  const Tensor v = tg::tensor({1, 2, 3}, {3}, kF64);
  auto [value, hv] = ag::hvp([](const Tensor& t) { return (t * t * t).sum(); }, x, v, {.create_graph = true});
  check_close(hv, {3}, {6, -24, 9});
  REQUIRE(hv.requires_grad());
  check_close(tg::grad({hv.sum()}, {x})[0], {3}, {6, 12, 18});
  auto [value2, vh] = ag::vhp([](const Tensor& t) { return (t * t * t).sum(); }, x, v, {.create_graph = true});
  check_close(tg::grad({vh.sum()}, {x})[0], {3}, {6, 12, 18});
  // Without create_graph the results are plain tensors.
  CHECK_FALSE(ag::hvp([](const Tensor& t) { return (t * t * t).sum(); }, x, v).second.requires_grad());
}

TEST_CASE("hvp and vhp: independent inputs, strict mode, bad v and bad functions name the call") {
  const Tensor x = tg::tensor({1, 2}, {2}, kF64);
  const Tensor v = tg::ones({2}, kF64);
  // Linear in x: a zero Hessian, or an error with strict.
  for (const char* op : {"hvp", "vhp"}) {
    CAPTURE(op);
    const auto call = [&](const ag::TensorFunction& fn, const Tensor& vec, ag::FunctionalOptions o) {
      return std::string(op) == "hvp" ? ag::hvp(fn, x, vec, o) : ag::vhp(fn, x, vec, o);
    };
    check_close(call([](const Tensor& t) { return t.sum() * 3; }, v, {}).second, {2}, {0, 0});
    CHECK_THROWS_WITH_AS(
        call([](const Tensor& t) { return t.sum() * 3; }, v, {.strict = true}),
        doctest::Contains((std::string(op) + ": the Hessian of the function is independent of input 0").c_str()),
        tg::AutogradError);
    // Not depending on x at all: zeros, or strict's first-order error.
    check_close(call([](const Tensor&) { return tg::ones({}, kF64); }, v, {}).second, {2}, {0, 0});
    CHECK_THROWS_WITH_AS(
        call([](const Tensor&) { return tg::ones({}, kF64); }, v, {.strict = true}),
        doctest::Contains((std::string(op) + ": output 0 of the function does not depend on input 0").c_str()),
        tg::AutogradError);
    CHECK_THROWS_WITH_AS(
        call([](const Tensor& t) { return t * t; }, v, {}),
        doctest::Contains((std::string(op) + ": the function must return a single-element tensor").c_str()),
        tg::ShapeError);
    CHECK_THROWS_WITH_AS(call([](const Tensor& t) { return (t * t).sum(); }, tg::ones({3}, kF64), {}),
                         (std::string(op) + ": v[0] has shape [3] but input 0 has shape [2]").c_str(), tg::ShapeError);
    CHECK_THROWS_WITH_AS(call([](const Tensor& t) { return (t * t).sum(); }, tg::ones({2}), {}),
                         (std::string(op) + ": v[0] has dtype float32 but input 0 has dtype float64").c_str(),
                         tg::AutogradError);
    CHECK_THROWS_WITH_AS(call([](const Tensor& t) { return (t * t).sum(); }, Tensor(), {}),
                         doctest::Contains((std::string(op) + ": v is needed for input 0").c_str()), tg::ValueError);
    CHECK_THROWS_WITH_AS(call(ag::TensorFunction(), v, {}), (std::string(op) + ": the function is empty").c_str(),
                         tg::ValueError);
  }
  CHECK_THROWS_WITH_AS(ag::hvp([](const std::vector<Tensor>& in) { return in[0].sum(); }, {x, x}, {v}),
                       "hvp: 2 inputs but v has 1 tensors", tg::ValueError);
  CHECK_THROWS_WITH_AS(ag::vhp(ag::ScalarListFunction(), {x}, {v}), "vhp: the function is empty", tg::ValueError);
}

// An empty std::function threw std::bad_function_call, which names neither
// the call nor the argument; each form is checked, as the one-tensor forms
// wrap the function into a list form's.
TEST_CASE("jacobian, hessian, vjp and jvp refuse an empty function by name") {
  const Tensor x = tg::ones({2}, {.dtype = tg::kFloat64});
  const std::vector<Tensor> xs{x};
  CHECK_THROWS_WITH_AS(ag::jacobian(ag::TensorFunction(), x), "jacobian: the function is empty", tg::ValueError);
  CHECK_THROWS_WITH_AS(ag::jacobian(ag::TensorListFunction(), xs), "jacobian: the function is empty", tg::ValueError);
  CHECK_THROWS_WITH_AS(ag::hessian(ag::TensorFunction(), x), "hessian: the function is empty", tg::ValueError);
  CHECK_THROWS_WITH_AS(ag::hessian(ag::ScalarListFunction(), xs), "hessian: the function is empty", tg::ValueError);
  CHECK_THROWS_WITH_AS(ag::vjp(ag::TensorFunction(), x), "vjp: the function is empty", tg::ValueError);
  CHECK_THROWS_WITH_AS(ag::vjp(ag::TensorListFunction(), xs), "vjp: the function is empty", tg::ValueError);
  CHECK_THROWS_WITH_AS(ag::jvp(ag::TensorFunction(), x, x), "jvp: the function is empty", tg::ValueError);
  CHECK_THROWS_WITH_AS(ag::jvp(ag::TensorListFunction(), xs, xs), "jvp: the function is empty", tg::ValueError);
}

// logcumsumexp's backward masked dy by its sign, so its derivative in dy
// was 0 wherever dy was exactly 0: jvp (whose dummy gradient is all zeros)
// gave [0, 0, 0, 0], and the hvp of a Cox partial likelihood (a censored
// row's gradient is 0) gave [1.766, 0.761, -0.344, 0.254] (a helper's hunt;
// PyTorch 1.13 gives NaN for both). Checked against the Jacobian and against
// central differences of the gradient.
TEST_CASE("jvp and hvp through logcumsumexp, whose backward sees gradients of exactly 0") {
  const tg::TensorOptions f64{.dtype = tg::kFloat64};
  const Tensor x = tg::tensor({0.5, -0.2, -0.3, 1.2}, {4}, f64), v = tg::tensor({1.0, 2.0, -1.0, 0.5}, {4}, f64);
  const auto lcse = [](const Tensor& t) { return tg::logcumsumexp(t, 0); };
  check_close(ag::jvp(lcse, x, v).second, tg::matmul(ag::jacobian(lcse, x), v), 1e-12);

  const Tensor events = tg::tensor({1.0, 0.0, 1.0, 1.0}, {4}, f64);
  const auto nll = [&](const Tensor& eta) { return -(events * (eta - tg::logcumsumexp(eta, 0))).sum(); };
  const auto gradient = [&](const Tensor& at) {
    Tensor leaf = at.detach().set_requires_grad();
    return tg::grad(nll(leaf), leaf)[0].detach();
  };
  const double h = 1e-6;
  const Tensor numeric = (gradient(x + h * v) - gradient(x - h * v)) / (2 * h);
  check_close(ag::hvp(nll, x, v).second, numeric, 1e-7);
  check_close(tg::matmul(ag::hessian(nll, x), v), numeric, 1e-7);
  // The Hessian of (logcumsumexp(x) * x).sum() is symmetric (it was not).
  const Tensor at = tg::tensor({0.5, 0.0, -0.3, 1.2}, {4}, f64);
  const Tensor hess = ag::hessian([](const Tensor& t) { return (tg::logcumsumexp(t, 0) * t).sum(); }, at);
  check_close(hess, hess.t(), 1e-12);
  // A masked (-inf) first element, where y is -inf: the zero-valued term
  // masks that entry and stays finite (a first version fell back to the
  // masked formula there, with dy detached, and lost every derivative in
  // dy). dy is 0 at element 1. Central differences of the gradient.
  const Tensor masked = tg::tensor({-std::numeric_limits<double>::infinity(), 0.0, -0.3, 1.2}, {4}, f64);
  const auto tail = [](const Tensor& t) {
    const Tensor rest = t.narrow(0, 1, 3);
    return (tg::logcumsumexp(t, 0).narrow(0, 1, 3) * rest).sum();
  };
  const Tensor hm = ag::hessian(tail, masked);
  const auto tail_grad = [&](const Tensor& p) {
    Tensor leaf = p.detach().set_requires_grad();
    return tg::grad(tail(leaf), leaf)[0].detach().narrow(0, 1, 3);
  };
  for (std::int64_t j = 1; j < 4; ++j) {
    CAPTURE(j);
    const Tensor e = tg::zeros({4}, f64).index_fill(0, tg::tensor({j}), 1.0);
    const Tensor column = (tail_grad(masked + h * e) - tail_grad(masked - h * e)) / (2 * h);
    check_close(hm.select(1, j).narrow(0, 1, 3), column, 1e-7);
  }
  // First-order gradients are unchanged: the same bits with and without create_graph.
  Tensor leaf = at.detach().set_requires_grad();
  const Tensor seed = tg::tensor({1.0, 0.0, -2.0, 0.0}, {4}, f64);
  const Tensor plain = tg::grad({tg::logcumsumexp(leaf, 0)}, {leaf}, {seed})[0];
  const Tensor recorded = tg::grad({tg::logcumsumexp(leaf, 0)}, {leaf}, {seed}, {.create_graph = true})[0];
  CHECK(tg::equal(plain, recorded.detach()));
}

// relu's backward (and leaky_relu's, clamp's) recorded only dy, so under
// create_graph a Hessian of a ReLU function did not require grad: strict mode
// refused it and differentiating it again threw. PyTorch's threshold_backward
// records its input with a zero derivative: the Hessian requires grad, and
// its own gradient is zeros.
TEST_CASE("Hessians through relu, leaky_relu, hardtanh and relu6 are differentiable again, to zeros") {
  const tg::TensorOptions f64{.dtype = tg::kFloat64};
  const Tensor x = tg::tensor({-1.5, 0.5, 2.0, -0.25}, {4}, f64), v = tg::tensor({1.0, -2.0, 0.5, 3.0}, {4}, f64);
  using Act = Tensor (*)(const Tensor&);
  const std::vector<std::pair<const char*, Act>> acts = {
      {"relu", [](const Tensor& t) { return tg::relu(t); }},
      {"leaky_relu", [](const Tensor& t) { return tg::leaky_relu(t, 0.1); }},
      {"hardtanh", [](const Tensor& t) { return tg::hardtanh(t, -1.0, 1.0); }},
      {"relu6", [](const Tensor& t) { return tg::relu6(t * 4.0); }},
      {"hardsigmoid", [](const Tensor& t) { return tg::hardsigmoid(t * 2.0); }},
  };
  for (const auto& entry : acts) {
    const std::string name = entry.first;  // not a structured binding: Clang 14 cannot capture one
    const Act act = entry.second;
    CAPTURE(name);
    const auto f = [act](const Tensor& t) {
      const Tensor a = act(t);
      return (a * a).sum();
    };
    const Tensor hv = ag::hvp(f, x, v, {.create_graph = true, .strict = true}).second;
    CHECK(hv.requires_grad());
    const Tensor plain = ag::hvp(f, x, v).second;
    check_close(hv.detach(), plain, 0);
    Tensor leaf = x.detach().set_requires_grad();
    const Tensor third = tg::grad(ag::hvp(f, leaf, v, {.create_graph = true}).second.sum(), leaf)[0];
    check_close(third, {0, 0, 0, 0}, 0);
  }
}

}  // namespace test_functional
