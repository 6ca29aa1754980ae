// Losses: values worked out by hand, gradients against finite differences
// (tg::gradcheck, float64), second derivatives (gradgradcheck), reductions,
// ignore_index, label smoothing, probability targets, huge logits, and the
// error messages.
#include <cmath>
#include <limits>

#include <doctest/doctest.h>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/random.h>
#include <tapegrad/nn/loss.h>

#include "support/close.h"

namespace test_loss {

namespace F = tg::nn::functional;
using tg::Tensor;
using tg::nn::Reduction;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};
constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};

Tensor labels(std::vector<std::int64_t> values, tg::OptionalDims shape = {}) { return tg::tensor(values, shape); }

// d/dx of a scalar loss, by backward.
Tensor grad_of(const Tensor& loss, const Tensor& x) {
  loss.backward();
  return x.grad();
}

void check_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  tg_test::check_close(t, expected, tol);
}

const double ln2 = std::log(2.0), ln3 = std::log(3.0), ln4 = std::log(4.0);

}  // namespace

// ---- cross_entropy: values by hand ---------------------------------------------------

TEST_CASE("cross_entropy: equal logits over two classes cost log 2") {
  Tensor x = tg::zeros({1, 2}, kF64Grad);
  Tensor loss = F::cross_entropy(x, labels({0}));
  CHECK(loss.dim() == 0);
  CHECK(loss.item<double>() == doctest::Approx(ln2).epsilon(1e-15));
  // softmax [0.5, 0.5] minus one-hot [1, 0]
  check_values(grad_of(loss, x), {-0.5, 0.5});
}

TEST_CASE("cross_entropy: logits [0, ln 3] give p = [1/4, 3/4]") {
  // Row 0 target 0: -log(1/4) = ln 4; row 1 target 1: -log(3/4) = ln 4 - ln 3.
  Tensor x = tg::tensor({0, ln3, 0, ln3}, {2, 2}, kF64Grad);
  Tensor y = labels({0, 1});
  check_values(F::cross_entropy(x, y, {.reduction = Reduction::None}), {ln4, ln4 - ln3});
  CHECK(F::cross_entropy(x, y, {.reduction = Reduction::Sum}).item<double>() ==
        doctest::Approx(2 * ln4 - ln3).epsilon(1e-14));
  Tensor mean = F::cross_entropy(x, y);
  CHECK(mean.item<double>() == doctest::Approx((2 * ln4 - ln3) / 2).epsilon(1e-14));
  // (p - onehot) / N
  check_values(grad_of(mean, x), {(0.25 - 1) / 2, 0.75 / 2, 0.25 / 2, (0.75 - 1) / 2});
}

TEST_CASE("cross_entropy: class weights and ignore_index, mean over the weights of the kept rows") {
  // Rows: [0, ln3] -> 0 (weight 1), [0, ln3] -> 1 (weight 3), ignored.
  Tensor x = tg::tensor({0, ln3, 0, ln3, 5, -7}, {3, 2}, kF64Grad);
  Tensor y = labels({0, 1, -100});
  Tensor w = tg::tensor({1, 3}, {2}, kF64);
  const double row0 = ln4, row1 = 3 * (ln4 - ln3);
  check_values(F::cross_entropy(x, y, {.weight = w, .reduction = Reduction::None}), {row0, row1, 0});
  CHECK(F::cross_entropy(x, y, {.weight = w, .reduction = Reduction::Sum}).item<double>() ==
        doctest::Approx(row0 + row1).epsilon(1e-14));
  Tensor mean = F::cross_entropy(x, y, {.weight = w});
  CHECK(mean.item<double>() == doctest::Approx((row0 + row1) / 4).epsilon(1e-14));
  // w_y (p - onehot) / (1 + 3); the ignored row gets nothing.
  check_values(grad_of(mean, x), {-0.75 / 4, 0.75 / 4, 3 * 0.25 / 4, -3 * 0.25 / 4, 0, 0});
}

TEST_CASE("cross_entropy: a custom ignore_index, and every row ignored") {
  Tensor x = tg::tensor({1, 2, 3, 4}, {2, 2}, kF64);
  CHECK(F::cross_entropy(x, labels({1, 7}), {.ignore_index = 7}).item<double>() ==
        doctest::Approx(std::log1p(std::exp(-1.0))).epsilon(1e-14));
  // 0 / 0, as PyTorch.
  CHECK(std::isnan(F::cross_entropy(x, labels({-100, -100})).item<double>()));
  CHECK(F::cross_entropy(x, labels({-100, -100}), {.reduction = Reduction::Sum}).item<double>() == 0);
}

