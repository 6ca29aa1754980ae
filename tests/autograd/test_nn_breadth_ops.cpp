// relu6, prelu, gelu's tanh form, normalize, cosine_similarity,
// pairwise_distance and instance_norm: values and first derivatives against
// PyTorch 1.13 (tests/reference/nn_breadth.json, from
// make_nn_breadth_reference.py), second derivatives against finite
// differences (the registry's gradgradcheck covers the other layouts),
// float32, and the errors.
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/nn/functional.h>

#include "support/reference.h"

namespace test_nn_breadth_ops {

namespace F = tg::nn::functional;
using tg::Tensor;
using Json = nlohmann::json;

namespace {

Tensor tensor_of(const Json& j) {
  const auto shape = j.at("shape").get<std::vector<std::int64_t>>();
  return tg::tensor(j.at("values").get<std::vector<double>>(), tg::Dims(shape), tg::kFloat64);  // 0-d for []
}

double number(const Json& j) {
  if (j.is_string()) return j.get<std::string>() == "inf" ? INFINITY : -INFINITY;
  return j.get<double>();
}

// The op of a case on `in`; running statistics are fresh copies of the case's.
Tensor call(const std::string& fn, const Json& o, const std::vector<Tensor>& in, Tensor* running_mean = nullptr,
            Tensor* running_var = nullptr) {
  if (fn == "relu6") return F::relu6(in[0]);
  if (fn == "prelu") return F::prelu(in[0], in[1]);
  if (fn == "gelu") return F::gelu(in[0], o.at("approximate").get<std::string>());
  if (fn == "normalize")
    return F::normalize(in[0], number(o.at("p")), o.at("dim").get<std::int64_t>(), o.at("eps").get<double>());
  if (fn == "cosine_similarity")
    return F::cosine_similarity(in[0], in[1], o.at("dim").get<std::int64_t>(), o.at("eps").get<double>());
  if (fn == "pairwise_distance")
    return F::pairwise_distance(in[0], in[1], number(o.at("p")), o.at("eps").get<double>(),
                                o.at("keepdim").get<bool>());
  REQUIRE(fn == "instance_norm");
  Tensor rm, rv;
  if (!o.at("running_mean").is_null()) {
    const auto mean = o.at("running_mean").get<std::vector<double>>();
    const auto var = o.at("running_var").get<std::vector<double>>();
    rm = tg::tensor(mean, tg::Dims{static_cast<std::int64_t>(mean.size())}, tg::kFloat64);
    rv = tg::tensor(var, tg::Dims{static_cast<std::int64_t>(var.size())}, tg::kFloat64);
  }
  if (running_mean != nullptr) *running_mean = rm;
  if (running_var != nullptr) *running_var = rv;
  return F::instance_norm(in[0], rm, rv, in.size() > 1 ? in[1] : Tensor(), in.size() > 2 ? in[2] : Tensor(),
                          o.at("use_input_stats").get<bool>(), o.at("momentum").get<double>(),
                          o.at("eps").get<double>());
}

Tensor weighted_sum(const Tensor& out) {
  const Tensor w =
      tg::reshape(tg::add(tg::arange(static_cast<double>(out.numel()), {.dtype = tg::kFloat64}), 1.0), out.shape());
  return tg::sum(tg::mul(out, w));
}

// The case's "grads2": the gradient of sum_i <dL/dx_i, v_i>, L the weighted
// sum of the output and v_i = 1 + 0.25 * arange, from fresh leaves (PyTorch's
// None, an input the first derivatives do not depend on, is zero here).
void check_second_derivatives(const std::string& fn, const Json& c) {
  std::vector<Tensor> in;
  for (const auto& j : c.at("inputs")) in.push_back(tensor_of(j).requires_grad_(true));
  const std::vector<Tensor> g =
      tg::grad({weighted_sum(call(fn, c.at("options"), in))}, in, {}, {.create_graph = true, .allow_unused = true});
  Tensor s;
  for (const Tensor& gi : g) {
    if (!gi.defined() || !gi.requires_grad()) continue;
    const Tensor v = tg::reshape(
        tg::add(tg::mul(tg::arange(static_cast<double>(gi.numel()), {.dtype = tg::kFloat64}), 0.25), 1.0), gi.shape());
    const Tensor term = tg::sum(tg::mul(gi, v));
    s = s.defined() ? tg::add(s, term) : term;
  }
  const auto& want = c.at("grads2");
  if (!s.defined()) {  // piecewise linear: no first derivative depends on x
    for (const auto& w : want)
      if (!w.is_null())
        for (const auto& v : w.at("values")) CHECK(v.get<double>() == 0.0);
    return;
  }
  const std::vector<Tensor> g2 = tg::grad({s}, in, {}, {.allow_unused = true});
  for (std::size_t i = 0; i < in.size(); ++i) {
    CAPTURE(i);
    const Tensor got = g2[i].defined() ? g2[i] : tg::zeros_like(in[i]);
    if (want.at(i).is_null()) {
      CHECK(got.abs().max().item<double>() == 0.0);
      continue;
    }
    // Where PyTorch's is NaN ("nan": normalize's zero row, whose norm's own
    // second derivative is 0 / 0 there), ours is the clamped branch's, 0
    // (docs/pytorch.md).
    std::vector<double> values;
    for (const auto& v : want.at(i).at("values")) values.push_back(v.is_string() ? 0.0 : v.get<double>());
    tg_test::check_values(got, values, 1e-10);
  }
}

// Every case of `fn`: output and gradients to 1e-12 (relative, with that
// absolute floor), then gradcheck and gradgradcheck of the same function.
void check_against_torch(const std::string& fn, int at_least) {
  int seen = 0;
  // Named references, not a structured binding: Clang 14 cannot capture
  // a binding in a lambda (doctest's CAPTURE is one).
  for (const auto& item : tg_test::reference_file("nn_breadth.json").at("cases").items()) {
    const std::string& name = item.key();
    const auto& c = item.value();
    if (c.at("fn").get<std::string>() != fn) continue;
    ++seen;
    CAPTURE(name);
    std::vector<Tensor> in;
    for (const auto& j : c.at("inputs")) in.push_back(tensor_of(j).requires_grad_(true));
    Tensor running_mean, running_var;
    const Tensor out = call(fn, c.at("options"), in, &running_mean, &running_var);
    CHECK(out.shape() == tg::Dims(c.at("output").at("shape").get<std::vector<std::int64_t>>()));
    tg_test::check_values(out, c.at("output").at("values").get<std::vector<double>>(), 1e-12);
    if (c.contains("running_mean_after")) {
      tg_test::check_values(running_mean, c.at("running_mean_after").at("values").get<std::vector<double>>(), 1e-12);
      tg_test::check_values(running_var, c.at("running_var_after").at("values").get<std::vector<double>>(), 1e-12);
    }
    weighted_sum(out).backward();
    for (std::size_t i = 0; i < in.size(); ++i) {
      CAPTURE(i);
      REQUIRE(in[i].grad().defined());
      tg_test::check_values(in[i].grad(), c.at("grads").at(i).at("values").get<std::vector<double>>(), 1e-12);
    }
    check_second_derivatives(fn, c);
    // Away from the kinks and the eps clamps, where the derivative is the
    // formula's: relu6 at 0 and 6, normalize's zero row and the norm below
    // eps are checked above against PyTorch's conventions only.
    if (name == "relu6" || name == "normalize p2 dim1 zero row" || name == "cosine_similarity norm below eps" ||
        name == "prelu per channel 3-D")
      continue;
    std::vector<Tensor> fresh;
    for (const Tensor& t : in) fresh.push_back(t.detach().requires_grad_(true));
    const auto fn_of = [&](const std::vector<Tensor>& xs) { return weighted_sum(call(fn, c.at("options"), xs)); };
    CHECK(tg::gradcheck(fn_of, fresh));
    CHECK(tg::gradgradcheck(fn_of, fresh));
  }
  CHECK(seen >= at_least);
}

}  // namespace

TEST_CASE("relu6 equals PyTorch, gradient 0 at the kinks 0 and 6") { check_against_torch("relu6", 1); }

TEST_CASE("prelu equals PyTorch: a weight per channel or one, 0-d to 4-D inputs, x = 0 takes the weight") {
  check_against_torch("prelu", 6);
}

TEST_CASE("gelu: the tanh form and the exact one equal PyTorch from -30 to 30") { check_against_torch("gelu", 2); }

TEST_CASE("normalize equals PyTorch for p 1, 2, 3, inf, a zero row and a norm below eps") {
  check_against_torch("normalize", 5);
}

TEST_CASE("cosine_similarity equals PyTorch 1.13, broadcasting, dims 0/1/-1, and a norm below eps") {
  check_against_torch("cosine_similarity", 5);
}

TEST_CASE("pairwise_distance equals PyTorch for p 1, 2, 3, inf, keepdim, broadcasting and 1-D") {
  check_against_torch("pairwise_distance", 5);
}

TEST_CASE("instance_norm equals PyTorch: input statistics, affine, running statistics updated and used") {
  check_against_torch("instance_norm", 4);
}

TEST_CASE("second derivatives at and around the kinks: relu6, prelu and gelu tanh") {
  // relu6 and prelu are piecewise linear in x: every second derivative in x is 0.
  const Tensor x = tg::tensor({-2.0, -0.5, 0.5, 3.0, 7.0}, {5}, {.dtype = tg::kFloat64, .requires_grad = true});
  const Tensor w = tg::tensor({0.25}, {1}, {.dtype = tg::kFloat64, .requires_grad = true});
  for (int which = 0; which < 2; ++which) {
    CAPTURE(which);
    const Tensor y = which == 0 ? tg::relu6(x) : tg::prelu(x, w);
    const Tensor g = tg::grad({tg::sum(tg::mul(y, y))}, {x}, {}, {.create_graph = true})[0];
    // d/dx sum(y^2) = 2 y y'; its derivative is 2 y'^2 (y'' = 0).
    const Tensor h = tg::grad({tg::sum(g)}, {x})[0];
    const std::vector<double> slope =
        which == 0 ? std::vector<double>{0, 0, 1, 1, 0} : std::vector<double>{0.25, 0.25, 1, 1, 1};
    std::vector<double> want;
    for (double s : slope) want.push_back(2 * s * s);
    tg_test::check_values(h, want, 1e-14);
  }
  // prelu's mixed derivative d2/(dx dw) of sum(y): 1 where x <= 0.
  const Tensor gx = tg::grad({tg::sum(tg::prelu(x, w))}, {x}, {}, {.create_graph = true})[0];
  tg_test::check_values(tg::grad({tg::sum(gx)}, {w})[0], {2.0}, 1e-14);
  // gelu tanh: gradgradcheck over the saturated and central ranges.
  const Tensor g =
      tg::tensor({-6.0, -2.0, -0.3, 0.0, 0.4, 1.7, 5.0}, {7}, {.dtype = tg::kFloat64, .requires_grad = true});
  const auto gelu_tanh = [](const std::vector<Tensor>& in) { return tg::gelu(in[0], "tanh"); };
  CHECK(tg::gradcheck(gelu_tanh, {g}));
  CHECK(tg::gradgradcheck(gelu_tanh, {g}));
}

TEST_CASE("float32: the new ops agree with float64 and keep float32") {
  const Tensor x64 = tg::tensor({-3.0, -1.25, -0.1, 0.3, 2.0, 5.5, 6.5, 9.0}, {2, 4}, tg::kFloat64);
  const Tensor x32 = x64.to(tg::kFloat32);
  const Tensor w64 = tg::tensor({0.5, -0.25}, {2}, tg::kFloat64), w32 = w64.to(tg::kFloat32);
  const auto same = [](const Tensor& a32, const Tensor& a64) {
    CHECK(a32.dtype() == tg::kFloat32);
    tg_test::check_close(a32.to(tg::kFloat64), a64, 1e-6);
  };
  same(tg::relu6(x32), tg::relu6(x64));
  same(tg::prelu(x32.t(), w32), tg::prelu(x64.t(), w64));
  same(tg::gelu(x32, "tanh"), tg::gelu(x64, "tanh"));
  same(F::normalize(x32), F::normalize(x64));
  same(F::cosine_similarity(x32, tg::flip(x32, {1})), F::cosine_similarity(x64, tg::flip(x64, {1})));
  same(F::pairwise_distance(x32, tg::flip(x32, {0})), F::pairwise_distance(x64, tg::flip(x64, {0})));
  const Tensor s64 = tg::reshape(x64, {2, 2, 2}), s32 = s64.to(tg::kFloat32);
  same(F::instance_norm(s32), F::instance_norm(s64));
  // Mixed float32 and float64 inputs compute in float64, as PyTorch.
  CHECK(F::cosine_similarity(x32, x64).dtype() == tg::kFloat64);
  // Integer inputs of cosine_similarity with a floating partner are converted.
  const Tensor mixed = F::cosine_similarity(tg::ones({2, 3}, {.dtype = tg::kInt64}), tg::ones({3}));
  CHECK(mixed.dtype() == tg::kFloat32);
  tg_test::check_close(mixed, {1, 1}, 1e-6);
  // relu6 keeps integer dtypes, as PyTorch's (hardtanh's) does.
  const Tensor i = tg::relu6(tg::tensor({-3, 4, 9}));
  CHECK(i.dtype() == tg::kInt64);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 4, 6});
}

