// conv2d: hand-computed values, a naive direct loop, float64 gradient checks
// (first and second order) over strides, padding and dilation, the GEMM
// count, and the error messages. Also the Conv2d module.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/nn/conv.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/init.h>

#include "support/close.h"

namespace test_conv {

namespace F = tg::nn::functional;
using tg::Tensor;

namespace {

// y[n][o][i][j] = b[o] + sum over c, p, q of x[n][c][i*s - pad + p*d][j*s - pad + q*d] * w[o][c][p][q].
std::vector<double> naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, tg::nn::Size2 s, tg::nn::Size2 pad,
                                 tg::nn::Size2 d, std::int64_t& ho, std::int64_t& wo) {
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const auto bv = b.defined() ? b.to_vector<double>() : std::vector<double>();
  const std::int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const std::int64_t O = w.size(0), KH = w.size(2), KW = w.size(3);
  ho = (H + 2 * pad.h - d.h * (KH - 1) - 1) / s.h + 1;
  wo = (W + 2 * pad.w - d.w * (KW - 1) - 1) / s.w + 1;
  std::vector<double> y(static_cast<std::size_t>(N * O * ho * wo));
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t o = 0; o < O; ++o)
      for (std::int64_t i = 0; i < ho; ++i)
        for (std::int64_t j = 0; j < wo; ++j) {
          double acc = bv.empty() ? 0.0 : bv[static_cast<std::size_t>(o)];
          for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t p = 0; p < KH; ++p)
              for (std::int64_t q = 0; q < KW; ++q) {
                const std::int64_t r = i * s.h - pad.h + p * d.h, col = j * s.w - pad.w + q * d.w;
                if (r < 0 || r >= H || col < 0 || col >= W) continue;
                acc += xv[static_cast<std::size_t>(((n * C + c) * H + r) * W + col)] *
                       wv[static_cast<std::size_t>(((o * C + c) * KH + p) * KW + q)];
              }
          y[static_cast<std::size_t>(((n * O + o) * ho + i) * wo + j)] = acc;
        }
  return y;
}

Tensor randn64(tg::Dims shape, bool requires_grad = true) {
  return tg::randn(shape, {.dtype = tg::kFloat64, .requires_grad = requires_grad});
}

using tg_test::check_close;

struct ConvCase {
  tg::Dims x_shape, w_shape;
  tg::nn::Size2 stride, padding, dilation;
  bool bias;
};

const std::vector<ConvCase> kCases = {
    {{2, 3, 5, 5}, {4, 3, 3, 3}, 1, 0, 1, true},
    {{1, 2, 6, 7}, {3, 2, 3, 2}, {2, 1}, {1, 0}, 1, true},
    {{2, 2, 7, 6}, {2, 2, 2, 3}, 2, 1, {2, 1}, false},
    {{1, 1, 5, 5}, {2, 1, 1, 1}, 1, 0, 1, true},  // pointwise: no im2col
    {{1, 2, 4, 4}, {1, 2, 3, 3}, 3, 2, 1, true},  // padding wider than the stride covers
    {{1, 3, 6, 6}, {2, 3, 3, 3}, {1, 2}, {2, 1}, {2, 2}, true},
};

}  // namespace

TEST_CASE("conv2d: hand-computed values with and without padding and stride") {
  Tensor x = tg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0}, {1, 1, 3, 3});
  Tensor w = tg::tensor({1.0, 0.0, 0.0, -1.0}, {1, 1, 2, 2});
  Tensor b = tg::tensor({0.5});
  // x[i][j] - x[i+1][j+1] + 0.5 = -4 + 0.5 everywhere.
  Tensor y = F::conv2d(x, w, b);
  CHECK(y.shape() == tg::Dims{1, 1, 2, 2});
  CHECK(y.to_vector<double>() == std::vector<double>{-3.5, -3.5, -3.5, -3.5});
  // Padding 1, stride 2: windows start at -1 and 1; padded taps read zero.
  Tensor yp = F::conv2d(x, w, b, /*stride=*/2, /*padding=*/1);
  CHECK(yp.to_vector<double>() == std::vector<double>{-0.5, -2.5, -6.5, -3.5});
  // Unbatched input [C, H, W] gives [O, Ho, Wo].
  CHECK(F::conv2d(x[0], w, b).shape() == tg::Dims{1, 2, 2});
}

