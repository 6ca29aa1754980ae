// padding="same" and padding="valid" for conv1d and conv2d (F and the
// modules): the output size, the odd zero after the end as torch's explicit
// pad, the errors, printing, float32. Values and gradients against PyTorch:
// tests/autograd/test_conv_pool_reference.cpp; gradcheck and gradgradcheck on
// four layouts: the op registry's entries.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/nn/conv.h>
#include <tapegrad/nn/functional.h>

#include "support/close.h"

namespace test_conv_padding_same {

namespace F = tg::nn::functional;
using tg::Tensor;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};

}  // namespace

TEST_CASE("padding \"same\": the output as large as the input; an odd total puts the extra zero after") {
  tg::manual_seed(41);
  const Tensor x = tg::randn({2, 3, 6, 7}, kF64);
  // Kernel (4, 3), dilation (1, 2): totals 3 (1 before, 2 after) and 4 (2 and 2).
  const Tensor w = tg::randn({5, 3, 4, 3}, kF64), b = tg::randn({5}, kF64);
  const Tensor y = F::conv2d(x, w, b, 1, "same", {1, 2});
  CHECK(y.shape() == tg::Dims{2, 5, 6, 7});
  // As torch computes it: the odd zero as an explicit pad, then symmetric padding.
  const Tensor padded = F::pad(x, {0, 0, 0, 1});  // (left, right, top, bottom)
  tg_test::check_close(y, F::conv2d(padded, w, b, 1, {1, 2}, {1, 2}).to_vector<double>(), 1e-12);
  // Even totals need no extra zero: "same" is then the symmetric padding.
  const Tensor w3 = tg::randn({5, 3, 3, 3}, kF64);
  tg_test::check_close(F::conv2d(x, w3, {}, 1, "same"), F::conv2d(x, w3, {}, 1, 1).to_vector<double>(), 1e-12);

  // conv1d: kernel 4, total 3: one before, two after.
  const Tensor x1 = tg::randn({2, 3, 9}, kF64), w1 = tg::randn({4, 3, 4}, kF64);
  const Tensor y1 = F::conv1d(x1, w1, {}, 1, "same");
  CHECK(y1.shape() == tg::Dims{2, 4, 9});
  tg_test::check_close(y1, F::conv1d(F::pad(x1, {0, 1}), w1, {}, 1, 1).to_vector<double>(), 1e-12);
  // Dilation 3 with kernel 2: total 3 again; and unbatched.
  CHECK(F::conv1d(x1[0], tg::randn({4, 3, 2}, kF64), {}, 1, "same", 3).shape() == tg::Dims{4, 9});
  // A 1-wide kernel pads nothing.
  const Tensor p = tg::randn({4, 3, 1}, kF64);
  CHECK(tg::equal(F::conv1d(x1, p, {}, 1, "same"), F::conv1d(x1, p)));
}

TEST_CASE("padding \"valid\" is no padding, with any stride; numbers still read as numbers") {
  tg::manual_seed(42);
  const Tensor x = tg::randn({1, 2, 7, 6}, kF64), w = tg::randn({3, 2, 3, 2}, kF64);
  CHECK(tg::equal(F::conv2d(x, w, {}, 2, "valid"), F::conv2d(x, w, {}, 2, 0)));
  CHECK(F::conv2d(x, w, {}, 2, "valid").shape() == tg::Dims{1, 3, 3, 3});
  const Tensor x1 = tg::randn({1, 2, 8}, kF64), w1 = tg::randn({3, 2, 3}, kF64);
  CHECK(tg::equal(F::conv1d(x1, w1, {}, 3, "valid"), F::conv1d(x1, w1, {}, 3)));
  // A literal 0, a pair and a Size2 are numbers; a std::string is a name.
  CHECK(tg::equal(F::conv2d(x, w, {}, 1, 0), F::conv2d(x, w)));
  CHECK(F::conv2d(x, w, {}, 1, {1, 0}).shape() == tg::Dims{1, 3, 7, 5});
  CHECK(F::conv2d(x, w, {}, 1, tg::Size2{0, 1}).shape() == tg::Dims{1, 3, 5, 7});
  const std::string same = "same";
  CHECK(F::conv2d(x, w, {}, 1, same).shape() == tg::Dims{1, 3, 7, 6});
  CHECK(F::conv1d(x1, w1, {}, 1, same).shape() == tg::Dims{1, 3, 8});
}

