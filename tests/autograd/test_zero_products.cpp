// Derivatives of every order of cumprod and prod where their input has
// zeros, against the same products written as chains of multiplications
// (whose derivatives are exact at every order). gradgradcheck cannot see a
// wrong third derivative: cumprod lost terms through two zeros ([1, 2, 1] for
// [2, 2, 2] at x = [0, 2, 0]) and prod through three ([0, 0, 0, 0] for
// [4, 4, 4, 0] at [0, 0, 0, 2]).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/linalg.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/random.h>

#include "support/close.h"

namespace test_zero_products {

using tg::Tensor;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};

// cumprod along d as y_k = y_{k-1} * x_k.
Tensor cumprod_by_muls(const Tensor& x, std::int64_t d) {
  std::vector<Tensor> ys{tg::narrow(x, d, 0, 1)};
  for (std::int64_t k = 1; k < x.size(d); ++k) ys.push_back(tg::mul(ys.back(), tg::narrow(x, d, k, 1)));
  return tg::cat(ys, d);
}

// The product over dims, one multiplication at a time.
Tensor prod_by_muls(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Tensor y = x;
  for (const auto d : dims) {
    Tensor acc = tg::narrow(y, d, 0, 1);
    for (std::int64_t k = 1; k < y.size(d); ++k) acc = tg::mul(acc, tg::narrow(y, d, k, 1));
    y = acc;
  }
  if (!keepdim)
    for (auto it = dims.rbegin(); it != dims.rend(); ++it) y = tg::squeeze(y, *it);
  return y;
}

// Derivatives of orders 1..order of f at x, each contracted with fixed
// random weights (so that no order is a symmetric sum that hides a lost
// term): g1 = d f/dx, g_{r+1} = d (sum v_r * g_r)/dx.
std::vector<Tensor> derivatives(const std::function<Tensor(const Tensor&)>& f, const Tensor& x0, int order) {
  Tensor x = x0.detach().set_requires_grad(true);
  tg::manual_seed(11);
  std::vector<Tensor> out;
  Tensor y = tg::sum(tg::mul(f(x), tg::randn(f(x0).shape(), kF64)));
  for (int r = 1; r <= order; ++r) {
    const bool more = r < order;
    Tensor g = tg::grad({y}, {x}, {}, {.create_graph = more, .allow_unused = true})[0];
    if (!g.defined()) g = tg::zeros_like(x);
    out.push_back(g.detach());
    if (more) y = tg::sum(tg::mul(g, tg::randn(x.shape(), kF64)));
    if (more && !y.requires_grad()) {  // the rest are 0
      for (int rest = r + 1; rest <= order; ++rest) out.push_back(tg::zeros_like(x));
      break;
    }
  }
  return out;
}

void check_same(const std::vector<Tensor>& got, const std::vector<Tensor>& want, const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t r = 0; r < got.size(); ++r) {
    CAPTURE(what);
    CAPTURE(r + 1);
    tg_test::check_close(got[r], want[r].to_vector<double>(), 1e-12);
  }
}

// Rows of five with 0 to 5 zeros in several places.
Tensor zero_patterns() {
  return tg::tensor({0, 2,  0, 1.5, -1, 1.5, 0, -2, 0, 3,   0,  0, 0, 2, 1, 2, 3, 0, 0, 0, 0,    0, 0, 0,   0,
                     1, -2, 3, 0.5, 2,  0,   1, 2,  3, 0.5, -1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1.25, 0, 1, 0.5, 0},
                    {10, 5}, kF64);
}

}  // namespace