TEST_CASE("conv2d matches a direct loop over stride, padding and dilation (float32 and float64)") {
  tg::manual_seed(1);
  for (const auto& c : kCases) {
    CAPTURE(tg::shape_str(c.x_shape));
    CAPTURE(tg::shape_str(c.w_shape));
    for (tg::DType dt : {tg::kFloat32, tg::kFloat64}) {
      Tensor x = tg::randn(c.x_shape, {.dtype = dt}), w = tg::randn(c.w_shape, {.dtype = dt});
      Tensor b = c.bias ? tg::randn({c.w_shape[0]}, {.dtype = dt}) : Tensor();
      std::int64_t ho = 0, wo = 0;
      const auto want = naive_conv2d(x, w, b, c.stride, c.padding, c.dilation, ho, wo);
      Tensor y = F::conv2d(x, w, b, c.stride, c.padding, c.dilation);
      CHECK(y.shape() == tg::Dims{c.x_shape[0], c.w_shape[0], ho, wo});
      CHECK(y.dtype() == dt);
      check_close(y.to_vector<double>(), want, dt == tg::kFloat32 ? 1e-4 : 1e-12);
    }
  }
}

TEST_CASE("conv2d splits large batches over threads with the same results as one thread") {
  // Enough work (4 images of 16 x 72 x 256 multiply-adds) to go parallel.
  tg::manual_seed(6);
  const int saved_threads = tg::get_num_threads();
  Tensor x = tg::randn({4, 8, 16, 16}, {.dtype = tg::kFloat64});
  Tensor w = tg::randn({16, 8, 3, 3}, {.dtype = tg::kFloat64});
  Tensor b = tg::randn({16}, {.dtype = tg::kFloat64});
  Tensor dy = tg::randn({4, 16, 8, 8}, {.dtype = tg::kFloat64});
  std::int64_t ho = 0, wo = 0;
  const auto want = naive_conv2d(x, w, b, 2, 1, 1, ho, wo);
  std::vector<std::vector<double>> results;
  for (int threads : {1, 2}) {
    tg::set_num_threads(threads);
    Tensor xr = x.detach().set_requires_grad(true), wr = w.detach().set_requires_grad(true);
    Tensor y = F::conv2d(xr, wr, b, 2, 1);
    check_close(y.to_vector<double>(), want, 1e-12);
    y.backward(dy);
    results.push_back(xr.grad().to_vector<double>());
    results.push_back(wr.grad().to_vector<double>());
  }
  tg::set_num_threads(saved_threads);
  check_close(results[2], results[0], 1e-12);
  check_close(results[3], results[1], 1e-12);
}

TEST_CASE("conv2d's weight gradient is the same bit for bit on 1, 2 and 3 threads") {
  // 11 images of 16 x 72 x 1024 multiply-adds: enough to go parallel. The
  // images are summed in fixed blocks whatever the thread count, so float32
  // rounding cannot depend on it (issue 13), for plain and grouped convolutions.
  tg::manual_seed(7);
  const int saved_threads = tg::get_num_threads();
  for (const std::int64_t groups : {1, 2}) {
    CAPTURE(groups);
    const Tensor x = tg::randn({11, 8, 32, 32});
    const Tensor w = tg::randn({16, 8 / groups, 3, 3});
    const Tensor dy = tg::randn({11, 16, 32, 32});
    std::vector<Tensor> grads;
    for (int threads : {1, 2, 3}) {
      tg::set_num_threads(threads);
      Tensor wr = w.detach().set_requires_grad(true);
      F::conv2d(x, wr, Tensor(), 1, 1, 1, groups).backward(dy);
      grads.push_back(wr.grad());
    }
    tg::set_num_threads(saved_threads);
    CHECK(tg::equal(grads[1], grads[0]));
    CHECK(tg::equal(grads[2], grads[0]));
  }
}

TEST_CASE("conv2d gradients pass gradcheck and gradgradcheck in float64") {
  tg::manual_seed(2);
  for (const auto& c : kCases) {
    CAPTURE(tg::shape_str(c.x_shape));
    CAPTURE(tg::shape_str(c.w_shape));
    std::vector<Tensor> in = {randn64(c.x_shape), randn64(c.w_shape)};
    if (c.bias) in.push_back(randn64({c.w_shape[0]}));
    auto fn = [&c](const std::vector<Tensor>& v) {
      return F::conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), c.stride, c.padding, c.dilation);
    };
    CHECK(tg::gradcheck(fn, in));
    CHECK(tg::gradgradcheck(fn, in));
  }
}

TEST_CASE("conv2d gradient of the input alone, and of an unbatched input") {
  tg::manual_seed(3);
  Tensor x = randn64({2, 5, 5}), w = randn64({3, 2, 3, 3}, false);
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& v) { return F::conv2d(v[0], w, {}, 2, 1); }, {x}));
}

