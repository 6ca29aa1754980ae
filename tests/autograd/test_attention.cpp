// scaled_dot_product_attention: the fused op against PyTorch's math path
// (tests/reference/attention.json, written by
// tests/reference/make_attention_reference.py with torch 1.13), against
// tapegrad's own unfused math path (dropout included), gradchecks of both
// derivative orders, and its bad inputs; NaN and infinite inputs and the
// 16-bit cases against tests/reference/attention_nonfinite.json (written by
// tests/reference/make_attention_nonfinite_reference.py).
#include <doctest/doctest.h>

#include <cmath>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/attention.h>
#include <tapegrad/core/random.h>
#include <tapegrad/nn/functional.h>

#include "support/reference.h"

namespace test_attention {

using tg::Dims;
using tg::Tensor;
namespace F = tg::nn::functional;

namespace {

Dims dims_of(const nlohmann::json& j) { return Dims(j.get<std::vector<std::int64_t>>()); }

Tensor leaf_from(const nlohmann::json& c, const char* key, const char* shape_key, tg::DType dtype) {
  Tensor t = tg::tensor(c.at(key).get<std::vector<double>>(), dims_of(c.at(shape_key)), dtype);
  t.set_requires_grad(true);
  return t;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& [name, c] : tg_test::reference_file("attention.json").at("cases").items()) names.push_back(name);
  return names;
}

// The reference case `name` in `dtype`: out and the gradients of
// sum(out * w) against PyTorch's, to `tol`.
void check_case(const std::string& name, tg::DType dtype, double tol) {
  CAPTURE(name);
  const auto& c = tg_test::reference_file("attention.json").at("cases").at(name);
  Tensor q = leaf_from(c, "q", "q_shape", dtype), k = leaf_from(c, "k", "k_shape", dtype),
         v = leaf_from(c, "v", "v_shape", dtype);
  Tensor mask;
  const std::string kind = c.at("mask_kind").get<std::string>();
  if (kind == "bool")
    mask = tg::tensor(c.at("mask").get<std::vector<double>>(), dims_of(c.at("mask_shape")), tg::kBool);
  if (kind == "float") mask = leaf_from(c, "mask", "mask_shape", dtype);
  std::optional<double> scale;
  if (c.contains("scale")) scale = c.at("scale").get<double>();
  const bool causal = c.at("is_causal").get<bool>();
  const Tensor out = F::scaled_dot_product_attention(q, k, v, mask, 0.0, causal, scale);
  CHECK(out.shape() == dims_of(c.at("out_shape")));
  tg_test::check_close(out, c.at("out").get<std::vector<double>>(), tol);
  const Tensor w =
      tg::div(tg::arange(1, static_cast<double>(out.numel()) + 1, 1, {.dtype = dtype}).reshape(out.shape()),
              static_cast<double>(out.numel()));
  tg::sum(tg::mul(out, w)).backward();
  tg_test::check_close(q.grad(), c.at("dq").get<std::vector<double>>(), tol);
  tg_test::check_close(k.grad(), c.at("dk").get<std::vector<double>>(), tol);
  tg_test::check_close(v.grad(), c.at("dv").get<std::vector<double>>(), tol);
  if (kind == "float") tg_test::check_close(mask.grad(), c.at("dmask").get<std::vector<double>>(), tol);
}

Tensor leaf_randn(Dims shape, tg::DType dtype = tg::kFloat64) {
  Tensor t = tg::randn(std::move(shape), {.dtype = dtype});
  t.set_requires_grad(true);
  return t;
}

// attention_nonfinite.json writes NaN and the infinities as strings.
std::vector<double> values_of(const nlohmann::json& j) {
  std::vector<double> out;
  for (const auto& x : j) {
    if (!x.is_string()) {
      out.push_back(x.get<double>());
      continue;
    }
    const std::string s = x.get<std::string>();
    REQUIRE((s == "nan" || s == "inf" || s == "-inf"));
    out.push_back(s == "nan" ? NAN : s == "inf" ? INFINITY : -INFINITY);
  }
  return out;
}

Tensor leaf_of(const nlohmann::json& c, const char* key, const char* shape_key, tg::DType dtype) {
  Tensor t = tg::tensor(values_of(c.at(key)), dims_of(c.at(shape_key)), dtype);
  t.set_requires_grad(true);
  return t;
}

// The largest difference of got and want relative to want's largest magnitude.
double relative_error(const Tensor& got, const Tensor& want) {
  const Tensor w = want.detach().to(tg::kFloat64), g = got.detach().to(tg::kFloat64);
  return tg::max(tg::abs(tg::sub(g, w))).item<double>() / tg::max(tg::abs(w)).item<double>();
}

}  // namespace

TEST_CASE("scaled_dot_product_attention equals PyTorch's math path in float64, values and gradients") {
  const auto names = case_names();
  REQUIRE(names.size() >= 10);
  for (const auto& name : names) check_case(name, tg::kFloat64, 1e-10);
}