// Without weights or smoothing the gradient takes a loop of its own (the
// common case: q is one-hot); weights of one and zero smoothing go through the
// general formula, whose values it must reproduce bit for bit: every dtype,
// reduction, ignored rows, classes along dim 1 of a 3-D input, and rows past
// one block of exps.
TEST_CASE("cross_entropy: the unweighted gradient's loop has the general formula's bits") {
  tg::manual_seed(7);
  for (tg::DType dtype : {tg::kFloat32, tg::kFloat64})
    for (Reduction reduction : {Reduction::Mean, Reduction::Sum, Reduction::None})
      for (tg::Dims shape : {tg::Dims{33, 10}, tg::Dims{300, 10}, tg::Dims{4, 5, 3}, tg::Dims{7}, tg::Dims{6, 600}}) {
        CAPTURE(tg::dtype_name(dtype));
        CAPTURE(static_cast<int>(reduction));
        CAPTURE(shape.product());
        const std::int64_t classes = shape.size() == 1 ? shape[0] : shape[1];
        tg::Dims target_shape;
        if (shape.size() > 1) target_shape.push_back(shape[0]);
        for (int d = 2; d < shape.size(); ++d) target_shape.push_back(shape[d]);
        Tensor y = tg::randint(0, classes, target_shape);
        if (y.dim() > 0) y.view({-1}).narrow(0, 0, 1).fill_(-100);  // an ignored row
        if (classes == 600)  // rows of three runs of exps: targets in each, and at their edges
          y = tg::tensor(std::vector<std::int64_t>{-100, 3, 255, 256, 300, 599}, {6});
        Tensor x = (tg::randn(shape) * 3).to(dtype);
        Tensor a = x.detach().requires_grad_(), b = x.detach().requires_grad_();
        const tg::CrossEntropyLossOptions plain{.reduction = reduction};
        const tg::CrossEntropyLossOptions general{.weight = tg::ones({classes}, {.dtype = dtype}),
                                                  .reduction = reduction};
        Tensor la = F::cross_entropy(a, y, plain), lb = F::cross_entropy(b, y, general);
        Tensor seed = tg::rand(la.sizes(), {.dtype = dtype});
        la.backward(seed);
        lb.backward(seed);
        CHECK(tg::equal(a.grad(), b.grad()));
      }
}

TEST_CASE("cross_entropy: label smoothing mixes in the uniform distribution") {
  // eps 0.5 over 2 classes: q = [0.5 + 0.25, 0.25];  p = [1/4, 3/4]
  Tensor x = tg::tensor({0, ln3}, {1, 2}, kF64Grad);
  Tensor loss = F::cross_entropy(x, labels({0}), {.label_smoothing = 0.5});
  CHECK(loss.item<double>() == doctest::Approx(0.75 * ln4 + 0.25 * (ln4 - ln3)).epsilon(1e-14));
  check_values(grad_of(loss, x), {0.25 - 0.75, 0.75 - 0.25});
}

TEST_CASE("cross_entropy: label smoothing with weights follows PyTorch's normalisation") {
  // PyTorch: (1 - eps) nll_mean + eps / C * sum_n sum_c w_c (-log p_nc) / sum_n w_{y_n}
  Tensor x = tg::tensor({0, ln3, 0, ln3}, {2, 2}, kF64);
  Tensor w = tg::tensor({2, 1}, {2}, kF64);
  const double eps = 0.2;
  const double nll_p0 = ln4, nll_p1 = ln4 - ln3;     // -log p for the two classes
  const double nll = (2 * nll_p0 + 1 * nll_p1) / 3;  // targets 0, 1 -> weights 2, 1
  const double smooth = 2 * (2 * nll_p0 + 1 * nll_p1) / 3;
  CHECK(F::cross_entropy(x, labels({0, 1}), {.weight = w, .label_smoothing = eps}).item<double>() ==
        doctest::Approx((1 - eps) * nll + eps / 2 * smooth).epsilon(1e-14));
}

TEST_CASE("cross_entropy: probability targets") {
  // p = [1/4, 3/4], t = [1/2, 1/2]:  loss = (ln 4 + ln 4 - ln 3) / 2
  Tensor x = tg::tensor({0, ln3}, {1, 2}, kF64Grad);
  Tensor t = tg::tensor({0.5, 0.5}, {1, 2}, kF64Grad);
  Tensor loss = F::cross_entropy(x, t);
  CHECK(loss.item<double>() == doctest::Approx((2 * ln4 - ln3) / 2).epsilon(1e-14));
  loss.backward();
  check_values(x.grad(), {0.25 - 0.5, 0.75 - 0.5});  // p - t
  check_values(t.grad(), {ln4, ln4 - ln3});          // -log p

  // One-hot probabilities agree with class indices, smoothing and weights included.
  Tensor logits = tg::randn({4, 3}, kF64);
  Tensor y = labels({2, 0, 1, 1});
  Tensor w = tg::tensor({0.5, 2, 1}, {3}, kF64);
  Tensor onehot = tg::one_hot(y, 3).to(tg::kFloat64);
  for (double eps : {0.0, 0.3}) {
    // Weighted mean differs by design (rows vs weights); compare sums.
    CHECK(
        F::cross_entropy(logits, onehot, {.weight = w, .label_smoothing = eps, .reduction = Reduction::Sum})
            .item<double>() ==
        doctest::Approx(F::cross_entropy(logits, y, {.weight = w, .label_smoothing = eps, .reduction = Reduction::Sum})
                            .item<double>())
            .epsilon(1e-12));
  }
  // A float32 target for float64 logits is converted.
  CHECK(F::cross_entropy(logits, onehot.to(tg::kFloat32)).item<double>() ==
        doctest::Approx(F::cross_entropy(logits, y).item<double>()).epsilon(1e-12));
}

