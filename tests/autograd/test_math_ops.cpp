// The math functions and activations of issue 14 against PyTorch 1.13:
// values, result dtypes and first gradients on fixed inputs with edge values
// (0, negative, large, infinities, NaN, the kinks of the piecewise
// activations), from tests/reference/math_ops.json (written by
// tests/reference/make_math_ops.py). Each case of the file is run here by the
// call named in `calls` below, and every case must have one.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/activation.h>
#include <tapegrad/nn/functional.h>

#include "support/reference.h"

namespace test_math_ops {

namespace {

using tg::Tensor;
namespace F = tg::nn::functional;
using V = std::vector<Tensor>;
using Call = std::function<Tensor(const V&)>;

// The same calls the script makes, by case name.
const std::map<std::string, Call>& calls() {
  static const std::map<std::string, Call> m = [] {
    std::map<std::string, Call> c;
    const auto unary = [&](const std::string& name, Tensor (*f)(const Tensor&)) {
      c[name] = [f](const V& in) { return f(in[0]); };
    };
    unary("sin", tg::sin);
    unary("cos", tg::cos);
    unary("tan", tg::tan);
    unary("atan", tg::atan);
    unary("sinh", tg::sinh);
    unary("cosh", tg::cosh);
    unary("asinh", tg::asinh);
    unary("erf", tg::erf);
    unary("erfc", tg::erfc);
    unary("expm1", tg::expm1);
    unary("exp2", tg::exp2);
    unary("asin", tg::asin);
    unary("acos", tg::acos);
    unary("atanh", tg::atanh);
    unary("erfinv", tg::erfinv);
    unary("erfinv/tail", tg::erfinv);
    unary("acosh", tg::acosh);
    unary("log2", tg::log2);
    unary("log10", tg::log10);
    unary("reciprocal", tg::reciprocal);
    unary("floor", tg::floor);
    unary("ceil", tg::ceil);
    unary("round", tg::round);
    unary("trunc", tg::trunc);
    unary("frac", tg::frac);
    c["round/decimals 2"] = [](const V& in) { return tg::round(in[0], 2); };
    c["round/decimals -2"] = [](const V& in) { return in[0].round(-2); };
    c["round/float32 decimals 1"] = [](const V& in) { return tg::round(in[0], 1); };
    unary("sin/int64", tg::sin);
    unary("reciprocal/int64", tg::reciprocal);
    unary("erfinv/int64", tg::erfinv);
    unary("exp2/int64", tg::exp2);
    unary("log2/bool", tg::log2);
    unary("floor/int64", tg::floor);
    unary("round/int64", tg::round);
    c["atan2"] = c["atan2/broadcast"] = c["atan2/int64"] = [](const V& in) { return tg::atan2(in[0], in[1]); };
    c["hypot"] = [](const V& in) { return tg::hypot(in[0], in[1]); };
    c["fmod"] = c["fmod/broadcast"] = c["fmod/int64"] = [](const V& in) { return tg::fmod(in[0], in[1]); };
    c["remainder"] = c["remainder/broadcast"] =
        c["remainder/int64"] = [](const V& in) { return tg::remainder(in[0], in[1]); };
    c["fmod/scalar 1.5"] = [](const V& in) { return tg::fmod(in[0], 1.5); };
    c["remainder/scalar -1.5"] = [](const V& in) { return tg::remainder(in[0], -1.5); };
    c["remainder/int64 scalar 3"] = [](const V& in) { return tg::remainder(in[0], 3); };
    c["lerp/weight 0.3"] = [](const V& in) { return tg::lerp(in[0], in[1], 0.3); };
    c["lerp/weight 1"] = [](const V& in) { return tg::lerp(in[0], in[1], 1.0); };
    c["lerp/tensor weight"] = c["lerp/broadcast"] = [](const V& in) { return tg::lerp(in[0], in[1], in[2]); };
    c["clamp/tensor min and max"] = c["clamp/broadcast"] =
        c["clamp/int64"] = [](const V& in) { return tg::clamp(in[0], in[1], in[2]); };
    c["clamp/tensor min"] = [](const V& in) { return tg::clamp(in[0], in[1], {}); };
    c["clamp/tensor max"] = [](const V& in) { return in[0].clamp({}, in[1]); };
    c["nan_to_num/defaults"] = c["nan_to_num/float32 defaults"] =
        c["nan_to_num/int64"] = [](const V& in) { return tg::nan_to_num(in[0]); };
    c["nan_to_num/nan 1, posinf 2, neginf -2"] = [](const V& in) { return in[0].nan_to_num(1, 2, -2); };
    for (const std::string suffix : {"", "/int64"}) {
      c["isinf" + suffix] = [](const V& in) { return tg::isinf(in[0]); };
      c["isposinf" + suffix] = [](const V& in) { return in[0].isposinf(); };
      c["isneginf" + suffix] = [](const V& in) { return tg::isneginf(in[0]); };
    }
    c["isclose/defaults"] = [](const V& in) { return tg::isclose(in[0], in[1]); };
    c["isclose/rtol 1e-3, equal_nan"] = [](const V& in) { return tg::isclose(in[0], in[1], 1e-3, 1e-8, true); };
    c["isclose/int64 atol 1"] = [](const V& in) { return in[0].isclose(in[1], 1e-5, 1); };
    // The activations through all three doors: tg::, F:: and the modules.
    c["softplus/defaults"] = [](const V& in) { return tg::nn::Softplus()(in[0]); };
    c["softplus/beta 2, threshold 5"] = [](const V& in) { return F::softplus(in[0], 2, 5); };
    c["silu"] = [](const V& in) { return tg::nn::SiLU()(in[0]); };
    c["elu/defaults"] = [](const V& in) { return F::elu(in[0]); };
    c["elu/alpha 0.5"] = [](const V& in) { return tg::nn::ELU(0.5)(in[0]); };
    c["selu"] = [](const V& in) { return tg::nn::SELU()(in[0]); };
    c["celu/alpha 2"] = [](const V& in) { return tg::nn::CELU(2)(in[0]); };
    c["mish"] = [](const V& in) { return tg::nn::Mish()(in[0]); };
    c["hardtanh/defaults"] = c["hardtanh/int64"] = [](const V& in) { return tg::nn::Hardtanh()(in[0]); };
    c["hardtanh/min -0.5, max 2.5"] = [](const V& in) { return F::hardtanh(in[0], -0.5, 2.5); };
    c["hardswish"] = [](const V& in) { return tg::nn::Hardswish()(in[0]); };
    c["hardsigmoid"] = [](const V& in) { return tg::nn::Hardsigmoid()(in[0]); };
    c["logsigmoid"] = [](const V& in) { return tg::nn::LogSigmoid()(in[0]); };
    c["softsign"] = c["softsign/int64"] = [](const V& in) { return tg::nn::Softsign()(in[0]); };
    c["glu/dim -1"] = [](const V& in) { return tg::nn::GLU()(in[0]); };
    c["glu/dim 0"] = [](const V& in) { return tg::glu(in[0], 0); };
    return c;
  }();
  return m;
}

double decode(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  const std::string s = v.get<std::string>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  REQUIRE(s == "-inf");
  return -std::numeric_limits<double>::infinity();
}

std::vector<double> decode_all(const nlohmann::json& a) {
  std::vector<double> out;
  for (const auto& v : a) out.push_back(decode(v));
  return out;
}

tg::DType dtype_named(const std::string& name) {
  for (tg::DType d : {tg::kFloat32, tg::kFloat64, tg::kInt64, tg::kBool})
    if (tg::dtype_name(d) == name) return d;
  FAIL("unknown dtype " << name);
  return tg::kFloat64;
}

tg::Dims dims_of(const nlohmann::json& shape) { return tg::Dims(shape.get<std::vector<std::int64_t>>()); }

void run_case(const std::string& name, const nlohmann::json& c) {
  CAPTURE(name);
  const tg::DType dtype = dtype_named(c.at("dtype"));
  V inputs;
  for (std::size_t i = 0; i < c.at("inputs").size(); ++i) {
    const auto values = decode_all(c.at("inputs")[i]);
    Tensor t =
        tg::tensor(values, {static_cast<std::int64_t>(values.size())}, dtype).reshape(dims_of(c.at("shapes")[i]));
    if (t.is_floating_point()) t = t.detach().set_requires_grad(true);
    inputs.push_back(t);
  }
  const Tensor y = calls().at(name)(inputs);
  // float32 results (integer inputs, float32 cases) are compared at float32's precision.
  const double tol = y.dtype() == tg::kFloat32 ? 1e-6 : 1e-10;
  CHECK(tg::dtype_name(y.dtype()) == c.at("y_dtype").get<std::string>());
  CHECK(y.shape() == dims_of(c.at("y_shape")));
  tg_test::check_close(y, decode_all(c.at("y")), tol);
  if (!c.contains("grads")) {
    CHECK_FALSE(y.requires_grad());
    return;
  }
  REQUIRE(y.requires_grad());
  const Tensor w = tg::arange(1, y.numel() + 1, 1, {.dtype = y.dtype()}).reshape(y.shape());
  tg::sum(tg::mul(y, w)).backward();
  // Where PyTorch's own gradient is less precise (the script says why).
  const double grad_tol = c.contains("grad_rtol") ? c.at("grad_rtol").get<double>() : tol;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(i);
    const auto want = decode_all(c.at("grads")[i]);
    const Tensor g = inputs[i].grad();
    tg_test::check_close(g.defined() ? g : tg::zeros_like(inputs[i]), want, grad_tol);
  }
}

}  // namespace