TEST_CASE("scaled_dot_product_attention equals PyTorch's math path in float32") {
  for (const auto& name : case_names()) check_case(name, tg::kFloat32, 2e-4);
}

TEST_CASE("scaled_dot_product_attention: a row that attends nothing is zero, with zero gradients") {
  Tensor q = leaf_randn({1, 3, 4}), k = leaf_randn({1, 5, 4}), v = leaf_randn({1, 5, 2});
  Tensor mask = tg::ones({3, 5}, {.dtype = tg::kBool});
  mask = tg::where(tg::tensor({1.0, 0.0, 1.0}, {3, 1}) > 0.5, mask, tg::zeros({}, {.dtype = tg::kBool}));
  const Tensor out = F::scaled_dot_product_attention(q, k, v, mask);
  const auto values = out.to_vector<double>();
  for (double x : values) CHECK(std::isfinite(x));
  CHECK(values[2] == 0.0);
  CHECK(values[3] == 0.0);
  tg::sum(out).backward();
  const auto dq = q.grad().to_vector<double>();
  for (int e = 4; e < 8; ++e) CHECK(dq[static_cast<std::size_t>(e)] == 0.0);
  for (double x : k.grad().to_vector<double>()) CHECK(std::isfinite(x));
}

// The NaN class against PyTorch (tests/reference/attention_nonfinite.json): a
// NaN or +inf score makes its row NaN, values and gradients, on the fused
// path (its backward kernel, and the math formula that create_graph takes)
// and on the math path alike; a row whose scores are all -inf is zero.
TEST_CASE("scaled_dot_product_attention: NaN and +inf propagate as in PyTorch; only rows attending nothing are zero") {
  const auto& cases = tg_test::reference_file("attention_nonfinite.json").at("cases");
  REQUIRE(cases.size() >= 10);
  for (const auto& item : cases.items()) {
    // Not a structured binding: CAPTURE's lambda may not capture one (Clang 14).
    const std::string name = item.key();
    const auto& c = item.value();
    for (const std::string path : {"fused", "fused, create_graph", "math"}) {
      CAPTURE(name);
      CAPTURE(path);
      const Tensor q = leaf_of(c, "q", "q_shape", tg::kFloat64), k = leaf_of(c, "k", "k_shape", tg::kFloat64),
                   v = leaf_of(c, "v", "v_shape", tg::kFloat64);
      Tensor mask;
      const std::string kind = c.at("mask_kind").get<std::string>();
      if (kind == "bool") mask = tg::tensor(values_of(c.at("mask")), dims_of(c.at("mask_shape")), tg::kBool);
      if (kind == "float") mask = leaf_of(c, "mask", "mask_shape", tg::kFloat64);
      std::optional<double> scale;
      if (c.contains("scale")) scale = c.at("scale").get<double>();
      const bool causal = c.at("is_causal").get<bool>();
      Tensor out, weights;
      if (path == "math")
        std::tie(out, weights) = tg::scaled_dot_product_attention_math(q, k, v, mask, 0.0, causal, scale);
      else out = F::scaled_dot_product_attention(q, k, v, mask, 0.0, causal, scale);
      tg_test::check_close(out, dims_of(c.at("out_shape")), values_of(c.at("out")), 1e-10);
      if (weights.defined() && c.contains("weights")) tg_test::check_close(weights, values_of(c.at("weights")), 1e-10);
      const Tensor w = tg::div(tg::arange(1, static_cast<double>(out.numel()) + 1, 1, {.dtype = tg::kFloat64}),
                               static_cast<double>(out.numel()))
                           .reshape(out.shape());
      std::vector<Tensor> wrt = {q, k, v};
      if (kind == "float") wrt.push_back(mask);
      const auto grads = tg::grad({tg::sum(tg::mul(out, w))}, wrt, {}, {.create_graph = path == "fused, create_graph"});
      tg_test::check_close(grads[0], values_of(c.at("dq")), 1e-10);
      tg_test::check_close(grads[1], values_of(c.at("dk")), 1e-10);
      tg_test::check_close(grads[2], values_of(c.at("dv")), 1e-10);
      if (kind == "float") tg_test::check_close(grads[3], values_of(c.at("dmask")), 1e-10);
    }
  }
}