TEST_CASE("cross_entropy: logits of magnitude 1e4 stay finite, in float32 and float64") {
  for (tg::DType dtype : {tg::kFloat32, tg::kFloat64}) {
    Tensor x = tg::tensor({1e4, 0, -1e4, -1e4, 1e4, 0}, {2, 3}, {.dtype = dtype, .requires_grad = true});
    Tensor per_row = F::cross_entropy(x, labels({0, 0}), {.reduction = Reduction::None});
    check_values(per_row, {0, 2e4});
    Tensor loss = F::cross_entropy(x, labels({2, 0}), {.label_smoothing = 0.1, .reduction = Reduction::Sum});
    CHECK(std::isfinite(loss.item<double>()));
    loss.backward();
    for (double g : x.grad().to_vector<double>()) CHECK(std::isfinite(g));
    // Row 0: p = [1, 0, 0], q = [0.1/3, 0.1/3, 0.9 + 0.1/3]
    const auto g = x.grad().to_vector<double>();
    CHECK(g[0] == doctest::Approx(1 - 0.1 / 3).epsilon(1e-6));
    CHECK(g[2] == doctest::Approx(-(0.9 + 0.1 / 3)).epsilon(1e-6));
  }
  Tensor big = tg::tensor({1e4, 1e4}, {1, 2}, kF64);
  CHECK(F::cross_entropy(big, labels({1})).item<double>() == doctest::Approx(ln2).epsilon(1e-12));
  Tensor probs = tg::tensor({0.5, 0.5}, {1, 2}, kF64);
  CHECK(std::isfinite(F::cross_entropy(tg::tensor({1e4, -1e4}, {1, 2}, kF64), probs).item<double>()));
}

TEST_CASE("cross_entropy: an unbatched [C] input and a [N, C, d] input") {
  Tensor x1 = tg::tensor({0, ln3}, {2}, kF64);
  Tensor scalar_target = tg::tensor(std::vector<std::int64_t>{1}).reshape({});
  CHECK(F::cross_entropy(x1, scalar_target).item<double>() == doctest::Approx(ln4 - ln3).epsilon(1e-14));

  // [N=2, C=3, d=4] against moving the class dim last and flattening.
  Tensor x = tg::randn({2, 3, 4}, kF64);
  Tensor y = tg::randint(0, 3, {2, 4});
  Tensor flat_x = x.permute({0, 2, 1}).reshape({8, 3});
  Tensor flat_y = y.reshape({8});
  CHECK(F::cross_entropy(x, y).item<double>() ==
        doctest::Approx(F::cross_entropy(flat_x, flat_y).item<double>()).epsilon(1e-13));
  Tensor none = F::cross_entropy(x, y, {.reduction = Reduction::None});
  CHECK(none.shape() == tg::Dims{2, 4});
  CHECK(
      tg::allclose(none.reshape({8}), F::cross_entropy(flat_x, flat_y, {.reduction = Reduction::None}), 1e-13, 1e-13));
}

TEST_CASE("cross_entropy: a class dim of any stride gives the same bits, values and gradients") {
  // [N, C, d] rows stride by d; the same logits as [N*d, C] rows are contiguous.
  for (tg::DType dt : {tg::kFloat32, tg::kFloat64}) {
    CAPTURE(tg::dtype_name(dt));
    Tensor x = tg::randn({3, 300, 2}, {.dtype = dt});  // more classes than one run of exps
    Tensor y = tg::randint(0, 300, {3, 2});
    Tensor flat = x.permute({0, 2, 1}).reshape({6, 300}).detach().set_requires_grad(true);
    Tensor strided = x.detach().set_requires_grad(true);
    Tensor a = F::cross_entropy(strided, y, {.reduction = Reduction::None});
    Tensor b = F::cross_entropy(flat, y.reshape({6}), {.reduction = Reduction::None});
    CHECK(tg::equal(a.reshape({6}), b));
    a.sum().backward();
    b.sum().backward();
    CHECK(tg::equal(strided.grad().permute({0, 2, 1}).reshape({6, 300}), flat.grad()));
  }
}

