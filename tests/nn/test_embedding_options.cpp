// F::embedding / nn::Embedding with max_norm, norm_type and
// scale_grad_by_freq against PyTorch (tests/reference/embedding.json, from
// make_embedding_reference.py): the weight renormalised in place, the output
// and the weight's gradient.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/embedding.h>
#include <tapegrad/nn/functional.h>

#include "support/reference.h"

namespace test_embedding_options {

namespace F = tg::nn::functional;
using tg::Tensor;
using Json = nlohmann::json;
using Vec = std::vector<double>;

namespace {

struct Options {
  std::optional<std::int64_t> padding_idx;
  std::optional<double> max_norm;
  double norm_type = 2;
  bool scale_grad_by_freq = false;
};

Options options_of(const Json& o) {
  Options r;
  if (o.contains("padding_idx")) r.padding_idx = o.at("padding_idx").get<std::int64_t>();
  if (o.contains("max_norm")) r.max_norm = o.at("max_norm").get<double>();
  r.norm_type = o.value("norm_type", 2.0);
  r.scale_grad_by_freq = o.value("scale_grad_by_freq", false);
  return r;
}

Tensor indices_of(const Json& c) {
  std::vector<std::int64_t> v;
  for (const auto& row : c.at("indices"))
    for (const auto& i : row) v.push_back(i.get<std::int64_t>());
  return tg::tensor(v, {2, 3}, tg::kInt64);
}

Tensor weighted_sum(const Tensor& out) {
  const Tensor w =
      tg::reshape(tg::add(tg::arange(static_cast<double>(out.numel()), {.dtype = tg::kFloat64}), 1.0), out.shape());
  return tg::sum(tg::mul(out, w));
}

}  // namespace

TEST_CASE("embedding max_norm, norm_type, scale_grad_by_freq equal PyTorch (function and module)") {
  const Json& cases = tg_test::reference_file("embedding.json").at("cases");
  REQUIRE(cases.size() >= 5);
  // Named references, not a structured binding: Clang 14 cannot capture
  // a binding in a lambda (doctest's CAPTURE is one).
  for (const auto& item : cases.items()) {
    const std::string& name = item.key();
    const auto& c = item.value();
    CAPTURE(name);
    const Options o = options_of(c.at("options"));
    const Tensor idx = indices_of(c);
    {
      Tensor w = tg::tensor(c.at("weight").get<Vec>(), {6, 3}, tg::kFloat64).set_requires_grad(true);
      const Tensor out = F::embedding(idx, w, o.padding_idx, o.max_norm, o.norm_type, o.scale_grad_by_freq);
      tg_test::check_values(w, c.at("weight_after").get<Vec>(), 1e-12);
      tg_test::check_values(out, c.at("output").get<Vec>(), 1e-12);
      weighted_sum(out).backward();
      tg_test::check_values(w.grad(), c.at("grad").get<Vec>(), 1e-12);
    }
    tg::nn::Embedding emb(6, 3, o.padding_idx, o.max_norm, o.norm_type, o.scale_grad_by_freq);
    {
      tg::NoGradGuard no_grad;
      emb.weight.copy_(tg::tensor(c.at("weight").get<Vec>(), {6, 3}, tg::kFloat32));
    }
    const Tensor out32 = emb(idx);
    weighted_sum(out32.to(tg::kFloat64)).backward();
    tg_test::check_values(emb.weight, c.at("weight_after").get<Vec>(), 1e-6);
    tg_test::check_values(emb.weight.grad(), c.at("grad").get<Vec>(), 1e-6);
  }
}

TEST_CASE("embedding scale_grad_by_freq: derivatives of order 2 and 3 scale by frequency once, as PyTorch") {
  // The frequency-scaled gradient is a convention, not a derivative, so no
  // finite-difference check applies (torch.autograd.gradgradcheck fails on it
  // too); PyTorch defines its derivatives by scaling once, in the first
  // backward. tapegrad scaled again when the second backward reached the
  // weight through the same embedding: 1 instead of 2 for W = [[1.5]],
  // indices [0, 0], sum(y^2).
  {
    Tensor w = tg::tensor({1.5}, {1, 1}, tg::kFloat64).set_requires_grad(true);
    const Tensor idx = tg::tensor(std::vector<std::int64_t>{0, 0}, {2}, tg::kInt64);
    const Tensor y = tg::sum(tg::pow(F::embedding(idx, w, std::nullopt, std::nullopt, 2, true), 2.0));
    const Tensor g = tg::grad({y}, {w}, {}, {.create_graph = true})[0];
    CHECK(g.item<double>() == doctest::Approx(3.0));
    CHECK(tg::grad({tg::sum(g)}, {w})[0].item<double>() == doctest::Approx(2.0));
  }
  const Json& cases = tg_test::reference_file("embedding.json").at("higher_order");
  REQUIRE(cases.size() >= 3);
  for (const auto& item : cases.items()) {
    const std::string& name = item.key();
    const auto& c = item.value();
    CAPTURE(name);
    const Options o = options_of(c.at("options"));
    const auto shape = c.at("shape").get<std::vector<std::int64_t>>();
    std::vector<std::int64_t> flat_idx;
    for (const auto& row : c.at("indices"))
      for (const auto& i : row) flat_idx.push_back(i.get<std::int64_t>());
    const std::int64_t rows = static_cast<std::int64_t>(c.at("indices").size());
    const Tensor idx = tg::tensor(flat_idx, {rows, static_cast<std::int64_t>(flat_idx.size()) / rows}, tg::kInt64);
    Tensor w = tg::tensor(c.at("weight").get<Vec>(), tg::Dims(shape), tg::kFloat64).set_requires_grad(true);
    // f = sum(y^3 * c) + sum(sum(y, -1)^2), c = (1, 2, 3, ...) / numel, as the script.
    const Tensor y = F::embedding(idx, w, o.padding_idx, std::nullopt, 2, true);
    const Tensor scale = tg::div(
        tg::reshape(tg::add(tg::arange(static_cast<double>(y.numel()), {.dtype = tg::kFloat64}), 1.0), y.shape()),
        static_cast<double>(y.numel()));
    const Tensor f = tg::add(tg::sum(tg::mul(tg::pow(y, 3.0), scale)), tg::sum(tg::pow(tg::sum(y, {-1}), 2.0)));
    const Tensor u =
        tg::reshape(tg::add(tg::arange(static_cast<double>(w.numel()), {.dtype = tg::kFloat64}), 1.0), w.shape());
    const Tensor g = tg::grad({f}, {w}, {}, {.create_graph = true})[0];
    tg_test::check_values(g, c.at("grad").get<Vec>(), 1e-12);
    const Tensor gg = tg::grad({tg::sum(tg::mul(g, u))}, {w}, {}, {.create_graph = true})[0];
    tg_test::check_values(gg, c.at("grad2").get<Vec>(), 1e-11);
    const Tensor ggg = tg::grad({tg::sum(tg::mul(gg, u))}, {w})[0];
    tg_test::check_values(ggg, c.at("grad3").get<Vec>(), 1e-11);
  }
}

TEST_CASE("embedding max_norm: only looked-up rows change; the repr; bad values") {
  Tensor w = tg::full({4, 2}, 3.0, {.dtype = tg::kFloat64});
  F::embedding(tg::tensor(std::vector<std::int64_t>{1, 1}, {2}), w, {}, 1.0);
  const Vec after = w.to_vector<double>();
  CHECK(after[0] == 3.0);                                    // row 0 untouched
  CHECK(after[2] == doctest::Approx(1.0 / std::sqrt(2.0)));  // row 1 scaled to norm 1
  CHECK(after[6] == 3.0);
  CHECK(tg::nn::Embedding(4, 2, {}, 1.0, 1.0, true).extra_repr() ==
        "4, 2, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True");  // as torch given floats
  CHECK_THROWS_WITH_AS(F::embedding(tg::tensor(std::vector<std::int64_t>{0}, {1}), w, {}, -1.0),
                       doctest::Contains("max_norm"), tg::ValueError);
}

}  // namespace test_embedding_options