// The same NaN rows in float32 (the kernel's other compute dtype) and in the
// 16-bit dtypes, which compute in float32.
TEST_CASE("scaled_dot_product_attention: a NaN query row is NaN in every floating dtype, a masked row zero") {
  for (const tg::DType dtype : {tg::kFloat32, tg::kFloat16, tg::kBFloat16}) {
    CAPTURE(tg::dtype_name(dtype));
    // Row 0 has a NaN, row 1 attends nothing (its key is masked), row 2 is plain.
    Tensor q = tg::tensor({NAN, 1.0, 0.5, -1.0, 0.25, 0.75}, {3, 2}, dtype).set_requires_grad(true);
    Tensor k = tg::tensor({1.0, 0.0, 0.0, 1.0}, {2, 2}, dtype).set_requires_grad(true);
    Tensor v = tg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2}, dtype).set_requires_grad(true);
    const Tensor mask = tg::tensor({1, 1, 0, 0, 1, 1}, {3, 2}, {.dtype = tg::kBool});
    const Tensor out = F::scaled_dot_product_attention(q, k, v, mask);
    const auto values = out.to_vector<double>();
    CHECK(std::isnan(values[0]));
    CHECK(std::isnan(values[1]));
    CHECK(values[2] == 0.0);
    CHECK(values[3] == 0.0);
    CHECK(std::isfinite(values[4]));
    CHECK(std::isfinite(values[5]));
    tg::sum(out).backward();
    const auto dq = q.grad().to_vector<double>();
    CHECK(std::isnan(dq[0]));
    CHECK(dq[2] == 0.0);
    CHECK(dq[3] == 0.0);
    CHECK(std::isfinite(dq[4]));
    for (const double x : v.grad().to_vector<double>()) CHECK(std::isnan(x));  // row 0's NaN weights reach every key
  }
}

// The documented exception (core/kernels/attention.h): under is_causal the
// fused op skips the tiles wholly above the diagonal, so a NaN value at key
// 69 does not reach the queries of the first block of 64 through their zero
// weights; the math path's product (0 * NaN) does, as PyTorch's.
TEST_CASE("scaled_dot_product_attention: causal tiles above the diagonal are never read") {
  for (const std::int64_t L : {70, 300}) {  // one tile of all keys per query block, and 64-key tiles
    CAPTURE(L);
    const Tensor q = leaf_randn({1, L, 3}), k = leaf_randn({1, L, 3});
    Tensor v = tg::randn({1, L, 2}, {.dtype = tg::kFloat64});
    v.index_put_({tg::tensor({0}), tg::tensor({L - 1}), tg::tensor({0})}, tg::full({1}, NAN, {.dtype = tg::kFloat64}));
    const Tensor fused = F::scaled_dot_product_attention(q, k, v, {}, 0.0, true);
    const Tensor math = std::get<0>(tg::scaled_dot_product_attention_math(q, k, v, {}, 0.0, true));
    const std::int64_t clean = (L - 1) / 64 * 64;  // the query blocks before the last key's
    CHECK(tg::isfinite(fused.narrow(1, 0, clean)).all().item<bool>());
    CHECK(tg::isnan(math.narrow(1, 0, clean).select(2, 0)).all().item<bool>());
    CHECK(std::isnan(fused.select(1, L - 1).select(1, 0).item<double>()));  // the row that attends key L - 1
    // The clean rows' query gradients stay finite too.
    const auto dq = tg::grad({tg::sum(fused)}, {q});
    CHECK(tg::isfinite(dq[0].narrow(1, 0, clean)).all().item<bool>());
    CHECK(tg::isnan(dq[0].narrow(1, clean, L - clean)).any().item<bool>());
  }
}

// Shapes at the edges: no query rows (alone or inside the batch), a single
// query or key row whose row stride is smaller than its width (a view may
// give a size-1 dim any stride), keys expanded over the batch.
TEST_CASE("scaled_dot_product_attention: no queries, single rows of any stride, expanded keys") {
  tg::manual_seed(23);
  const auto check_against_math = [](const Tensor& q, const Tensor& k, const Tensor& v) {
    const Tensor fused = F::scaled_dot_product_attention(q, k, v);
    const Tensor math = std::get<0>(tg::scaled_dot_product_attention_math(q, k, v));
    CHECK(fused.shape() == math.shape());
    tg_test::check_close(fused, math, 1e-12);
    const Tensor w = tg::randn(fused.shape(), {.dtype = tg::kFloat64});
    // Views shared by both graphs: the first backward keeps them.
    const auto a = tg::grad({tg::sum(tg::mul(fused, w))}, {q, k, v}, {}, {.retain_graph = true});
    const auto b = tg::grad({tg::sum(tg::mul(math, w))}, {q, k, v});
    for (std::size_t i = 0; i < 3; ++i) tg_test::check_close(a[i], b[i], 1e-12);
  };
  SUBCASE("no query rows") {
    check_against_math(leaf_randn({2, 0, 4}), leaf_randn({2, 20, 4}), leaf_randn({2, 20, 3}));
    check_against_math(leaf_randn({2, 0, 5, 4}), leaf_randn({2, 0, 7, 4}), leaf_randn({2, 0, 7, 3}));
  }
  SUBCASE("one row, its stride below its width") {
    // transpose of [2, E, 1] gives [2, 1, E] with strides [E, 1, 1].
    const Tensor q1 = leaf_randn({2, 8, 1}), k1 = leaf_randn({2, 8, 1}), v1 = leaf_randn({2, 3, 1});
    const Tensor q = q1.transpose(1, 2), k = k1.transpose(1, 2), v = v1.transpose(1, 2);
    CHECK(q.stride(1) == 1);
    const Tensor k5 = leaf_randn({2, 5, 8}), v5 = leaf_randn({2, 5, 3});
    for (const Tensor& out : {F::scaled_dot_product_attention(q, k5, v5), F::scaled_dot_product_attention(q, k, v)})
      CHECK(tg::isfinite(out).all().item<bool>());
    tg_test::check_close(F::scaled_dot_product_attention(q, k5, v5),
                         std::get<0>(tg::scaled_dot_product_attention_math(q, k5, v5)), 1e-12);
    const Tensor q5 = leaf_randn({2, 5, 8});
    tg_test::check_close(F::scaled_dot_product_attention(q5, k, v),
                         std::get<0>(tg::scaled_dot_product_attention_math(q5, k, v)), 1e-12);
    const auto a =
        tg::grad({tg::sum(F::scaled_dot_product_attention(q5, k, v))}, {q5, k1, v1}, {}, {.retain_graph = true});
    const auto b = tg::grad({tg::sum(std::get<0>(tg::scaled_dot_product_attention_math(q5, k, v)))}, {q5, k1, v1});
    for (std::size_t i = 0; i < 3; ++i) tg_test::check_close(a[i], b[i], 1e-12);
  }
  SUBCASE("keys and values expanded over the batch and heads") {
    const Tensor kv = leaf_randn({1, 1, 40, 6});
    const Tensor q = leaf_randn({3, 2, 30, 6});
    const Tensor k = kv.expand({3, 2, 40, 6}), v = kv.expand({3, 2, 40, 6});
    check_against_math(q, k, v);
    check_against_math(q, kv, kv);
  }
}