TEST_CASE("cross_entropy: short rows take their exps in blocks, with the bits of one row at a time") {
  // Contiguous rows of at most 256 classes get their exps from one vector
  // call per block of 2048 elements (core/kernels/loss.cpp), ignored rows
  // left out; a strided class dim, or more classes, go row by row. The same
  // logits both ways, over several blocks, with ignored rows (which compute
  // no exps), class weights and label smoothing, and probability targets.
  tg::manual_seed(21);
  for (tg::DType dt : {tg::kFloat32, tg::kFloat64}) {
    for (std::int64_t c : {1, 3, 10, 256, 300}) {
      CAPTURE(tg::dtype_name(dt));
      CAPTURE(c);
      const std::int64_t n = 200, d = 7;  // 1400 rows: one block of 1 class, three of 3, seven of 10
      Tensor x = tg::randn({n, c, d}, {.dtype = dt});
      Tensor y = tg::randint(0, c, {n, d});
      y.index_put_({tg::indexing::Slice(0, 10)}, -100);  // ignored: all of the first block's rows with c = 256
      y.index_put_({tg::indexing::Slice(50, 60), 3}, -100);
      Tensor w = tg::rand({c}, {.dtype = dt}) + 0.5;
      Tensor probs = tg::softmax(tg::randn({n, c, d}, {.dtype = dt}), 1);
      const auto flat_of = [&](const Tensor& t) { return t.permute({0, 2, 1}).reshape({n * d, c}); };
      for (int target_kind = 0; target_kind < 2; ++target_kind) {
        CAPTURE(target_kind);
        Tensor strided = x.detach().set_requires_grad(true);
        Tensor flat = flat_of(x).detach().set_requires_grad(true);
        const tg::nn::CrossEntropyLossOptions o{.weight = w, .label_smoothing = 0.1, .reduction = Reduction::None};
        Tensor a = target_kind == 0 ? F::cross_entropy(strided, y, o) : F::cross_entropy(strided, probs, o);
        Tensor b = target_kind == 0 ? F::cross_entropy(flat, y.reshape({n * d}), o)
                                    : F::cross_entropy(flat, flat_of(probs), o);
        CHECK(tg::equal(a.reshape({n * d}), b));
        Tensor up = tg::randn({n * d}, {.dtype = dt});
        (a.reshape({n * d}) * up).sum().backward();
        (b * up).sum().backward();
        CHECK(tg::equal(flat_of(strided.grad()), flat.grad()));
      }
    }
  }
}

TEST_CASE("cross_entropy: gradients match finite differences") {
  tg::manual_seed(3);
  Tensor y = labels({2, 0, -100, 1, 3});
  Tensor w = tg::tensor({0.5, 2, 1, 1.5}, {4}, kF64);
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    for (double eps : {0.0, 0.2}) {
      CAPTURE(tg::nn::reduction_name(r));
      CAPTURE(eps);
      Tensor x = tg::randn({5, 4}, kF64Grad);
      auto fn = [&](const std::vector<Tensor>& in) {
        return F::cross_entropy(in[0], y, {.weight = w, .label_smoothing = eps, .reduction = r});
      };
      CHECK(tg::gradcheck(fn, {x}));
      CHECK(tg::gradgradcheck(fn, {x}));
    }
  }
  // [N, C, d1, d2], and a non-contiguous input.
  Tensor x4 = tg::randn({2, 3, 2, 2}, kF64Grad);
  Tensor y4 = tg::randint(0, 3, {2, 2, 2});
  auto fn4 = [&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], y4, {.label_smoothing = 0.1}); };
  CHECK(tg::gradcheck(fn4, {x4}));
  CHECK(tg::gradgradcheck(fn4, {x4}));
  Tensor xt = tg::randn({4, 3}, kF64).t().set_requires_grad(true);  // [3, 4], strided
  auto fnt = [&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], labels({0, 3, 1})); };
  CHECK(tg::gradcheck(fnt, {xt}));
}

TEST_CASE("cross_entropy: probability-target gradients for logits and targets") {
  tg::manual_seed(4);
  Tensor w = tg::tensor({0.5, 2, 1}, {3}, kF64);
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    CAPTURE(tg::nn::reduction_name(r));
    Tensor x = tg::randn({4, 3}, kF64Grad);
    Tensor t = tg::softmax(tg::randn({4, 3}, kF64), 1).detach().set_requires_grad(true);
    auto fn = [&](const std::vector<Tensor>& in) {
      return F::cross_entropy(in[0], in[1], {.weight = w, .label_smoothing = 0.1, .reduction = r});
    };
    CHECK(tg::gradcheck(fn, {x, t}));
    CHECK(tg::gradgradcheck(fn, {x, t}));
  }
}