TEST_CASE("cumprod: derivatives up to the fourth are exact where x has zeros") {
  const Tensor x = zero_patterns();
  for (const std::int64_t d : {0, 1}) {
    check_same(derivatives([d](const Tensor& t) { return tg::cumprod(t, d); }, x, 4),
               derivatives([d](const Tensor& t) { return cumprod_by_muls(t, d); }, x, 4), fmt::format("dim {}", d));
  }
  // Transposed, strided and broadcast inputs.
  check_same(derivatives([](const Tensor& t) { return tg::cumprod(tg::transpose(t, 0, 1), 1); }, x, 3),
             derivatives([](const Tensor& t) { return cumprod_by_muls(tg::transpose(t, 0, 1), 1); }, x, 3),
             "transposed");
  check_same(
      derivatives([](const Tensor& t) { return tg::cumprod(tg::narrow(t, 1, 0, 5).slice(0, 0, 10, 2), 1); }, x, 3),
      derivatives([](const Tensor& t) { return cumprod_by_muls(tg::narrow(t, 1, 0, 5).slice(0, 0, 10, 2), 1); }, x, 3),
      "strided");
  const Tensor row = tg::tensor({0, 2, 0, 0}, {1, 4}, kF64);
  check_same(derivatives(
                 [](const Tensor& t) {
                   return tg::cumprod(tg::expand(t, {3, 4}), 1);
                 },
                 row, 4),
             derivatives(
                 [](const Tensor& t) {
                   return cumprod_by_muls(tg::expand(t, {3, 4}), 1);
                 },
                 row, 4),
             "expanded");
  // The first derivative with create_graph is the one without, also where a
  // product overflows past a zero and where x holds NaN or inf.
  for (const std::vector<double>& values :
       {std::vector<double>{0, 1e200, 1e200, 1e200}, std::vector<double>{0, 2, std::nan(""), 3},
        std::vector<double>{2, 0, std::numeric_limits<double>::infinity(), 1}}) {
    CAPTURE(values);
    Tensor xs = tg::tensor(values, {4}, kF64).set_requires_grad(true);
    const Tensor plain = tg::grad({tg::sum(tg::cumprod(xs, 0))}, {xs})[0];
    const Tensor graphed = tg::grad({tg::sum(tg::cumprod(xs, 0))}, {xs}, {}, {.create_graph = true})[0];
    const auto a = plain.to_vector<double>(), b = graphed.to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) {
      CAPTURE(i);
      CAPTURE(a[i]);
      CAPTURE(b[i]);
      CHECK((a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))));
    }
  }
  // The case reported: sum(cumprod) at [0, 2, 0], third derivative [2, 2, 2].
  Tensor v = tg::tensor({0, 2, 0}, {3}, kF64).set_requires_grad(true);
  Tensor g1 = tg::grad({tg::sum(tg::cumprod(v, 0))}, {v}, {}, {.create_graph = true})[0];
  Tensor g2 = tg::grad({tg::sum(g1)}, {v}, {}, {.create_graph = true})[0];
  tg_test::check_close(tg::grad({tg::sum(g2)}, {v})[0], {2, 2, 2}, 0);
}

TEST_CASE("prod: derivatives up to the fourth are exact where x has three zeros or more") {
  const Tensor x = zero_patterns();
  check_same(derivatives([](const Tensor& t) { return tg::prod(t, 1); }, x, 4),
             derivatives([](const Tensor& t) { return prod_by_muls(t, {1}, false); }, x, 4), "dim 1");
  check_same(derivatives([](const Tensor& t) { return tg::prod(t, 0, true); }, x, 3),
             derivatives([](const Tensor& t) { return prod_by_muls(t, {0}, true); }, x, 3), "dim 0, keepdim");
  // A 3-D input, over its middle dim and over all of it.
  const Tensor cube = tg::reshape(tg::narrow(tg::reshape(zero_patterns(), {50}), 0, 0, 24), {2, 3, 4});
  check_same(derivatives([](const Tensor& t) { return tg::prod(t, 1); }, cube, 3),
             derivatives([](const Tensor& t) { return prod_by_muls(t, {1}, false); }, cube, 3), "3-D, dim 1");
  check_same(derivatives([](const Tensor& t) { return tg::prod(t); }, cube, 3),
             derivatives([](const Tensor& t) { return prod_by_muls(tg::reshape(t, {24}), {0}, false); }, cube, 3),
             "3-D, all");
  const Tensor small = tg::tensor({0, 0, 0, 2, 3, 0.5}, {2, 3}, kF64);
  check_same(derivatives([](const Tensor& t) { return tg::prod(t); }, small, 4),
             derivatives([](const Tensor& t) { return prod_by_muls(tg::reshape(t, {6}), {0}, false); }, small, 4),
             "all");
  check_same(derivatives([](const Tensor& t) { return tg::prod(tg::transpose(t, 0, 1), 1); }, x, 3),
             derivatives([](const Tensor& t) { return prod_by_muls(tg::transpose(t, 0, 1), {1}, false); }, x, 3),
             "transposed");
  // The case reported: prod at [0, 0, 0, 2], third derivative [4, 4, 4, 0].
  Tensor y = tg::tensor({0, 0, 0, 2}, {4}, kF64).set_requires_grad(true);
  Tensor h1 = tg::grad({tg::prod(y)}, {y}, {}, {.create_graph = true})[0];
  Tensor h2 = tg::grad({tg::sum(h1)}, {y}, {}, {.create_graph = true})[0];
  tg_test::check_close(tg::grad({tg::sum(h2)}, {y})[0], {4, 4, 4, 0}, 0);
}

