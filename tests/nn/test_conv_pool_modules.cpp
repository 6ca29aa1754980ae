// Conv1d, ConvTranspose1d/2d, Conv2d with groups, AvgPool1d,
// AdaptiveAvgPool1d/2d, Upsample, PixelShuffle/PixelUnshuffle and Unflatten:
// PyTorch's parameter names, layouts and initialisation bounds, the modules
// against their functions, printing, small hand-computed values, and errors.
// (Values against PyTorch: tests/autograd/test_conv_pool_reference.cpp.)
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/nn/nn.h>

namespace test_conv_pool_modules {

namespace F = tg::nn::functional;
using tg::Tensor;

namespace {

std::vector<std::string> parameter_names(const tg::nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}

// Both within 1/sqrt(fan_in), and the weight close to the bound (a uniform
// draw of many values reaches near it): kaiming_uniform_(a = sqrt(5)).
void check_init(const Tensor& weight, const Tensor& bias, double fan_in) {
  const double bound = 1.0 / std::sqrt(fan_in);
  CHECK(weight.abs().max().item<double>() <= bound);
  CHECK(weight.abs().max().item<double>() > 0.8 * bound);
  if (bias.defined()) CHECK(bias.abs().max().item<double>() <= bound);
}

}  // namespace

TEST_CASE("Conv1d: weight [out, in / groups, k], bias [out], PyTorch's bounds, the function, printing") {
  tg::manual_seed(1);
  tg::nn::Conv1d conv(4, 6, 3, {.stride = 2, .padding = 1, .groups = 2});
  CHECK(parameter_names(conv) == std::vector<std::string>{"weight", "bias"});
  CHECK(conv.weight.shape() == tg::Dims{6, 2, 3});
  CHECK(conv.bias.shape() == tg::Dims{6});
  check_init(conv.weight, conv.bias, 2 * 3);
  const Tensor x = tg::randn({2, 4, 9});
  CHECK(tg::equal(conv(x), F::conv1d(x, conv.weight, conv.bias, 2, 1, 1, 2)));
  CHECK(conv(x).shape() == tg::Dims{2, 6, 5});
  CHECK(conv(tg::randn({4, 9})).shape() == tg::Dims{6, 5});
  CHECK(conv.repr() == "Conv1d(4, 6, kernel_size=(3,), stride=(2,), padding=(1,), groups=2)");
  tg::nn::Conv1d plain(2, 3, 5, {.dilation = 2, .bias = false});
  CHECK(parameter_names(plain) == std::vector<std::string>{"weight"});
  CHECK(plain.repr() == "Conv1d(2, 3, kernel_size=(5,), stride=(1,), dilation=(2,), bias=False)");
  CHECK_THROWS_WITH_AS(tg::nn::Conv1d(4, 6, 3, {.groups = 4}), doctest::Contains("Conv1d: groups (4)"), tg::ValueError);
  CHECK_THROWS_AS(tg::nn::Conv1d(0, 6, 3), tg::ValueError);
}

TEST_CASE("Conv2d with groups: weight [out, in / groups, kh, kw]") {
  tg::manual_seed(2);
  tg::nn::Conv2d conv(6, 4, {3, 2}, {.groups = 2});
  CHECK(conv.weight.shape() == tg::Dims{4, 3, 3, 2});
  check_init(conv.weight, conv.bias, 3 * 3 * 2);
  CHECK(conv(tg::randn({1, 6, 5, 5})).shape() == tg::Dims{1, 4, 3, 4});
  CHECK(conv.repr() == "Conv2d(6, 4, kernel_size=(3, 2), stride=(1, 1), groups=2)");
  // Each group sees only its own channels: the second group's output does
  // not move when the first group's input channels do.
  const Tensor x = tg::randn({1, 6, 5, 5});
  Tensor x2 = x.clone();
  x2.slice(1, 0, 3).mul_(3.0);
  CHECK(tg::equal(conv(x).slice(1, 2, 4), conv(x2).slice(1, 2, 4)));
  CHECK_FALSE(tg::equal(conv(x).slice(1, 0, 2), conv(x2).slice(1, 0, 2)));
}

TEST_CASE("grouped and transposed convolutions: one GEMM per image and group, no operand copies") {
  tg::manual_seed(6);
  const Tensor x = tg::randn({3, 4, 6, 6}, {.requires_grad = true});
  const Tensor w = tg::randn({6, 2, 3, 3}, {.requires_grad = true});
  const auto before = tg::kernel::gemm_stats();
  const Tensor y = F::conv2d(x, w, {}, 1, 1, 1, 2);
  const auto mid = tg::kernel::gemm_stats();
  CHECK(mid.calls - before.calls == 3 * 2);
  y.sum().backward();
  const auto after = tg::kernel::gemm_stats();
  CHECK(after.calls - mid.calls == 2 * 3 * 2);  // input and weight gradients
  CHECK(after.operand_copies == before.operand_copies);
  // The transposed convolution is conv2d's input gradient, recorded under its own name.
  const Tensor t =
      F::conv_transpose2d(tg::randn({2, 4, 3, 3}), tg::randn({4, 3, 2, 2}, {.requires_grad = true}), {}, 1, 0, 0, 2);
  CHECK(t.grad_fn_name() == "conv_transpose2d");
  CHECK(tg::kernel::gemm_stats().calls - after.calls == 2 * 2);
}

TEST_CASE("ConvTranspose1d/2d: weight [in, out / groups, k...], fan_in from that layout, output sizes") {
  tg::manual_seed(3);
  tg::nn::ConvTranspose2d up(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2});
  CHECK(parameter_names(up) == std::vector<std::string>{"weight", "bias"});
  CHECK(up.weight.shape() == tg::Dims{4, 3, 3, 3});
  CHECK(up.bias.shape() == tg::Dims{6});
  check_init(up.weight, up.bias, 3 * 3 * 3);  // PyTorch's fan_in: weight.size(1) * kh * kw
  const Tensor x = tg::randn({2, 4, 5, 7});
  // (5 - 1) 2 - 2 + 2 + 1 + 1 = 10, (7 - 1) 2 - 2 + 2 + 1 + 1 = 14
  CHECK(up(x).shape() == tg::Dims{2, 6, 10, 14});
  CHECK(tg::equal(up(x), F::conv_transpose2d(x, up.weight, up.bias, 2, 1, 1, 2)));
  CHECK(up.repr() ==
        "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1), groups=2)");

