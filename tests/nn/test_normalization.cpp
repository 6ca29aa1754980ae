// layer_norm and batch_norm: hand-computed values, float64 gradient checks
// (fused backward, and the recorded one under create_graph), running
// statistics in train and eval, and the modules.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/normalization.h>

#include "support/close.h"

namespace test_normalization {

namespace F = tg::nn::functional;
using tg::Tensor;

namespace {

Tensor randn64(tg::Dims shape, bool requires_grad = true) {
  return tg::randn(shape, {.dtype = tg::kFloat64, .requires_grad = requires_grad});
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-6) {
  tg_test::check_close(got, want, tol);
}

}  // namespace

TEST_CASE("layer_norm: hand-computed values") {
  // Row [1, 2, 3]: mean 2, biased variance 2/3, so xhat = [-1, 0, 1] * sqrt(3/2).
  const double r = std::sqrt(1.5);
  Tensor x = tg::tensor({1.0, 2.0, 3.0, 10.0, 10.0, 10.0}, {2, 3});
  Tensor w = tg::tensor({1.0, 2.0, 3.0}), b = tg::tensor({0.0, 1.0, 0.0});
  Tensor y = F::layer_norm(x, {3}, w, b, /*eps=*/0.0);
  // The constant row [10, 10, 10] normalises to 0 (with eps 0 it would be 0/0,
  // so use the default eps for it below).
  check_close(tg::narrow(y, 0, 0, 1).to_vector<double>(), {-r, 1, 3 * r});
  Tensor y2 = F::layer_norm(x, {3}, w, b);
  check_close(tg::narrow(y2, 0, 1, 1).to_vector<double>(), {0, 1, 0});
  // Over the last two dims at once: [[1, 2], [3, 4]] has mean 2.5, variance 1.25.
  Tensor z = F::layer_norm(tg::tensor({1.0, 2.0, 3.0, 4.0}, {1, 2, 2}), {2, 2}, {}, {}, 0.0);
  const double s = 1 / std::sqrt(1.25);
  check_close(z.to_vector<double>(), {-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s});
}

TEST_CASE("layer_norm gradients: gradcheck and gradgradcheck in float64") {
  tg::manual_seed(21);
  for (tg::Dims shape : {tg::Dims{4, 5}, tg::Dims{2, 3, 4}}) {
    for (int k : {1, 2}) {
      tg::Dims norm;
      for (int d = shape.size() - k; d < shape.size(); ++d) norm.push_back(shape[d]);
      std::vector<Tensor> in = {randn64(shape), randn64(norm), randn64(norm)};
      auto fn = [norm](const std::vector<Tensor>& v) { return F::layer_norm(v[0], norm, v[1], v[2]); };
      CHECK(tg::gradcheck(fn, in));
      CHECK(tg::gradgradcheck(fn, in));
      // No affine parameters.
      CHECK(tg::gradcheck([norm](const std::vector<Tensor>& v) { return F::layer_norm(v[0], norm); }, {in[0]}));
    }
  }
  // Normalising over every dim (no leading dims for the parameter sums).
  std::vector<Tensor> in = {randn64({3, 4}), randn64({3, 4}), randn64({3, 4})};
  CHECK(tg::gradcheck([](const std::vector<Tensor>& v) { return F::layer_norm(v[0], {3, 4}, v[1], v[2]); }, in));
}

TEST_CASE("batch_norm in training: hand-computed values and running statistics") {
  // One channel holding [1, 3]: mean 2, biased variance 1, unbiased 2.
  Tensor rm = tg::zeros({1}), rv = tg::ones({1});
  Tensor x = tg::tensor({1.0, 3.0}, {2, 1});
  Tensor y = F::batch_norm(x, rm, rv, {}, {}, /*training=*/true, /*momentum=*/0.1, /*eps=*/0.0);
  check_close(y.to_vector<double>(), {-1, 1});
  check_close(rm.to_vector<double>(), {0.2});        // 0.9 * 0 + 0.1 * 2
  check_close(rv.to_vector<double>(), {0.9 + 0.2});  // 0.9 * 1 + 0.1 * 2
  // Eval uses the running statistics and leaves them alone.
  Tensor ye = F::batch_norm(x, rm, rv, {}, {}, /*training=*/false, 0.1, 0.0);
  check_close(ye.to_vector<double>(), {(1 - 0.2) / std::sqrt(1.1), (3 - 0.2) / std::sqrt(1.1)});
  check_close(rm.to_vector<double>(), {0.2});

  // [N, C, L]: channel statistics over N and L, with weight and bias.
  Tensor x3 = tg::tensor({1.0, 3.0, 10.0, 20.0, 5.0, 7.0, 30.0, 40.0},
                         {2, 2, 2});  // channel 0: 1,3,5,7; channel 1: 10,20,30,40
  Tensor w = tg::tensor({2.0, 1.0}), b = tg::tensor({0.0, -1.0});
  Tensor y3 = F::batch_norm(x3, {}, {}, w, b, true, 0.1, 0.0);
  const double s0 = 1 / std::sqrt(5.0), s1 = 1 / std::sqrt(125.0);  // biased variances 5 and 125
  check_close(y3.to_vector<double>(),
              {2 * -3 * s0, 2 * -1 * s0, -15 * s1 - 1, -5 * s1 - 1, 2 * 1 * s0, 2 * 3 * s0, 5 * s1 - 1, 15 * s1 - 1});
}

TEST_CASE("batch_norm gradients: gradcheck and gradgradcheck in float64, train and eval") {
  tg::manual_seed(22);
  for (tg::Dims shape : {tg::Dims{5, 3}, tg::Dims{3, 2, 4}, tg::Dims{2, 3, 3, 2}}) {
    CAPTURE(tg::shape_str(shape));
    const std::int64_t c = shape[1];
    std::vector<Tensor> in = {randn64(shape), randn64({c}), randn64({c})};
    auto train = [](const std::vector<Tensor>& v) { return F::batch_norm(v[0], {}, {}, v[1], v[2], true); };
    CHECK(tg::gradcheck(train, in));
    CHECK(tg::gradgradcheck(train, in));
    Tensor rm = randn64({c}, false), rv = tg::rand({c}, {.dtype = tg::kFloat64}).add_(0.5);
    auto eval = [rm, rv](const std::vector<Tensor>& v) { return F::batch_norm(v[0], rm, rv, v[1], v[2], false); };
    CHECK(tg::gradcheck(eval, in));
  }
}

TEST_CASE("batch_norm errors") {
  CHECK_THROWS_WITH_AS(F::batch_norm(tg::randn({1, 3}), {}, {}, {}, {}, true),
                       doctest::Contains("more than 1 value per channel"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::batch_norm(tg::randn({4, 3}), {}, {}, tg::ones({2}), {}, true),
                       doctest::Contains("batch_norm: weight must have shape [3], got [2]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::layer_norm(tg::randn({4, 3}), {4}),
                       doctest::Contains("layer_norm: input [4, 3] does not end with the normalized shape [4]"),
                       tg::ShapeError);
  // Every shape ends with []: the problem is the empty normalized shape.
  CHECK_THROWS_WITH_AS(
      F::layer_norm(tg::randn({4, 3}), tg::Dims{}),
      doctest::Contains("layer_norm: normalized_shape must name at least one dim, got [] (input [4, 3])"),
      tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::rms_norm(tg::randn({4, 3}), tg::Dims{}),
                       doctest::Contains("rms_norm: normalized_shape must name at least one dim"), tg::ShapeError);
  // A finite positive scale whose output cannot exist says so.
  CHECK_THROWS_WITH_AS(F::interpolate(tg::randn({1, 1, 4}), {.scale_factor = {1e300}}),
                       doctest::Contains("more elements than a tensor can hold"), tg::ShapeError);
}

TEST_CASE("batch_norm refuses running statistics that require grad, as PyTorch (they would get no gradient)") {
  for (bool training : {false, true}) {
    CAPTURE(training);
    Tensor x = randn64({4, 3});
    Tensor mean = tg::zeros({3}, tg::kFloat64), var = tg::ones({3}, tg::kFloat64);
    CHECK_THROWS_WITH_AS(F::batch_norm(x, mean.clone().set_requires_grad(true), var, {}, {}, training),
                         doctest::Contains("batch_norm: not differentiable with respect to running_mean"),
                         tg::AutogradError);
    CHECK_THROWS_WITH_AS(F::batch_norm(x, mean, var.clone().set_requires_grad(true), {}, {}, training),
                         doctest::Contains("batch_norm: not differentiable with respect to running_var"),
                         tg::AutogradError);
    tg::NoGradGuard no_grad;  // without grad mode nothing would be recorded, so they are taken
    CHECK(F::batch_norm(x, mean.clone().set_requires_grad(true), var, {}, {}, training).defined());
  }
}

TEST_CASE("batch_norm of an empty input: an empty output, running statistics unchanged, gradients (PyTorch)") {
  // The count per channel was numel / C: 0 for an empty batch and for no
  // channels, refused as "more than 1 value per channel". PyTorch refuses
  // exactly one value only.
  for (const tg::Dims& shape : {tg::Dims{0, 3, 2}, tg::Dims{0, 3}, tg::Dims{1, 3, 0}, tg::Dims{2, 3, 0}}) {
    CAPTURE(tg::shape_str(shape));
    Tensor x = tg::zeros(shape, {.dtype = tg::kFloat64}).set_requires_grad(true);
    Tensor w = tg::ones({3}, {.dtype = tg::kFloat64}).set_requires_grad(true);
    Tensor b = tg::zeros({3}, {.dtype = tg::kFloat64}).set_requires_grad(true);
    Tensor rm = tg::full({3}, 0.5, {.dtype = tg::kFloat64}), rv = tg::full({3}, 2.0, {.dtype = tg::kFloat64});
    const Tensor y = F::batch_norm(x, rm, rv, w, b, true);
    CHECK(y.shape() == shape);
    CHECK(rm.to_vector<double>() == std::vector<double>{0.5, 0.5, 0.5});
    CHECK(rv.to_vector<double>() == std::vector<double>{2, 2, 2});
    y.sum().backward();
    CHECK(x.grad().shape() == shape);
    CHECK(w.grad().to_vector<double>() == std::vector<double>{0, 0, 0});
    CHECK(b.grad().to_vector<double>() == std::vector<double>{0, 0, 0});
    CHECK(F::batch_norm(x, {}, {}, {}, {}, true).shape() == shape);
    CHECK(F::batch_norm(x, rm, rv, {}, {}, false).shape() == shape);
  }
  // No channels: nothing to normalise, whatever the batch.
  Tensor none = tg::zeros({2, 0, 3}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  const Tensor y = F::batch_norm(none, tg::zeros({0}, {.dtype = tg::kFloat64}), tg::ones({0}, {.dtype = tg::kFloat64}),
                                 {}, {}, true);
  CHECK(y.shape() == tg::Dims{2, 0, 3});
  y.sum().backward();
  CHECK(none.grad().shape() == tg::Dims{2, 0, 3});
  CHECK(F::batch_norm(tg::zeros({0, 0, 2}), {}, {}, {}, {}, true).shape() == tg::Dims{0, 0, 2});
  // Exactly one value per channel is still refused, as PyTorch.
  CHECK_THROWS_WITH_AS(F::batch_norm(tg::randn({1, 3, 1}), {}, {}, {}, {}, true),
                       doctest::Contains("batch_norm: expected more than 1 value per channel when training, got "
                                         "input [1, 3, 1]"),
                       tg::ValueError);

  // The module: running statistics unchanged, the batch still counted (as
  // nn.BatchNorm1d).
  tg::nn::BatchNorm1d bn(3);
  const Tensor out = bn(tg::zeros({0, 3, 2}));
  CHECK(out.shape() == tg::Dims{0, 3, 2});
  CHECK(bn.running_mean.to_vector<double>() == std::vector<double>{0, 0, 0});
  CHECK(bn.running_var.to_vector<double>() == std::vector<double>{1, 1, 1});
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);

  // group_norm and layer_norm of empty inputs, as PyTorch.
  CHECK(F::group_norm(tg::zeros({0, 3, 2}), 1).shape() == tg::Dims{0, 3, 2});
  CHECK(F::group_norm(tg::zeros({2, 0, 3}), 1).shape() == tg::Dims{2, 0, 3});
  CHECK(F::group_norm(tg::zeros({1, 3, 0}), 3).shape() == tg::Dims{1, 3, 0});
  CHECK(F::layer_norm(tg::zeros({0, 3, 2}), {2}).shape() == tg::Dims{0, 3, 2});
  CHECK(F::layer_norm(tg::zeros({2, 3, 0}), {0}).shape() == tg::Dims{2, 3, 0});
}

TEST_CASE("BatchNorm1d and BatchNorm2d: buffers, train vs eval, printing") {
  tg::manual_seed(23);
  tg::nn::BatchNorm2d bn(3);
  CHECK(bn.repr() == "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  // Floats print as Python's repr, as torch.nn.BatchNorm1d(2, eps=1.0, momentum=1.0) does.
  CHECK(tg::nn::BatchNorm1d(2, {.eps = 1.0, .momentum = 1.0}).repr() ==
        "BatchNorm1d(2, eps=1.0, momentum=1.0, affine=True, track_running_stats=True)");
  const auto buffers = bn.named_buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(buffers[0].first == "running_mean");
  CHECK(buffers[1].first == "running_var");
  CHECK(buffers[2].first == "num_batches_tracked");
  CHECK(bn.parameters().size() == 2);

  Tensor x = tg::randn({4, 3, 5, 5}).mul_(2.0).add_(3.0);
  Tensor y = bn(x);
  // Training output: zero mean, unit (biased) variance per channel.
  check_close(y.mean({0, 2, 3}).to_vector<double>(), {0, 0, 0}, 1e-4);
  for (double v : y.var({0, 2, 3}, 0).to_vector<double>()) CHECK(v == doctest::Approx(1).epsilon(1e-3));
  // Running statistics moved 10% of the way to the batch's.
  const auto batch_mean = x.mean({0, 2, 3}).to_vector<double>();
  const auto batch_var = x.var({0, 2, 3}, 1).to_vector<double>();
  const auto rm = bn.running_mean.to_vector<double>(), rv = bn.running_var.to_vector<double>();
  for (int c = 0; c < 3; ++c) {
    CHECK(rm[c] == doctest::Approx(0.1 * batch_mean[c]).epsilon(1e-5));
    CHECK(rv[c] == doctest::Approx(0.9 + 0.1 * batch_var[c]).epsilon(1e-5));
  }
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);

  // Eval: running statistics are used and not updated.
  bn.eval();
  Tensor ye = bn(x);
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);
  CHECK(bn.running_mean.to_vector<double>() == rm);
  Tensor expect = (x - bn.running_mean.reshape({1, 3, 1, 1})) / (bn.running_var.reshape({1, 3, 1, 1}) + 1e-5).sqrt();
  CHECK(tg::allclose(ye, expect, 1e-5, 1e-5));

  // Cumulative average (momentum None): after two batches, the plain mean of both.
  tg::nn::BatchNorm1d cumulative(2, {.momentum = std::nullopt});
  Tensor a = tg::tensor({0.0, 0.0, 2.0, 4.0}, {2, 2}), b = tg::tensor({4.0, 8.0, 6.0, 12.0}, {2, 2});
  cumulative(a);
  cumulative(b);
  check_close(cumulative.running_mean.to_vector<double>(), {3, 6});

  // The module in float64: gradient with respect to its input, train and eval.
  tg::nn::BatchNorm1d bn64(3);
  bn64.to(tg::kFloat64);
  auto through = [&bn64](const std::vector<Tensor>& v) { return bn64(v[0]); };
  CHECK(tg::gradcheck(through, {randn64({4, 3, 2})}));
  bn64.eval();
  CHECK(tg::gradcheck(through, {randn64({4, 3})}));

  tg::nn::BatchNorm1d bn1(4);
  CHECK(bn1(tg::randn({8, 4})).shape() == tg::Dims{8, 4});
  CHECK(bn1(tg::randn({8, 4, 6})).shape() == tg::Dims{8, 4, 6});
  CHECK_THROWS_WITH_AS(bn1(tg::randn({8, 4, 2, 2})), doctest::Contains("BatchNorm1d: expected a 2-D"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(bn1(tg::randn({8, 5})), doctest::Contains("BatchNorm1d: expected 4 channels, got 5"),
                       tg::ShapeError);

  // Without running statistics, eval still normalises with the batch.
  tg::nn::BatchNorm1d untracked(2, {.affine = false, .track_running_stats = false});
  CHECK(untracked.buffers().empty());
  CHECK(untracked.parameters().empty());
  untracked.eval();
  check_close(untracked(tg::tensor({1.0, 5.0, 3.0, 7.0}, {2, 2})).to_vector<double>(), {-1, -1, 1, 1}, 1e-4);
}

TEST_CASE("LayerNorm module") {
  tg::nn::LayerNorm ln(4);
  CHECK(ln.repr() == "LayerNorm((4,), eps=1e-05, elementwise_affine=True)");
  CHECK(ln.weight.to_vector<double>() == std::vector<double>(4, 1.0));
  CHECK(ln.bias.to_vector<double>() == std::vector<double>(4, 0.0));
  Tensor y = ln(tg::tensor({1.0, 2.0, 3.0, 4.0}, {1, 4}));
  const double s = 1 / std::sqrt(1.25 + 1e-5);
  check_close(y.to_vector<double>(), {-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s});
  tg::nn::LayerNorm ln2({2, 3}, {.elementwise_affine = false});
  CHECK(ln2.parameters().empty());
  CHECK(ln2.repr() == "LayerNorm((2, 3), eps=1e-05, elementwise_affine=False)");
  ln.to(tg::kFloat64);
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& v) { return ln(v[0]); }, {randn64({3, 4})}));
}

}  // namespace test_normalization