TEST_CASE("class losses refuse a class weight that requires grad, as PyTorch (it would get no gradient)") {
  Tensor x = tg::randn({4, 3}, kF64Grad);
  Tensor w = tg::ones({3}, kF64).set_requires_grad(true);
  Tensor y = labels({0, 2, 1, 1});
  Tensor p = tg::softmax(tg::randn({4, 3}, kF64), 1);
  for (double smoothing : {0.0, 0.1}) {
    CHECK_THROWS_WITH_AS(F::cross_entropy(x, y, {.weight = w, .label_smoothing = smoothing}),
                         doctest::Contains("cross_entropy: not differentiable with respect to weight"),
                         tg::AutogradError);
    CHECK_THROWS_AS(F::cross_entropy(x, p, {.weight = w, .label_smoothing = smoothing}), tg::AutogradError);
  }
  CHECK_THROWS_WITH_AS(F::nll_loss(x, y, {.weight = w}),
                       doctest::Contains("nll_loss: not differentiable with respect to weight"), tg::AutogradError);
  CHECK_THROWS_AS(tg::nn::CrossEntropyLoss({.weight = w})(x, y), tg::AutogradError);
  tg::NoGradGuard no_grad;  // nothing is recorded, so PyTorch and tapegrad take it
  CHECK(F::cross_entropy(x, y, {.weight = w}).defined());
  CHECK(F::nll_loss(x, y, {.weight = w}).defined());
}

TEST_CASE("cross_entropy: wrong targets are clear errors naming both") {
  Tensor x = tg::randn({32, 10});
  CHECK_THROWS_WITH_AS(F::cross_entropy(x, tg::zeros({32})),
                       "cross_entropy: target must be int64 class indices of shape [32] or float probabilities of "
                       "shape [32, 10], got float32 [32]",
                       tg::DTypeError);
  CHECK_THROWS_WITH_AS(F::cross_entropy(x, tg::zeros({32, 1}, {.dtype = tg::kInt64})),
                       doctest::Contains("got int64 [32, 1]"), tg::ShapeError);
  // A target of a shape the loss takes is wrong only in its dtype: every
  // non-int64 index dtype, and an integer target of the probabilities' shape.
  for (tg::DType dt : {tg::kInt32, tg::kInt16, tg::kInt8, tg::kUInt8, tg::kBool, tg::kFloat64}) {
    CAPTURE(tg::dtype_name(dt));
    CHECK_THROWS_AS(F::cross_entropy(x, tg::zeros({32}, {.dtype = dt})), tg::DTypeError);
    CHECK_THROWS_AS(F::nll_loss(x, tg::zeros({32}, {.dtype = dt})), tg::DTypeError);
    CHECK_THROWS_AS(F::nll_loss(x, tg::zeros({31}, {.dtype = dt})), tg::ShapeError);
  }
  CHECK_THROWS_WITH_AS(F::cross_entropy(x, tg::zeros({32, 10}, {.dtype = tg::kInt64})),
                       doctest::Contains("got int64 [32, 10]"), tg::DTypeError);
  CHECK_THROWS_AS(F::nll_loss(x, tg::zeros({32, 10}, {.dtype = tg::kInt64})), tg::ShapeError);
  Tensor y = tg::zeros({32}, {.dtype = tg::kInt64});
  y.data_ptr<std::int64_t>()[5] = 12;
  CHECK_THROWS_WITH_AS(F::cross_entropy(x, y), doctest::Contains("target 12 is out of bounds for 10 classes"),
                       tg::IndexError);
  y.data_ptr<std::int64_t>()[5] = -1;
  CHECK_THROWS_WITH_AS(F::cross_entropy(x, y), doctest::Contains("target -1"), tg::IndexError);
  CHECK_THROWS_WITH_AS(F::cross_entropy(x, tg::zeros({32}, {.dtype = tg::kInt64}), {.weight = tg::ones({9})}),
                       doctest::Contains("weight must have shape [10]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::cross_entropy(x, tg::zeros({32}, {.dtype = tg::kInt64}), {.label_smoothing = 1.5}),
                       doctest::Contains("label_smoothing"), tg::ValueError);
  CHECK_THROWS_AS(F::cross_entropy(tg::zeros({2, 3}, {.dtype = tg::kInt64}), labels({0, 1})), tg::DTypeError);
}

// ---- nll_loss ---------------------------------------------------------------------------

TEST_CASE("nll_loss: values, gradient, weights and agreement with cross_entropy") {
  Tensor lp = tg::tensor({-1, -2, -3, -4}, {2, 2}, kF64Grad);
  Tensor loss = F::nll_loss(lp, labels({1, 0}));
  CHECK(loss.item<double>() == doctest::Approx(2.5).epsilon(1e-15));
  check_values(grad_of(loss, lp), {0, -0.5, -0.5, 0});
  Tensor w = tg::tensor({1, 3}, {2}, kF64);
  // (3 * 2 + 1 * 3) / (3 + 1)
  CHECK(F::nll_loss(lp, labels({1, 0}), {.weight = w}).item<double>() == doctest::Approx(9.0 / 4).epsilon(1e-15));
  check_values(F::nll_loss(lp, labels({1, -100}), {.reduction = Reduction::None}), {2, 0});

  Tensor x = tg::randn({6, 5}, kF64);
  Tensor y = labels({4, 0, 1, -100, 2, 2});
  CHECK(F::nll_loss(tg::log_softmax(x, 1), y).item<double>() ==
        doctest::Approx(F::cross_entropy(x, y).item<double>()).epsilon(1e-13));

  Tensor xg = tg::randn({6, 5}, kF64Grad);
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    auto fn = [&](const std::vector<Tensor>& in) {
      return F::nll_loss(in[0], y, {.weight = tg::ones({5}, kF64), .reduction = r});
    };
    CHECK(tg::gradcheck(fn, {xg}));
    CHECK(tg::gradgradcheck(fn, {xg}));
  }
  CHECK_THROWS_WITH_AS(F::nll_loss(x, tg::zeros({6, 5})),
                       "nll_loss: target must be int64 class indices of shape [6], got float32 [6, 5]", tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::nll_loss(x, labels({0, 0, 0, 5, 0, 0})), doctest::Contains("target 5 is out of bounds for 5"),
                       tg::IndexError);
}

