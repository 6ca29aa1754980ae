// KLDivLoss, SmoothL1Loss, CosineEmbeddingLoss, MarginRankingLoss,
// TripletMarginLoss, PoissonNLLLoss, GaussianNLLLoss and
// MultiLabelSoftMarginLoss: outputs and gradients against PyTorch
// (tests/reference/losses.json, from make_losses_reference.py), second
// derivatives against finite differences, the modules, and the errors.
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/loss.h>

#include "support/reference.h"

namespace test_losses_more {

namespace F = tg::nn::functional;
using tg::Tensor;
using tg::nn::Reduction;
using Json = nlohmann::json;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};

Reduction reduction_of(const Json& options) {
  const std::string r = options.value("reduction", std::string("mean"));
  if (r == "none") return Reduction::None;
  if (r == "sum") return Reduction::Sum;
  REQUIRE(r == "mean");
  return Reduction::Mean;
}

tg::KLDivReduction kl_reduction_of(const Json& options) {
  const std::string r = options.value("reduction", std::string("mean"));
  if (r == "batchmean") return tg::KLDivReduction::BatchMean;
  if (r == "none") return tg::KLDivReduction::None;
  if (r == "sum") return tg::KLDivReduction::Sum;
  REQUIRE(r == "mean");
  return tg::KLDivReduction::Mean;
}

// The tapegrad call of a reference case: its function with its options.
Tensor call(const std::string& fn, const Json& o, const std::vector<Tensor>& in) {
  if (fn == "kl_div")
    return F::kl_div(in[0], in[1], {.reduction = kl_reduction_of(o), .log_target = o.value("log_target", false)});
  const Reduction red = reduction_of(o);
  if (fn == "smooth_l1_loss") return F::smooth_l1_loss(in[0], in[1], {.reduction = red, .beta = o.value("beta", 1.0)});
  if (fn == "cosine_embedding_loss")
    return F::cosine_embedding_loss(in[0], in[1], in[2], {.margin = o.value("margin", 0.0), .reduction = red});
  if (fn == "margin_ranking_loss")
    return F::margin_ranking_loss(in[0], in[1], in[2], {.margin = o.value("margin", 0.0), .reduction = red});
  if (fn == "triplet_margin_loss")
    return F::triplet_margin_loss(in[0], in[1], in[2],
                                  {.margin = o.value("margin", 1.0),
                                   .p = o.value("p", 2.0),
                                   .eps = o.value("eps", 1e-6),
                                   .swap = o.value("swap", false),
                                   .reduction = red});
  if (fn == "poisson_nll_loss")
    return F::poisson_nll_loss(in[0], in[1],
                               {.log_input = o.value("log_input", true),
                                .full = o.value("full", false),
                                .eps = o.value("eps", 1e-8),
                                .reduction = red});
  if (fn == "gaussian_nll_loss")
    return F::gaussian_nll_loss(in[0], in[1], in[2],
                                {.full = o.value("full", false), .eps = o.value("eps", 1e-6), .reduction = red});
  if (fn == "multilabel_soft_margin_loss")
    return F::multilabel_soft_margin_loss(in[0], in[1], {.weight = in.size() > 2 ? in[2] : Tensor(), .reduction = red});
  FAIL("no tapegrad call for " << fn);
  return {};
}

Tensor tensor_of(const Json& j, bool grad) {
  std::vector<std::int64_t> shape = j.at("shape").get<std::vector<std::int64_t>>();
  const auto values = j.at("values").get<std::vector<double>>();
  Tensor t = tg::tensor(values, tg::Dims(shape), tg::kFloat64);  // 0-d for an empty shape
  if (grad) t.set_requires_grad(true);
  return t;
}

// sum(out * w), w = 1, 2, 3, ... as the reference script weights it.
Tensor weighted_sum(const Tensor& out) {
  const Tensor w =
      tg::reshape(tg::add(tg::arange(static_cast<double>(out.numel()), {.dtype = tg::kFloat64}), 1.0), out.shape());
  return tg::sum(tg::mul(out, w));
}

std::vector<std::string> case_names(const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& [name, c] : tg_test::reference_file("losses.json").at("cases").items())
    if (c.at("fn").get<std::string>() == prefix) names.push_back(name);
  return names;
}