TEST_CASE("math functions and activations match PyTorch: values, dtypes and gradients") {
  const auto& cases = tg_test::reference_file("math_ops.json").at("cases");
  REQUIRE(cases.size() > 80);
  std::set<std::string> seen;
  // Named variables, not structured bindings: Clang 14 cannot capture those in
  // doctest's INFO and *_MESSAGE lambdas.
  for (const auto& item : cases.items()) {
    const std::string name = item.key();
    seen.insert(name);
    INFO("case ", name);
    REQUIRE_MESSAGE(calls().contains(name), "no call for reference case " << name);
    run_case(name, item.value());
  }
  for (const auto& entry : calls()) {
    const std::string& name = entry.first;
    CHECK_MESSAGE(seen.contains(name), "no reference case for " << name);
  }
}

TEST_CASE("activation modules keep and print their parameters as PyTorch names them") {
  CHECK(tg::nn::Softplus(2, 5).extra_repr() == "beta=2, threshold=5");
  CHECK(tg::nn::ELU(0.5).extra_repr() == "alpha=0.5");
  // Float options print as Python prints a float, as their PyTorch defaults
  // are floats: ELU() is ELU(alpha=1.0) there (Softplus's are ints).
  CHECK(tg::nn::CELU(2).extra_repr() == "alpha=2.0");
  CHECK(tg::nn::ELU().extra_repr() == "alpha=1.0");
  CHECK(tg::nn::Hardtanh(-2, 3).extra_repr() == "min_val=-2.0, max_val=3.0");
  CHECK(tg::nn::Hardtanh().extra_repr() == "min_val=-1.0, max_val=1.0");
  CHECK(tg::nn::LeakyReLU(1).extra_repr() == "negative_slope=1.0");
  CHECK(tg::nn::GLU(0).extra_repr() == "dim=0");
  CHECK(tg::nn::SiLU().type_name() == "SiLU");
  // The module uses its parameters: GLU(0) halves dim 0, not the last one.
  const Tensor x = tg::arange(8, {.dtype = tg::kFloat64}).reshape({2, 4});
  CHECK(tg::nn::GLU(0)(x).shape() == tg::Dims({1, 4}));
  CHECK(tg::nn::GLU()(x).shape() == tg::Dims({2, 2}));
}