namespace {

// det of 2x2 and 3x3 matrices [..., n, n] by the Leibniz formula.
Tensor det_by_muls(const Tensor& A) {
  const auto a = [&](int i, int j) { return tg::select(tg::select(A, -2, i), -1, j); };
  if (A.size(-1) == 2) return tg::sub(tg::mul(a(0, 0), a(1, 1)), tg::mul(a(0, 1), a(1, 0)));
  Tensor y = tg::zeros_like(a(0, 0));
  const int perms[6][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}};
  for (int p = 0; p < 6; ++p) {
    const Tensor term = tg::mul(tg::mul(a(0, perms[p][0]), a(1, perms[p][1])), a(2, perms[p][2]));
    y = p < 3 ? tg::add(y, term) : tg::sub(y, term);
  }
  return y;
}

}  // namespace

TEST_CASE("linalg::det: derivatives up to the fourth are exact at singular matrices") {
  const auto det = [](const Tensor& t) { return tg::linalg::det(t); };
  const Tensor rank1_2x2 = tg::tensor({1, 2, 2, 4}, {2, 2}, kF64);
  check_same(derivatives(det, rank1_2x2, 4), derivatives(det_by_muls, rank1_2x2, 4), "2x2 of rank 1");
  const Tensor rank2 = tg::tensor({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3}, kF64);
  check_same(derivatives(det, rank2, 4), derivatives(det_by_muls, rank2, 4), "3x3 of rank 2");
  const Tensor rank1 = tg::tensor({1, -2, 0.5, 2, -4, 1, -3, 6, -1.5}, {3, 3}, kF64);
  check_same(derivatives(det, rank1, 4), derivatives(det_by_muls, rank1, 4), "3x3 of rank 1");
  const Tensor zero = tg::zeros({3, 3}, kF64);
  check_same(derivatives(det, zero, 4), derivatives(det_by_muls, zero, 4), "3x3 zero");
  // A batch with one singular matrix, and the transpose of one.
  const Tensor batch = tg::stack({rank2, tg::tensor({2, 1, 0, 1, 3, 1, 0, 1, 4}, {3, 3}, kF64)});
  check_same(derivatives(det, batch, 3), derivatives(det_by_muls, batch, 3), "batch");
  check_same(derivatives([](const Tensor& t) { return tg::linalg::det(tg::transpose(t, 0, 1)); }, rank2, 3),
             derivatives([](const Tensor& t) { return det_by_muls(tg::transpose(t, 0, 1)); }, rank2, 3), "transposed");
  // The gradient's value with create_graph is the SVD's, as without: the
  // polynomial's rounding left about 1 where the cofactor of a float32 8x8
  // of rank 6 is 0.
  tg::manual_seed(4);
  const Tensor low_rank = tg::matmul(tg::randn({8, 6}), tg::randn({6, 8})) * 10;
  Tensor L = low_rank.detach().set_requires_grad(true);
  const Tensor g_plain = tg::grad({tg::linalg::det(L)}, {L})[0];
  const Tensor g_graphed = tg::grad({tg::linalg::det(L)}, {L}, {}, {.create_graph = true})[0];
  CHECK(tg::equal(g_plain, g_graphed));
  // The case reported: third derivative of a 2x2 det contracted with W, 0.
  Tensor A = tg::tensor({1, 2, 2, 4}, {2, 2}, kF64).set_requires_grad(true);
  const Tensor W = tg::tensor({1, 2, 3, 4}, {2, 2}, kF64);
  Tensor g1 = tg::grad({tg::linalg::det(A)}, {A}, {}, {.create_graph = true})[0];
  Tensor g2 = tg::grad({tg::sum(tg::mul(g1, W))}, {A}, {}, {.create_graph = true})[0];
  // The second derivative of a 2x2 det is constant: the third is 0.
  tg_test::check_close(g2, {4, -3, -2, 1}, 1e-14);
  // (With nothing recorded, g2 is a constant and its derivative is 0.)
  const Tensor g3 =
      g2.requires_grad() ? tg::grad({tg::sum(tg::mul(g2, W))}, {A}, {}, {.allow_unused = true})[0] : Tensor();
  tg_test::check_close(g3.defined() ? g3 : tg::zeros_like(A), {0, 0, 0, 0}, 1e-14);
}

}  // namespace test_zero_products
