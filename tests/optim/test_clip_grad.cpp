// Gradient clipping (tg::nn::utils) against norms worked out by hand.
#include <cmath>
#include <limits>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/utils.h>

namespace test_clip_grad {

using tg::Tensor;
using Vec = std::vector<double>;
namespace utils = tg::nn::utils;

namespace {

// Two parameters with gradients [3, -4] and [12]: |g|_2 = 13, |g|_1 = 19, |g|_inf = 12.
std::vector<Tensor> params_with_grads() {
  Tensor a = tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  Tensor b = tg::zeros({1}, {.dtype = tg::kFloat64, .requires_grad = true});
  a.set_grad(tg::tensor({3, -4}, {2}, {.dtype = tg::kFloat64}));
  b.set_grad(tg::tensor({12}, {1}, {.dtype = tg::kFloat64}));
  return {a, b};
}

Vec grads(const std::vector<Tensor>& ps) {
  Vec out;
  for (const auto& p : ps)
    for (double v : p.grad().to_vector<double>()) out.push_back(v);
  return out;
}

void check_scaled(const std::vector<Tensor>& ps, double factor) {
  const Vec g = grads(ps);
  const Vec original{3, -4, 12};
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(original[i] * factor).epsilon(1e-14));
}

}  // namespace

TEST_CASE("clip_grad_norm_: the 2-norm, 1-norm, inf-norm and a general p") {
  {
    auto ps = params_with_grads();
    CHECK(utils::clip_grad_norm_(ps, 6.5) == doctest::Approx(13).epsilon(1e-15));
    check_scaled(ps, 6.5 / (13 + 1e-6));
  }
  {
    auto ps = params_with_grads();
    CHECK(utils::clip_grad_norm_(ps, 1.9, 1) == doctest::Approx(19).epsilon(1e-15));
    check_scaled(ps, 1.9 / (19 + 1e-6));
  }
  {
    auto ps = params_with_grads();
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(utils::clip_grad_norm_(ps, 3, inf) == 12);
    check_scaled(ps, 3 / (12 + 1e-6));
  }
  {
    auto ps = params_with_grads();
    const double p3 = std::cbrt(27.0 + 64 + 1728);
    CHECK(utils::clip_grad_norm_(ps, 1, 3) == doctest::Approx(p3).epsilon(1e-14));
    check_scaled(ps, 1 / (p3 + 1e-6));
  }
}

TEST_CASE("clip_grad_norm_: below the limit nothing changes; missing gradients are skipped") {
  auto ps = params_with_grads();
  CHECK(utils::clip_grad_norm_(ps, 13.5) == doctest::Approx(13));
  check_scaled(ps, 1);
  Tensor no_grad = tg::zeros({3}, {.requires_grad = true});
  ps.push_back(no_grad);
  CHECK(utils::clip_grad_norm_(ps, 100) == doctest::Approx(13));
  CHECK_FALSE(no_grad.grad().defined());
  // float32 gradients, scaled in place.
  Tensor f = tg::zeros({2}, {.requires_grad = true});
  f.set_grad(tg::tensor({6.0, 8.0}, {2}));
  const Tensor g_before = f.grad();
  CHECK(utils::clip_grad_norm_({f}, 5) == doctest::Approx(10));
  CHECK(f.grad().is_same(g_before));
  CHECK(f.grad().to_vector<double>()[0] == doctest::Approx(3).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm_: non-finite norms and bad orders") {
  auto ps = params_with_grads();
  ps[1].mutable_grad().fill_(std::numeric_limits<double>::infinity());
  CHECK(std::isinf(utils::clip_grad_norm_(ps, 1)));
  auto qs = params_with_grads();
  qs[0].mutable_grad().fill_(std::nan(""));
  CHECK_THROWS_WITH_AS(utils::clip_grad_norm_(qs, 1, 2, /*error_if_nonfinite=*/true), doctest::Contains("is nan"),
                       tg::ValueError);
  CHECK(grads(qs)[2] == 12);  // nothing scaled
  CHECK_THROWS_WITH_AS(utils::clip_grad_norm_(qs, 1, -1), "clip_grad_norm_: norm_type must be positive or inf, got -1",
                       tg::ValueError);
}

TEST_CASE("clip_grad_norm_: a NaN norm or max_norm makes every gradient NaN, as PyTorch's") {
  for (double p : {1.0, 2.0, 3.0, std::numeric_limits<double>::infinity()}) {
    CAPTURE(p);
    auto ps = params_with_grads();
    ps[0].mutable_grad().fill_(std::nan(""));
    CHECK(std::isnan(utils::clip_grad_norm_(ps, 1, p)));
    for (double g : grads(ps)) CHECK(std::isnan(g));  // the finite [12] too
    auto qs = params_with_grads();
    CHECK(utils::clip_grad_norm_(qs, std::nan(""), p) > 0);
    for (double g : grads(qs)) CHECK(std::isnan(g));
  }
}

TEST_CASE("clip_grad_norm_: float32 and float64 gradients of many sizes sum like one vector") {
  // Lengths around the eight-lane blocks, and float32 summed in double.
  for (std::int64_t n : {1, 7, 8, 9, 63, 4097, 10001}) {
    CAPTURE(n);
    Tensor a = tg::zeros({n}, {.requires_grad = true});
    Tensor b = tg::zeros({n}, {.dtype = tg::kFloat64, .requires_grad = true});
    a.set_grad(tg::full({n}, 0.5));
    b.set_grad(tg::full({n}, -0.25, {.dtype = tg::kFloat64}));
    const double nn = static_cast<double>(n);
    CHECK(utils::clip_grad_norm_({a, b}, 1e30, 2) == doctest::Approx(std::sqrt(nn * 0.3125)).epsilon(1e-14));
    CHECK(utils::clip_grad_norm_({a, b}, 1e30, 1) == doctest::Approx(nn * 0.75).epsilon(1e-14));
    CHECK(utils::clip_grad_norm_({a, b}, 1e30, 3) ==
          doctest::Approx(std::cbrt(nn * (0.125 + 0.015625))).epsilon(1e-14));
  }
  Tensor i = tg::zeros({2}, {.requires_grad = true});
  i.set_grad(tg::zeros({2}));
  CHECK(utils::clip_grad_norm_({i}, 1) == 0);
}

TEST_CASE("clip_grad_value_: clamps every element") {
  auto ps = params_with_grads();
  utils::clip_grad_value_(ps, 3.5);
  CHECK(grads(ps) == Vec{3, -3.5, 3.5});
  CHECK_THROWS_WITH_AS(utils::clip_grad_value_(ps, -1), doctest::Contains("clip_value must be >= 0, got -1"),
                       tg::ValueError);
}

}  // namespace test_clip_grad