  tg::nn::ConvTranspose1d up1(3, 2, 4, {.stride = 3, .bias = false, .dilation = 2});
  CHECK(parameter_names(up1) == std::vector<std::string>{"weight"});
  CHECK(up1.weight.shape() == tg::Dims{3, 2, 4});
  check_init(up1.weight, Tensor(), 2 * 4);
  // (6 - 1) 3 + 2 (4 - 1) + 1 = 22
  CHECK(up1(tg::randn({1, 3, 6})).shape() == tg::Dims{1, 2, 22});
  CHECK(up1(tg::randn({3, 6})).shape() == tg::Dims{2, 22});
  CHECK(up1.repr() == "ConvTranspose1d(3, 2, kernel_size=(4,), stride=(3,), dilation=(2,), bias=False)");
}

TEST_CASE("conv_transpose1d by hand: each input scatters the kernel, stride apart") {
  // x = [1, 2], w = [1, 10, 100], stride 2: y = [1, 10, 100 + 2, 20, 200].
  const Tensor x = tg::tensor({1.0, 2.0}, {1, 1, 2});
  const Tensor w = tg::tensor({1.0, 10.0, 100.0}, {1, 1, 3});
  CHECK(F::conv_transpose1d(x, w, {}, 2).to_vector<double>() == std::vector<double>{1, 10, 102, 20, 200});
  // padding 1 trims one on each side; output_padding 1 adds one at the end
  CHECK(F::conv_transpose1d(x, w, {}, 2, 1, 1).to_vector<double>() == std::vector<double>{10, 102, 20, 200});
}