TEST_CASE("round with the most extreme decimals: NaN as PyTorch's formula gives, never an int64 overflow") {
  // x * 10^d or x / 10^-d with 10^|d| = inf: PyTorch's formula gives NaN for
  // a nonzero x. |INT64_MIN| is taken in double (no int64 negation).
  const Tensor x = tg::tensor({1.5, -2.25}, {2}, {.dtype = tg::kFloat64});
  for (const std::int64_t d : {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()}) {
    CAPTURE(d);
    for (const double v : tg::round(x, d).to_vector<double>()) CHECK(std::isnan(v));
  }
}

TEST_CASE("fmod and remainder take a bool operand next to a wider one, as PyTorch (bool with bool is refused)") {
  // torch.fmod(torch.tensor([True, False, True]), torch.tensor([2, 2, -2])) is int64 [1, 0, 1];
  // remainder gives [1, 0, -1]; a float divisor gives float32.
  const Tensor b = tg::tensor({true, false, true});
  const Tensor d = tg::tensor({2, 2, -2});
  const Tensor f = tg::fmod(b, d), r = tg::remainder(b, d);
  CHECK(f.dtype() == tg::kInt64);
  CHECK(f.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1});
  CHECK(r.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, -1});
  const Tensor x = tg::tensor({3.5f, -2.5f, 1.0f}).set_requires_grad(true);
  const Tensor y = tg::remainder(x, b.to(tg::kFloat32).add(1.0));
  CHECK(y.dtype() == tg::kFloat32);
  const Tensor yb = tg::fmod(x, b);  // x % 1 or x % 0 (NaN), float32
  CHECK(yb.dtype() == tg::kFloat32);
  CHECK(std::isnan(yb.to_vector<float>()[1]));
  yb.sum().backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK_THROWS_AS(tg::fmod(b, b), tg::DTypeError);
  CHECK_THROWS_AS(tg::remainder(b, b), tg::DTypeError);
}

