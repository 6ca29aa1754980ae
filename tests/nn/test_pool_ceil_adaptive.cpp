// ceil_mode, max_pool1d and adaptive max pooling: PyTorch 1.13's output sizes
// and divisors by hand, the NaN rule, the second derivative of max pooling,
// float32, the modules and the errors. Values and gradients against PyTorch:
// tests/autograd/test_conv_pool_reference.cpp; gradcheck and gradgradcheck on
// four layouts: the op registry's entries.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/pooling.h>

#include "support/close.h"

namespace test_pool_ceil_adaptive {

namespace F = tg::nn::functional;
using tg::Size2;
using tg::Tensor;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};

Tensor row(std::vector<double> values) {
  const auto n = static_cast<std::int64_t>(values.size());
  return tg::tensor(values, {1, 1, n}, tg::kFloat64);
}

}  // namespace

TEST_CASE("ceil_mode: PyTorch's output sizes, and the divisor of a window past the padding") {
  const Tensor x5 = row({1, 2, 3, 4, 5});
  // Kernel 2 over 5: a third window [4, 6) starts inside the input.
  CHECK(F::max_pool1d(x5, 2).to_vector<double>() == std::vector<double>{2, 4});
  CHECK(F::max_pool1d(x5, 2, {}, 0, 1, true).to_vector<double>() == std::vector<double>{2, 4, 5});
  // Its divisor counts what lies inside the (unpadded) input: 5 / 1.
  CHECK(F::avg_pool1d(x5, 2, {}, 0, true, true).to_vector<double>() == std::vector<double>{1.5, 3.5, 5});
  CHECK(F::avg_pool2d(x5.unsqueeze(2), 2 /*{2, 2} over 1 x 5*/, {}, 0, true, true).shape() == tg::Dims{1, 1, 1, 3});

  // Kernel 3, stride 2, padding 1 over 6: the fourth window starts at 5 and
  // reaches 8, past the right padding (7): torch clips it there, so with
  // count_include_pad it divides by 2 (6 and one padded zero), without by 1.
  const Tensor x6 = row({1, 2, 3, 4, 5, 6});
  CHECK(F::avg_pool1d(x6, 3, 2, 1).to_vector<double>() == std::vector<double>{1, 3, 5});
  CHECK(F::avg_pool1d(x6, 3, 2, 1, true, true).to_vector<double>() == std::vector<double>{1, 3, 5, 3});
  CHECK(F::avg_pool1d(x6, 3, 2, 1, false, true).to_vector<double>() == std::vector<double>{1.5, 3, 5, 6});

  // A last window that would start in the right padding is dropped: kernel 2,
  // stride 2, padding 1 over 5 rounds (5 + 2 - 2 + 1) / 2 + 1 = 4 up, but the
  // fourth window would start at 6 - 1 = 5, past the input: 3, as without ceil_mode.
  CHECK(F::max_pool1d(x5, 2, 2, 1, 1, true).shape() == tg::Dims{1, 1, 3});
  CHECK(F::max_pool2d(tg::randn({1, 1, 5, 3}), 2, 2, 1, 1, true).shape() == tg::Dims{1, 1, 3, 2});

  // Rounding up, a kernel longer than the input is fine while one window
  // starts inside it (torch: kernel 3, stride 3 over 2 gives one window).
  const auto [y, idx] = F::max_pool1d_with_indices(row({7, 9}), 3, 3, 0, 1, true);
  CHECK(y.to_vector<double>() == std::vector<double>{9});
  CHECK(idx.to_vector<std::int64_t>() == std::vector<std::int64_t>{1});
  CHECK(F::avg_pool1d(row({7, 9}), 3, 3, 0, true, true).to_vector<double>() == std::vector<double>{8});
}

