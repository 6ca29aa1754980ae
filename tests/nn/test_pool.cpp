// max_pool2d and avg_pool2d: hand-computed values, a naive direct loop,
// float64 gradient checks, where max pooling sends its gradient, and errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/pooling.h>

#include "support/close.h"

namespace test_pool {

namespace F = tg::nn::functional;
using tg::Tensor;
using Size2 = tg::nn::Size2;

namespace {

// Direct loops over every window; padded positions are skipped for max and
// count as zeros (in the divisor too, when count_include_pad) for avg.
std::vector<double> naive_pool(const Tensor& x, Size2 k, Size2 s, Size2 pad, Size2 d, bool is_max,
                               bool count_include_pad, std::int64_t& ho, std::int64_t& wo) {
  const auto xv = x.to_vector<double>();
  const std::int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  ho = (H + 2 * pad.h - d.h * (k.h - 1) - 1) / s.h + 1;
  wo = (W + 2 * pad.w - d.w * (k.w - 1) - 1) / s.w + 1;
  std::vector<double> y;
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t i = 0; i < ho; ++i)
      for (std::int64_t j = 0; j < wo; ++j) {
        double best = -std::numeric_limits<double>::infinity(), total = 0;
        std::int64_t inside = 0;
        for (std::int64_t a = 0; a < k.h; ++a)
          for (std::int64_t b = 0; b < k.w; ++b) {
            const std::int64_t r = i * s.h - pad.h + a * d.h, c = j * s.w - pad.w + b * d.w;
            if (r < 0 || r >= H || c < 0 || c >= W) continue;
            const double v = xv[static_cast<std::size_t>((p * H + r) * W + c)];
            best = std::max(best, v);
            total += v;
            ++inside;
          }
        y.push_back(is_max ? best : total / static_cast<double>(count_include_pad ? k.h * k.w : inside));
      }
  return y;
}

struct PoolCase {
  tg::Dims shape;
  Size2 kernel, stride, padding, dilation;
};

const std::vector<PoolCase> kCases = {
    {{2, 3, 6, 6}, 2, 2, 0, 1}, {{1, 2, 7, 5}, 3, 2, 1, 1}, {{1, 1, 8, 7}, {3, 2}, {1, 2}, {1, 1}, 1},
    {{2, 1, 9, 9}, 3, 2, 1, 2},  // dilation: max only
    {{1, 2, 5, 5}, 3, 1, 0, 1},  // overlapping windows
};

using tg_test::check_close;

}  // namespace

TEST_CASE("max_pool2d and avg_pool2d: hand-computed values") {
  Tensor x = tg::arange(16.0).reshape({1, 1, 4, 4});  // 0..15 row by row
  CHECK(F::max_pool2d(x, 2).to_vector<double>() == std::vector<double>{5, 7, 13, 15});
  CHECK(F::avg_pool2d(x, 2).to_vector<double>() == std::vector<double>{2.5, 4.5, 10.5, 12.5});
  auto [y, idx] = F::max_pool2d_with_indices(x, 2);
  CHECK(idx.to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 7, 13, 15});

  // 1..9 in a 3x3, kernel 2, stride 2, padding 1: windows {1}, {2,3}, {4,7}, {5,6,8,9}.
  Tensor z = tg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0}, {1, 1, 3, 3});
  CHECK(F::avg_pool2d(z, 2, 2, 1).to_vector<double>() == std::vector<double>{0.25, 1.25, 2.75, 7});
  CHECK(F::avg_pool2d(z, 2, 2, 1, /*count_include_pad=*/false).to_vector<double>() ==
        std::vector<double>{1, 2.5, 5.5, 7});
  CHECK(F::max_pool2d(z, 2, 2, 1).to_vector<double>() == std::vector<double>{1, 3, 7, 9});
  // Unbatched [C, H, W].
  CHECK(F::max_pool2d(z[0], 2).shape() == tg::Dims{1, 1, 1});
}