// Up to 256 keys the forward keeps the softmax weights, and the backward
// reads them instead of recomputing the scores; given none, it recomputes.
// The two must agree (to rounding: exp(s - m) / l against exp(s - lse)),
// with masks, causal rows, dropout and rows that attend nothing; beyond 256
// keys nothing is kept, so that memory stays linear in L.
TEST_CASE("scaled_dot_product_attention: kept weights and recomputed ones give the same gradients") {
  namespace K = tg::kernel;
  tg::manual_seed(17);
  for (const bool causal : {false, true})
    for (const double p : {0.0, 0.4})
      for (const bool masked : {false, true}) {
        if (causal && masked) continue;
        CAPTURE(causal);
        CAPTURE(p);
        CAPTURE(masked);
        const Tensor q = tg::randn({2, 3, 130, 5}, {.dtype = tg::kFloat64});
        const Tensor k = tg::randn({2, 3, 150, 5}, {.dtype = tg::kFloat64});
        const Tensor v = tg::randn({2, 3, 150, 4}, {.dtype = tg::kFloat64});
        K::AttentionOptions o;
        o.is_causal = causal;
        o.scale = 0.4;
        o.dropout_p = p;
        o.dropout_seed = 1234;
        if (masked) {
          Tensor m = tg::rand({130, 150}) > 0.5;
          m.index_fill_(0, tg::tensor({3, 100}), 0.0);  // rows that attend nothing
          o.mask = m;
        }
        const K::AttentionForward kept = K::attention_forward(q, k, v, o, true);
        const K::AttentionForward plain = K::attention_forward(q, k, v, o);
        REQUIRE(kept.weights.defined());
        CHECK_FALSE(plain.weights.defined());
        CHECK(tg::equal(Tensor(kept.out), Tensor(plain.out)));
        CHECK(tg::equal(Tensor(kept.logsumexp), Tensor(plain.logsumexp)));
        const Tensor dout = tg::randn({2, 3, 130, 4}, {.dtype = tg::kFloat64});
        const auto a = K::attention_backward(dout, q, k, v, kept.out, kept.logsumexp, kept.weights, o);
        const auto b = K::attention_backward(dout, q, k, v, plain.out, plain.logsumexp, {}, o);
        tg_test::check_close(Tensor(std::get<0>(a)), Tensor(std::get<0>(b)), 1e-12);
        tg_test::check_close(Tensor(std::get<1>(a)), Tensor(std::get<1>(b)), 1e-12);
        tg_test::check_close(Tensor(std::get<2>(a)), Tensor(std::get<2>(b)), 1e-12);
      }
  const Tensor q = tg::randn({1, 8, 4}), k = tg::randn({1, 257, 4}), v = tg::randn({1, 257, 4});
  CHECK_FALSE(K::attention_forward(q, k, v, {.scale = 0.5}, true).weights.defined());
  // Kept weights of the wrong shape are refused, not read out of bounds.
  const Tensor k2 = tg::randn({1, 20, 4}), v2 = tg::randn({1, 20, 4});
  const K::AttentionForward f = K::attention_forward(q, k2, v2, {.scale = 0.5}, true);
  CHECK_THROWS_AS(
      K::attention_backward(tg::randn({1, 8, 4}), q, k2, v2, f.out, f.logsumexp, tg::zeros({1, 8, 19}), {.scale = 0.5}),
      tg::ShapeError);
}