TEST_CASE("ceil_mode: the modules pass it on, and MaxPool prints it as PyTorch") {
  const Tensor x = tg::randn({2, 3, 7, 6}, kF64);
  tg::nn::MaxPool2d mp(3, 2, 1, 1, true);
  CHECK(mp.repr() == "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)");
  CHECK(tg::equal(mp(x), F::max_pool2d(x, 3, 2, 1, 1, true)));
  CHECK(mp(x).shape() == tg::Dims{2, 3, 4, 4});
  tg::nn::AvgPool2d ap(2, {}, 0, false, true);
  CHECK(tg::equal(ap(x), F::avg_pool2d(x, 2, {}, 0, false, true)));
  CHECK(ap(x).shape() == tg::Dims{2, 3, 4, 3});
  // PyTorch's AvgPool repr leaves ceil_mode and count_include_pad out.
  CHECK(ap.repr() == "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  CHECK(tg::nn::AvgPool2d(2, {}, 0, true, false).repr() == "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  const Tensor x1 = tg::randn({2, 3, 9}, kF64);
  tg::nn::AvgPool1d ap1(4, 3, 0, true, true);
  CHECK(tg::equal(ap1(x1), F::avg_pool1d(x1, 4, 3, 0, true, true)));
  CHECK(ap1(x1).shape() == tg::Dims{2, 3, 3});
  CHECK(ap1.repr() == "AvgPool1d(kernel_size=(4,), stride=(3,), padding=(0,))");
}

TEST_CASE("MaxPool1d, AdaptiveMaxPool1d and AdaptiveMaxPool2d: their functions, indices, printing") {
  tg::manual_seed(31);
  const Tensor x1 = tg::randn({2, 3, 9}, kF64);
  tg::nn::MaxPool1d mp(3);
  CHECK(mp.repr() == "MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)");
  CHECK(tg::nn::MaxPool1d(2, 1, 1, 2, true).repr() ==
        "MaxPool1d(kernel_size=2, stride=1, padding=1, dilation=2, ceil_mode=True)");
  CHECK(tg::equal(mp(x1), F::max_pool1d(x1, 3)));
  const auto with = mp.forward_with_indices(x1);
  const auto want = F::max_pool1d_with_indices(x1, 3);
  CHECK(tg::equal(std::get<0>(with), std::get<0>(want)));
  CHECK(tg::equal(std::get<1>(with), std::get<1>(want)));
  // max_pool1d is max_pool2d on a height of 1, indices included.
  const auto as2d = F::max_pool2d_with_indices(x1.unsqueeze(2), {1, 3});
  CHECK(tg::equal(std::get<0>(want), std::get<0>(as2d).squeeze(2)));
  CHECK(tg::equal(std::get<1>(want), std::get<1>(as2d).squeeze(2)));

  tg::nn::AdaptiveMaxPool1d amp1(4);
  CHECK(amp1.repr() == "AdaptiveMaxPool1d(output_size=4)");
  CHECK(tg::equal(amp1(x1), F::adaptive_max_pool1d(x1, 4)));
  CHECK(tg::equal(std::get<1>(amp1.forward_with_indices(x1)), std::get<1>(F::adaptive_max_pool1d_with_indices(x1, 4))));

  const Tensor x2 = tg::randn({2, 3, 7, 5}, kF64);
  tg::nn::AdaptiveMaxPool2d amp2({3, 4});
  CHECK(amp2.repr() == "AdaptiveMaxPool2d(output_size=(3, 4))");
  CHECK(tg::nn::AdaptiveMaxPool2d(3).repr() == "AdaptiveMaxPool2d(output_size=3)");
  CHECK(tg::equal(amp2(x2), F::adaptive_max_pool2d(x2, {3, 4})));
  CHECK(amp2(x2).shape() == tg::Dims{2, 3, 3, 4});
  CHECK(tg::equal(std::get<1>(amp2.forward_with_indices(x2)),
                  std::get<1>(F::adaptive_max_pool2d_with_indices(x2, {3, 4}))));
  // Unbatched inputs.
  CHECK(F::adaptive_max_pool2d(x2[0], 2).shape() == tg::Dims{3, 2, 2});
  CHECK(F::adaptive_max_pool1d(x1[0], 2).shape() == tg::Dims{3, 2});
  CHECK(F::max_pool1d(x1[0], 2).shape() == tg::Dims{3, 4});
}

TEST_CASE("adaptive max pooling by hand: PyTorch's overlapping bins, the first maximum, the gradient to it") {
  // 5 -> 2: bins [0, 3) and [2, 5) share element 2.
  const Tensor x = row({1, 4, 4, 2, 4}).set_requires_grad(true);
  const auto [y, idx] = F::adaptive_max_pool1d_with_indices(x, 2);
  CHECK(y.to_vector<double>() == std::vector<double>{4, 4});
  CHECK(idx.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2});
  tg::mul(y, tg::tensor({1.0, 10.0}, {1, 1, 2}, tg::kFloat64)).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 10, 0, 0});
  // 2 -> 5 grows: each output copies one input.
  CHECK(F::adaptive_max_pool1d(row({3, 8}), 5).to_vector<double>() == std::vector<double>{3, 3, 8, 8, 8});
  // An output size of 0 is an empty result, as torch.
  CHECK(F::adaptive_max_pool2d(tg::randn({1, 2, 3, 3}), {0, 2}).shape() == tg::Dims{1, 2, 0, 2});
}