TEST_CASE("pooling matches a direct loop (float32 and float64)") {
  tg::manual_seed(11);
  for (const auto& c : kCases) {
    CAPTURE(tg::shape_str(c.shape));
    for (tg::DType dt : {tg::kFloat32, tg::kFloat64}) {
      Tensor x = tg::randn(c.shape, {.dtype = dt});
      std::int64_t ho = 0, wo = 0;
      auto want = naive_pool(x, c.kernel, c.stride, c.padding, c.dilation, true, true, ho, wo);
      Tensor y = F::max_pool2d(x, c.kernel, c.stride, c.padding, c.dilation);
      CHECK(y.shape() == tg::Dims{c.shape[0], c.shape[1], ho, wo});
      check_close(y.to_vector<double>(), want, 1e-6);
      if (!(c.dilation == Size2(1))) continue;
      for (bool include : {true, false}) {
        want = naive_pool(x, c.kernel, c.stride, c.padding, 1, false, include, ho, wo);
        check_close(F::avg_pool2d(x, c.kernel, c.stride, c.padding, include).to_vector<double>(), want, 1e-5);
      }
    }
  }
}

TEST_CASE("pooling gradients pass gradcheck in float64; avg_pool2d also gradgradcheck") {
  tg::manual_seed(12);
  for (const auto& c : kCases) {
    CAPTURE(tg::shape_str(c.shape));
    // Distinct values keep each window's maximum away from ties, where the
    // finite difference would straddle a kink.
    const std::int64_t n = c.shape.product();
    Tensor x = tg::randperm(n).to(tg::kFloat64).reshape(c.shape).div_(static_cast<double>(n));
    x.set_requires_grad(true);
    CHECK(tg::gradcheck(
        [&c](const std::vector<Tensor>& v) { return F::max_pool2d(v[0], c.kernel, c.stride, c.padding, c.dilation); },
        {x}));
    CHECK(tg::gradgradcheck(
        [&c](const std::vector<Tensor>& v) { return F::max_pool2d(v[0], c.kernel, c.stride, c.padding, c.dilation); },
        {x}));
    if (!(c.dilation == Size2(1))) continue;
    for (bool include : {true, false}) {
      auto fn = [&c, include](const std::vector<Tensor>& v) {
        return F::avg_pool2d(v[0], c.kernel, c.stride, c.padding, include);
      };
      CHECK(tg::gradcheck(fn, {x}));
      CHECK(tg::gradgradcheck(fn, {x}));
    }
  }
}

TEST_CASE("max_pool2d sends each gradient to its window's maximum, summing where windows share it") {
  // Overlapping 2x2 windows with stride 1 over a 3x3: the centre (9) is the
  // maximum of all four windows, so it collects all four gradients.
  Tensor x = tg::tensor({1.0, 2.0, 3.0, 4.0, 9.0, 6.0, 7.0, 8.0, 5.0}, {1, 1, 3, 3}).set_requires_grad(true);
  Tensor y = F::max_pool2d(x, 2, 1);
  CHECK(y.to_vector<double>() == std::vector<double>{9, 9, 9, 9});
  y.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0, 0, 0, 4, 0, 0, 0, 0});
}

TEST_CASE("pooling's stride takes what PyTorch's does: {h, w}, an int, a Size2, {} or std::nullopt") {
  const Tensor x = tg::arange(0.0, 48.0).reshape({1, 1, 6, 8});
  const Tensor want = F::max_pool2d(x, Size2{3, 2}, Size2{1, 2});
  CHECK(tg::equal(F::max_pool2d(x, {3, 2}, {1, 2}), want));
  CHECK(tg::equal(std::get<0>(F::max_pool2d_with_indices(x, {3, 2}, {1, 2})), want));
  CHECK(tg::equal(tg::nn::MaxPool2d({3, 2}, {1, 2})(x), want));
  CHECK(tg::equal(F::avg_pool2d(x, 2, {1, 2}), F::avg_pool2d(x, 2, Size2{1, 2})));
  CHECK(tg::equal(tg::nn::AvgPool2d(2, {2, 1})(x), F::avg_pool2d(x, 2, Size2{2, 1})));
  // An int, none ({} or std::nullopt: the kernel size), and an optional.
  CHECK(tg::equal(F::max_pool2d(x, 2, 1), F::max_pool2d(x, 2, Size2{1, 1})));
  CHECK(tg::equal(F::max_pool2d(x, 2, {}), F::max_pool2d(x, 2, 2)));
  CHECK(tg::equal(F::max_pool2d(x, 2, std::nullopt), F::max_pool2d(x, 2, 2)));
  const std::optional<Size2> stride = Size2{2, 1};
  CHECK(tg::equal(F::max_pool2d(x, 2, stride), F::max_pool2d(x, 2, Size2{2, 1})));
  const std::optional<std::int64_t> one = 1, none;
  CHECK(tg::equal(F::max_pool2d(x, 2, one), F::max_pool2d(x, 2, 1)));
  CHECK(tg::equal(F::max_pool2d(x, 2, none), F::max_pool2d(x, 2, 2)));
}