TEST_CASE("Pooling modules equal their functions; adaptive bins by hand") {
  const Tensor x = tg::randn({2, 3, 11});
  CHECK(tg::equal(tg::nn::AvgPool1d(3, 2, 1)(x), F::avg_pool1d(x, 3, 2, 1)));
  CHECK(tg::nn::AvgPool1d(3)(x).shape() == tg::Dims{2, 3, 3});
  CHECK(tg::nn::AvgPool1d(3, 2, 1).repr() == "AvgPool1d(kernel_size=(3,), stride=(2,), padding=(1,))");
  CHECK(tg::equal(tg::nn::AdaptiveAvgPool1d(4)(x), F::adaptive_avg_pool1d(x, 4)));
  CHECK(tg::nn::AdaptiveAvgPool1d(4).repr() == "AdaptiveAvgPool1d(output_size=4)");
  const Tensor img = tg::randn({2, 3, 7, 6});
  CHECK(tg::equal(tg::nn::AdaptiveAvgPool2d({3, 2})(img), F::adaptive_avg_pool2d(img, {3, 2})));
  CHECK(tg::nn::AdaptiveAvgPool2d(1)(img).shape() == tg::Dims{2, 3, 1, 1});
  CHECK(tg::nn::AdaptiveAvgPool2d({3, 2}).repr() == "AdaptiveAvgPool2d(output_size=(3, 2))");
  // 5 -> 3: bins [0, 2), [1, 4), [3, 5) (floor(i 5 / 3), ceil((i + 1) 5 / 3)).
  const Tensor v = tg::tensor({1.0, 2.0, 4.0, 8.0, 16.0}, {1, 1, 5}, tg::kFloat64);
  CHECK(F::adaptive_avg_pool1d(v, 3).to_vector<double>() == std::vector<double>{1.5, 14.0 / 3, 12});
  // Global average pooling is the mean.
  CHECK(tg::allclose(F::adaptive_avg_pool2d(img, 1).flatten(), img.mean({2, 3}).flatten()));
}

TEST_CASE("Upsample equals interpolate; nearest and linear by hand") {
  const Tensor x = tg::tensor({0.0, 1.0, 2.0}, {1, 1, 3}, tg::kFloat64);
  tg::nn::Upsample twice({.scale_factor = {2}, .mode = "nearest"});
  CHECK(twice(x).to_vector<double>() == std::vector<double>{0, 0, 1, 1, 2, 2});
  CHECK(twice.repr() == "Upsample(scale_factor=2.0, mode=nearest)");
  // linear, 3 -> 5, align_corners: samples at 0, 0.5, 1, 1.5, 2.
  CHECK(F::interpolate(x, {.size = {5}, .mode = "linear", .align_corners = true}).to_vector<double>() ==
        std::vector<double>{0, 0.5, 1, 1.5, 2});
  // without align_corners: sources (j + 0.5) 3 / 6 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, ...
  CHECK(F::interpolate(x, {.size = {6}, .mode = "linear"}).to_vector<double>() ==
        std::vector<double>{0, 0.25, 0.75, 1.25, 1.75, 2});
  const Tensor img = tg::randn({1, 2, 3, 4});
  tg::nn::Upsample bilinear({.size = {5, 7}, .mode = "bilinear", .align_corners = false});
  CHECK(tg::equal(bilinear(img), F::interpolate(img, {.size = {5, 7}, .mode = "bilinear", .align_corners = false})));
  CHECK(bilinear.repr() == "Upsample(size=(5, 7), mode=bilinear)");
  CHECK(bilinear.parameters().empty());
}

