// Which dtypes each pointwise op, activation and reduction takes, and what it
// returns, against torch 1.13 (tests/reference/dtype_support.json, written by
// make_dtype_support.py): for every (op, dtype) row, where torch raises,
// tapegrad throws (tg::DTypeError for a refused dtype, naming the op and the
// dtype; tg::ValueError for refused values such as an integer division by
// zero); elsewhere it returns torch's dtype, shape and values. Rows marked
// "expected_difference" hold what tapegrad gives on purpose instead
// (docs/pytorch.md), with the reason.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <tapegrad/autograd/indexing.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/nn/functional.h>

#include "support/reference.h"

namespace test_dtype_support {

namespace {

using tg::Tensor;
namespace F = tg::nn::functional;

// One way of calling an op: the name of its rows, the name its errors must
// start with, and the call on (x, x) (unary ops ignore the second).
using Call = Tensor (*)(const Tensor&, const Tensor&);
struct Form {
  const char* row;
  const char* op;
  Call call;
};

Tensor first(const std::tuple<Tensor, Tensor>& t) { return std::get<0>(t); }

// Every form of every op of the table; several forms may share a row.
const std::vector<Form>& forms() {
  static const std::vector<Form> kForms = {
      // arithmetic with a number
      {"add_scalar", "add", [](const Tensor& x, const Tensor&) { return tg::add(x, 2); }},
      {"add_scalar", "add", [](const Tensor& x, const Tensor&) { return x + 2; }},
      {"add_scalar_fraction", "add", [](const Tensor& x, const Tensor&) { return tg::add(x, 1.5); }},
      {"sub_scalar", "sub", [](const Tensor& x, const Tensor&) { return tg::sub(x, 2); }},
      {"rsub_scalar", "rsub", [](const Tensor& x, const Tensor&) { return tg::rsub(x, 2); }},
      {"mul_scalar", "mul", [](const Tensor& x, const Tensor&) { return tg::mul(x, 3); }},
      {"div_scalar", "div", [](const Tensor& x, const Tensor&) { return tg::div(x, 2); }},
      {"rdiv_scalar", "rdiv", [](const Tensor& x, const Tensor&) { return tg::rdiv(x, 2); }},
      {"pow_scalar", "pow", [](const Tensor& x, const Tensor&) { return tg::pow(x, 2); }},
      {"pow_scalar_fraction", "pow", [](const Tensor& x, const Tensor&) { return tg::pow(x, 0.5); }},
      {"rpow_scalar", "pow", [](const Tensor& x, const Tensor&) { return tg::pow(2, x); }},
      {"fmod_scalar", "fmod", [](const Tensor& x, const Tensor&) { return tg::fmod(x, 2); }},
      {"remainder_scalar", "remainder", [](const Tensor& x, const Tensor&) { return tg::remainder(x, 2); }},
      // pointwise math
      {"neg", "neg", [](const Tensor& x, const Tensor&) { return tg::neg(x); }},
      {"neg", "neg", [](const Tensor& x, const Tensor&) { return -x; }},
      {"abs", "abs", [](const Tensor& x, const Tensor&) { return tg::abs(x); }},
      {"sign", "sign", [](const Tensor& x, const Tensor&) { return tg::sign(x); }},
      {"exp", "exp", [](const Tensor& x, const Tensor&) { return tg::exp(x); }},
      {"log", "log", [](const Tensor& x, const Tensor&) { return tg::log(x); }},
      {"log1p", "log1p", [](const Tensor& x, const Tensor&) { return tg::log1p(x); }},
      {"sqrt", "sqrt", [](const Tensor& x, const Tensor&) { return tg::sqrt(x); }},
      {"rsqrt", "rsqrt", [](const Tensor& x, const Tensor&) { return tg::rsqrt(x); }},
      {"sin", "sin", [](const Tensor& x, const Tensor&) { return tg::sin(x); }},
      {"cos", "cos", [](const Tensor& x, const Tensor&) { return tg::cos(x); }},
      {"tan", "tan", [](const Tensor& x, const Tensor&) { return tg::tan(x); }},
      {"asin", "asin", [](const Tensor& x, const Tensor&) { return tg::asin(x); }},
      {"acos", "acos", [](const Tensor& x, const Tensor&) { return tg::acos(x); }},
      {"atan", "atan", [](const Tensor& x, const Tensor&) { return tg::atan(x); }},
      {"sinh", "sinh", [](const Tensor& x, const Tensor&) { return tg::sinh(x); }},
      {"cosh", "cosh", [](const Tensor& x, const Tensor&) { return tg::cosh(x); }},
      {"asinh", "asinh", [](const Tensor& x, const Tensor&) { return tg::asinh(x); }},
      {"acosh", "acosh", [](const Tensor& x, const Tensor&) { return tg::acosh(x); }},
      {"atanh", "atanh", [](const Tensor& x, const Tensor&) { return tg::atanh(x); }},
      {"erf", "erf", [](const Tensor& x, const Tensor&) { return tg::erf(x); }},
      {"erfc", "erfc", [](const Tensor& x, const Tensor&) { return tg::erfc(x); }},
      {"erfinv", "erfinv", [](const Tensor& x, const Tensor&) { return tg::erfinv(x); }},
      {"expm1", "expm1", [](const Tensor& x, const Tensor&) { return tg::expm1(x); }},
      {"log2", "log2", [](const Tensor& x, const Tensor&) { return tg::log2(x); }},
      {"log10", "log10", [](const Tensor& x, const Tensor&) { return tg::log10(x); }},
      {"exp2", "exp2", [](const Tensor& x, const Tensor&) { return tg::exp2(x); }},
      {"reciprocal", "reciprocal", [](const Tensor& x, const Tensor&) { return tg::reciprocal(x); }},
      {"floor", "floor", [](const Tensor& x, const Tensor&) { return tg::floor(x); }},
      {"ceil", "ceil", [](const Tensor& x, const Tensor&) { return tg::ceil(x); }},
      {"round", "round", [](const Tensor& x, const Tensor&) { return tg::round(x); }},
      {"round_decimals", "round", [](const Tensor& x, const Tensor&) { return tg::round(x, 1); }},
      {"trunc", "trunc", [](const Tensor& x, const Tensor&) { return tg::trunc(x); }},
      {"frac", "frac", [](const Tensor& x, const Tensor&) { return tg::frac(x); }},
      {"clamp", "clamp", [](const Tensor& x, const Tensor&) { return tg::clamp(x, -1, 1); }},
      {"clamp_min", "clamp", [](const Tensor& x, const Tensor&) { return tg::clamp(x, 1, std::nullopt); }},
      {"clamp_fraction", "clamp", [](const Tensor& x, const Tensor&) { return tg::clamp(x, -0.5, 0.5); }},
      {"nan_to_num", "nan_to_num", [](const Tensor& x, const Tensor&) { return tg::nan_to_num(x); }},
      {"logical_not", "logical_not", [](const Tensor& x, const Tensor&) { return tg::logical_not(x); }},
      {"isnan", "isnan", [](const Tensor& x, const Tensor&) { return tg::isnan(x); }},
      {"isfinite", "isfinite", [](const Tensor& x, const Tensor&) { return tg::isfinite(x); }},
      {"isinf", "isinf", [](const Tensor& x, const Tensor&) { return tg::isinf(x); }},
      {"isposinf", "isposinf", [](const Tensor& x, const Tensor&) { return tg::isposinf(x); }},
      {"isneginf", "isneginf", [](const Tensor& x, const Tensor&) { return tg::isneginf(x); }},
      // activations: tg::, F:: and the methods
      {"relu", "relu", [](const Tensor& x, const Tensor&) { return tg::relu(x); }},
      {"relu", "relu", [](const Tensor& x, const Tensor&) { return F::relu(x); }},
      {"relu", "relu", [](const Tensor& x, const Tensor&) { return x.relu(); }},
      {"leaky_relu", "leaky_relu", [](const Tensor& x, const Tensor&) { return tg::leaky_relu(x); }},
      {"leaky_relu", "leaky_relu", [](const Tensor& x, const Tensor&) { return F::leaky_relu(x); }},
      {"leaky_relu_slope", "leaky_relu", [](const Tensor& x, const Tensor&) { return tg::leaky_relu(x, 0.2); }},
      {"sigmoid", "sigmoid", [](const Tensor& x, const Tensor&) { return tg::sigmoid(x); }},
      {"sigmoid", "sigmoid", [](const Tensor& x, const Tensor&) { return F::sigmoid(x); }},
      {"tanh", "tanh", [](const Tensor& x, const Tensor&) { return tg::tanh(x); }},
      {"tanh", "tanh", [](const Tensor& x, const Tensor&) { return F::tanh(x); }},
      {"gelu", "gelu", [](const Tensor& x, const Tensor&) { return tg::gelu(x); }},
      {"gelu", "gelu", [](const Tensor& x, const Tensor&) { return F::gelu(x); }},
      {"gelu", "gelu", [](const Tensor& x, const Tensor&) { return x.gelu(); }},
      {"softplus", "softplus", [](const Tensor& x, const Tensor&) { return tg::softplus(x); }},
      {"softplus", "softplus", [](const Tensor& x, const Tensor&) { return F::softplus(x); }},
      {"silu", "silu", [](const Tensor& x, const Tensor&) { return tg::silu(x); }},
      {"silu", "silu", [](const Tensor& x, const Tensor&) { return F::silu(x); }},
      {"elu", "elu", [](const Tensor& x, const Tensor&) { return tg::elu(x); }},
      {"elu", "elu", [](const Tensor& x, const Tensor&) { return F::elu(x); }},
      {"selu", "selu", [](const Tensor& x, const Tensor&) { return tg::selu(x); }},
      {"selu", "selu", [](const Tensor& x, const Tensor&) { return F::selu(x); }},
      {"celu", "celu", [](const Tensor& x, const Tensor&) { return tg::celu(x); }},
      {"celu", "celu", [](const Tensor& x, const Tensor&) { return F::celu(x); }},
      {"mish", "mish", [](const Tensor& x, const Tensor&) { return tg::mish(x); }},
      {"mish", "mish", [](const Tensor& x, const Tensor&) { return F::mish(x); }},
      {"hardtanh", "hardtanh", [](const Tensor& x, const Tensor&) { return tg::hardtanh(x); }},
      {"hardtanh", "hardtanh", [](const Tensor& x, const Tensor&) { return F::hardtanh(x); }},
      {"hardswish", "hardswish", [](const Tensor& x, const Tensor&) { return tg::hardswish(x); }},
      {"hardswish", "hardswish", [](const Tensor& x, const Tensor&) { return F::hardswish(x); }},
      {"hardsigmoid", "hardsigmoid", [](const Tensor& x, const Tensor&) { return tg::hardsigmoid(x); }},
      {"hardsigmoid", "hardsigmoid", [](const Tensor& x, const Tensor&) { return F::hardsigmoid(x); }},
      {"logsigmoid", "logsigmoid", [](const Tensor& x, const Tensor&) { return tg::logsigmoid(x); }},
      {"logsigmoid", "logsigmoid", [](const Tensor& x, const Tensor&) { return F::logsigmoid(x); }},
      {"softsign", "softsign", [](const Tensor& x, const Tensor&) { return tg::softsign(x); }},
      {"softsign", "softsign", [](const Tensor& x, const Tensor&) { return F::softsign(x); }},
      {"glu", "glu", [](const Tensor& x, const Tensor&) { return tg::glu(x, 0); }},
      {"glu", "glu", [](const Tensor& x, const Tensor&) { return F::glu(x, 0); }},
      // reductions and scans
      {"sum", "sum", [](const Tensor& x, const Tensor&) { return tg::sum(x); }},
      {"sum", "sum", [](const Tensor& x, const Tensor&) { return x.sum(); }},
      {"sum_dim", "sum", [](const Tensor& x, const Tensor&) { return tg::sum(x, 1); }},
      {"mean", "mean", [](const Tensor& x, const Tensor&) { return tg::mean(x); }},
      {"mean", "mean", [](const Tensor& x, const Tensor&) { return x.mean(); }},
      {"mean_dim", "mean", [](const Tensor& x, const Tensor&) { return tg::mean(x, 1); }},
      {"var", "var", [](const Tensor& x, const Tensor&) { return tg::var(x); }},
      {"var_dim", "var", [](const Tensor& x, const Tensor&) { return tg::var(x, 1); }},
      {"std", "std", [](const Tensor& x, const Tensor&) { return tg::std(x); }},
      {"std_dim", "std", [](const Tensor& x, const Tensor&) { return tg::std(x, 1); }},
      {"prod", "prod", [](const Tensor& x, const Tensor&) { return tg::prod(x); }},
      {"prod_dim", "prod", [](const Tensor& x, const Tensor&) { return tg::prod(x, 1); }},
      {"amax", "amax", [](const Tensor& x, const Tensor&) { return tg::amax(x, 1); }},
      {"amin", "amin", [](const Tensor& x, const Tensor&) { return tg::amin(x, 1); }},
      {"max", "max", [](const Tensor& x, const Tensor&) { return tg::max(x); }},
      {"max_dim", "max", [](const Tensor& x, const Tensor&) { return first(tg::max(x, 1)); }},
      {"min", "min", [](const Tensor& x, const Tensor&) { return tg::min(x); }},
      {"min_dim", "min", [](const Tensor& x, const Tensor&) { return first(tg::min(x, 1)); }},
      {"argmax", "argmax", [](const Tensor& x, const Tensor&) { return tg::argmax(x); }},
      {"argmin", "argmin", [](const Tensor& x, const Tensor&) { return tg::argmin(x); }},
      {"logsumexp", "logsumexp", [](const Tensor& x, const Tensor&) { return tg::logsumexp(x, 1); }},
      {"norm", "norm", [](const Tensor& x, const Tensor&) { return tg::norm(x); }},
      {"norm_dim", "norm", [](const Tensor& x, const Tensor&) { return tg::norm(x, {1}); }},
      {"softmax", "softmax", [](const Tensor& x, const Tensor&) { return tg::softmax(x, 1); }},
      {"softmax", "softmax", [](const Tensor& x, const Tensor&) { return F::softmax(x, 1); }},
      {"softmax", "softmax", [](const Tensor& x, const Tensor&) { return x.softmax(1); }},
      {"log_softmax", "log_softmax", [](const Tensor& x, const Tensor&) { return tg::log_softmax(x, 1); }},
      {"log_softmax", "log_softmax", [](const Tensor& x, const Tensor&) { return F::log_softmax(x, 1); }},
      {"cumsum", "cumsum", [](const Tensor& x, const Tensor&) { return tg::cumsum(x, 1); }},
      {"cumprod", "cumprod", [](const Tensor& x, const Tensor&) { return tg::cumprod(x, 1); }},
      {"logcumsumexp", "logcumsumexp", [](const Tensor& x, const Tensor&) { return tg::logcumsumexp(x, 1); }},
      {"cummax", "cummax", [](const Tensor& x, const Tensor&) { return first(tg::cummax(x, 1)); }},
      {"cummin", "cummin", [](const Tensor& x, const Tensor&) { return first(tg::cummin(x, 1)); }},
      {"any", "any", [](const Tensor& x, const Tensor&) { return tg::any(x); }},
      {"any_dim", "any", [](const Tensor& x, const Tensor&) { return tg::any(x, 1); }},
      {"all", "all", [](const Tensor& x, const Tensor&) { return tg::all(x); }},
      {"all_dim", "all", [](const Tensor& x, const Tensor&) { return tg::all(x, 1); }},
      {"median", "median", [](const Tensor& x, const Tensor&) { return tg::median(x); }},
      {"median_dim", "median", [](const Tensor& x, const Tensor&) { return first(tg::median(x, 1)); }},
      {"mode", "mode", [](const Tensor& x, const Tensor&) { return first(tg::mode(x, 1)); }},
      {"sort", "sort", [](const Tensor& x, const Tensor&) { return first(tg::sort(x, 1)); }},
      {"argsort", "argsort", [](const Tensor& x, const Tensor&) { return tg::argsort(x, 1); }},
      {"msort", "msort", [](const Tensor& x, const Tensor&) { return tg::msort(x); }},
      {"topk", "topk", [](const Tensor& x, const Tensor&) { return first(tg::topk(x, 2, 1)); }},
      {"kthvalue", "kthvalue", [](const Tensor& x, const Tensor&) { return first(tg::kthvalue(x, 2, 1)); }},
      {"trace", "trace", [](const Tensor& x, const Tensor&) { return tg::trace(x); }},
      // two tensors (x, x)
      {"add", "add", [](const Tensor& a, const Tensor& b) { return tg::add(a, b); }},
      {"sub", "sub", [](const Tensor& a, const Tensor& b) { return tg::sub(a, b); }},
      {"mul", "mul", [](const Tensor& a, const Tensor& b) { return tg::mul(a, b); }},
      {"div", "div", [](const Tensor& a, const Tensor& b) { return tg::div(a, b); }},
      {"pow", "pow", [](const Tensor& a, const Tensor& b) { return tg::pow(a, b); }},
      {"atan2", "atan2", [](const Tensor& a, const Tensor& b) { return tg::atan2(a, b); }},
      {"hypot", "hypot", [](const Tensor& a, const Tensor& b) { return tg::hypot(a, b); }},
      {"fmod", "fmod", [](const Tensor& a, const Tensor& b) { return tg::fmod(a, b); }},
      {"remainder", "remainder", [](const Tensor& a, const Tensor& b) { return tg::remainder(a, b); }},
      {"maximum", "maximum", [](const Tensor& a, const Tensor& b) { return tg::maximum(a, b); }},
      {"minimum", "minimum", [](const Tensor& a, const Tensor& b) { return tg::minimum(a, b); }},
      {"lerp", "lerp", [](const Tensor& a, const Tensor& b) { return tg::lerp(a, b, 0.5); }},
      {"lerp_tensor", "lerp", [](const Tensor& a, const Tensor& b) { return tg::lerp(a, b, b); }},
      {"logical_and", "logical_and", [](const Tensor& a, const Tensor& b) { return tg::logical_and(a, b); }},
      {"logical_or", "logical_or", [](const Tensor& a, const Tensor& b) { return tg::logical_or(a, b); }},
      {"eq", "eq", [](const Tensor& a, const Tensor& b) { return tg::eq(a, b); }},
      {"lt", "lt", [](const Tensor& a, const Tensor& b) { return tg::lt(a, b); }},
      {"isclose", "isclose", [](const Tensor& a, const Tensor& b) { return tg::isclose(a, b); }},
  };
  return kForms;
}

const nlohmann::json& table() { return tg_test::reference_file("dtype_support.json"); }

tg::DType dtype_named(const std::string& name) {
  for (tg::DType d : tg::kAllDTypes)
    if (tg::dtype_name(d) == name) return d;
  FAIL("unknown dtype " << name);
  return tg::kFloat32;
}

double decode(const nlohmann::json& v) {
  if (!v.is_string()) return v.get<double>();
  const std::string s = v.get<std::string>();
  if (s == "nan") return std::nan("");
  return s == "inf" ? INFINITY : -INFINITY;
}

// Equal within the result dtype's precision; NaN matches NaN, infinities themselves.
bool close(double got, double want, tg::DType dtype) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return got == want;
  double rel = 0;
  if (dtype == tg::kFloat16 || dtype == tg::kBFloat16) rel = 1e-2;
  else if (dtype == tg::kFloat32) rel = 2e-6;
  else if (dtype == tg::kFloat64) rel = 1e-12;
  return std::abs(got - want) <= rel * std::max(1.0, std::abs(want));
}

// What one form does with one row's input: "" when it behaves as the row says, else what differs.
std::string mismatch(const Form& form, const nlohmann::json& row, const Tensor& x) {
  const std::string dtype = row.at("dtype");
  if (row.contains("error")) {
    const bool value_error = row.at("kind") == "value";
    try {
      const Tensor y = form.call(x, x);
      return "returned " + std::string(tg::dtype_name(y.dtype())) +
             ", torch raises: " + row.at("error").get<std::string>();
    } catch (const tg::DTypeError& e) {
      const std::string message = e.what();
      if (value_error) return "threw DTypeError, torch refuses the values (a ValueError): " + message;
      if (!message.starts_with(std::string(form.op) + ":")) return "the message does not start with the op: " + message;
      if (message.find(dtype) == std::string::npos) return "the message does not name " + dtype + ": " + message;
    } catch (const tg::ValueError& e) {
      if (!value_error) return std::string("threw ValueError, expected DTypeError: ") + e.what();
      // A refusal of tapegrad's own (an expected difference) is checked word for word.
      if (row.contains("expected_difference") && e.what() != row.at("error").get<std::string>())
        return std::string("another message: ") + e.what();
    } catch (const tg::Error& e) {
      return std::string("threw another tg::Error: ") + e.what();
    }
    return "";
  }
  Tensor y;
  try {
    y = form.call(x, x);
  } catch (const tg::Error& e) {
    return std::string("threw, torch returns ") + row.at("result_dtype").get<std::string>() + ": " + e.what();
  }
  const std::string want_dtype = row.at("result_dtype");
  if (tg::dtype_name(y.dtype()) != want_dtype)
    return "returned " + std::string(tg::dtype_name(y.dtype())) + ", torch " + want_dtype;
  if (y.shape() != tg::Dims(row.at("shape").get<std::vector<std::int64_t>>()))
    return "shape " + tg::shape_str(y.sizes()) + ", torch " + row.at("shape").dump();
  const std::vector<double> got = y.to(tg::kFloat64).to_vector<double>();
  const auto& want = row.at("values");
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!close(got[i], decode(want[i]), y.dtype()))
      return "element " + std::to_string(i) + " is " + std::to_string(got[i]) + ", torch " + want[i].dump();
  return "";
}

}  // namespace