// Every reference case of `fn`: output and input gradients equal PyTorch's;
// then gradcheck and gradgradcheck of the same call on the same inputs.
void check_against_torch(const std::string& fn) {
  const auto names = case_names(fn);
  REQUIRE(!names.empty());
  for (const auto& name : names) {
    CAPTURE(name);
    const Json& c = tg_test::reference_file("losses.json").at("cases").at(name);
    std::vector<Tensor> in;
    for (const auto& j : c.at("inputs")) in.push_back(tensor_of(j, j.at("grad").get<bool>()));
    const Tensor out = call(fn, c.at("options"), in);
    CHECK(std::vector<std::int64_t>(out.sizes().begin(), out.sizes().end()) ==
          c.at("output").at("shape").get<std::vector<std::int64_t>>());
    tg_test::check_values(out, c.at("output").at("values").get<std::vector<double>>(), 1e-10);
    weighted_sum(out).backward();
    for (std::size_t i = 0; i < in.size(); ++i) {
      const Json& g = c.at("grads").at(i);
      if (g.is_null()) continue;
      CAPTURE(i);
      REQUIRE(in[i].grad().defined());
      tg_test::check_values(in[i].grad(), g.at("values").get<std::vector<double>>(), 1e-9);
    }
    // Finite differences, to second order, over the inputs PyTorch differentiates,
    // but for a var clamped at eps: its gradient is PyTorch's by design, not
    // the slope (0) of the clamped value.
    const bool clamped_var = name.find("below eps") != std::string::npos;
    std::vector<std::size_t> wrt;
    for (std::size_t i = 0; i < in.size(); ++i)
      if (!c.at("grads").at(i).is_null() && !(clamped_var && i == 2)) wrt.push_back(i);
    std::vector<Tensor> fresh;
    for (std::size_t i : wrt) fresh.push_back(in[i].detach().requires_grad_(true));
    const auto fn_of = [&](const std::vector<Tensor>& xs) {
      std::vector<Tensor> all = in;
      for (std::size_t k = 0; k < wrt.size(); ++k) all[wrt[k]] = xs[k];
      return weighted_sum(call(fn, c.at("options"), all));
    };
    CHECK(tg::gradcheck(fn_of, fresh));
    CHECK(tg::gradgradcheck(fn_of, fresh));
  }
}

}  // namespace

TEST_CASE("kl_div equals PyTorch for every reduction, log_target and zero targets") { check_against_torch("kl_div"); }
TEST_CASE("smooth_l1_loss equals PyTorch for beta 0, 0.5, 1 and 2") { check_against_torch("smooth_l1_loss"); }
TEST_CASE("cosine_embedding_loss equals PyTorch, margins, targets other than +-1, 1-D") {
  check_against_torch("cosine_embedding_loss");
}
TEST_CASE("margin_ranking_loss equals PyTorch") { check_against_torch("margin_ranking_loss"); }
TEST_CASE("triplet_margin_loss equals PyTorch for p, swap, eps and 1-D") { check_against_torch("triplet_margin_loss"); }
TEST_CASE("poisson_nll_loss equals PyTorch for log_input, full and eps") { check_against_torch("poisson_nll_loss"); }
TEST_CASE("gaussian_nll_loss equals PyTorch for each var shape, full, and var below eps") {
  check_against_torch("gaussian_nll_loss");
}
TEST_CASE("multilabel_soft_margin_loss equals PyTorch, weighted and not") {
  check_against_torch("multilabel_soft_margin_loss");
}

TEST_CASE("kl_div: batchmean is sum over batch size; zero targets give finite gradients") {
  Tensor logp = tg::log_softmax(tg::tensor({0.1, 0.7, -0.3, 1.2, 0.0, -1.0}, {2, 3}, kF64), 1);
  Tensor t = tg::tensor({0.0, 0.5, 0.5, 0.2, 0.0, 0.8}, {2, 3}, kF64);
  t.set_requires_grad(true);
  const Tensor sum = F::kl_div(logp, t, {.reduction = tg::KLDivReduction::Sum});
  const Tensor batchmean = F::kl_div(logp, t, {.reduction = tg::KLDivReduction::BatchMean});
  CHECK(batchmean.item<double>() == doctest::Approx(sum.item<double>() / 2));
  batchmean.backward();
  const Tensor g = t.grad();
  for (double gi : g.to_vector<double>()) CHECK(std::isfinite(gi));
  CHECK(std::string(tg::reduction_name(tg::KLDivReduction::BatchMean)) == "batchmean");
}