TEST_CASE("max_pool1d and adaptive max pooling: a window's last NaN is its maximum, as PyTorch's CPU kernel") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // torch 1.13: max_pool1d(k=2, ceil_mode) of [1, nan, 3, nan, 2]: indices
  // [1, 3, 4]; adaptive_max_pool1d(2): bins [0, 3) and [2, 5), indices [1, 3].
  const Tensor x = row({1, nan, 3, nan, 2}).set_requires_grad(true);
  const auto [y, idx] = F::max_pool1d_with_indices(x, 2, {}, 0, 1, true);
  CHECK(idx.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 3, 4});
  const auto yv = y.to_vector<double>();
  CHECK((std::isnan(yv[0]) && std::isnan(yv[1]) && yv[2] == 2));
  y.sum().backward();
  const auto gv = x.grad().to_vector<double>();
  CHECK(gv == std::vector<double>{0, 1, 0, 1, 1});

  const auto [ya, ia] = F::adaptive_max_pool1d_with_indices(x.detach(), 2);
  CHECK(ia.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 3});
  // Two NaNs in one bin: the last.
  const Tensor two = tg::tensor({nan, 1.0, nan, 2.0}, {1, 1, 2, 2}, tg::kFloat64);
  CHECK(std::get<1>(F::adaptive_max_pool2d_with_indices(two, 1)).item<std::int64_t>() == 2);
  (void)ya;
}

TEST_CASE("max pooling's second derivative: the gradient of the gradient with respect to the grad-output is a gather") {
  tg::manual_seed(32);
  // dx = scatter of v at idx; d/dv sum(dx * w) = w read at idx.
  const Tensor x = tg::randn({2, 3, 8}, kF64).set_requires_grad(true);
  const auto [y, idx] = F::max_pool1d_with_indices(x.detach(), 3, 2, 1, 1, true);
  const Tensor v = tg::ones(y.shape(), kF64).set_requires_grad(true);
  const Tensor dx = tg::grad({F::max_pool1d(x, 3, 2, 1, 1, true)}, {x}, {v}, {.create_graph = true})[0];
  const Tensor w = tg::randn(x.shape(), kF64);
  const Tensor dv = tg::grad({tg::sum(tg::mul(dx, w))}, {v})[0];
  tg_test::check_close(dv.to_vector<double>(), tg::gather(w, 2, idx).to_vector<double>(), 0);

  const Tensor x2 = tg::randn({1, 2, 7, 5}, kF64).set_requires_grad(true);
  const auto [y2, idx2] = F::adaptive_max_pool2d_with_indices(x2.detach(), {3, 4});
  const Tensor v2 = tg::ones(y2.shape(), kF64).set_requires_grad(true);
  const Tensor dx2 = tg::grad({F::adaptive_max_pool2d(x2, {3, 4})}, {x2}, {v2}, {.create_graph = true})[0];
  const Tensor w2 = tg::randn(x2.shape(), kF64);
  const Tensor dv2 = tg::grad({tg::sum(tg::mul(dx2, w2))}, {v2})[0];
  const Tensor gathered = tg::gather(w2.reshape({1, 2, 35}), 2, idx2.reshape({1, 2, 12})).reshape(y2.shape());
  tg_test::check_close(dv2.to_vector<double>(), gathered.to_vector<double>(), 0);

  // And gradgradcheck through both.
  const Tensor xp = tg::randperm(48).to(tg::kFloat64).reshape({2, 3, 8}).div_(48.0).set_requires_grad(true);
  CHECK(tg::gradgradcheck([](const std::vector<Tensor>& in) { return F::max_pool1d(in[0], 3, 2, 1, 1, true); }, {xp}));
  CHECK(tg::gradgradcheck([](const std::vector<Tensor>& in) { return F::adaptive_max_pool1d(in[0], 5); }, {xp}));
}