// float16 and bfloat16 compute in float32 and keep the logsumexp there: the
// backward's weights exp(s - lse) from a 16-bit lse were 5.5 % off in
// bfloat16 (scores of 40), and float16's lse of 65536 was inf, which made
// every gradient 0. PyTorch's values in float64
// (attention_nonfinite.json's "sixteen_bit").
TEST_CASE("scaled_dot_product_attention in float16 and bfloat16: gradients from a float32 logsumexp") {
  for (const auto& item : tg_test::reference_file("attention_nonfinite.json").at("sixteen_bit").items()) {
    const std::string name = item.key();
    const auto& c = item.value();
    for (const tg::DType dtype : {tg::kFloat16, tg::kBFloat16}) {
      CAPTURE(name);
      CAPTURE(tg::dtype_name(dtype));
      const double tol = dtype == tg::kFloat16 ? 2e-3 : 8e-3;
      const Tensor q = leaf_of(c, "q", "q_shape", dtype), k = leaf_of(c, "k", "k_shape", dtype),
                   v = leaf_of(c, "v", "v_shape", dtype);
      const Tensor out = F::scaled_dot_product_attention(q, k, v, {}, 0.0, false, c.at("scale").get<double>());
      tg::sum(out).backward();
      tg_test::check_close(out, values_of(c.at("out")), tol);
      tg_test::check_close(q.grad(), values_of(c.at("dq")), tol);
      tg_test::check_close(k.grad(), values_of(c.at("dk")), tol);
      tg_test::check_close(v.grad(), values_of(c.at("dv")), tol);
    }
  }
}

// Random inputs with scores of tens (a logsumexp near 40, where bfloat16's
// spacing is 0.25 and float16's 1/32): the 16-bit gradients equal float32's
// from the same rounded inputs to the 16-bit rounding of the results (errors
// up to 0.0013 of the largest gradient in float16 and 0.0063 in bfloat16;
// with a 16-bit logsumexp they were 0.0046 to 0.014 and 0.037 to 0.15).
TEST_CASE("scaled_dot_product_attention: 16-bit gradients equal float32's within 16-bit precision") {
  tg::manual_seed(17);
  for (const tg::DType dtype : {tg::kFloat16, tg::kBFloat16})
    for (const bool causal : {false, true}) {
      CAPTURE(tg::dtype_name(dtype));
      CAPTURE(causal);
      const Tensor q16 = tg::mul(tg::randn({2, 70, 8}), 4.0).to(dtype),
                   k16 = tg::mul(tg::randn({2, 70, 8}), 4.0).to(dtype), v16 = tg::randn({2, 70, 4}).to(dtype),
                   dout16 = tg::randn({2, 70, 4}).to(dtype);
      std::vector<Tensor> narrow, wide;
      for (const Tensor& t : {q16, k16, v16}) {
        narrow.push_back(t.detach().clone().set_requires_grad(true));
        wide.push_back(t.to(tg::kFloat32).set_requires_grad(true));
      }
      const Tensor out16 = F::scaled_dot_product_attention(narrow[0], narrow[1], narrow[2], {}, 0.0, causal);
      const Tensor out32 = F::scaled_dot_product_attention(wide[0], wide[1], wide[2], {}, 0.0, causal);
      const double tol = dtype == tg::kFloat16 ? 0.003 : 0.015;
      CHECK(relative_error(out16, out32) < tol);
      const auto g16 = tg::grad({tg::sum(tg::mul(out16, dout16))}, narrow);
      const auto g32 = tg::grad({tg::sum(tg::mul(out32, dout16.to(tg::kFloat32)))}, wide);
      for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(g16[i].dtype() == dtype);
        CHECK(relative_error(g16[i], g32[i]) < tol);
      }
    }
}

// No keys at all (S = 0): every row attends nothing, so the output is zero
// on both paths (PyTorch's too), and the weights are empty. E = 0 leaves the
// default scale 1 / sqrt(E) infinite: an error, unless a scale is given.
TEST_CASE("scaled_dot_product_attention: no keys give zeros; no features need a scale") {
  Tensor q = leaf_randn({2, 3, 4}), k = leaf_randn({2, 0, 4}), v = leaf_randn({2, 0, 5});
  const Tensor fused = F::scaled_dot_product_attention(q, k, v);
  auto [math, weights] = tg::scaled_dot_product_attention_math(q, k, v);
  CHECK(fused.shape() == Dims{2, 3, 5});
  CHECK(tg::equal(fused, tg::zeros({2, 3, 5}, {.dtype = tg::kFloat64})));
  CHECK(tg::equal(math, fused));
  CHECK(weights.shape() == Dims{2, 3, 0});
  tg::sum(math).backward();
  CHECK(tg::equal(q.grad(), tg::zeros({2, 3, 4}, {.dtype = tg::kFloat64})));

  const Tensor q0 = leaf_randn({1, 3, 0}), k0 = leaf_randn({1, 2, 0}), v0 = leaf_randn({1, 2, 2});
  CHECK_THROWS_WITH_AS(F::scaled_dot_product_attention(q0, k0, v0),
                       doctest::Contains("scaled_dot_product_attention: query [1, 3, 0] has E = 0"), tg::ValueError);
  const Tensor uniform = F::scaled_dot_product_attention(q0, k0, v0, {}, 0.0, false, 1.0);
  CHECK(tg::allclose(uniform, tg::mean(v0, Dims{1}, true).expand({1, 3, 2})));
  CHECK(tg::allclose(std::get<0>(tg::scaled_dot_product_attention_math(q0, k0, v0, {}, 0.0, false, 1.0)), uniform));
}