TEST_CASE("gelu's tanh form in float16 and bfloat16 computes in float32 and rounds once, forward and backward") {
  const Tensor x32 = tg::linspace(-6.0, 6.0, 4001);
  for (tg::DType half : {tg::kFloat16, tg::kBFloat16}) {
    CAPTURE(half);
    const Tensor x = x32.to(half).requires_grad_(true);
    const Tensor y = F::gelu(x, "tanh");
    CHECK(y.dtype() == half);
    const Tensor xf = x.detach().to(tg::kFloat32).requires_grad_(true);
    const Tensor yf = F::gelu(xf, "tanh");
    CHECK(tg::equal(y.detach(), yf.detach().to(half)));  // -3.586 gave -0 step by step, not -4.4e-4
    y.sum().backward();
    yf.sum().backward();
    CHECK(tg::equal(x.grad(), xf.grad().to(half)));
  }
  CHECK_THROWS_WITH_AS(F::prelu(tg::tensor({1.0}).reshape({}), tg::ones({3})),
                       doctest::Contains("prelu: input [] has no channel dim (dim 1), so weight must have 1 element"),
                       tg::ShapeError);
}

TEST_CASE("bad inputs to the new ops: the error type, and a message naming the op") {
  const Tensor x = tg::ones({2, 3});
  CHECK_THROWS_WITH_AS(tg::relu6(tg::ones({2}, {.dtype = tg::kBool})), doctest::Contains("relu6"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(tg::prelu(x, tg::ones({2})),
                       doctest::Contains("prelu: weight has 2 elements but input [2, 3] has 3 channels"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::prelu(x, tg::ones({3, 1})),
                       doctest::Contains("prelu: expected weight to be a scalar or 1-D"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::prelu(x, tg::ones({3}, {.dtype = tg::kFloat64})),
                       doctest::Contains("prelu: weight is float64 but the input is float32"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(tg::prelu(tg::ones({2, 3}, {.dtype = tg::kInt64}), tg::ones({3}, {.dtype = tg::kInt64})),
                       doctest::Contains("prelu"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(tg::gelu(x, "fast"), doctest::Contains("gelu: approximate must be \"none\" or \"tanh\""),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::gelu(x, "Tanh"), doctest::Contains("gelu"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::gelu(tg::ones({2}, {.dtype = tg::kInt64}), "tanh"), doctest::Contains("gelu"),
                       tg::DTypeError);
  CHECK_THROWS_WITH_AS(F::normalize(tg::ones({2, 3}, {.dtype = tg::kInt64})), doctest::Contains("normalize"),
                       tg::DTypeError);
  CHECK_THROWS_WITH_AS(F::normalize(tg::ones({3})), doctest::Contains("normalize"), tg::IndexError);
  CHECK_THROWS_WITH_AS(F::cosine_similarity(x, tg::ones({4})), doctest::Contains("cosine_similarity"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(
      F::cosine_similarity(tg::ones({2, 3}, {.dtype = tg::kInt64}), tg::ones({3}, {.dtype = tg::kInt64})),
      doctest::Contains("cosine_similarity: expected the common dtype of x1 (int64 [2, 3]) and x2 (int64 [3])"),
      tg::DTypeError);
  CHECK_THROWS_WITH_AS(F::cosine_similarity(x, x, 2), doctest::Contains("cosine_similarity"), tg::IndexError);
  CHECK_THROWS_WITH_AS(F::pairwise_distance(x, tg::ones({4})), doctest::Contains("pairwise_distance"), tg::ShapeError);
  // Integer inputs give float32 distances, as PyTorch's (x1 - x2 + eps is floating).
  const Tensor d = F::pairwise_distance(tg::tensor({1, 2}, {1, 2}, tg::kInt64), tg::tensor({3, 5}, {1, 2}, tg::kInt64));
  CHECK(d.dtype() == tg::kFloat32);
  CHECK(d.item<float>() == doctest::Approx(3.6055512));  // PyTorch 1.13: 3.6056, sqrt((-2 + 1e-6)^2 + (-3 + 1e-6)^2)
  CHECK_THROWS_WITH_AS(F::instance_norm(tg::ones({3})),
                       doctest::Contains("instance_norm: expected an input [N, C, ...]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::instance_norm(tg::ones({2, 3})),
                       doctest::Contains("instance_norm: expected more than 1 spatial element"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::instance_norm(tg::ones({2, 3, 4}), {}, {}, tg::ones({4})),
                       doctest::Contains("instance_norm: weight must have shape [3], got [4]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::instance_norm(tg::ones({2, 3, 4}), {}, {}, {}, {}, false),
                       doctest::Contains("instance_norm: without use_input_stats"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::instance_norm(tg::ones({2, 3, 4}), tg::zeros({3}), {}),
                       doctest::Contains("instance_norm: running_mean and running_var must be given together"),
                       tg::ValueError);
}

TEST_CASE("instance_norm: an empty batch gives an empty output and leaves the running statistics") {
  Tensor rm = tg::zeros({3}), rv = tg::ones({3});
  const Tensor y = F::instance_norm(tg::ones({0, 3, 4}), rm, rv);
  CHECK(y.shape() == tg::Dims{0, 3, 4});
  CHECK(rm.to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(rv.to_vector<float>() == std::vector<float>{1, 1, 1});
}

}  // namespace test_nn_breadth_ops