// ---- regression losses ----------------------------------------------------------------

TEST_CASE("mse_loss and l1_loss: values and gradients by hand") {
  // d = x - t = [1, 0, -2]
  Tensor t = tg::tensor({0, 2, 5}, {3}, kF64);
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor mse = F::mse_loss(x, t);
  CHECK(mse.item<double>() == doctest::Approx(5.0 / 3).epsilon(1e-15));
  check_values(grad_of(mse, x), {2.0 / 3, 0, -4.0 / 3});
  check_values(F::mse_loss(x, t, {.reduction = Reduction::None}), {1, 0, 4});
  CHECK(F::mse_loss(x, t, {.reduction = Reduction::Sum}).item<double>() == 5);

  Tensor x2 = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor l1 = F::l1_loss(x2, t);
  CHECK(l1.item<double>() == doctest::Approx(1.0).epsilon(1e-15));
  check_values(grad_of(l1, x2), {1.0 / 3, 0, -1.0 / 3});  // sign(d) / 3, 0 at d = 0
  CHECK(F::l1_loss(x2, t, {.reduction = Reduction::Sum}).item<double>() == 3);
}

TEST_CASE("huber_loss: quadratic inside delta, linear outside") {
  Tensor t = tg::zeros({4}, kF64);
  Tensor x = tg::tensor({1, 0, -2, 0.5}, {4}, kF64Grad);
  // delta 1: [0.5, 0, 1.5, 0.125]
  Tensor loss = F::huber_loss(x, t, {.reduction = Reduction::Sum});
  CHECK(loss.item<double>() == doctest::Approx(2.125).epsilon(1e-15));
  check_values(grad_of(loss, x), {1, 0, -1, 0.5});
  // delta 2: [0.5, 0, 2 * (2 - 1), 0.125]
  check_values(F::huber_loss(x, t, {.reduction = Reduction::None, .delta = 2}), {0.5, 0, 2, 0.125});
  Tensor xg = tg::randn({3, 4}, kF64Grad);
  Tensor tg_ = tg::randn({3, 4}, kF64);
  auto fn = [&](const std::vector<Tensor>& in) { return F::huber_loss(in[0], tg_, {.delta = 0.7}); };
  CHECK(tg::gradcheck(fn, {xg}));
  CHECK_THROWS_WITH_AS(F::huber_loss(x, t, {.delta = 0}), doctest::Contains("delta must be positive, got 0"),
                       tg::ValueError);
}