TEST_CASE("scaled_dot_product_attention: the fused op equals the math path, dropout included") {
  tg::manual_seed(7);
  enum class Mask { none, boolean, additive };
  struct Config {
    Dims q, k, v;
    bool causal;
    double p;
    Mask mask = Mask::none;
  };
  // Up to 256 keys one tile spans them all and the forward keeps the
  // weights; beyond, 64-key tiles with the online softmax's rescaling.
  const std::vector<Config> configs = {
      {{2, 70, 8}, {2, 130, 8}, {2, 130, 5}, false, 0.0},
      {{2, 3, 100, 4}, {2, 3, 100, 4}, {2, 3, 100, 4}, true, 0.0},
      {{2, 66, 4}, {2, 80, 4}, {2, 80, 3}, false, 0.3},
      {{1, 2, 90, 4}, {1, 2, 90, 4}, {1, 2, 90, 6}, true, 0.5},
      {{2, 70, 4}, {2, 256, 4}, {2, 256, 3}, false, 0.2, Mask::boolean},
      {{2, 70, 4}, {2, 300, 4}, {2, 300, 3}, false, 0.0},
      {{1, 300, 4}, {1, 300, 4}, {1, 300, 3}, true, 0.3},
      {{2, 130, 4}, {2, 257, 4}, {2, 257, 3}, false, 0.0, Mask::boolean},
      {{2, 65, 4}, {2, 270, 4}, {2, 270, 3}, false, 0.25, Mask::additive},
      {{2, 65, 4}, {2, 200, 4}, {2, 200, 3}, false, 0.0, Mask::additive},
      // Many features: fewer query rows per tile (32 here, then 16).
      {{1, 2, 100, 64}, {1, 2, 256, 64}, {1, 2, 256, 50}, true, 0.2},
      {{1, 130, 200}, {1, 300, 200}, {1, 300, 260}, true, 0.0},
      {{1, 70, 260}, {1, 200, 260}, {1, 200, 8}, false, 0.0, Mask::boolean},
  };
  for (const auto& cfg : configs) {
    CAPTURE(cfg.q);
    CAPTURE(cfg.k);
    CAPTURE(cfg.p);
    Tensor q = leaf_randn(cfg.q), k = leaf_randn(cfg.k), v = leaf_randn(cfg.v);
    Tensor mask;
    const std::int64_t L = cfg.q[cfg.q.size() - 2], S = cfg.k[cfg.k.size() - 2];
    if (cfg.mask == Mask::boolean) mask = tg::rand({L, S}) > 0.3;
    if (cfg.mask == Mask::additive) mask = tg::randn({L, S}, {.dtype = tg::kFloat64});
    tg::Generator g1(99), g2(99);
    const Tensor fused = F::scaled_dot_product_attention(q, k, v, mask, cfg.p, cfg.causal, {}, &g1);
    auto [math, weights] = tg::scaled_dot_product_attention_math(q, k, v, mask, cfg.p, cfg.causal, {}, &g2);
    tg_test::check_close(fused, math, 1e-12);
    const Tensor w = tg::randn(fused.shape(), {.dtype = tg::kFloat64});
    const auto fused_grads = tg::grad({tg::sum(tg::mul(fused, w))}, {q, k, v}, {}, {.retain_graph = true});
    const auto math_grads = tg::grad({tg::sum(tg::mul(math, w))}, {q, k, v});
    for (std::size_t i = 0; i < 3; ++i) tg_test::check_close(fused_grads[i], math_grads[i], 1e-10);
    // The fused backward (no create_graph) against its own math-path formula
    // (create_graph), which double backward differentiates.
    const auto composed = tg::grad({tg::sum(tg::mul(fused, w))}, {q, k, v}, {}, {.create_graph = true});
    for (std::size_t i = 0; i < 3; ++i) tg_test::check_close(fused_grads[i], composed[i], 1e-10);
  }
}