TEST_CASE("resampling that changes nothing still returns a new tensor, as PyTorch") {
  // A U-Net resizes a skip connection "to match" and adds in place: with
  // every size kept, interpolate used to hand back x itself.
  const Tensor img = tg::randn({1, 2, 3, 4}, {.dtype = tg::kFloat64});
  const Tensor line = tg::randn({1, 2, 4}, {.dtype = tg::kFloat64});
  const std::vector<std::pair<Tensor, tg::InterpolateOptions>> cases = {
      {img, {.size = {3, 4}, .mode = "bilinear"}},       {img, {.scale_factor = {1.0, 1.0}, .mode = "bilinear"}},
      {img, {.size = {3, 4}, .mode = "nearest"}},        {line, {.size = {4}, .mode = "linear"}},
      {line, {.scale_factor = {1.1}, .mode = "linear"}}, {line, {.size = {4}, .mode = "nearest"}},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i);
    const Tensor x = cases[i].first.detach().clone().set_requires_grad(true);
    Tensor y = F::interpolate(x, cases[i].second);
    CHECK_FALSE(y.is_same(x));
    CHECK(tg::equal(y, x));
    const Tensor before = x.detach().clone();
    y.mul_(2);  // allowed: y is not the leaf
    CHECK(tg::equal(x.detach(), before));
    y.sum().backward();
    CHECK(tg::equal(x.grad(), tg::full(x.shape(), 2.0, {.dtype = tg::kFloat64})));
  }
  const Tensor x = line.detach().clone();
  CHECK_FALSE(F::pad(x, {0, 0}).is_same(x));
}

TEST_CASE("PixelShuffle by hand, PixelUnshuffle undoes it, Unflatten") {
  const Tensor x = tg::arange(8.0, tg::kFloat64).reshape({1, 4, 1, 2});
  // channel c r^2 + i r + j goes to pixel (h r + i, w r + j)
  const Tensor y = tg::nn::PixelShuffle(2)(x);
  CHECK(y.shape() == tg::Dims{1, 1, 2, 4});
  CHECK(y.to_vector<double>() == std::vector<double>{0, 2, 1, 3, 4, 6, 5, 7});
  CHECK(tg::equal(tg::nn::PixelUnshuffle(2)(y), x));
  CHECK(tg::nn::PixelShuffle(2).repr() == "PixelShuffle(upscale_factor=2)");
  CHECK(tg::nn::PixelUnshuffle(3).repr() == "PixelUnshuffle(downscale_factor=3)");
  tg::nn::Unflatten unflatten(1, {2, -1});
  CHECK(unflatten(tg::randn({3, 10})).shape() == tg::Dims{3, 2, 5});
  CHECK(unflatten.repr() == "Unflatten(dim=1, unflattened_size=(2, -1))");
}