TEST_CASE("regression losses: gradient checks and shape errors") {
  Tensor x = tg::randn({2, 3}, kF64Grad);
  Tensor t = tg::randn({2, 3}, kF64Grad);
  auto mse = [](const std::vector<Tensor>& in) { return F::mse_loss(in[0], in[1]); };
  auto l1 = [](const std::vector<Tensor>& in) { return F::l1_loss(in[0], in[1], {.reduction = Reduction::Sum}); };
  CHECK(tg::gradcheck(mse, {x, t}));
  CHECK(tg::gradgradcheck(mse, {x, t}));
  CHECK(tg::gradcheck(l1, {x, t}));
  CHECK_THROWS_WITH_AS(F::mse_loss(tg::zeros({4, 1}), tg::zeros({4})),
                       "mse_loss: target must have the input's shape [4, 1], got float32 [4]", tg::ShapeError);
  // An int64 target is valid, as in PyTorch: taken in the input's dtype.
  const Tensor l1_int = F::l1_loss(tg::zeros({4}), tg::tensor({1, -2, 3, 0}, {4}, {.dtype = tg::kInt64}));
  CHECK(l1_int.dtype() == tg::kFloat32);
  CHECK(l1_int.item<double>() == doctest::Approx(1.5));
}

// ---- binary losses ---------------------------------------------------------------------

TEST_CASE("binary_cross_entropy: values, clamped logs and gradients") {
  Tensor x = tg::tensor({0.5, 0.25}, {2}, kF64Grad);
  Tensor t = tg::tensor({1, 0}, {2}, kF64);
  Tensor loss = F::binary_cross_entropy(x, t);
  CHECK(loss.item<double>() == doctest::Approx((ln2 + ln4 - ln3) / 2).epsilon(1e-14));
  // (x - t) / (x (1 - x)) / 2
  check_values(grad_of(loss, x), {-0.5 / 0.25 / 2, 0.25 / 0.1875 / 2});

  // log 0 is clamped at -100: x = 0 with t = 1 costs 100, x = 1 with t = 1 costs 0.
  Tensor edges = tg::tensor({0, 1, 0, 1}, {4}, kF64);
  Tensor targets = tg::tensor({1, 1, 0, 0}, {4}, kF64);
  check_values(F::binary_cross_entropy(edges, targets, {.reduction = Reduction::None}), {100, 0, 0, 100});

  Tensor w = tg::tensor({2, 0.5}, {2}, kF64);
  CHECK(F::binary_cross_entropy(x.detach(), t, {.weight = w, .reduction = Reduction::Sum}).item<double>() ==
        doctest::Approx(2 * ln2 + 0.5 * (ln4 - ln3)).epsilon(1e-14));

  Tensor xg = tg::rand({3, 2}, kF64).mul_(0.8).add_(0.1).set_requires_grad(true);
  Tensor tg_ = tg::rand({3, 2}, {.dtype = tg::kFloat64, .requires_grad = true});
  auto fn = [&](const std::vector<Tensor>& in) {
    return F::binary_cross_entropy(in[0], in[1], {.weight = tg::tensor({1.5, 0.5}, {2}, kF64)});
  };
  CHECK(tg::gradcheck(fn, {xg, tg_}));
  CHECK(tg::gradgradcheck(fn, {xg, tg_}));
  CHECK_THROWS_WITH_AS(F::binary_cross_entropy(tg::tensor({0.5, 1.5}), tg::tensor({1.0, 0.0})),
                       doctest::Contains("got 1.5"), tg::ValueError);
}

TEST_CASE("binary_cross_entropy_with_logits: stable values, the gradient at 0, pos_weight") {
  // x = 0, t = 1: log 2;  x = 2, t = 0: log(1 + e^2)
  Tensor x = tg::tensor({0, 2}, {2}, kF64Grad);
  Tensor t = tg::tensor({1, 0}, {2}, kF64);
  Tensor loss = F::binary_cross_entropy_with_logits(x, t, {.reduction = Reduction::Sum});
  CHECK(loss.item<double>() == doctest::Approx(ln2 + std::log1p(std::exp(2.0))).epsilon(1e-14));
  // sigmoid(x) - t, exact at the kink-free point x = 0
  check_values(grad_of(loss, x), {-0.5, 1 / (1 + std::exp(-2.0))});

  // pos_weight 3 scales the positive term: 3 log 2, gradient -3 sigmoid(-0) = -1.5
  Tensor x2 = tg::zeros({1}, kF64Grad);
  Tensor l2 = F::binary_cross_entropy_with_logits(x2, tg::ones({1}, kF64), {.pos_weight = tg::full({1}, 3, kF64)});
  CHECK(l2.item<double>() == doctest::Approx(3 * ln2).epsilon(1e-14));
  check_values(grad_of(l2, x2), {-1.5});

  for (tg::DType dtype : {tg::kFloat32, tg::kFloat64}) {
    Tensor big = tg::tensor({1e4, -1e4, 1e4}, {3}, {.dtype = dtype, .requires_grad = true});
    Tensor per = F::binary_cross_entropy_with_logits(big, tg::tensor({1, 0, 0}, {3}, {.dtype = dtype}),
                                                     {.reduction = Reduction::None});
    check_values(per, {0, 0, 1e4});
    per.sum().backward();
    check_values(big.grad(), {0, 0, 1});
  }

  // Agrees with binary_cross_entropy(sigmoid(x)) where that is accurate.
  Tensor xs = tg::randn({5}, kF64);
  Tensor ts = tg::rand({5}, kF64);
  CHECK(F::binary_cross_entropy_with_logits(xs, ts).item<double>() ==
        doctest::Approx(F::binary_cross_entropy(tg::sigmoid(xs), ts).item<double>()).epsilon(1e-12));

  Tensor xg = tg::randn({3, 2}, kF64Grad);
  Tensor tg_ = tg::rand({3, 2}, kF64Grad);
  Tensor pw = tg::tensor({2, 0.5}, {2}, kF64Grad);
  auto fn = [&](const std::vector<Tensor>& in) {
    return F::binary_cross_entropy_with_logits(in[0], in[1],
                                               {.weight = tg::full({3, 1}, 0.7, kF64), .pos_weight = in[2]});
  };
  CHECK(tg::gradcheck(fn, {xg, tg_, pw}));
  CHECK(tg::gradgradcheck(fn, {xg, tg_, pw}));
  CHECK_THROWS_WITH_AS(
      F::binary_cross_entropy_with_logits(tg::zeros({3, 2}), tg::zeros({3, 2}), {.pos_weight = tg::ones({3})}),
      doctest::Contains("pos_weight of shape [3] does not broadcast to the input's shape [3, 2]"), tg::ShapeError);
}