// A divisor that is 0 only in the result's dtype (256 as uint8, 65536 as
// int16, 1e10 as int8) passed the check on its own value and killed the
// process with SIGFPE; PyTorch raises ZeroDivisionError.
TEST_CASE("integer fmod and remainder refuse a divisor that is 0 in the result's dtype") {
  const auto u8 = tg::tensor({5}, {1}, {.dtype = tg::kUInt8});
  const auto i16 = tg::tensor({5}, {1}, {.dtype = tg::kInt16});
  const auto i32 = tg::tensor({5, 6}, {2}, {.dtype = tg::kInt32});
  const auto i8 = tg::tensor({5}, {1}, {.dtype = tg::kInt8});
  CHECK_THROWS_WITH_AS(tg::remainder(u8, 256.0), "remainder: integer division by zero (the divisor 256 is 0 as uint8)",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::fmod(i16, 65536.0), "fmod: integer division by zero (the divisor 65536 is 0 as int16)",
                       tg::ValueError);
  CHECK_THROWS_AS(tg::remainder(i32, 4294967296.0), tg::ValueError);
  CHECK_THROWS_AS(tg::fmod(i8, 1e10), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::remainder(i8, 0.0), "remainder: integer division by zero (the divisor is 0)",
                       tg::ValueError);
  // A 0-d int64 divisor does not promote the int8 tensor: it is read as int8.
  CHECK_THROWS_WITH_AS(tg::remainder(i8, tg::scalar_tensor(256, tg::kInt64)),
                       "remainder: integer division by zero (divisor [] holds a 0 as int8)", tg::ValueError);
  CHECK_THROWS_AS(tg::fmod(u8, tg::tensor({std::int64_t{512}}, {1}).reshape({})), tg::ValueError);
  // Divisors that stay nonzero still work, wrapped as the dtype reads them.
  CHECK(tg::remainder(u8, 257.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{0});  // 257 is 1 as uint8
  CHECK(tg::fmod(i16, 3.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{2});
  CHECK(tg::remainder(tg::tensor({-7}, {1}, {.dtype = tg::kInt8}), tg::scalar_tensor(3, tg::kInt64))
            .to_vector<std::int64_t>() == std::vector<std::int64_t>{2});
}

}  // namespace test_math_ops
