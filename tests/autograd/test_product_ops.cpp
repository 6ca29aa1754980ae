// bmm, baddbmm, addbmm, mv, addmv, dot, vdot, outer, kron, tensordot and
// einsum (issue 14) against PyTorch: tests/reference/product_ops.json, written
// by tests/reference/make_product_ops.py (torch 1.13), holds each case's
// inputs, output and input gradients of sum(y * w), w = 1, 2, 3, ... Then
// einsum's GEMM path, its errors, and beta == 0.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/core/random.h>

#include "support/op_reference.h"
#include "tg_error_check.h"

namespace test_product_ops {

using tg::Dims;
using tg::Tensor;
using tg_test::check_close;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs case `name` of product_ops.json: its inputs (float64 leaves), fn's
// output against PyTorch's, and each input's gradient of sum(y * w).
void check_case(const std::string& name, const Fn& fn) {
  CAPTURE(name);
  const auto& cases = tg_test::reference_file("product_ops.json").at("cases");
  REQUIRE(cases.contains(name));
  const auto& want = cases.at(name);
  std::vector<Tensor> inputs;
  for (const auto& in : want.at("inputs"))
    inputs.push_back(
        tg_test::leaf(tg_test::numbers(in.at("values")), Dims(in.at("shape").get<std::vector<std::int64_t>>())));
  const Tensor y = fn(inputs);
  CHECK(y.shape() == Dims(want.at("shape").get<std::vector<std::int64_t>>()));
  check_close(y.to_vector<double>(), tg_test::numbers(want.at("values")), 1e-10);
  if (y.numel() == 0) return;
  const Tensor w = tg::arange(1, static_cast<double>(y.numel() + 1), 1, {.dtype = tg::kFloat64}).reshape(y.shape());
  (y * w).sum().backward();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(i);
    const auto expected = tg_test::numbers(want.at("grads").at(i));
    if (inputs[i].grad().defined()) check_close(inputs[i].grad().to_vector<double>(), expected, 1e-10);
    else
      for (double g : expected) CHECK(g == 0);
  }
}

Tensor ones64(Dims shape) { return tg::ones(shape, {.dtype = tg::kFloat64}); }

}  // namespace

TEST_CASE("bmm, baddbmm, addbmm, mv, addmv, dot, vdot and outer match PyTorch") {
  check_case("bmm", [](const auto& x) { return tg::bmm(x[0], x[1]); });
  check_case("bmm_zero_batch", [](const auto& x) { return tg::bmm(x[0], x[1]); });
  check_case("bmm_zero_inner", [](const auto& x) { return tg::bmm(x[0], x[1]); });
  check_case("baddbmm", [](const auto& x) { return tg::baddbmm(x[0], x[1], x[2]); });
  check_case("baddbmm_broadcast_beta_alpha", [](const auto& x) { return tg::baddbmm(x[0], x[1], x[2], 0.5, -2); });
  check_case("addbmm", [](const auto& x) { return tg::addbmm(x[0], x[1], x[2]); });
  check_case("addbmm_broadcast_beta_alpha", [](const auto& x) { return tg::addbmm(x[0], x[1], x[2], -1.5, 0.25); });
  check_case("mv", [](const auto& x) { return tg::mv(x[0], x[1]); });
  check_case("addmv", [](const auto& x) { return tg::addmv(x[0], x[1], x[2]); });
  check_case("addmv_scalar_input_beta_alpha", [](const auto& x) { return tg::addmv(x[0], x[1], x[2], 2, 0.5); });
  check_case("dot", [](const auto& x) { return tg::dot(x[0], x[1]); });
  check_case("vdot", [](const auto& x) { return tg::vdot(x[0], x[1]); });
  check_case("outer", [](const auto& x) { return tg::outer(x[0], x[1]); });
}

TEST_CASE("kron and tensordot match PyTorch") {
  check_case("kron_2d", [](const auto& x) { return tg::kron(x[0], x[1]); });
  check_case("kron_mixed_rank", [](const auto& x) { return tg::kron(x[0], x[1]); });
  check_case("kron_3d", [](const auto& x) { return tg::kron(x[0], x[1]); });
  check_case("tensordot_2", [](const auto& x) { return tg::tensordot(x[0], x[1], 2); });
  check_case("tensordot_0", [](const auto& x) { return tg::tensordot(x[0], x[1], 0); });
  check_case("tensordot_lists", [](const auto& x) { return tg::tensordot(x[0], x[1], {0, 2}, {1, 0}); });
}

TEST_CASE("einsum matches PyTorch on every equation of the reference file") {
  const auto& cases = tg_test::reference_file("product_ops.json").at("cases");
  int n = 0;
  for (const auto& [name, c] : cases.items()) {
    if (!c.contains("equation")) continue;
    const std::string equation = c.at("equation").get<std::string>();
    check_case(name, [&equation](const auto& x) { return tg::einsum(equation, x); });
    ++n;
  }
  CHECK(n >= 25);
}