TEST_CASE("float32 inputs, int64 targets and the module forms agree with the functions") {
  const Tensor x = tg::tensor({0.3f, -1.2f, 2.0f, 0.4f}, {2, 2});
  const Tensor y = tg::tensor({0.1f, 0.9f, -0.5f, 0.3f}, {2, 2});
  CHECK(tg::nn::KLDivLoss({.reduction = tg::KLDivReduction::BatchMean, .log_target = true})(x, y).item<double>() ==
        F::kl_div(x, y, {.reduction = tg::KLDivReduction::BatchMean, .log_target = true}).item<double>());
  CHECK(tg::nn::SmoothL1Loss({.beta = 0.5})(x, y).item<double>() ==
        F::smooth_l1_loss(x, y, {.beta = 0.5}).item<double>());
  CHECK(tg::nn::PoissonNLLLoss({.full = true})(x, y).item<double>() ==
        F::poisson_nll_loss(x, y, {.full = true}).item<double>());
  CHECK(F::smooth_l1_loss(x, y).dtype() == tg::kFloat32);
  const Tensor ranks = tg::tensor(std::vector<std::int64_t>{1, -1}, {2});
  CHECK(tg::nn::CosineEmbeddingLoss({.margin = 0.1})(x, y, ranks).item<double>() ==
        F::cosine_embedding_loss(x, y, tg::tensor({1.0f, -1.0f}), {.margin = 0.1}).item<double>());
  const Tensor signs = tg::tensor(std::vector<std::int64_t>{1, -1, -1, 1}, {2, 2});
  CHECK(tg::nn::MarginRankingLoss({.margin = 0.2})(x, y, signs).item<double>() ==
        F::margin_ranking_loss(x, y, tg::to_dtype(signs, tg::kFloat32), {.margin = 0.2}).item<double>());
  CHECK(tg::nn::TripletMarginLoss({.swap = true})(x, y, tg::neg(y)).item<double>() ==
        F::triplet_margin_loss(x, y, tg::neg(y), {.swap = true}).item<double>());
  const Tensor var = tg::tensor({0.5f, 2.0f}, {2});
  CHECK(tg::nn::GaussianNLLLoss({.full = true})(x, y, var).item<double>() ==
        F::gaussian_nll_loss(x, y, var, {.full = true}).item<double>());
  tg::nn::MultiLabelSoftMarginLoss multi({.weight = tg::tensor({2.0f, 0.5f})});
  CHECK(multi.buffers().size() == 1);
  const Tensor labels = tg::tensor(std::vector<std::int64_t>{1, 0, 0, 1}, {2, 2});
  CHECK(multi(x, labels).item<double>() ==
        F::multilabel_soft_margin_loss(x, tg::to_dtype(labels, tg::kFloat32), {.weight = tg::tensor({2.0f, 0.5f})})
            .item<double>());
  CHECK(multi.type_name() == "MultiLabelSoftMarginLoss");
}

TEST_CASE("multilabel_soft_margin_loss stays finite for huge logits") {
  const Tensor x = tg::tensor({800.0, -800.0}, {1, 2});
  const Tensor t = tg::tensor({0.0, 1.0}, {1, 2});
  CHECK(F::multilabel_soft_margin_loss(x, t).item<double>() == doctest::Approx(800.0));
}

TEST_CASE("the new losses refuse bad inputs with errors naming the op and the shapes") {
  const Tensor a = tg::zeros({3, 4}, kF64), b = tg::zeros({3, 5}, kF64), v = tg::ones({3, 4}, kF64);
  CHECK_THROWS_WITH_AS(F::kl_div(a, b), doctest::Contains("kl_div"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::smooth_l1_loss(a, a, {.beta = -1}), doctest::Contains("beta must be non-negative, got -1"),
                       tg::ValueError);
  CHECK_THROWS_AS(tg::nn::SmoothL1Loss({.beta = -0.5}), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::cosine_embedding_loss(a, a, tg::ones({4}, kF64)),
                       doctest::Contains("cosine_embedding_loss: target must be [3]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::cosine_embedding_loss(a, b, tg::ones({3}, kF64)),
                       doctest::Contains("cosine_embedding_loss: input1 and input2 must have one shape, got [3, 4] "
                                         "and [3, 5]"),
                       tg::ShapeError);
  CHECK_THROWS_AS(F::cosine_embedding_loss(tg::zeros({1, 3, 4}, kF64), tg::zeros({1, 3, 4}, kF64), tg::ones({1, 3})),
                  tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::margin_ranking_loss(a, a, tg::ones({4}, kF64)),
                       doctest::Contains("margin_ranking_loss: input1 and target"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::triplet_margin_loss(a, a, tg::zeros({4}, kF64)),
                       doctest::Contains("triplet_margin_loss: anchor and negative"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::triplet_margin_loss(a, a, a, {.p = 0}), doctest::Contains("p must be positive, got 0"),
                       tg::ValueError);
  CHECK_THROWS_AS(tg::nn::TripletMarginLoss({.p = -1}), tg::ValueError);
  CHECK_THROWS_WITH_AS(
      F::triplet_margin_loss(tg::zeros({3}, tg::TensorOptions{.dtype = tg::kInt64}),
                             tg::zeros({3}, tg::TensorOptions{.dtype = tg::kInt64}),
                             tg::zeros({3}, tg::TensorOptions{.dtype = tg::kInt64})),
      doctest::Contains(
          "triplet_margin_loss: anchor must be floating (float16, bfloat16, float32 or float64), got int64"),
      tg::DTypeError);
  CHECK_THROWS_WITH_AS(F::poisson_nll_loss(a, b), doctest::Contains("poisson_nll_loss"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::gaussian_nll_loss(a, a, tg::ones({4}, kF64)),
                       doctest::Contains("gaussian_nll_loss: var of shape [4]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::gaussian_nll_loss(a, a, tg::neg(v)), doctest::Contains("var has negative entries"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::multilabel_soft_margin_loss(a, a, {.weight = tg::ones({5}, kF64)}),
                       doctest::Contains("multilabel_soft_margin_loss: weight of shape [5]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::multilabel_soft_margin_loss(tg::zeros({}, kF64), tg::zeros({}, kF64)),
                       doctest::Contains("multilabel_soft_margin_loss: the input needs a class dim"), tg::ShapeError);
}

}  // namespace test_losses_more