TEST_CASE("max_pool2d: a window's last NaN is its maximum, as PyTorch's CPU kernel") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // One 2x2 window: NaN at 0 and 3 (torch 1.13: index 3), NaN at 1 only,
  // and no NaN with a tie (the first maximum, index 1).
  for (const auto& window : std::vector<std::pair<std::vector<double>, std::int64_t>>{
           {{nan, 2.0, 4.0, nan}, 3}, {{1.0, nan, 4.0, 2.0}, 1}, {{1.0, 4.0, 4.0, 2.0}, 1}}) {
    const std::vector<double>& values = window.first;
    const std::int64_t want = window.second;  // a plain local: Clang 14's CAPTURE cannot name a structured binding
    CAPTURE(want);
    const Tensor x = tg::tensor(values, {1, 1, 2, 2}, tg::kFloat64).set_requires_grad(true);
    const auto [y, index] = F::max_pool2d_with_indices(x, 2);
    CHECK(index.item<std::int64_t>() == want);
    y.sum().backward();
    const std::vector<double> g = x.grad().to_vector<double>();
    for (std::int64_t i = 0; i < 4; ++i) CHECK(g[static_cast<std::size_t>(i)] == (i == want ? 1.0 : 0.0));
  }
}

TEST_CASE("pooling modules and error messages") {
  tg::nn::MaxPool2d mp(2);
  tg::nn::AvgPool2d ap(3, 2, 1);
  CHECK(mp.repr() == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  CHECK(ap.repr() == "AvgPool2d(kernel_size=3, stride=2, padding=1)");
  Tensor x = tg::randn({2, 3, 8, 8});
  CHECK(mp(x).shape() == tg::Dims{2, 3, 4, 4});
  CHECK(ap(x).shape() == tg::Dims{2, 3, 4, 4});

  CHECK_THROWS_WITH_AS(F::max_pool2d(x, 3, 1, 2), doctest::Contains("max_pool2d: padding (2, 2)"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::avg_pool2d(tg::randn({8, 8}), 2), doctest::Contains("avg_pool2d: expected a 3-D"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::max_pool2d(tg::randn({1, 1, 2, 2}), 3), doctest::Contains("smaller than the kernel"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::max_pool2d(x, 0), doctest::Contains("must be positive"), tg::ValueError);
}

TEST_CASE("max_pool2d: a dilated window of padding only is -inf with index -1 and passes no gradient") {
  // Kernel 2, padding 1, dilation 3 on 2 x 2: the one window reads rows and
  // columns -1 and 2, all padding. Its index -1 was used as an offset: the
  // backward wrote before plane 0 (heap corruption) and into plane 0 from
  // plane 1; the double backward read there.
  Tensor x = tg::arange(8.0, {.dtype = tg::kFloat64}).reshape({1, 2, 2, 2}).set_requires_grad(true);
  const auto pooled = F::max_pool2d_with_indices(x, 2, Size2{1}, 1, 3);
  const Tensor y = std::get<0>(pooled), idx = std::get<1>(pooled);
  REQUIRE(y.shape() == tg::Dims{1, 2, 1, 1});
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(y.to_vector<double>() == std::vector<double>{-inf, -inf});
  CHECK(idx.to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, -1});
  y.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>(8, 0.0));

  // Second order: d/dv of sum(dx * w), dx the gradient for v, reads w at each
  // window's index: nothing for these windows.
  const Tensor x2 = x.detach().requires_grad_(true);
  const Tensor v = tg::ones({1, 2, 1, 1}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  const Tensor dx = tg::grad({F::max_pool2d(x2, 2, Size2{1}, 1, 3)}, {x2}, {v}, {.create_graph = true})[0];
  CHECK(dx.to_vector<double>() == std::vector<double>(8, 0.0));
  const Tensor w = tg::add(tg::arange(8.0, {.dtype = tg::kFloat64}), 1.0).reshape({1, 2, 2, 2});
  const Tensor dv = tg::grad({tg::sum(tg::mul(dx, w))}, {v})[0];
  CHECK(dv.to_vector<double>() == std::vector<double>{0, 0});

  // Unbatched [C, H, W] likewise.
  Tensor x3 = tg::arange(4.0, {.dtype = tg::kFloat64}).reshape({1, 2, 2}).set_requires_grad(true);
  F::max_pool2d(x3, 2, Size2{1}, 1, 3).sum().backward();
  CHECK(x3.grad().to_vector<double>() == std::vector<double>(4, 0.0));
}

TEST_CASE("max_pool2d's padding is at most half the kernel size, not the dilated one (PyTorch 1.13)") {
  const Tensor x = tg::randn({1, 1, 20, 20});
  // torch 1.13: "pad should be at most half of kernel size, but got pad=2 and kernel_size=2".
  CHECK_THROWS_WITH_AS(F::max_pool2d(x, 2, 1, 2, 3),
                       doctest::Contains("max_pool2d: padding (2, 2) must be between 0 and half the kernel "
                                         "size (2, 2)"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::max_pool2d(x, 3, 1, 2, 2), doctest::Contains("padding (2, 2)"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::max_pool2d(x, 1, 1, 1, 3), doctest::Contains("padding (1, 1)"), tg::ValueError);
  CHECK(F::max_pool2d(x, 2, 1, 1, 3).shape() == tg::Dims{1, 1, 19, 19});
  CHECK(F::max_pool2d(x, 4, 1, 2).shape() == tg::Dims{1, 1, 21, 21});
  CHECK_THROWS_WITH_AS(F::avg_pool2d(x, {2, 3}, 1, {1, 2}), doctest::Contains("padding (1, 2)"), tg::ValueError);
}

TEST_CASE("avg_pool2d never has a window of padding only: count_include_pad=false divides by a positive count") {
  // Padding is at most half the (undilated) kernel, so every window reaches
  // the input; the smallest count is kernel - padding.
  Tensor x = tg::ones({1, 1, 1, 3}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  const Tensor y = F::avg_pool2d(x, {3, 1}, Size2{2, 1}, {1, 0}, false);
  CHECK(y.to_vector<double>() == std::vector<double>{1, 1, 1});
  y.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1, 1});
}

TEST_CASE("the 1-D pools' errors show the numbers and the shape the caller passed") {
  const Tensor x = tg::randn({2, 4, 10});
  CHECK_THROWS_WITH_AS(F::avg_pool1d(x, 0),
                       doctest::Contains("avg_pool1d: kernel size 0, stride 0 and dilation 1 must be positive"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(
      F::avg_pool1d(x, 3, 1, 1LL << 62),
      doctest::Contains("avg_pool1d: padding 4611686018427387904 must be between 0 and half the kernel size 3"),
      tg::ValueError);
  CHECK_THROWS_WITH_AS(F::avg_pool1d(tg::randn({2, 4, 2}), 3),
                       doctest::Contains("avg_pool1d: input [2, 4, 2] padded by 0 is smaller than the kernel 3"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::adaptive_avg_pool1d(x, -1),
                       doctest::Contains("adaptive_avg_pool1d: output size -1 must not be negative"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::adaptive_avg_pool1d(tg::randn({2, 4, 0}), 3),
                       doctest::Contains("adaptive_avg_pool1d: the input's spatial sizes must be positive, "
                                         "got [2, 4, 0]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::adaptive_avg_pool1d(x, 1LL << 61),
                       doctest::Contains("adaptive_avg_pool1d: output size 2305843009213693952 for input [2, 4, 10]"),
                       tg::ShapeError);
  // The 2-D forms keep their pairs.
  CHECK_THROWS_WITH_AS(F::avg_pool2d(tg::randn({1, 1, 4, 4}), 0), doctest::Contains("kernel size (0, 0)"),
                       tg::ValueError);
}

}  // namespace test_pool