// The fused op reads a matrix of unit column stride in place, whatever its
// row stride (the heads of a packed projection: [N, L, 3, H, E] viewed as
// [N, H, L, E] has rows 3 H E apart); others it copies. Both must give what
// contiguous inputs give, values and gradients, bit for bit.
TEST_CASE("scaled_dot_product_attention: strided heads of a packed projection equal contiguous inputs") {
  tg::manual_seed(5);
  const std::int64_t N = 2, L = 70, H = 3, E = 4;
  for (const bool causal : {false, true})
    for (const double p : {0.0, 0.25}) {
      CAPTURE(causal);
      CAPTURE(p);
      Tensor qkv = leaf_randn({N, L, 3, H, E});
      const Tensor q = qkv.select(2, 0).transpose(1, 2), k = qkv.select(2, 1).transpose(1, 2),
                   v = qkv.select(2, 2).transpose(1, 2);
      CHECK_FALSE(q.is_contiguous());
      Tensor qc = q.detach().contiguous().set_requires_grad();
      Tensor kc = k.detach().contiguous().set_requires_grad();
      Tensor vc = v.detach().contiguous().set_requires_grad();
      tg::Generator g1(3), g2(3);
      const Tensor strided = F::scaled_dot_product_attention(q, k, v, {}, p, causal, {}, &g1);
      const Tensor packed = F::scaled_dot_product_attention(qc, kc, vc, {}, p, causal, {}, &g2);
      CHECK(tg::equal(strided, packed));
      const Tensor w = tg::randn(strided.shape(), {.dtype = tg::kFloat64});
      const auto got = tg::grad({tg::sum(tg::mul(strided, w))}, {qkv});
      const auto want = tg::grad({tg::sum(tg::mul(packed, w))}, {qc, kc, vc});
      CHECK(tg::equal(got[0].select(2, 0).transpose(1, 2), want[0]));
      CHECK(tg::equal(got[0].select(2, 1).transpose(1, 2), want[1]));
      CHECK(tg::equal(got[0].select(2, 2).transpose(1, 2), want[2]));
    }
  // A key shared by the batch (stride 0) with rows 2 E apart, and a value
  // whose columns are not adjacent (copied).
  Tensor kv = leaf_randn({L, 2 * E});
  const Tensor q = leaf_randn({N, L, E});
  const Tensor k = kv.narrow(1, 0, E).expand({N, L, E});
  const Tensor v = kv.narrow(1, E, E).transpose(0, 1).reshape({E, L}).transpose(0, 1).expand({N, L, E});
  const Tensor got = F::scaled_dot_product_attention(q, k, v);
  const Tensor want = F::scaled_dot_product_attention(q, k.contiguous(), v.contiguous());
  CHECK(tg::equal(got, want));
}

// The output is laid out as [N, L, H, E] (as PyTorch's memory-efficient
// attention), so joining the heads is a view; gradients arriving in any
// layout (that one, contiguous, broadcast by a sum) give the same bits.
TEST_CASE("scaled_dot_product_attention: heads joined without a copy; any gradient layout, the same gradients") {
  tg::manual_seed(11);
  const std::int64_t N = 2, H = 3, L = 70, E = 4;
  for (const bool causal : {false, true}) {
    CAPTURE(causal);
    Tensor q = leaf_randn({N, H, L, E}), k = leaf_randn({N, H, L, E}), v = leaf_randn({N, H, L, E});
    const Tensor out = F::scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
    CHECK(out.transpose(1, 2).is_contiguous());  // reshape to [N, L, H E] is a view
    const Tensor joined = out.transpose(1, 2).reshape({N, L, H * E});
    CHECK(joined.data_ptr<double>() == out.data_ptr<double>());
    const Tensor w = tg::randn({N, L, H * E}, {.dtype = tg::kFloat64});
    // The gradient through the join reaches the op as [N, L, H, E] memory;
    // the same values given contiguous must give the same gradients.
    const auto through_join = tg::grad({tg::sum(tg::mul(joined, w))}, {q, k, v});
    const Tensor w_heads = w.view({N, L, H, E}).transpose(1, 2).contiguous();
    const Tensor out2 = F::scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
    const auto contiguous = tg::grad({tg::sum(tg::mul(out2, w_heads))}, {q, k, v});
    for (std::size_t i = 0; i < 3; ++i) CHECK(tg::equal(through_join[i], contiguous[i]));
    // A plain sum: the gradient is a broadcast scalar (stride 0), copied.
    const Tensor out3 = F::scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
    const auto summed = tg::grad({tg::sum(out3)}, {q, k, v});
    const Tensor out4 = F::scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
    const auto ones = tg::grad({tg::sum(tg::mul(out4, tg::ones({N, H, L, E}, {.dtype = tg::kFloat64})))}, {q, k, v});
    for (std::size_t i = 0; i < 3; ++i) CHECK(tg::equal(summed[i], ones[i]));
  }
}