TEST_CASE("errors name the op and the shapes") {
  CHECK_THROWS_WITH_AS(F::conv1d(tg::randn({2, 3, 4, 5}), tg::randn({2, 3, 3})),
                       doctest::Contains("conv1d: expected a 2-D [C, L] or 3-D [N, C, L] input, got [2, 3, 4, 5]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv1d(tg::randn({2, 4, 9}), tg::randn({6, 2, 3}), {}, 1, 0, 1, 4),
                       doctest::Contains("conv1d: groups (4) must be positive and divide out_channels (6)"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::conv_transpose2d(tg::randn({1, 2, 3, 3}), tg::randn({2, 1, 3, 3}), {}, 2, 0, 2),
                       doctest::Contains("output_padding (2, 2) must be smaller than either the stride"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::interpolate(tg::randn({1, 1, 4}), {.size = {8}, .mode = "bilinear"}),
                       doctest::Contains("interpolate: mode 'bilinear' needs a 4-D input"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::interpolate(tg::randn({1, 1, 4}), {.size = {8}, .align_corners = false}),
                       doctest::Contains("align_corners"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::pixel_shuffle(tg::randn({1, 6, 2, 2}), 2),
                       doctest::Contains("pixel_shuffle: the channels (6)"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::adaptive_avg_pool2d(tg::randn({1, 2, 3, 3}), -1),
                       doctest::Contains("adaptive_avg_pool2d: output size (-1, -1)"), tg::ValueError);
}

TEST_CASE("the 1-D convolutions' errors show the numbers and the shapes the caller passed") {
  const Tensor x = tg::randn({2, 4, 10});
  CHECK_THROWS_WITH_AS(F::conv1d(x, tg::randn({6, 4, 3}), {}, 0),
                       doctest::Contains("conv1d: stride 0 and dilation 1 must be positive and padding 0 non-negative"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::conv1d(tg::randn({2, 4, 2}), tg::randn({6, 4, 5})),
                       doctest::Contains("conv1d: input [2, 4, 2] padded by 0 is smaller than the dilated kernel 5"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv1d(tg::randn({2, 3, 10}), tg::randn({6, 4, 3})),
                       doctest::Contains("(4 per group, 1 groups; input [2, 3, 10], weight [6, 4, 3])"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv_transpose1d(tg::randn({1, 2, 3}), tg::randn({2, 1, 3}), {}, 2, 0, 2),
                       doctest::Contains("conv_transpose1d: output_padding 2 must be smaller than either the "
                                         "stride 2 or the dilation 1"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::conv_transpose1d(tg::randn({1, 2, 1}), tg::randn({2, 1, 1}), {}, 1, 5),
                       doctest::Contains("conv_transpose1d: input [1, 2, 1], weight [2, 1, 1], stride 1, padding 5, "
                                         "output_padding 0 and dilation 1 give an output of -9"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::Conv1d(4, 6, 0), doctest::Contains("Conv1d: channels (4, 6) and kernel size 0 must"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::nn::ConvTranspose1d(4, 6, 0),
                       doctest::Contains("ConvTranspose1d: channels (4, 6) and kernel size 0 must"), tg::ValueError);
  // The 2-D forms keep their pairs.
  CHECK_THROWS_WITH_AS(tg::nn::Conv2d(4, 6, {1, 0}), doctest::Contains("kernel size (1, 0) must"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::conv2d(tg::randn({1, 4, 5, 5}), tg::randn({6, 4, 3, 3}), {}, 0),
                       doctest::Contains("stride (0, 0)"), tg::ValueError);
}

TEST_CASE("an output too large to create is an error naming the op and the output shape") {
  // Each of these once failed creating an internal tensor (an index list,
  // or the 4-D output of a 1-D op): "cannot create a tensor of shape [...]".
  CHECK_THROWS_WITH_AS(F::interpolate(tg::randn({1, 1, 4}), {.size = {1LL << 62}}),
                       doctest::Contains("interpolate: input [1, 1, 4] resized to [1, 1, 4611686018427387904] has "
                                         "more elements than a tensor can hold"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::interpolate(tg::randn({1, 1, 4, 4}), {.scale_factor = {0x1p30}, .mode = "bilinear"}),
                       doctest::Contains("interpolate: input [1, 1, 4, 4] resized to [1, 1, 4294967296, 4294967296]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::pad(tg::randn({3}), {1LL << 62, 0}),
                       doctest::Contains("pad: padding [4611686018427387904, 0] of input [3] gives output shape "
                                         "[4611686018427387907], more elements than a tensor can hold"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv_transpose1d(tg::randn({1, 1, 3}), tg::randn({1, 1, 1}), {}, 1LL << 61),
                       doctest::Contains("conv_transpose1d: output shape [1, 1, 4611686018427387905] has more "
                                         "elements than a tensor can hold"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::randn({2}).repeat({1LL << 61}),
                       doctest::Contains("repeat: output shape [4611686018427387904] has more elements"),
                       tg::ShapeError);
}

}  // namespace test_conv_pool_modules
