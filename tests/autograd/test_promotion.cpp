// Type promotion as PyTorch's: mixed dtypes in binary ops, where, in-place
// ops, cat and stack give PyTorch's result dtype (the 0-d tensor and scalar
// rules included), gradients come back in each input's own dtype, and errors
// are raised only where PyTorch raises them. The dtype table is PyTorch's own
// output: tests/reference/make_promotion_reference.py writes promotion.json.
#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "support/reference.h"

namespace test_promotion {

using tg::Tensor;

namespace {

tg::DType dtype_named(const std::string& name) {
  static const std::map<std::string, tg::DType> kNames = {
      {"float32", tg::kFloat32}, {"float64", tg::kFloat64},  {"int64", tg::kInt64}, {"bool", tg::kBool},
      {"uint8", tg::kUInt8},     {"int8", tg::kInt8},        {"int16", tg::kInt16}, {"int32", tg::kInt32},
      {"float16", tg::kFloat16}, {"bfloat16", tg::kBFloat16}};
  return kNames.at(name);
}

// An operand as the reference script builds it: value 2 (true for bool).
Tensor operand(const std::string& dtype, const std::string& kind) {
  const tg::Dims shape = kind == "tensor" ? tg::Dims{3} : tg::Dims{};
  const tg::DType d = dtype_named(dtype);
  return d == tg::kBool ? tg::ones(shape, {.dtype = d}) : tg::full(shape, 2.0, {.dtype = d});
}

double scalar_named(const std::string& name) { return name == "int" ? 2.0 : 2.5; }

using TensorOp = std::function<Tensor(const Tensor&, const Tensor&)>;
using ScalarOp = std::function<Tensor(const Tensor&, double)>;

template <class F>
TensorOp inplace_tensor(F f) {
  return [f](const Tensor& a, const Tensor& b) {
    Tensor self = a.clone();
    f(self, b);
    return self;
  };
}
template <class F>
ScalarOp inplace_scalar(F f) {
  return [f](const Tensor& a, double b) {
    Tensor self = a.clone();
    f(self, b);
    return self;
  };
}

const Tensor kTrue = tg::ones({}, {.dtype = tg::kBool});

const std::map<std::string, std::pair<TensorOp, ScalarOp>>& ops() {
  static const std::map<std::string, std::pair<TensorOp, ScalarOp>> kOps = {
      {"add", {[](auto& a, auto& b) { return tg::add(a, b); }, [](auto& a, double b) { return tg::add(a, b); }}},
      {"sub", {[](auto& a, auto& b) { return tg::sub(a, b); }, [](auto& a, double b) { return tg::sub(a, b); }}},
      {"mul", {[](auto& a, auto& b) { return tg::mul(a, b); }, [](auto& a, double b) { return tg::mul(a, b); }}},
      {"div", {[](auto& a, auto& b) { return tg::div(a, b); }, [](auto& a, double b) { return tg::div(a, b); }}},
      {"pow", {[](auto& a, auto& b) { return tg::pow(a, b); }, [](auto& a, double b) { return tg::pow(a, b); }}},
      {"maximum", {[](auto& a, auto& b) { return tg::maximum(a, b); }, nullptr}},
      {"minimum", {[](auto& a, auto& b) { return tg::minimum(a, b); }, nullptr}},
      {"eq", {[](auto& a, auto& b) { return tg::eq(a, b); }, [](auto& a, double b) { return a == b; }}},
      {"lt", {[](auto& a, auto& b) { return tg::lt(a, b); }, [](auto& a, double b) { return a < b; }}},
      {"where",
       {[](auto& a, auto& b) { return tg::where(kTrue, a, b); },
        [](auto& a, double b) { return tg::where(kTrue, a, b); }}},
      {"add_",
       {inplace_tensor([](Tensor& s, auto& b) { s.add_(b); }), inplace_scalar([](Tensor& s, double b) { s.add_(b); })}},
      {"sub_",
       {inplace_tensor([](Tensor& s, auto& b) { s.sub_(b); }), inplace_scalar([](Tensor& s, double b) { s.sub_(b); })}},
      {"mul_",
       {inplace_tensor([](Tensor& s, auto& b) { s.mul_(b); }), inplace_scalar([](Tensor& s, double b) { s.mul_(b); })}},
      {"div_",
       {inplace_tensor([](Tensor& s, auto& b) { s.div_(b); }), inplace_scalar([](Tensor& s, double b) { s.div_(b); })}},
      {"cat",
       {[](auto& a, auto& b) {
          return tg::cat({a, b});
        },
        nullptr}},
      {"stack",
       {[](auto& a, auto& b) {
          return tg::stack({a, b});
        },
        nullptr}},
  };
  return kOps;
}

std::string describe(const nlohmann::json& row) {
  return row["op"].get<std::string>() + "(" + row["a"][0].get<std::string>() + " " + row["a"][1].get<std::string>() +
         ", " + row["b"][0].get<std::string>() + " " + row["b"][1].get<std::string>() + ")";
}

// PyTorch's answer for a row, from the committed reference.
const nlohmann::json& reference() { return tg_test::reference_file("promotion.json"); }

Tensor f32(std::vector<double> v) { return tg::tensor(v, {static_cast<std::int64_t>(v.size())}, tg::kFloat32); }
Tensor f64(std::vector<double> v) { return tg::tensor(v, {static_cast<std::int64_t>(v.size())}, tg::kFloat64); }

using tg_test::check_close;

}  // namespace

TEST_CASE("promotion: every op, dtype pair and operand kind gives PyTorch's result dtype or error") {
  const auto& rows = reference()["rows"];
  REQUIRE(rows.size() > 900);
  std::vector<std::string> mismatches;
  for (const auto& row : rows) {
    const auto& [tensor_op, scalar_op] = ops().at(row["op"].get<std::string>());
    const std::string expected = row["result"];
    const Tensor a = operand(row["a"][0], row["a"][1]);
    std::string got;
    try {
      const Tensor y = row["b"][1] == "scalar" ? scalar_op(a, scalar_named(row["b"][0]))
                                               : tensor_op(a, operand(row["b"][0], row["b"][1]));
      got = std::string(tg::dtype_name(y.dtype()));
    } catch (const tg::Error&) {
      got = "error";
    }
    if (got != expected) mismatches.push_back(describe(row) + ": got " + got + ", PyTorch " + expected);
  }
  std::string report;
  for (const auto& m : mismatches) report += m + "\n";
  INFO(report);
  CHECK(mismatches.empty());
}

TEST_CASE("promotion: values are computed in the promoted dtype") {
  // int64 [3] + float64 0-d: a higher category keeps its own dtype.
  Tensor i = tg::tensor({1, 2, 3}, {3}, {.dtype = tg::kInt64});
  Tensor y = i + tg::scalar_tensor(0.5, {.dtype = tg::kFloat64});
  CHECK(y.dtype() == tg::kFloat64);
  check_close(y, {1.5, 2.5, 3.5}, 1e-15);
  // float32 [2] * float64 0-d stays float32, the 0-d value rounded to float32.
  Tensor z = f32({1, 2}) * tg::scalar_tensor(0.1, {.dtype = tg::kFloat64});
  CHECK(z.dtype() == tg::kFloat32);
  CHECK(z.to_vector<double>()[0] == static_cast<double>(0.1f));
  // In place into float32, computed in float64 and rounded once (as PyTorch):
  // 1 + (2^-24 + 2^-50) rounds up to 1 + 2^-23; rounding the operand to
  // float32 first would give a tie and 1.
  Tensor s = f32({1});
  s.add_(f64({std::ldexp(1.0, -24) + std::ldexp(1.0, -50)}));
  CHECK(s.dtype() == tg::kFloat32);
  CHECK(s.to_vector<double>()[0] == 1 + std::ldexp(1.0, -23));
  // bool in place with bool is logical, as PyTorch.
  Tensor b = tg::tensor({1, 0, 0}, {3}, {.dtype = tg::kBool});
  b.add_(tg::tensor({0, 1, 0}, {3}, {.dtype = tg::kBool}));
  CHECK(b.to_vector<double>() == std::vector<double>{1, 1, 0});
  b.mul_(tg::tensor({1, 0, 1}, {3}, {.dtype = tg::kBool}));
  CHECK(b.to_vector<double>() == std::vector<double>{1, 0, 0});
  // Comparisons compare in the promoted dtype: 0.1 (float64) is not float32's 0.1.
  CHECK(tg::eq(f32({0.1}), f64({0.1})).to_vector<double>()[0] == 0);
  CHECK(tg::eq(f32({0.1}), f32({0.1})).to_vector<double>()[0] == 1);
  // cat of int64 and float32 is float32.
  Tensor c = tg::cat({tg::tensor({1, 2}, {2}, {.dtype = tg::kInt64}), f32({0.5})});
  CHECK(c.dtype() == tg::kFloat32);
  CHECK(c.to_vector<double>() == std::vector<double>{1, 2, 0.5});
  // outer promotes (an elementwise product in PyTorch).
  Tensor o = tg::outer(f32({1, 2}), f64({0.1}));
  CHECK(o.dtype() == tg::kFloat64);
  check_close(o, {0.1, 0.2}, 1e-7);
}

// Promotion can pick neither operand's dtype (bfloat16 and float16 give
// float32, int8 and uint8 give int16). An in-place op must still compute in
// that dtype: bfloat16 1e10 += float16 1 once went through float16 and gave
// inf. For every pair, the in-place result equals the out-of-place one cast to
// self's dtype, with self holding values near the top of its own range,
// transposed, and the other operand broadcast along a dim.
TEST_CASE("promotion: in-place ops compute in the promoted dtype for every dtype pair") {
  const std::vector<tg::DType> dtypes = {tg::kFloat32, tg::kFloat64, tg::kInt64, tg::kBool,    tg::kUInt8,
                                         tg::kInt8,    tg::kInt16,   tg::kInt32, tg::kFloat16, tg::kBFloat16};
  const auto large = [](tg::DType d) {
    if (d == tg::kFloat16) return 60000.0;
    if (d == tg::kUInt8) return 200.0;
    if (d == tg::kInt8) return -100.0;
    if (d == tg::kInt16) return -30000.0;
    if (d == tg::kInt32) return -2e9;
    if (d == tg::kInt64) return -4e18;
    return 1e10;
  };
  using InPlace = std::function<void(Tensor&, const Tensor&)>;
  using OutOfPlace = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::tuple<std::string, InPlace, OutOfPlace>> ops = {
      {"add_", [](Tensor& s, const Tensor& o) { s.add_(o); }, [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"sub_", [](Tensor& s, const Tensor& o) { s.sub_(o); }, [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul_", [](Tensor& s, const Tensor& o) { s.mul_(o); }, [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div_", [](Tensor& s, const Tensor& o) { s.div_(o); }, [](const Tensor& a, const Tensor& b) { return a / b; }}};
  int checked = 0;
  for (const tg::DType self_dtype : dtypes) {
    for (const tg::DType other_dtype : dtypes) {
      for (const auto& op : ops) {
        const std::string& name = std::get<0>(op);
        CAPTURE(name);
        CAPTURE(tg::dtype_name(self_dtype));
        CAPTURE(tg::dtype_name(other_dtype));
        const double big = self_dtype == tg::kBool ? 1.0 : large(self_dtype);
        // [3, 2] seen transposed as [2, 3]; other is [3], broadcast over dim 0.
        const Tensor base = tg::tensor({big, 1, 3, big, 1, 3}, {3, 2}, {.dtype = self_dtype});
        Tensor self = base.clone().t();
        const Tensor other = tg::tensor({1, 2, 1}, {3}, {.dtype = other_dtype});
        Tensor expected;
        try {
          expected = std::get<2>(op)(self, other).to(self_dtype);
          std::get<1>(op)(self, other);
        } catch (const tg::Error&) {
          continue;  // a combination PyTorch refuses too (checked against promotion.json above)
        }
        CHECK(self.dtype() == self_dtype);
        CHECK(tg::equal(self, expected));
        ++checked;
      }
    }
  }
  CHECK(checked > 200);
}

TEST_CASE("promotion: PyTorch's errors stay errors and name the op and dtypes") {
  CHECK_THROWS_WITH_AS(tg::matmul(tg::ones({2, 2}), tg::ones({2, 2}, {.dtype = tg::kFloat64})),
                       doctest::Contains("matmul: both operands must have the same dtype"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(tg::mm(tg::ones({2, 2}), tg::ones({2, 2}, {.dtype = tg::kFloat64})),
                       doctest::Contains("float32 [2, 2] and float64 [2, 2]"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(tg::dot(tg::ones({2}), tg::ones({2}, {.dtype = tg::kFloat64})), doctest::Contains("dot"),
                       tg::DTypeError);
  Tensor i = tg::zeros({3}, {.dtype = tg::kInt64});
  CHECK_THROWS_WITH_AS(i.add_(tg::scalar_tensor(1.0)),
                       doctest::Contains("add_: result type float32 can't be cast to the desired output type int64"),
                       tg::DTypeError);
  CHECK_THROWS_WITH_AS(i.mul_(tg::ones({3}, {.dtype = tg::kFloat64})),
                       doctest::Contains("result type float64 can't be cast to the desired output type int64"),
                       tg::DTypeError);
  Tensor b = tg::ones({3}, {.dtype = tg::kBool});
  CHECK_THROWS_WITH_AS(b.add_(i), doctest::Contains("result type int64 can't be cast to the desired output type bool"),
                       tg::DTypeError);
  CHECK_THROWS_WITH_AS(i.sub_(b), doctest::Contains("sub_: subtraction with a bool tensor"), tg::DTypeError);
  // Nothing was written by the failed calls.
  CHECK(i.to_vector<double>() == std::vector<double>{0, 0, 0});
  CHECK_THROWS_WITH_AS(tg::nn::functional::binary_cross_entropy(tg::full({2}, 0.5), f64({1, 0})),
                       "binary_cross_entropy: target is float64 but input is float32; they must have the same dtype",
                       tg::DTypeError);
}

TEST_CASE("promotion: gradients of mixed float32/float64 programs come back in each input's dtype") {
  Tensor x = f32({0.5, 1.5, 2.0});
  x.set_requires_grad();
  Tensor w = f64({1.25, -0.75, 0.5});
  w.set_requires_grad();
  Tensor s = tg::scalar_tensor(0.3, {.dtype = tg::kFloat64});
  s.set_requires_grad();
  auto program = [](const Tensor& x, const Tensor& w, const Tensor& s) {
    // Every binary op promoting float32 with float64 [3] and float64 0-d.
    Tensor y = x * w + x / (w * w + 1.0) - tg::maximum(x, w) + tg::minimum(w, x) * s + tg::pow(x, w * s);
    y = tg::where(x > w, y, x * s);
    Tensor cat = tg::cat({y, x, w});
    Tensor st = tg::stack({x, w});
    return tg::sum(cat * cat) + tg::sum(tg::outer(x, w)) + tg::sum(st * st * s);
  };
  Tensor loss = program(x, w, s);
  CHECK(loss.dtype() == tg::kFloat64);
  loss.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == tg::kFloat32);
  CHECK(w.grad().dtype() == tg::kFloat64);
  CHECK(s.grad().dtype() == tg::kFloat64);

  // The same program with x in float64 gives the same gradients.
  Tensor x64 = x.detach().to(tg::kFloat64);
  x64.set_requires_grad();
  Tensor w2 = w.detach().clone(), s2 = s.detach().clone();
  w2.set_requires_grad();
  s2.set_requires_grad();
  program(x64, w2, s2).backward();
  check_close(x.grad(), x64.grad().to_vector<double>(), 1e-5);
  check_close(w.grad(), w2.grad().to_vector<double>(), 1e-5);
  check_close(s.grad(), s2.grad().to_vector<double>(), 1e-5);
}

TEST_CASE("promotion: gradcheck through ops mixing float64 inputs with float32 tensors") {
  const Tensor c = f32({0.25, -1.5, 2.0});
  const Tensor k = tg::scalar_tensor(0.75);  // float32 0-d: float64 [3] op it stays float64
  auto fn = [&](const std::vector<Tensor>& in) {
    const Tensor& a = in[0];
    const Tensor& z = in[1];  // float64 0-d
    Tensor y = a * c + a / (c * c + 1.0) + tg::maximum(a, c) - tg::minimum(c, a) * k + tg::pow(a * a + 1.0, c);
    y = tg::where(a > c, y, a * z);
    Tensor joined = tg::cat({y, c, a});
    return tg::sum(joined * joined) + tg::sum(tg::stack({a, c}) * z) + tg::sum(tg::outer(c, a));
  };
  Tensor a = tg::tensor({0.3, -0.7, 1.9}, {3}, {.dtype = tg::kFloat64});
  a.set_requires_grad();
  Tensor z = tg::scalar_tensor(1.3, {.dtype = tg::kFloat64});
  z.set_requires_grad();
  CHECK(fn({a, z}).dtype() == tg::kFloat64);
  CHECK(tg::gradcheck(fn, {a, z}));
}

TEST_CASE("promotion: cat, stack and in-place ops of mixed dtypes pass gradients back in each input's dtype") {
  Tensor a = f32({1, 2});
  Tensor b = f64({3});
  a.set_requires_grad();
  b.set_requires_grad();
  Tensor y = tg::cat({a, b});
  CHECK(y.dtype() == tg::kFloat64);
  tg::sum(y * f64({1, 2, 3})).backward();
  CHECK(a.grad().dtype() == tg::kFloat32);
  CHECK(a.grad().to_vector<double>() == std::vector<double>{1, 2});
  CHECK(b.grad().dtype() == tg::kFloat64);
  CHECK(b.grad().to_vector<double>() == std::vector<double>{3});

  Tensor p = f32({1, 2});
  Tensor q = f64({3, 4});
  p.set_requires_grad();
  q.set_requires_grad();
  tg::sum(tg::stack({p, q}, 1) * f64({1, 2})).backward();
  CHECK(p.grad().dtype() == tg::kFloat32);
  CHECK(p.grad().to_vector<double>() == std::vector<double>{1, 1});
  CHECK(q.grad().dtype() == tg::kFloat64);
  CHECK(q.grad().to_vector<double>() == std::vector<double>{2, 2});

  // float32 self, float64 other: self keeps float32, other's gradient is float64.
  Tensor u = f32({1, 2});
  Tensor v = f64({0.5, 4});
  u.set_requires_grad();
  v.set_requires_grad();
  Tensor t = u * 1.0;
  t.mul_(v);
  CHECK(t.dtype() == tg::kFloat32);
  tg::sum(t).backward();
  CHECK(u.grad().dtype() == tg::kFloat32);
  CHECK(u.grad().to_vector<double>() == std::vector<double>{0.5, 4});
  CHECK(v.grad().dtype() == tg::kFloat64);
  CHECK(v.grad().to_vector<double>() == std::vector<double>{1, 2});
}

TEST_CASE("promotion: losses promote or keep the input's dtype as PyTorch does") {
  namespace F = tg::nn::functional;
  Tensor x = f32({0.5, 1.5});
  x.set_requires_grad();
  Tensor t = f64({1, 1});
  t.set_requires_grad();
  Tensor mse = F::mse_loss(x, t);
  CHECK(mse.dtype() == tg::kFloat64);
  CHECK(mse.item<double>() == doctest::Approx(0.25));
  mse.backward();
  CHECK(x.grad().dtype() == tg::kFloat32);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{-0.5, 0.5});
  CHECK(t.grad().dtype() == tg::kFloat64);
  CHECK(F::l1_loss(x, t).dtype() == tg::kFloat64);
  // huber_loss computes in the input's dtype (PyTorch's result too).
  CHECK(F::huber_loss(x, t).dtype() == tg::kFloat32);
  CHECK(F::huber_loss(t, x).dtype() == tg::kFloat64);
  // Integer targets are taken in the input's dtype.
  CHECK(F::mse_loss(x, tg::tensor({1, 1}, {2}, {.dtype = tg::kInt64})).dtype() == tg::kFloat32);
  // Probability targets of cross_entropy promote; the gradient comes back in float32.
  Tensor logits = tg::tensor({0.5, -1, 2, 0, 1, -0.5}, {2, 3}, {.dtype = tg::kFloat32});
  logits.set_requires_grad();
  Tensor probs = tg::full({2, 3}, 1.0 / 3, {.dtype = tg::kFloat64});
  Tensor ce = F::cross_entropy(logits, probs);
  CHECK(ce.dtype() == tg::kFloat64);
  ce.backward();
  CHECK(logits.grad().dtype() == tg::kFloat32);
  Tensor logits64 = logits.detach().to(tg::kFloat64);
  logits64.set_requires_grad();
  F::cross_entropy(logits64, probs).backward();
  check_close(logits.grad(), logits64.grad().to_vector<double>(), 1e-6);
}

// addcmul and addcdiv multiplied (divided) in tensor1 and tensor2's own
// dtype and promoted after: int8 100 * 100 wrapped to 16, float16 300 * 300
// overflowed, float32 1 / 3 was rounded before a float64 add; and the result
// dtype ignored the 0-d rule. Values are PyTorch 1.13's.
TEST_CASE("promotion: addcmul and addcdiv compute in the result's dtype, by the three tensors' promotion") {
  const auto i8 = [](double v) { return tg::full({1}, v, {.dtype = tg::kInt8}); };
  const auto f16 = [](double v) { return tg::full({1}, v, {.dtype = tg::kFloat16}); };
  CHECK(tg::addcmul(tg::zeros({1}), i8(100), i8(100)).item<float>() == 10000.0f);
  CHECK(tg::addcmul(tg::zeros({1}), f16(300), f16(300)).item<float>() == 90000.0f);
  CHECK(tg::addcdiv(tg::zeros({1}), f16(60000), f16(0.5), 0.001).item<float>() == 120000.0f * 0.001f);
  const Tensor f64_zero = tg::zeros({1}, {.dtype = tg::kFloat64});
  CHECK(tg::addcmul(f64_zero, tg::tensor({0.1f}), tg::tensor({0.3f})).item<double>() == 0.03000000163912775);
  CHECK(tg::addcdiv(f64_zero, tg::tensor({1.0f}), tg::tensor({3.0f})).item<double>() == 1.0 / 3.0);
  // The in-place forms compute the same way.
  Tensor acc = tg::zeros({1});
  acc.addcmul_(f16(300), f16(300));
  CHECK(acc.item<float>() == 90000.0f);
  // Result dtypes, with PyTorch's 0-d rule.
  const Tensor ints = tg::tensor({2, 3}), more = tg::tensor({3, 4});
  CHECK(tg::addcmul(tg::zeros({2}, {.dtype = tg::kBFloat16}), ints, more, 0.5).dtype() == tg::kBFloat16);
  CHECK(tg::addcmul(tg::scalar_tensor(1, {.dtype = tg::kFloat64}), ints, more, 0.5).dtype() == tg::kFloat64);
  CHECK(tg::addcmul(tg::zeros({2}), tg::scalar_tensor(2, {.dtype = tg::kFloat64}), tg::tensor({3.0f, 4.0f})).dtype() ==
        tg::kFloat32);
  // 16-bit floats: computed in float32 and rounded once (float16 300 * 300 /
  // 1000 is 90, which a float16 product would have lost to inf).
  CHECK(tg::addcmul(f16(0), f16(300), f16(300), 0.001).item<float>() == 90.0f);
  // Gradients keep each input's dtype.
  Tensor x = tg::zeros({2}, {.dtype = tg::kFloat64}).set_requires_grad();
  Tensor a = tg::tensor({1.0f, 2.0f}).set_requires_grad(), b = tg::tensor({3.0f, 4.0f}).set_requires_grad();
  tg::addcmul(x, a, b, 2).sum().backward();
  CHECK(a.grad().dtype() == tg::kFloat32);
  CHECK(x.grad().dtype() == tg::kFloat64);
  CHECK(a.grad().to_vector<float>() == std::vector<float>{6, 8});
}

}  // namespace test_promotion
