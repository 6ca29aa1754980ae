// rms_norm / RMSNorm and group_norm / GroupNorm: outputs and gradients against
// PyTorch (tests/reference/norms.json, from make_norms_reference.py), second
// derivatives against finite differences, the modules, and the errors.
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/normalization.h>

#include "support/reference.h"

namespace test_rms_group_norm {

namespace F = tg::nn::functional;
using tg::Tensor;
using Json = nlohmann::json;

namespace {

Tensor tensor_of(const Json& j) {
  const auto shape = j.at("shape").get<std::vector<std::int64_t>>();
  return tg::tensor(j.at("values").get<std::vector<double>>(), tg::Dims(shape), tg::kFloat64);
}

Tensor call(const std::string& fn, const Json& o, const std::vector<Tensor>& in) {
  if (fn == "rms_norm") {
    std::optional<double> eps;
    if (o.contains("eps")) eps = o.at("eps").get<double>();
    return F::rms_norm(in[0], tg::Dims(o.at("normalized_shape").get<std::vector<std::int64_t>>()),
                       in.size() > 1 ? in[1] : Tensor(), eps);
  }
  REQUIRE(fn == "group_norm");
  return F::group_norm(in[0], o.at("num_groups").get<std::int64_t>(), in.size() > 1 ? in[1] : Tensor(),
                       in.size() > 2 ? in[2] : Tensor(), o.value("eps", 1e-5));
}

Tensor weighted_sum(const Tensor& out) {
  const Tensor w =
      tg::reshape(tg::add(tg::arange(static_cast<double>(out.numel()), {.dtype = tg::kFloat64}), 1.0), out.shape());
  return tg::sum(tg::mul(out, w));
}

void check_against_torch(const std::string& fn) {
  int seen = 0;
  // Named references, not a structured binding: Clang 14 cannot capture
  // a binding in a lambda (doctest's CAPTURE is one).
  for (const auto& item : tg_test::reference_file("norms.json").at("cases").items()) {
    const std::string& name = item.key();
    const auto& c = item.value();
    if (c.at("fn").get<std::string>() != fn) continue;
    ++seen;
    CAPTURE(name);
    std::vector<Tensor> in;
    for (const auto& j : c.at("inputs")) in.push_back(tensor_of(j).requires_grad_(true));
    const Tensor out = call(fn, c.at("options"), in);
    tg_test::check_values(out, c.at("output").at("values").get<std::vector<double>>(), 1e-10);
    weighted_sum(out).backward();
    for (std::size_t i = 0; i < in.size(); ++i) {
      CAPTURE(i);
      REQUIRE(in[i].grad().defined());
      tg_test::check_values(in[i].grad(), c.at("grads").at(i).at("values").get<std::vector<double>>(), 1e-9);
    }
    std::vector<Tensor> fresh;
    for (const Tensor& t : in) fresh.push_back(t.detach().requires_grad_(true));
    const auto fn_of = [&](const std::vector<Tensor>& xs) { return weighted_sum(call(fn, c.at("options"), xs)); };
    CHECK(tg::gradcheck(fn_of, fresh));
    CHECK(tg::gradgradcheck(fn_of, fresh));
  }
  CHECK(seen >= 4);
}

}  // namespace

TEST_CASE("rms_norm equals PyTorch's definition, with and without weight, eps None and given") {
  check_against_torch("rms_norm");
}

TEST_CASE("group_norm equals PyTorch for 1, 2, 3 and C groups, affine or not, 2-D to 4-D inputs") {
  check_against_torch("group_norm");
}

TEST_CASE("rms_norm: eps None is the machine epsilon of the input's dtype") {
  // A row of zeros: y = 0 * rsqrt(eps), finite; a row of tiny values shows eps's size.
  const Tensor x32 = tg::full({1, 2}, 1e-4f);
  const double eps32 = std::numeric_limits<float>::epsilon();
  CHECK(F::rms_norm(x32, {2}).to_vector<float>()[0] == doctest::Approx(1e-4 / std::sqrt(1e-8 + eps32)));
  const Tensor x64 = tg::full({1, 2}, 1e-9, {.dtype = tg::kFloat64});
  const double eps64 = std::numeric_limits<double>::epsilon();
  CHECK(F::rms_norm(x64, {2}).to_vector<double>()[0] == doctest::Approx(1e-9 / std::sqrt(1e-18 + eps64)));
}

TEST_CASE("RMSNorm and GroupNorm modules: PyTorch's parameters, defaults and reprs") {
  tg::nn::RMSNorm rms({3, 4});
  CHECK(rms.named_parameters().size() == 1);
  CHECK(rms.weight.shape() == tg::Dims{3, 4});
  for (double v : rms.weight.to_vector<double>()) CHECK(v == 1.0);
  CHECK(rms.extra_repr() == "(3, 4), eps=None, elementwise_affine=True");
  CHECK(tg::nn::RMSNorm(4, {.eps = 1e-6, .elementwise_affine = false}).parameters().empty());
  const Tensor x = tg::randn({2, 3, 4});
  tg_test::check_close(rms(x), F::rms_norm(x, {3, 4}, rms.weight), 0);

  tg::nn::GroupNorm gn(2, 6);
  const auto named = gn.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named.begin()->first == "weight");
  CHECK(gn.extra_repr() == "2, 6, eps=1e-05, affine=True");
  CHECK(tg::nn::GroupNorm(3, 6, {.affine = false}).parameters().empty());
  const Tensor y = tg::randn({2, 6, 5});
  tg_test::check_close(gn(y), F::group_norm(y, 2, gn.weight, gn.bias), 0);
  // The same in eval: no running statistics.
  gn.eval();
  tg_test::check_close(gn(y), F::group_norm(y, 2, gn.weight, gn.bias), 0);
}

TEST_CASE("rms_norm and group_norm: bad inputs name the op and the shapes") {
  CHECK_THROWS_WITH_AS(F::group_norm(tg::ones({2, 6, 3}), 4), doctest::Contains("not divisible by num_groups 4"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::rms_norm(tg::ones({2, 3}), {4}), doctest::Contains("rms_norm: input [2, 3]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::GroupNorm(4, 6), doctest::Contains("divisible"), tg::ValueError);
  tg::nn::GroupNorm gn(2, 4);
  CHECK_THROWS_WITH_AS(gn(tg::ones({2, 6})), doctest::Contains("expected 4 channels"), tg::ShapeError);
  CHECK_THROWS_AS(tg::nn::RMSNorm(tg::Dims{}), tg::ValueError);
}

}  // namespace test_rms_group_norm