TEST_CASE("dtype support: every op of the table has a form here, and every form a row") {
  std::set<std::string> rows, named;
  for (const auto& row : table().at("rows")) rows.insert(row.at("op").get<std::string>());
  for (const auto& form : forms()) named.insert(form.row);
  for (const auto& op : rows) CHECK_MESSAGE(named.contains(op), "no C++ form for " << op);
  for (const auto& op : named) CHECK_MESSAGE(rows.contains(op), "no reference rows for " << op);
  CHECK(rows.size() > 130);
}

TEST_CASE("dtype support: every op on every dtype refuses or returns as torch 1.13") {
  const auto& inputs = table().at("inputs");
  const tg::Dims shape(table().at("shape").get<std::vector<std::int64_t>>());
  std::multimap<std::string, const Form*> by_row;
  for (const auto& form : forms()) by_row.emplace(form.row, &form);
  int differences = 0;
  for (const auto& row : table().at("rows")) {
    const std::string op = row.at("op");
    const std::string dtype = row.at("dtype");
    const Tensor x = tg::tensor(inputs.at(dtype).get<std::vector<double>>(), shape, dtype_named(dtype));
    if (row.contains("expected_difference")) ++differences;
    const auto [begin, end] = by_row.equal_range(op);
    for (auto it = begin; it != end; ++it) {
      const std::string problem = mismatch(*it->second, row, x);
      CHECK_MESSAGE(problem.empty(), op << " on " << dtype << ": " << problem);
    }
  }
  // The table's rows where tapegrad differs on purpose (see the script):
  // float16 and bfloat16 ops that PyTorch 1.13's CPU kernels lack, and clamp
  // of uint8 with a negative bound.
  CHECK(differences == 71);
}

}  // namespace test_dtype_support