TEST_CASE("conv2d runs one GEMM per image forward and two per image backward, without operand copies") {
  tg::manual_seed(4);
  Tensor x = tg::randn({3, 2, 6, 6}, {.requires_grad = true});
  Tensor w = tg::randn({4, 2, 3, 3}, {.requires_grad = true});
  Tensor b = tg::randn({4}, {.requires_grad = true});
  const auto before = tg::kernel::gemm_stats();
  Tensor y = F::conv2d(x, w, b, 1, 1);
  const auto mid = tg::kernel::gemm_stats();
  CHECK(mid.calls - before.calls == 3);
  y.sum().backward();
  const auto after = tg::kernel::gemm_stats();
  CHECK(after.calls - mid.calls == 6);
  CHECK(after.operand_copies == before.operand_copies);
  // db = dy summed over N, Ho, Wo: every output pixel has gradient 1.
  CHECK(b.grad().to_vector<double>() == std::vector<double>(4, 3.0 * 36));
}

TEST_CASE("conv2d error messages name the op and the shapes") {
  Tensor x = tg::randn({2, 3, 8, 8});
  CHECK_THROWS_WITH_AS(F::conv2d(x, tg::randn({4, 2, 3, 3})),
                       doctest::Contains("conv2d: input has 3 channels but the weight expects 2"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv2d(x, tg::randn({4, 3, 3})), doctest::Contains("weight must be 4-D"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv2d(tg::randn({8, 8}), tg::randn({4, 3, 3, 3})), doctest::Contains("[8, 8]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv2d(x, tg::randn({4, 3, 9, 9})), doctest::Contains("smaller than the dilated kernel"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv2d(x, tg::randn({4, 3, 3, 3}), tg::randn({5})), doctest::Contains("bias must be [4]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv2d(x, tg::randn({4, 3, 3, 3}), {}, 0), doctest::Contains("stride (0, 0)"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::conv2d(x, tg::randn({4, 3, 3, 3}, {.dtype = tg::kFloat64})),
                       doctest::Contains("float32 and float64"), tg::DTypeError);
}

// A kernel with no taps in a dim gave an output larger than the input, of
// zeros or the bias alone (the modules refused it, the functions did not).
TEST_CASE("convolutions refuse an empty kernel, naming the op and the weight") {
  Tensor x = tg::randn({2, 4, 6, 7});
  CHECK_THROWS_WITH_AS(F::conv2d(x, tg::randn({4, 4, 0, 3})),
                       "conv2d: the kernel size must be positive, got weight [4, 4, 0, 3]", tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv2d(x, tg::randn({4, 4, 3, 0}), tg::ones({4})),
                       doctest::Contains("got weight [4, 4, 3, 0]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv1d(tg::randn({2, 4, 6}), tg::randn({4, 4, 0})),
                       "conv1d: the kernel size must be positive, got weight [4, 4, 0]", tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv_transpose2d(x, tg::randn({4, 4, 0, 3})),
                       doctest::Contains("conv_transpose2d: the kernel size must be positive"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv_transpose1d(tg::randn({2, 4, 6}), tg::randn({4, 4, 0})),
                       doctest::Contains("conv_transpose1d: the kernel size must be positive, got weight [4, 4, 0]"),
                       tg::ShapeError);
  // No channels or an empty batch stay allowed, as in PyTorch.
  CHECK(F::conv2d(tg::randn({0, 4, 6, 7}), tg::randn({4, 4, 3, 3})).shape() == tg::Dims{0, 4, 4, 5});
}

TEST_CASE("Conv2d module: shapes, PyTorch initialisation bounds, options and printing") {
  tg::manual_seed(5);
  tg::nn::Conv2d conv(3, 16, 5, {.stride = 2, .padding = 2});
  CHECK(conv.weight.shape() == tg::Dims{16, 3, 5, 5});
  CHECK(conv.bias.shape() == tg::Dims{16});
  CHECK(conv.weight.requires_grad());
  // kaiming_uniform_(a = sqrt(5)) and the bias: both within 1/sqrt(fan_in), fan_in = 3 * 5 * 5.
  const double bound = 1.0 / std::sqrt(75.0);
  CHECK(conv.weight.abs().max().item<double>() <= bound);
  CHECK(conv.weight.abs().max().item<double>() > 0.9 * bound);
  CHECK(conv.bias.abs().max().item<double>() <= bound);
  CHECK(conv(tg::randn({2, 3, 32, 32})).shape() == tg::Dims{2, 16, 16, 16});
  CHECK(conv.repr() == "Conv2d(3, 16, kernel_size=(5, 5), stride=(2, 2), padding=(2, 2))");

  tg::nn::Conv2d plain(1, 2, {3, 1}, {.dilation = {2, 1}, .bias = false});
  CHECK_FALSE(plain.bias.defined());
  CHECK(plain.parameters().size() == 1);
  CHECK(plain.repr() == "Conv2d(1, 2, kernel_size=(3, 1), stride=(1, 1), dilation=(2, 1), bias=False)");

  // The module's gradient with respect to its input, in float64.
  plain.to(tg::kFloat64);
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& v) { return plain(v[0]); }, {randn64({1, 1, 7, 4})}));
}

}  // namespace test_conv
