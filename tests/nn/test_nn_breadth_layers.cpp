// The nn-breadth layers and helpers: ReLU6, PReLU, GELU(approximate),
// CosineSimilarity, PairwiseDistance, InstanceNorm1d/2d (forward, parameters,
// running statistics, reprs as torch's, errors); nn::utils'
// parameters_to_vector and vector_to_parameters; nn::init's trunc_normal_
// (bounds, moments of the truncated normal, determinism) and orthogonal_
// (orthogonality, gain, determinism). The ops themselves are held to PyTorch in
// tests/autograd/test_nn_breadth_ops.cpp.
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/random.h>
#include <tapegrad/nn/nn.h>

#include "support/close.h"

namespace test_nn_breadth_layers {

namespace F = tg::nn::functional;
namespace nn = tg::nn;
using tg::Tensor;

namespace {

double max_abs(const Tensor& t) { return tg::max(tg::abs(t)).to(tg::kFloat64).item<double>(); }

}  // namespace

TEST_CASE("ReLU6, GELU(approximate) and PReLU: forward as the ops, reprs as torch's") {
  const Tensor x = tg::tensor({-2.0, 0.5, 3.0, 7.0}, {2, 2});
  nn::ReLU6 relu6;
  tg_test::check_close(relu6(x), {0, 0.5, 3, 6}, 0);
  CHECK(relu6.repr() == "ReLU6()");

  nn::GELU exact, tanh_form("tanh");
  tg_test::check_close(exact(x), tg::gelu(x), 0);
  tg_test::check_close(tanh_form(x), tg::gelu(x, "tanh"), 0);
  CHECK(exact.repr() == "GELU(approximate='none')");
  CHECK(tanh_form.repr() == "GELU(approximate='tanh')");
  CHECK_THROWS_WITH_AS(nn::GELU("sigmoid"), doctest::Contains("GELU: approximate must be"), tg::ValueError);

  nn::PReLU one;
  REQUIRE(one.named_parameters().size() == 1);
  CHECK(one.named_parameters()[0].first == "weight");
  CHECK(one.weight.shape() == tg::Dims{1});
  CHECK(one.weight.requires_grad());
  CHECK(one.weight.item<float>() == 0.25f);
  CHECK(one.repr() == "PReLU(num_parameters=1)");
  tg_test::check_close(one(x), {-0.5, 0.5, 3, 7}, 0);

  nn::PReLU per_channel(3, 0.1);
  CHECK(per_channel.repr() == "PReLU(num_parameters=3)");
  CHECK(per_channel.weight.to_vector<float>() == std::vector<float>{0.1f, 0.1f, 0.1f});
  CHECK(nn::PReLU({.num_parameters = 2, .init = -1}).weight.to_vector<float>() == std::vector<float>{-1, -1});
  CHECK_THROWS_WITH_AS(nn::PReLU(0), doctest::Contains("PReLU: num_parameters must be at least 1"), tg::ValueError);
  // A channel count other than num_parameters is prelu's error, naming the shapes.
  CHECK_THROWS_WITH_AS(per_channel(tg::ones({2, 4})), doctest::Contains("prelu: weight has 3 elements"),
                       tg::ShapeError);
}

TEST_CASE("PReLU learns: the slopes' gradient is the sum of dy x over x <= 0 per channel") {
  nn::PReLU prelu(2);
  const Tensor x = tg::tensor({-1.0, 2.0, -3.0, -4.0, 0.5, 1.0}, {3, 2});
  tg::sum(prelu(x)).backward();
  REQUIRE(prelu.weight.grad().defined());
  // channel 0: -1 + -3 (x = 0.5 is positive); channel 1: -4 (2 and 1 positive).
  tg_test::check_close(prelu.weight.grad(), {-4, -4}, 0);
  // After reset_parameters the slopes are init again.
  {
    tg::NoGradGuard no_grad;
    prelu.weight.fill_(3);
  }
  prelu.reset_parameters();
  CHECK(prelu.weight.to_vector<float>() == std::vector<float>{0.25f, 0.25f});
}

TEST_CASE("CosineSimilarity and PairwiseDistance: two inputs, their options, torch's reprs") {
  const Tensor a = tg::tensor({1.0, 0.0, 2.0, 2.0}, {2, 2}), b = tg::tensor({1.0, 1.0}, {2});
  nn::CosineSimilarity cos;
  tg_test::check_close(cos(a, b), {1 / std::numbers::sqrt2, 1}, 1e-6);
  CHECK(cos.repr() == "CosineSimilarity()");
  nn::CosineSimilarity cos0({.dim = 0, .eps = 1e-6});
  tg_test::check_close(cos0(a, a), F::cosine_similarity(a, a, 0, 1e-6), 0);
  CHECK(cos0.repr() == "CosineSimilarity()");  // torch prints no options

  nn::PairwiseDistance dist;
  tg_test::check_close(dist(a, b), F::pairwise_distance(a, b), 0);
  CHECK(dist(a, b).shape() == tg::Dims{2});
  CHECK(dist.repr() == "PairwiseDistance()");
  nn::PairwiseDistance l1({.p = 1, .eps = 0, .keepdim = true});
  CHECK(l1(a, b).shape() == tg::Dims{2, 1});
  tg_test::check_close(l1(a, b), {1, 2}, 1e-7);
}

TEST_CASE("InstanceNorm1d/2d: torch's defaults and reprs, forward as F::instance_norm, unbatched input") {
  nn::InstanceNorm2d plain(3);
  CHECK(plain.parameters().empty());
  CHECK(plain.buffers().empty());
  CHECK(plain.repr() == "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
  nn::InstanceNorm1d tracked(4, {.eps = 1e-3, .momentum = 0.5, .affine = true, .track_running_stats = true});
  CHECK(tracked.repr() == "InstanceNorm1d(4, eps=0.001, momentum=0.5, affine=True, track_running_stats=True)");
  CHECK(tracked.parameters().size() == 2);
  CHECK(tracked.buffers().size() == 3);  // running_mean, running_var, num_batches_tracked (as torch)

  tg::manual_seed(3);
  const Tensor x = tg::randn({2, 3, 4, 5});
  tg_test::check_close(plain(x), F::instance_norm(x), 0);
  // Unbatched [C, H, W] is a batch of one.
  tg_test::check_close(plain(x.select(0, 1)), F::instance_norm(x.narrow(0, 1, 1)).squeeze(0), 0);
  // Each (sample, channel) has mean 0 and biased variance 1 (to eps).
  const Tensor y = plain(x).to(tg::kFloat64);
  CHECK(max_abs(tg::mean(y, {2, 3})) < 1e-6);
  CHECK(max_abs(tg::sub(tg::var(y, {2, 3}, 0), 1.0)) < 1e-3);
  // Eval without tracked statistics still uses the input's.
  plain.eval();
  tg_test::check_close(plain(x), F::instance_norm(x), 0);
}

TEST_CASE("InstanceNorm with momentum set to nothing keeps its running statistics, as PyTorch 2's") {
  nn::InstanceNorm1d norm(2, {.track_running_stats = true});
  norm.momentum = std::nullopt;
  CHECK(norm.repr() == "InstanceNorm1d(2, eps=1e-05, momentum=None, affine=False, track_running_stats=True)");
  norm(tg::tensor({1.0, 3.0, 0.0, 4.0}, {1, 2, 2}));
  tg_test::check_close(norm.running_mean, {0, 0}, 0);
  tg_test::check_close(norm.running_var, {1, 1}, 0);
}

TEST_CASE("InstanceNorm with track_running_stats: training updates the buffers, eval uses them") {
  nn::InstanceNorm1d norm(2, {.momentum = 0.5, .track_running_stats = true});
  // [N = 2, C = 2, L = 2].
  const Tensor in = tg::tensor({1.0, 3.0, 0.0, 4.0, 5.0, 7.0, 2.0, 2.0}, {2, 2, 2});
  norm(in);
  // Per instance means: (2, 2 | 6, 2), variances (unbiased, 2 values): (2, 8 | 2, 0).
  // Batch means: mean (4, 2), var (2, 4); running = 0.5 old + 0.5 batch.
  tg_test::check_close(norm.running_mean, {2, 1}, 1e-6);
  tg_test::check_close(norm.running_var, {1.5, 2.5}, 1e-6);
  CHECK(norm.num_batches_tracked.item<std::int64_t>() == 0);  // as torch: InstanceNorm does not count
  norm.eval();
  tg_test::check_close(norm(in), F::batch_norm(in, norm.running_mean, norm.running_var, {}, {}, false), 0);
  // An unbatched input in eval with running statistics.
  tg_test::check_close(norm(in.select(0, 0)),
                       F::batch_norm(in.narrow(0, 0, 1), norm.running_mean, norm.running_var, {}, {}, false).squeeze(0),
                       0);
  norm.reset_running_stats();
  tg_test::check_close(norm.running_mean, {0, 0}, 0);
  tg_test::check_close(norm.running_var, {1, 1}, 0);
}

TEST_CASE("InstanceNorm: affine layers train, and bad inputs name the layer") {
  nn::InstanceNorm2d norm(2, {.affine = true});
  const Tensor x = tg::randn({3, 2, 2, 2});
  tg::sum(tg::mul(norm(x), x)).backward();
  CHECK(norm.weight.grad().defined());
  CHECK(norm.bias.grad().defined());
  CHECK_THROWS_WITH_AS(norm(tg::ones({2, 6})), doctest::Contains("InstanceNorm2d: expected a 3-D (unbatched) or 4-D"),
                       tg::ShapeError);
  CHECK(norm(tg::randn({2, 2, 3})).shape() == tg::Dims{2, 2, 3});  // [C, H, W], unbatched
  CHECK_THROWS_WITH_AS(norm(tg::ones({2, 3, 2, 2})), doctest::Contains("InstanceNorm2d: expected 2 channels at dim 1"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(nn::InstanceNorm1d(-1), doctest::Contains("num_features"), tg::ValueError);
  // Without affine or running statistics another channel count passes, as torch (which only warns).
  nn::InstanceNorm1d loose(4);
  CHECK(loose(tg::randn({2, 3, 5})).shape() == tg::Dims{2, 3, 5});
  // With running statistics of 4 channels, instance_norm names the mismatch.
  nn::InstanceNorm1d strict(4, {.track_running_stats = true});
  CHECK_THROWS_WITH_AS(strict(tg::randn({2, 3, 5})), doctest::Contains("instance_norm: running_mean must have shape"),
                       tg::ShapeError);
}

TEST_CASE("parameters_to_vector: the parameters flattened in order, differentiable") {
  const Tensor a = tg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2}, tg::kFloat64).requires_grad_(true);
  const Tensor b = tg::tensor({5.0, 6.0, 7.0}, {3}, tg::kFloat64).requires_grad_(true);
  const Tensor v = nn::utils::parameters_to_vector({a.t(), b});  // a non-contiguous parameter is read in its order
  tg_test::check_close(v, {1, 3, 2, 4, 5, 6, 7}, 0);
  const Tensor w = tg::arange(7.0, {.dtype = tg::kFloat64});
  tg::sum(tg::mul(v, w)).backward();
  tg_test::check_close(a.grad(), {0, 2, 1, 3}, 0);
  tg_test::check_close(b.grad(), {4, 5, 6}, 0);
  CHECK(
      tg::gradgradcheck([](const std::vector<Tensor>& in) { return tg::pow(nn::utils::parameters_to_vector(in), 3.0); },
                        {a.detach().requires_grad_(true), b.detach().requires_grad_(true)}));
  CHECK_THROWS_WITH_AS(nn::utils::parameters_to_vector({}), doctest::Contains("parameters_to_vector"), tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::utils::parameters_to_vector({a, Tensor()}),
                       doctest::Contains("parameters_to_vector: parameter 1 is undefined"), tg::ValueError);
}

// The parameters may be views of vec itself (a flat buffer, in another
// order): copying slice by slice overwrote vec[3:6] before p2 read it.
TEST_CASE("vector_to_parameters: a vec the parameters view is read whole before any is written") {
  const Tensor flat = tg::arange(6.0, {.dtype = tg::kFloat64});
  const Tensor p1 = flat.narrow(0, 3, 3), p2 = flat.narrow(0, 0, 3);
  nn::utils::vector_to_parameters(flat, {p1, p2});  // p1 <- [0 1 2], p2 <- [3 4 5], as PyTorch
  tg_test::check_close(p1, {0, 1, 2}, 0);
  tg_test::check_close(p2, {3, 4, 5}, 0);
  tg_test::check_close(flat, {3, 4, 5, 0, 1, 2}, 0);
}

TEST_CASE("vector_to_parameters: copies slices into the parameters in place; a wrong length changes nothing") {
  nn::Linear linear(3, 2);
  const auto params = linear.parameters();
  const Tensor weight_before = linear.weight;
  const Tensor v = tg::arange(8.0);
  nn::utils::vector_to_parameters(v, params);
  tg_test::check_close(linear.weight, {0, 1, 2, 3, 4, 5}, 0);
  tg_test::check_close(linear.bias, {6, 7}, 0);
  CHECK(linear.weight.is_same(weight_before));  // the same tensor, its own storage
  CHECK(linear.weight.requires_grad());
  CHECK(linear.weight.is_leaf());
  // A round trip through parameters_to_vector.
  tg_test::check_close(nn::utils::parameters_to_vector(params), v, 0);
  // Later changes to v do not reach the parameters (PyTorch would alias them).
  Tensor v2 = v.clone();
  nn::utils::vector_to_parameters(v2, params);
  v2.fill_(-1);
  tg_test::check_close(linear.bias, {6, 7}, 0);
  // A float64 vector is converted to the parameters' dtype.
  nn::utils::vector_to_parameters(tg::full({8}, 0.5, {.dtype = tg::kFloat64}), params);
  CHECK(linear.weight.dtype() == tg::kFloat32);
  tg_test::check_close(linear.bias, {0.5, 0.5}, 0);
  CHECK_THROWS_WITH_AS(nn::utils::vector_to_parameters(tg::zeros({7}), params),
                       doctest::Contains("vector_to_parameters: vec has 7 elements but the 2 parameters have 8"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(nn::utils::vector_to_parameters(tg::zeros({9}), params),
                       doctest::Contains("vector_to_parameters"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(nn::utils::vector_to_parameters(tg::zeros({2, 4}), params),
                       doctest::Contains("vector_to_parameters: expected a 1-D vec, got shape [2, 4]"), tg::ShapeError);
  tg_test::check_close(linear.bias, {0.5, 0.5}, 0);  // unchanged by the refused calls
}

TEST_CASE("init::trunc_normal_: within [a, b], the truncated normal's mean and variance, seeded") {
  const auto phi = [](double z) { return std::exp(-z * z / 2) / std::sqrt(2 * std::numbers::pi); };
  const auto cdf = [](double z) { return (1 + std::erf(z / std::numbers::sqrt2)) / 2; };
  struct Case {
    double mean, std, a, b;
  };
  for (const Case c : {Case{0, 1, -2, 2}, Case{1, 2, 0, 3}, Case{-0.5, 0.2, -1, 10}}) {
    CAPTURE(c.mean);
    CAPTURE(c.a);
    Tensor t = tg::empty({200, 500}, {.dtype = tg::kFloat64});
    tg::manual_seed(11);
    nn::init::trunc_normal_(t, c.mean, c.std, c.a, c.b);
    CHECK(tg::min(t).item<double>() >= c.a);
    CHECK(tg::max(t).item<double>() <= c.b);
    // The moments of N(mean, std^2) truncated to [a, b].
    const double al = (c.a - c.mean) / c.std, be = (c.b - c.mean) / c.std, z = cdf(be) - cdf(al);
    const double want_mean = c.mean + c.std * (phi(al) - phi(be)) / z;
    const double r = (phi(al) - phi(be)) / z;
    const double want_var = c.std * c.std * (1 + (al * phi(al) - be * phi(be)) / z - r * r);
    // 1e5 samples: the sample mean's standard error is sqrt(var / 1e5); allow 5 of them.
    const double se = std::sqrt(want_var / 1e5);
    CHECK(std::abs(tg::mean(t).item<double>() - want_mean) < 5 * se);
    CHECK(std::abs(tg::var(t).item<double>() / want_var - 1) < 0.02);
    // The same seed gives the same tensor.
    Tensor again = tg::empty({200, 500}, {.dtype = tg::kFloat64});
    tg::manual_seed(11);
    nn::init::trunc_normal_(again, c.mean, c.std, c.a, c.b);
    CHECK(tg::equal(t, again));
  }
  // A generator of its own, float32, a parameter that requires grad, the handle returned.
  tg::Generator gen(5), gen2(5);
  Tensor p = tg::empty({64}, {.requires_grad = true});
  CHECK(nn::init::trunc_normal_(p, 0, 1, -0.5, 0.5, &gen).is_same(p));
  CHECK(p.requires_grad());
  CHECK(max_abs(p) <= 0.5);
  Tensor q = tg::empty({64});
  nn::init::trunc_normal_(q, 0, 1, -0.5, 0.5, &gen2);
  CHECK(tg::equal(p.detach(), q));
  // std 0 fills the mean, clamped.
  Tensor c = tg::empty({3});
  nn::init::trunc_normal_(c, 5, 0, -2, 2);
  tg_test::check_close(c, {2, 2, 2}, 0);
  CHECK_THROWS_WITH_AS(nn::init::trunc_normal_(c, 0, -1), doctest::Contains("init.trunc_normal_: std"), tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::init::trunc_normal_(c, 0, 1, 2, -2), doctest::Contains("init.trunc_normal_"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::init::trunc_normal_(tg::zeros({3}, {.dtype = tg::kInt64})),
                       doctest::Contains("init.trunc_normal_"), tg::DTypeError);
}

TEST_CASE("init::orthogonal_: orthonormal rows or columns to 1e-5, gain, flattened dims, seeded") {
  for (const tg::Dims& shape : {tg::Dims{4, 7}, tg::Dims{7, 4}, tg::Dims{5, 5}, tg::Dims{3, 2, 2, 2}}) {
    CAPTURE(shape);
    for (const tg::DType dtype : {tg::kFloat32, tg::kFloat64}) {
      Tensor t = tg::empty(shape, {.dtype = dtype});
      tg::manual_seed(9);
      nn::init::orthogonal_(t, 2.0);
      const Tensor m = tg::reshape(t, {shape[0], -1}).to(tg::kFloat64);
      const std::int64_t rows = m.size(0), cols = m.size(1);
      // gain^2 times the identity: Q Q^T for wide (rows <= cols), Q^T Q for tall.
      const Tensor gram = rows <= cols ? tg::matmul(m, m.t()) : tg::matmul(m.t(), m);
      const Tensor eye = tg::mul(tg::eye(std::min(rows, cols), {.dtype = tg::kFloat64}), 4.0);
      CHECK(max_abs(tg::sub(gram, eye)) < (dtype == tg::kFloat64 ? 1e-12 : 1e-5));
      Tensor again = tg::empty(shape, {.dtype = dtype});
      tg::manual_seed(9);
      nn::init::orthogonal_(again, 2.0);
      CHECK(tg::equal(t, again));
    }
  }
  // Different draws differ; the default gain is 1.
  Tensor a = tg::empty({3, 3}), b = tg::empty({3, 3});
  nn::init::orthogonal_(a);
  nn::init::orthogonal_(b);
  CHECK(!tg::equal(a, b));
  CHECK(max_abs(tg::sub(tg::matmul(a, a.t()), tg::eye(3))) < 1e-5);
  // Empty tensors are left alone; fewer than 2 dims is refused, as PyTorch.
  Tensor empty = tg::empty({0, 3});
  CHECK(nn::init::orthogonal_(empty).is_same(empty));
  CHECK_THROWS_WITH_AS(nn::init::orthogonal_(tg::empty({4})), doctest::Contains("init.orthogonal_"), tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::init::orthogonal_(tg::zeros({2, 2}, {.dtype = tg::kInt64})),
                       doctest::Contains("init.orthogonal_"), tg::DTypeError);
}

}  // namespace test_nn_breadth_layers