TEST_CASE("einsum contracts through GEMM, one call per batch, never elementwise loops over all labels") {
  const Tensor a = tg::randn({2, 16, 32}), b = tg::randn({2, 32, 8});
  auto before = tg::kernel::gemm_stats().calls;
  const Tensor y = tg::einsum("bij,bjk->bik", {a, b});
  CHECK(tg::kernel::gemm_stats().calls - before == 2);
  check_close(y, tg::bmm(a, b), 1e-6);
  // A chain contracts left to right: two products, one GEMM each.
  const Tensor m1 = tg::randn({8, 16}), m2 = tg::randn({16, 4}), m3 = tg::randn({4, 5});
  before = tg::kernel::gemm_stats().calls;
  const Tensor chain = tg::einsum("ij,jk,kl->il", {m1, m2, m3});
  CHECK(tg::kernel::gemm_stats().calls - before == 2);
  check_close(chain, tg::mm(tg::mm(m1, m2), m3), 1e-5);
}

TEST_CASE("einsum gradients and second derivatives in float64") {
  tg::Generator gen(5);
  auto leaf = [&gen](Dims s) { return tg::randn(s, {.dtype = tg::kFloat64}, &gen).set_requires_grad(true); };
  for (const auto& [eq, shapes] :
       std::vector<std::pair<std::string, std::vector<Dims>>>{{"ii->i", {{3, 3}}},
                                                              {"bij,bjk->bik", {{2, 3, 2}, {2, 2, 3}}},
                                                              {"...ij,...jk", {{2, 3, 2}, {2, 4}}},
                                                              {"ij,ij->i", {{3, 1}, {3, 4}}},
                                                              {"ij,jk,kl->il", {{2, 3}, {3, 2}, {2, 2}}}}) {
    std::vector<Tensor> in;
    for (const auto& s : shapes) in.push_back(leaf(s));
    const std::string equation = eq;
    CAPTURE(equation);
    auto fn = [equation](const std::vector<Tensor>& x) { return std::vector<Tensor>{tg::einsum(equation, x)}; };
    CHECK(tg::gradcheck(fn, in));
    CHECK(tg::gradgradcheck(fn, in));
  }
}

TEST_CASE("einsum refuses bad equations with a tg::Error naming einsum and the equation") {
  const Tensor m = ones64({2, 3}), v = ones64({3});
  struct Bad {
    std::string eq;
    std::vector<Tensor> operands;
    bool shape;  // ShapeError, else ValueError
  };
  const std::vector<Bad> bad = {
      {"ij,jk->ik", {m}, false},                              // too few operands
      {"ij", {m, v}, false},                                  // too many
      {"i$,j", {m, v}, false},                                // not a letter
      {"i..j", {m}, false},                                   // a broken ellipsis
      {"...i...,j", {m, v}, false},                           // two ellipses
      {"ij->k", {m}, false},                                  // an output label from nowhere
      {"ij->ii", {m}, false},                                 // a repeated output label
      {"ij->i->j", {m}, false},                               // two arrows
      {"ijk", {m}, true},                                     // more subscripts than dims
      {"i", {m}, true},                                       // fewer, without an ellipsis
      {"ij,ij->ij", {m, ones64({3, 2})}, true},               // sizes of a label disagree
      {"ii", {m}, true},                                      // a diagonal of a non-square
      {"...i,...i", {ones64({2, 3}), ones64({4, 3})}, true},  // ellipsis dims do not broadcast
  };
  for (const auto& b : bad) {
    const std::string eq = b.eq;
    CAPTURE(eq);
    const std::string msg =
        b.shape ? tg_test::require_tg_error<tg::ShapeError>([&] { tg::einsum(b.eq, b.operands); }, "einsum")
                : tg_test::require_tg_error<tg::ValueError>([&] { tg::einsum(b.eq, b.operands); }, "einsum");
    CHECK(msg.find("einsum(\"" + b.eq + "\")") != std::string::npos);
  }
  tg_test::require_tg_error<tg::ValueError>([] { tg::einsum("", {}); }, "no operands");
  const std::string mixed = tg_test::require_tg_error<tg::DTypeError>(
      [] {
        tg::einsum("i,i", {tg::ones({2}), tg::ones({2}, {.dtype = tg::kFloat64})});
      },
      "mixed dtypes");
  CHECK(mixed.find("einsum") != std::string::npos);
}