TEST_CASE("float32: the new pools equal their float64 results") {
  tg::manual_seed(33);
  const Tensor x = tg::randn({2, 3, 7, 6}, kF64);
  const Tensor xf = x.to(tg::kFloat32);
  const auto same = [](const Tensor& a, const Tensor& b) {
    CHECK(a.dtype() == tg::kFloat32);
    tg_test::check_close(a.to_vector<double>(), b.to_vector<double>(), 1e-6);
  };
  same(F::max_pool2d(xf, 3, 2, 1, 1, true), F::max_pool2d(x, 3, 2, 1, 1, true));
  same(F::avg_pool2d(xf, 3, 2, 1, false, true), F::avg_pool2d(x, 3, 2, 1, false, true));
  same(F::adaptive_max_pool2d(xf, {4, 5}), F::adaptive_max_pool2d(x, {4, 5}));
  const Tensor x1 = x.reshape({2, 3, 42}), x1f = xf.reshape({2, 3, 42});
  same(F::max_pool1d(x1f, 4, 3, 2, 2, true), F::max_pool1d(x1, 4, 3, 2, 2, true));
  same(F::avg_pool1d(x1f, 4, 3, 2, true, true), F::avg_pool1d(x1, 4, 3, 2, true, true));
  same(F::adaptive_max_pool1d(x1f, 9), F::adaptive_max_pool1d(x1, 9));
  // Gradients in float32 too.
  const Tensor g = xf.detach().set_requires_grad(true);
  F::adaptive_max_pool2d(g, 3).sum().backward();
  CHECK(g.grad().dtype() == tg::kFloat32);
  CHECK(tg::sum(g.grad()).item<double>() == doctest::Approx(2 * 3 * 9));
}

TEST_CASE("the new pools' errors name the op and the shapes") {
  const Tensor x = tg::randn({2, 4, 10});
  CHECK_THROWS_WITH_AS(F::max_pool1d(tg::randn({2, 4, 3, 3}), 2),
                       doctest::Contains("max_pool1d: expected a 2-D [C, L] or 3-D [N, C, L] input, got [2, 4, 3, 3]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::max_pool1d(x, 3, 1, 2),
                       doctest::Contains("max_pool1d: padding 2 must be between 0 and half the kernel size 3"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::max_pool1d(x, 0), doctest::Contains("max_pool1d: kernel size 0"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::max_pool1d(tg::randn({2, 4, 2}), 3),
                       doctest::Contains("max_pool1d: input [2, 4, 2] padded by 0 is smaller than the kernel 3"),
                       tg::ShapeError);
  // ceil_mode takes a kernel past the input only while a window starts inside it.
  CHECK_THROWS_WITH_AS(F::max_pool1d(tg::randn({2, 4, 1}), 4, 1, 0, 1, true),
                       doctest::Contains("max_pool1d: input [2, 4, 1] padded by 0 is smaller than the kernel 4 even "
                                         "with ceil_mode"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::avg_pool2d(tg::randn({1, 1, 1, 1}), 4, 1, 0, true, true),
                       doctest::Contains("avg_pool2d: input [1, 1, 1, 1] padded by (0, 0) is smaller than the kernel "
                                         "(4, 4) even with ceil_mode"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::max_pool1d(tg::zeros({2, 4, 10}, {.dtype = tg::kInt64}), 2),
                       doctest::Contains("max_pool1d: expected a floating-point input"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(F::adaptive_max_pool1d(tg::randn({4}), 2),
                       doctest::Contains("adaptive_max_pool1d: expected a 2-D [C, L] or 3-D [N, C, L] input, got [4]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::adaptive_max_pool1d(x, -1),
                       doctest::Contains("adaptive_max_pool1d: output size -1 must not be negative"), tg::ValueError);
  CHECK_THROWS_WITH_AS(
      F::adaptive_max_pool1d(tg::randn({2, 4, 0}), 3),
      doctest::Contains("adaptive_max_pool1d: the input's spatial sizes must be positive, got [2, 4, 0]"),
      tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::adaptive_max_pool2d(tg::randn({4, 10}), 2),
                       doctest::Contains("adaptive_max_pool2d: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::adaptive_max_pool2d(tg::randn({1, 2, 3, 3}), {2, -2}),
                       doctest::Contains("adaptive_max_pool2d: output size (2, -2) must not be negative"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::nn::AdaptiveMaxPool2d(2)(tg::randn({1, 2, 0, 3})),
                       doctest::Contains("adaptive_max_pool2d: the input's spatial sizes must be positive"),
                       tg::ShapeError);
}

}  // namespace test_pool_ceil_adaptive
