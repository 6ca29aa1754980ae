// ctc_loss / CTCLoss against PyTorch (tests/reference/ctc.json, from
// make_ctc_reference.py): losses and gradients for padded and concatenated
// targets, repeated labels, target length 0, impossible alignments with and
// without zero_infinity, every reduction; the refused double backward; errors.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/loss.h>

#include "support/reference.h"

namespace test_ctc_loss {

namespace F = tg::nn::functional;
using tg::Tensor;
using tg::nn::Reduction;
using Json = nlohmann::json;

namespace {

double number(const Json& v) {
  if (v.is_number()) return v.get<double>();
  const std::string s = v.get<std::string>();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  REQUIRE(s == "nan");
  return std::numeric_limits<double>::quiet_NaN();
}

// Equal to rel, with inf == inf and NaN == NaN.
void check_with_nonfinite(const Tensor& got, const Json& expected, double rel) {
  const std::vector<double> g = got.to_vector<double>();
  const Json& values = expected.at("values");
  REQUIRE(g.size() == values.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    CAPTURE(i);
    const double want = number(values[i]);
    if (std::isnan(want)) {
      CHECK(std::isnan(g[i]));
    } else if (std::isinf(want)) {
      CHECK(g[i] == want);
    } else {
      CHECK(g[i] == doctest::Approx(want).epsilon(rel).scale(1e-3));
    }
  }
}

Tensor ints(const Json& j, const std::vector<std::int64_t>& shape) {
  return tg::tensor(j.get<std::vector<std::int64_t>>(), tg::Dims(shape), tg::kInt64);
}

Reduction reduction_of(const Json& o) {
  const std::string r = o.value("reduction", std::string("mean"));
  return r == "none" ? Reduction::None : r == "sum" ? Reduction::Sum : Reduction::Mean;
}

struct Case {
  Tensor log_probs, targets, input_lengths, target_lengths;
  tg::CTCLossOptions options;
};

Case case_of(const Json& c) {
  const auto lp_shape = c.at("log_probs").at("shape").get<std::vector<std::int64_t>>();
  std::vector<double> lp;
  for (const auto& v : c.at("log_probs").at("values")) lp.push_back(number(v));
  const Json& o = c.at("options");
  const auto n = static_cast<std::int64_t>(c.at("input_lengths").size());
  return {tg::tensor(lp, tg::Dims(lp_shape), tg::kFloat64).set_requires_grad(true),
          ints(c.at("targets").at("values"), c.at("targets").at("shape").get<std::vector<std::int64_t>>()),
          ints(c.at("input_lengths"), {n}),
          ints(c.at("target_lengths"), {n}),
          {.blank = o.value("blank", std::int64_t{0}),
           .reduction = reduction_of(o),
           .zero_infinity = o.value("zero_infinity", false)}};
}

Tensor weighted_sum(const Tensor& out) {
  const Tensor w =
      tg::reshape(tg::add(tg::arange(static_cast<double>(out.numel()), {.dtype = tg::kFloat64}), 1.0), out.shape());
  return tg::sum(tg::mul(out, w));
}

}  // namespace

TEST_CASE("ctc_loss equals PyTorch: losses and gradients for every case of ctc.json") {
  const Json& cases = tg_test::reference_file("ctc.json").at("cases");
  REQUIRE(cases.size() >= 12);
  // Named references, not a structured binding: Clang 14 cannot capture
  // a binding in a lambda (doctest's CAPTURE is one).
  for (const auto& item : cases.items()) {
    const std::string& name = item.key();
    const auto& c = item.value();
    CAPTURE(name);
    Case k = case_of(c);
    const Tensor out = F::ctc_loss(k.log_probs, k.targets, k.input_lengths, k.target_lengths, k.options);
    CHECK(std::vector<std::int64_t>(out.sizes().begin(), out.sizes().end()) ==
          c.at("output").at("shape").get<std::vector<std::int64_t>>());
    check_with_nonfinite(out, c.at("output"), 1e-10);
    weighted_sum(out).backward();
    check_with_nonfinite(k.log_probs.grad(), c.at("grad"), 1e-9);
  }
}

TEST_CASE("ctc_loss: the gradient through log_softmax matches finite differences") {
  // PyTorch's formula is the gradient w.r.t. logits once composed with log_softmax.
  const Json& c = tg_test::reference_file("ctc.json").at("cases").at("padded, repeated labels, none");
  Case k = case_of(c);
  const Tensor logits = tg::randn({7, 3, 5}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  CHECK(tg::gradcheck(
      [&](const std::vector<Tensor>& x) {
        return weighted_sum(
            F::ctc_loss(tg::log_softmax(x[0], 2), k.targets, k.input_lengths, k.target_lengths, k.options));
      },
      {logits}));
}

TEST_CASE("ctc_loss: a second derivative is refused with a clear error, as in PyTorch") {
  const Json& c = tg_test::reference_file("ctc.json").at("cases").at("padded, repeated labels, mean");
  Case k = case_of(c);
  const Tensor loss = F::ctc_loss(k.log_probs, k.targets, k.input_lengths, k.target_lengths, k.options);
  // create_graph itself works; only differentiating the gradient fails.
  const auto grads = tg::grad(loss, k.log_probs, {.retain_graph = true, .create_graph = true});
  REQUIRE(grads.size() == 1);
  CHECK_THROWS_WITH_AS(tg::sum(grads[0]).backward(), doctest::Contains("double backward"), tg::AutogradError);
}

TEST_CASE("CTCLoss module and float32: the same as the function") {
  const Tensor lp = tg::log_softmax(tg::randn({6, 2, 4}), 2);
  const Tensor targets = tg::tensor(std::vector<std::int64_t>{1, 2, 2, 3, 1, 0}, {2, 3});
  const Tensor il = tg::tensor(std::vector<std::int64_t>{6, 5}, {2});
  const Tensor tl = tg::tensor(std::vector<std::int64_t>{3, 2}, {2});
  tg::nn::CTCLoss ctc({.reduction = Reduction::Sum});
  const Tensor a = ctc(lp, targets, il, tl);
  CHECK(a.dtype() == tg::kFloat32);
  CHECK(a.item<double>() == F::ctc_loss(lp, targets, il, tl, {.reduction = Reduction::Sum}).item<double>());
  CHECK(ctc.type_name() == "CTCLoss");
  // The 1-D concatenated form of the same targets gives the same loss.
  const Tensor flat = tg::tensor(std::vector<std::int64_t>{1, 2, 2, 3, 1}, {5});
  CHECK(F::ctc_loss(lp, flat, il, tl, {.reduction = Reduction::Sum}).item<double>() ==
        doctest::Approx(a.item<double>()));
}

// A sample with no frames (input length 0): its empty target costs 0 and
// any other is impossible (+inf, or 0 with zero_infinity), and no gradient
// reaches its frames; as PyTorch.
TEST_CASE("ctc_loss: an input length of 0") {
  const Tensor lp = tg::log_softmax(tg::randn({4, 2, 3}, {.dtype = tg::kFloat64}), 2).detach().set_requires_grad();
  const auto lengths = [](std::vector<std::int64_t> v) { return tg::tensor(v, {static_cast<std::int64_t>(v.size())}); };
  const Tensor none = F::ctc_loss(lp, lengths({2}), lengths({0, 4}), lengths({0, 1}), {.reduction = Reduction::None});
  CHECK(none.to_vector<double>()[0] == 0.0);
  const Tensor alone =
      F::ctc_loss(lp.narrow(1, 1, 1), lengths({2}), lengths({4}), lengths({1}), {.reduction = Reduction::None});
  CHECK(none.to_vector<double>()[1] == alone.item<double>());
  tg::sum(none).backward();
  CHECK(tg::equal(lp.grad().select(1, 0), tg::zeros({4, 3}, {.dtype = tg::kFloat64})));
  const Tensor impossible =
      F::ctc_loss(lp, lengths({1, 2}), lengths({0, 4}), lengths({1, 1}), {.reduction = Reduction::None});
  CHECK(std::isinf(impossible.to_vector<double>()[0]));
  const Tensor zeroed = F::ctc_loss(lp, lengths({1, 2}), lengths({0, 4}), lengths({1, 1}),
                                    {.reduction = Reduction::None, .zero_infinity = true});
  CHECK(zeroed.to_vector<double>()[0] == 0.0);
}

TEST_CASE("ctc_loss: bad inputs name ctc_loss and the offending values") {
  const Tensor lp = tg::zeros({5, 2, 4});
  const Tensor il = tg::tensor(std::vector<std::int64_t>{5, 5}, {2});
  const Tensor tl = tg::tensor(std::vector<std::int64_t>{2, 2}, {2});
  CHECK_THROWS_WITH_AS(F::ctc_loss(lp, tg::tensor(std::vector<std::int64_t>{1, 2, 3}, {3}), il, tl),
                       doctest::Contains("target_lengths sum to 4"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::ctc_loss(lp, tg::tensor(std::vector<std::int64_t>{1, 2, 3, 7}, {2, 2}), il, tl),
                       doctest::Contains("ctc_loss: target 1 of sample 1 is 7"), tg::IndexError);
  CHECK_THROWS_WITH_AS(F::ctc_loss(lp, tg::tensor(std::vector<std::int64_t>{1, 2, 3, 1}, {2, 2}),
                                   tg::tensor(std::vector<std::int64_t>{5, -1}, {2}), tl),
                       doctest::Contains("input_lengths[1] = -1 is not in [0, T = 5]"), tg::ValueError);
}

}  // namespace test_ctc_loss