TEST_CASE("the products refuse bad shapes and dtypes naming the op") {
  const Tensor a = ones64({2, 3, 4});
  CHECK(tg_test::require_tg_error<tg::ShapeError>(
            [&] {
              tg::bmm(a, ones64({3, 4, 5}));
            },
            "bmm batch")
            .find("bmm") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ShapeError>(
            [&] {
              tg::bmm(a, ones64({2, 3, 5}));
            },
            "bmm inner")
            .find("bmm") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ShapeError>(
            [&] {
              tg::bmm(ones64({3, 4}), ones64({4, 5}));
            },
            "bmm 2-D")
            .find("bmm") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::DTypeError>(
            [&] {
              tg::bmm(a, tg::ones({2, 4, 5}));
            },
            "bmm dtypes")
            .find("bmm") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ShapeError>(
            [&] {
              tg::baddbmm(ones64({3, 3}), a, ones64({2, 4, 5}));
            },
            "baddbmm input")
            .find("baddbmm") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ShapeError>(
            [&] {
              tg::addbmm(ones64({3, 5}), a, ones64({3, 4, 5}));
            },
            "addbmm batches")
            .find("addbmm") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ShapeError>(
            [&] {
              tg::mv(ones64({2, 3}), ones64({4}));
            },
            "mv")
            .find("mv") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ShapeError>(
            [&] {
              tg::addmv(ones64({3}), ones64({2, 3}), ones64({3}));
            },
            "addmv input")
            .find("addmv") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ShapeError>([&] { tg::vdot(ones64({2}), ones64({3})); }, "vdot").find("vdot") !=
        std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ShapeError>(
            [&] {
              tg::tensordot(a, ones64({4, 3}), 2);
            },
            "tensordot sizes")
            .find("tensordot") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::IndexError>([&] { tg::tensordot(a, a, {3}, {0}); }, "tensordot dim")
            .find("tensordot") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ValueError>(
            [&] {
              tg::tensordot(a, a, {0, 0}, {0, 1});
            },
            "tensordot twice")
            .find("tensordot") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ValueError>([&] { tg::tensordot(a, a, 4); }, "tensordot too many")
            .find("tensordot") != std::string::npos);
}

TEST_CASE("baddbmm, addbmm and addmv with beta = 0 ignore input, NaN included, as PyTorch") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor a = ones64({2, 2, 3}), b = ones64({2, 3, 2});
  for (const Tensor& y : {tg::baddbmm(tg::full({2, 2, 2}, nan, {.dtype = tg::kFloat64}), a, b, 0, 2),
                          tg::addbmm(tg::full({2, 2}, nan, {.dtype = tg::kFloat64}), a, b, 0, 1),
                          tg::addmv(tg::full({2}, nan, {.dtype = tg::kFloat64}), ones64({2, 3}), ones64({3}), 0, 1)})
    for (double v : y.to_vector<double>()) CHECK(std::isfinite(v));
}

TEST_CASE("baddbmm, addbmm and addmv with beta = 0 keep input in the graph with a zero gradient, as addmm") {
  // PyTorch's gradient for input is beta * dy: zeros, not "unused". An input
  // that alone requires grad still makes the result require grad.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor a = ones64({2, 2, 3}), b = ones64({2, 3, 2});
  using Product = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<Tensor, Product>> cases{
      {tg::full({2, 1, 2}, nan, {.dtype = tg::kFloat64}),
       [&](const Tensor& in) { return tg::baddbmm(in, a, b, 0, 2); }},
      {tg::full({2, 2}, nan, {.dtype = tg::kFloat64}), [&](const Tensor& in) { return tg::addbmm(in, a, b, 0, 1); }},
      {tg::full({2}, nan, {.dtype = tg::kFloat64}),
       [&](const Tensor& in) {
         return tg::addmv(in, ones64({2, 3}), ones64({3}), 0, 1);
       }},
      {tg::full({2, 2}, nan, {.dtype = tg::kFloat64}),
       [&](const Tensor& in) {
         return tg::addmm(in, ones64({2, 3}), ones64({3, 2}), 0, 1);
       }},
  };
  for (const auto& c : cases) {
    const Tensor input = c.first.clone().set_requires_grad(true);
    const Tensor y = c.second(input);
    CHECK(y.requires_grad());
    for (double v : y.to_vector<double>()) CHECK(std::isfinite(v));
    const std::vector<Tensor> g = tg::grad({y.sum()}, {input}, {}, {.retain_graph = true});
    REQUIRE(g[0].defined());
    CHECK(g[0].shape() == input.shape());
    for (double v : g[0].to_vector<double>()) CHECK(v == 0);
    y.sum().backward();
    REQUIRE(input.grad().defined());
    for (double v : input.grad().to_vector<double>()) CHECK(v == 0);
  }
  // The result is the scaled product itself, bit for bit, whether or not
  // input requires grad (nothing is added to it).
  const Tensor x = tg::randn({2, 2, 3}, {.dtype = tg::kFloat64}), z = tg::randn({2, 3, 2}, {.dtype = tg::kFloat64});
  const Tensor want = tg::mul(tg::bmm(x, z), 3.0);
  CHECK(tg::equal(tg::baddbmm(ones64({2, 2, 2}).set_requires_grad(true), x, z, 0, 3), want));
  CHECK(tg::equal(tg::baddbmm(ones64({2, 2, 2}), x, z, 0, 3), want));
}

TEST_CASE("the products accept int64 as the GEMM layer does") {
  const Tensor a = tg::arange(0, 12, 1, {.dtype = tg::kInt64}).reshape({2, 2, 3});
  const Tensor b = tg::arange(0, 12, 1, {.dtype = tg::kInt64}).reshape({2, 3, 2});
  const Tensor y = tg::einsum("bij,bjk->bik", {a, b});
  CHECK(y.dtype() == tg::kInt64);
  CHECK(y.to_vector<double>() == tg::bmm(a, b).to_vector<double>());
  CHECK(tg::kron(a, b).dtype() == tg::kInt64);
}

}  // namespace test_product_ops