// ---- modules ---------------------------------------------------------------------------

TEST_CASE("loss modules: same results as the functions, weights as buffers, printed like PyTorch") {
  Tensor x = tg::randn({4, 3}, kF64);
  Tensor y = labels({0, 2, 1, 2});
  Tensor w = tg::tensor({1, 2, 3}, {3}, kF64);
  tg::nn::CrossEntropyLoss ce({.weight = w, .label_smoothing = 0.1});
  CHECK(ce(x, y).item<double>() == F::cross_entropy(x, y, {.weight = w, .label_smoothing = 0.1}).item<double>());
  CHECK(ce.state_dict().contains("weight"));
  CHECK(ce.parameters().empty());
  CHECK(ce.repr() == "CrossEntropyLoss()");

  tg::nn::NLLLoss nll({.reduction = Reduction::Sum});
  CHECK(nll(tg::log_softmax(x, 1), y).item<double>() ==
        doctest::Approx(F::cross_entropy(x, y, {.reduction = Reduction::Sum}).item<double>()).epsilon(1e-13));

  Tensor p = tg::rand({4, 3}, kF64);
  Tensor t = tg::rand({4, 3}, kF64);
  CHECK(tg::nn::MSELoss()(p, t).item<double>() == F::mse_loss(p, t).item<double>());
  CHECK(tg::nn::L1Loss({.reduction = Reduction::Sum})(p, t).item<double>() ==
        F::l1_loss(p, t, {.reduction = Reduction::Sum}).item<double>());
  CHECK(tg::nn::HuberLoss({.delta = 0.5})(p, t).item<double>() == F::huber_loss(p, t, {.delta = 0.5}).item<double>());
  CHECK(tg::nn::BCELoss()(p, t).item<double>() == F::binary_cross_entropy(p, t).item<double>());
  tg::nn::BCEWithLogitsLoss bcel({.pos_weight = tg::tensor({1, 2, 3}, {3}, kF64)});
  CHECK(bcel.state_dict().contains("pos_weight"));
  CHECK(bcel(x, t).item<double>() ==
        F::binary_cross_entropy_with_logits(x, t, {.pos_weight = tg::tensor({1, 2, 3}, {3}, kF64)}).item<double>());
  CHECK_THROWS_AS(tg::nn::HuberLoss({.delta = -1}), tg::ValueError);
}

TEST_CASE("cross_entropy and nll_loss refuse an input with no classes") {
  // Found by fuzz_tensor_program: probability targets of shape [1, 0] read
  // the first class of each row past the end of the input (heap overflow).
  const Tensor x = tg::zeros({1, 0});
  CHECK_THROWS_AS(F::cross_entropy(x, tg::zeros({1, 0})), tg::ShapeError);
  CHECK_THROWS_AS(F::cross_entropy(x, tg::zeros({1}, {.dtype = tg::kInt64})), tg::ShapeError);
  CHECK_THROWS_AS(F::nll_loss(tg::zeros({0}), tg::zeros({}, {.dtype = tg::kInt64})), tg::ShapeError);
  // No rows at all is fine: an empty batch.
  CHECK(F::cross_entropy(tg::zeros({0, 0}), tg::zeros({0, 0}), {.reduction = Reduction::Sum}).item<float>() == 0);
}

}  // namespace test_loss