TEST_CASE("scaled_dot_product_attention: dropout masks are reproducible by seed and drop about p") {
  const Tensor q = tg::randn({2, 64, 8}), k = tg::randn({2, 64, 8}), v = tg::randn({2, 64, 8});
  tg::manual_seed(5);
  const Tensor a = F::scaled_dot_product_attention(q, k, v, {}, 0.4);
  tg::manual_seed(5);
  const Tensor b = F::scaled_dot_product_attention(q, k, v, {}, 0.4);
  const Tensor c = F::scaled_dot_product_attention(q, k, v, {}, 0.4);  // the next seed
  tg_test::check_close(a, b, 0);
  CHECK_FALSE(tg::allclose(a, c));
  tg::Generator gen(3);
  auto [out, weights] = tg::scaled_dot_product_attention_math(q, k, v, {}, 0.4, false, {}, &gen);
  const double dropped = tg::mean((weights == 0.0).to(tg::kFloat64)).item<double>();
  CHECK(dropped == doctest::Approx(0.4).epsilon(0.05));
}

TEST_CASE("scaled_dot_product_attention: gradcheck and gradgradcheck in float64") {
  tg::manual_seed(11);
  const auto mask = tg::tensor({1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 1}, {3, 4}, {.dtype = tg::kBool});
  SUBCASE("plain, batch broadcast") {
    const std::vector<Tensor> in = {leaf_randn({2, 3, 2}), leaf_randn({4, 2}), leaf_randn({1, 4, 3})};
    const auto fn = [](const std::vector<Tensor>& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2]); };
    CHECK(tg::gradcheck(fn, in));
    CHECK(tg::gradgradcheck(fn, in));
  }
  SUBCASE("bool mask and causal") {
    const std::vector<Tensor> in = {leaf_randn({2, 3, 2}), leaf_randn({2, 4, 2}), leaf_randn({2, 4, 3})};
    const auto masked = [mask](const std::vector<Tensor>& x) {
      return F::scaled_dot_product_attention(x[0], x[1], x[2], mask, 0.0, false, 0.7);
    };
    const auto causal = [](const std::vector<Tensor>& x) {
      return F::scaled_dot_product_attention(x[0], x[1], x[2], {}, 0.0, true);
    };
    CHECK(tg::gradcheck(masked, in));
    CHECK(tg::gradgradcheck(masked, in));
    CHECK(tg::gradcheck(causal, in));
    CHECK(tg::gradgradcheck(causal, in));
  }
  SUBCASE("float mask with its gradient") {
    const std::vector<Tensor> in = {leaf_randn({2, 3, 2}), leaf_randn({2, 4, 2}), leaf_randn({2, 4, 3}),
                                    leaf_randn({3, 4})};
    const auto fn = [](const std::vector<Tensor>& x) {
      return F::scaled_dot_product_attention(x[0], x[1], x[2], x[3]);
    };
    CHECK(tg::gradcheck(fn, in));
    CHECK(tg::gradgradcheck(fn, in));
  }
  SUBCASE("dropout with a fixed generator") {
    const std::vector<Tensor> in = {leaf_randn({2, 3, 2}), leaf_randn({2, 4, 2}), leaf_randn({2, 4, 3})};
    const auto fn = [](const std::vector<Tensor>& x) {
      tg::Generator gen(21);
      return F::scaled_dot_product_attention(x[0], x[1], x[2], {}, 0.3, false, {}, &gen);
    };
    CHECK(tg::gradcheck(fn, in));
    CHECK(tg::gradgradcheck(fn, in));
  }
}

TEST_CASE("scaled_dot_product_attention: bad inputs name the op and the shapes") {
  const Tensor q = tg::randn({2, 3, 4}), k = tg::randn({2, 5, 4}), v = tg::randn({2, 5, 6});
  CHECK_THROWS_WITH_AS(F::scaled_dot_product_attention(q, tg::randn({2, 5, 3}), v),
                       doctest::Contains("scaled_dot_product_attention"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::scaled_dot_product_attention(q, k, tg::randn({2, 4, 6})), doctest::Contains("[2, 4, 6]"),
                       tg::ShapeError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, tg::randn({3, 5, 4}), v), tg::ShapeError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(tg::randn({4}), k, v), tg::ShapeError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k.to(tg::kFloat64), v), tg::DTypeError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(tg::ones({2, 3, 4}, {.dtype = tg::kInt64}),
                                                  tg::ones({2, 5, 4}, {.dtype = tg::kInt64}),
                                                  tg::ones({2, 5, 6}, {.dtype = tg::kInt64})),
                  tg::DTypeError);
  CHECK_THROWS_WITH_AS(F::scaled_dot_product_attention(q, k, v, tg::ones({3, 4}, {.dtype = tg::kBool})),
                       doctest::Contains("attn_mask [3, 4]"), tg::ShapeError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, v, tg::ones({3, 5}, {.dtype = tg::kInt64})), tg::DTypeError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, v, tg::ones({3, 5}, {.dtype = tg::kBool}), 0.0, true),
                  tg::ValueError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, v, {}, 1.5), tg::ValueError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, v, {}, -0.1), tg::ValueError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, v, {}, 0.0, false, std::nan("")), tg::ValueError);
}

}  // namespace test_attention