TEST_CASE("padding \"same\" differentiates to second order, float32 too") {
  tg::manual_seed(43);
  const Tensor x = tg::randn({1, 2, 4, 5}, kF64).set_requires_grad(true);
  const Tensor w = tg::randn({2, 2, 2, 3}, kF64).set_requires_grad(true);
  const auto fn = [](const std::vector<Tensor>& in) { return F::conv2d(in[0], in[1], {}, 1, "same", {3, 1}); };
  CHECK(tg::gradcheck(fn, {x, w}));
  CHECK(tg::gradgradcheck(fn, {x, w}));
  const Tensor xf = x.detach().to(tg::kFloat32), wf = w.detach().to(tg::kFloat32);
  const Tensor yf = F::conv2d(xf, wf, {}, 1, "same", {3, 1});
  CHECK(yf.dtype() == tg::kFloat32);
  tg_test::check_close(yf, F::conv2d(x.detach(), w.detach(), {}, 1, "same", {3, 1}).to_vector<double>(), 1e-5);
}

TEST_CASE("padding names: errors name the op; \"same\" refuses a stride, as PyTorch") {
  const Tensor x = tg::randn({1, 2, 5, 5}), w = tg::randn({3, 2, 3, 3});
  CHECK_THROWS_WITH_AS(F::conv2d(x, w, {}, 2, "same"),
                       doctest::Contains("conv2d: padding=\"same\" is not supported for strided convolutions "
                                         "(stride (2, 2))"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::conv2d(x, w, {}, {1, 2}, "same"), doctest::Contains("stride (1, 2)"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::conv2d(x, w, {}, 1, "full"),
                       doctest::Contains("conv2d: padding must be numbers, \"same\" or \"valid\", got \"full\""),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(
      F::conv1d(tg::randn({1, 2, 5}), tg::randn({3, 2, 3}), {}, 3, "same"),
      doctest::Contains("conv1d: padding=\"same\" is not supported for strided convolutions (stride 3)"),
      tg::ValueError);
  CHECK_THROWS_WITH_AS(F::conv1d(tg::randn({1, 2, 5}), tg::randn({3, 2, 3}), {}, 1, "Same"),
                       doctest::Contains("conv1d: padding must be numbers"), tg::ValueError);
  // The other checks still come first or after as before: a weight of the wrong rank, a kernel past the input.
  CHECK_THROWS_WITH_AS(F::conv2d(x, tg::randn({3, 2, 3}), {}, 1, "same"),
                       doctest::Contains("conv2d: weight must be 4-D"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(
      F::conv2d(x, tg::randn({3, 2, 7, 7}), {}, 1, "valid"),
      doctest::Contains("conv2d: input [1, 2, 5, 5] padded by (0, 0) is smaller than the dilated kernel"),
      tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::conv2d(x, w, {}, 1, "same", 0),
                       doctest::Contains("conv2d: stride (1, 1) and dilation (0, 0)"), tg::ValueError);
}

TEST_CASE("Conv1d and Conv2d take padding \"same\" and \"valid\", and print them as PyTorch") {
  tg::manual_seed(44);
  tg::nn::Conv2d conv(3, 4, 3, {.padding = "same"});
  CHECK(conv.repr() == "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=same)");
  const Tensor x = tg::randn({2, 3, 6, 5});
  CHECK(conv(x).shape() == tg::Dims{2, 4, 6, 5});
  CHECK(tg::equal(conv(x), F::conv2d(x, conv.weight, conv.bias, 1, "same")));
  tg::nn::Conv1d conv1(3, 4, 3, {.padding = "valid"});
  CHECK(conv1.repr() == "Conv1d(3, 4, kernel_size=(3,), stride=(1,), padding=valid)");
  CHECK(conv1(tg::randn({2, 3, 6})).shape() == tg::Dims{2, 4, 4});
  tg::nn::Conv1d even(3, 4, 2, {.padding = "same", .dilation = 3});
  CHECK(even(tg::randn({3, 6})).shape() == tg::Dims{4, 6});
  // Numbers print as before.
  CHECK(tg::nn::Conv2d(3, 4, 3, {.padding = 1}).repr() ==
        "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  // A stride with "same", or another name: refused when the module is built, as PyTorch.
  CHECK_THROWS_WITH_AS(tg::nn::Conv2d(3, 4, 3, {.stride = 2, .padding = "same"}),
                       doctest::Contains("Conv2d: padding=\"same\" is not supported for strided convolutions "
                                         "(stride (2, 2))"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(
      tg::nn::Conv1d(3, 4, 3, {.stride = 2, .padding = "same"}),
      doctest::Contains("Conv1d: padding=\"same\" is not supported for strided convolutions (stride 2)"),
      tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::nn::Conv1d(3, 4, 3, {.padding = "full"}),
                       doctest::Contains("Conv1d: padding must be numbers, \"same\" or \"valid\", got \"full\""),
                       tg::ValueError);
  CHECK(tg::nn::Conv2d(3, 4, 3, {.stride = 2, .padding = "valid"})(x).shape() == tg::Dims{2, 4, 2, 2});
  // A module changed after it was built: the op refuses it when it runs, naming itself.
  tg::nn::Conv2d changed(3, 4, 3, {.padding = "same"});
  changed.stride = 2;
  CHECK_THROWS_WITH_AS(changed(x), doctest::Contains("conv2d: padding=\"same\""), tg::ValueError);
}

TEST_CASE("a padding name held in a variable, and an empty name, as PyTorch") {
  tg::manual_seed(45);
  const Tensor x = tg::randn({1, 2, 5, 5}), w = tg::randn({3, 2, 3, 3}), w1 = tg::randn({3, 2, 3});
  const Tensor x1 = tg::randn({1, 2, 5});
  const char* same = "same";
  char valid[] = "valid";
  const std::string same_string = "same";
  CHECK(tg::equal(F::conv2d(x, w, {}, 1, same), F::conv2d(x, w, {}, 1, 1)));
  CHECK(F::conv2d(x, w, {}, 1, static_cast<char*>(valid)).shape() == tg::Dims{1, 3, 3, 3});
  CHECK(tg::equal(F::conv2d(x, w, {}, 1, same_string), F::conv2d(x, w, {}, 1, 1)));
  CHECK(tg::equal(F::conv1d(x1, w1, {}, 1, same), F::conv1d(x1, w1, {}, 1, 1)));
  CHECK(tg::nn::Conv2d(2, 3, 3, {.padding = same}).repr() ==
        "Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=same)");
  // A literal 0 is still a number.
  CHECK(F::conv2d(x, w, {}, 1, 0).shape() == tg::Dims{1, 3, 3, 3});
  // An empty name (or a null pointer) is a name, refused: it used to mean no padding.
  const char* none = nullptr;
  CHECK_THROWS_WITH_AS(F::conv2d(x, w, {}, 1, std::string()),
                       doctest::Contains("conv2d: padding must be numbers, \"same\" or \"valid\", got \"\""),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::conv1d(x1, w1, {}, 1, none), doctest::Contains("conv1d: padding must be numbers"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::nn::Conv1d(2, 3, 3, {.padding = ""}),
                       doctest::Contains("Conv1d: padding must be numbers, \"same\" or \"valid\", got \"\""),
                       tg::ValueError);
}

}  // namespace test_conv_padding_same
