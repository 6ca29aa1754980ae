// Elementwise ops, forward only: hand-computed values, broadcasting, 0-d and
// zero-size tensors, the dtype promotion table, strided inputs against their
// contiguous copies, and error messages.
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/core/parallel.h>

#include "support/close.h"

namespace test_elementwise {

using namespace tg;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::int64_t> ints(const Tensor& t) { return t.to_vector<std::int64_t>(); }
std::vector<bool> bools(const Tensor& t) { return t.to_vector<bool>(); }

Tensor f64(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat64});
}
Tensor f32(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat32});
}
Tensor i64(std::initializer_list<double> v, tg::OptionalDims shape = {}) { return tensor(v, shape, {.dtype = kInt64}); }
Tensor b8(std::initializer_list<double> v, tg::OptionalDims shape = {}) { return tensor(v, shape, {.dtype = kBool}); }

// |got - expected| <= tol * (1 + |expected|); NaN and infinities must match exactly.
using tg_test::check_close;

// [0, 1, ..., n-1] + offset as float64 in `shape`, contiguous.
Tensor iota(Dims shape, double offset = 0, DType dtype = kFloat64) {
  std::vector<double> v(static_cast<std::size_t>(shape.product()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) + offset;
  return tensor(v, shape, dtype);
}

}  // namespace

TEST_CASE("arithmetic on same-shape tensors, with alpha") {
  Tensor a = f64({1, 2, 3}), b = f64({10, 20, 40});
  check_close(add(a, b), {11, 22, 43});
  check_close(add(a, b, 0.5), {6, 12, 23});
  check_close(sub(a, b), {-9, -18, -37});
  check_close(sub(a, b, 2), {-19, -38, -77});
  check_close(mul(a, b), {10, 40, 120});
  check_close(div(b, a), {10, 10, 40.0 / 3});
  check_close(a + b, {11, 22, 43});
  check_close(a - b, {-9, -18, -37});
  check_close(a * b, {10, 40, 120});
  check_close(b / a, {10, 10, 40.0 / 3});
  check_close(-a, {-1, -2, -3});
  check_close(neg(a), {-1, -2, -3});
  // The same tensor on both sides.
  check_close(a * a, {1, 4, 9});
  check_close(a - a, {0, 0, 0});
  // IEEE division by zero.
  check_close(div(f64({1, -1, 0}), f64({0, 0, 0})), {kInf, -kInf, kNaN});
}

TEST_CASE("scalar forms on either side") {
  Tensor a = f64({1, 2, 4});
  check_close(add(a, 1.5), {2.5, 3.5, 5.5});
  check_close(sub(a, 1.5), {-0.5, 0.5, 2.5});
  check_close(rsub(a, 10), {9, 8, 6});
  check_close(mul(a, -2), {-2, -4, -8});
  check_close(div(a, 4), {0.25, 0.5, 1});
  check_close(rdiv(a, 8), {8, 4, 2});
  check_close(a + 1.0, {2, 3, 5});
  check_close(1.0 + a, {2, 3, 5});
  check_close(a - 1.0, {0, 1, 3});
  check_close(1.0 - a, {0, -1, -3});
  check_close(a * 3.0, {3, 6, 12});
  check_close(3.0 * a, {3, 6, 12});
  check_close(a / 2.0, {0.5, 1, 2});
  check_close(2.0 / a, {2, 1, 0.5});
  // A float32 tensor with a double scalar computes in float32: 0.1 becomes 0.1f.
  Tensor x = f32({1});
  Tensor y = add(x, 0.1);
  CHECK(y.dtype() == kFloat32);
  CHECK(y.item<float>() == 1.0f + 0.1f);
}

TEST_CASE("broadcasting follows NumPy: [3,1] with [1,4], trailing dims, 0-d, zero-size") {
  Tensor col = f64({1, 2, 3}, {3, 1}), row = f64({10, 20, 30, 40}, {1, 4});
  Tensor s = add(col, row);
  CHECK(s.shape() == Dims{3, 4});
  check_close(s, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  check_close(mul(col, row), {10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120});
  check_close(sub(row, col), {9, 19, 29, 39, 8, 18, 28, 38, 7, 17, 27, 37});
  check_close(div(row, col), {10, 20, 30, 40, 5, 10, 15, 20, 10.0 / 3, 20.0 / 3, 10, 40.0 / 3});

  // A bias row added to every row of a matrix.
  Tensor m = iota({2, 3});
  check_close(add(m, f64({100, 200, 300})), {100, 201, 302, 103, 204, 305});

  // 0-d tensors broadcast against anything and give 0-d with each other.
  Tensor zero_d = scalar_tensor(2, {.dtype = kFloat64});
  CHECK(zero_d.dim() == 0);
  Tensor p = mul(zero_d, scalar_tensor(3, {.dtype = kFloat64}));
  CHECK(p.dim() == 0);
  CHECK(p.item<double>() == 6);
  check_close(mul(m, zero_d), {0, 2, 4, 6, 8, 10});
  check_close(sub(zero_d, m), {2, 1, 0, -1, -2, -3});

  // A zero-size dim stays zero-size; size 1 broadcasts to 0.
  Tensor empty = zeros({0, 3}, {.dtype = kFloat64});
  CHECK(add(empty, f64({1, 2, 3}, {1, 3})).shape() == Dims{0, 3});
  CHECK(mul(zeros({2, 1, 0}), ones({3, 1})).shape() == Dims{2, 3, 0});
  CHECK(exp(empty).shape() == Dims{0, 3});
  CHECK(add(empty, 1.0).numel() == 0);
}

TEST_CASE("shapes that do not broadcast name the op and both shapes") {
  Tensor a = zeros({2, 3}), b = zeros({4});
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("add"), ShapeError);
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("[2, 3]"), ShapeError);
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("[4]"), ShapeError);
  CHECK_THROWS_WITH_AS(a * b, doctest::Contains("mul"), ShapeError);
  CHECK_THROWS_WITH_AS(sub(a, b), doctest::Contains("sub"), ShapeError);
  CHECK_THROWS_WITH_AS(div(a, b), doctest::Contains("div"), ShapeError);
  CHECK_THROWS_WITH_AS(maximum(a, b), doctest::Contains("maximum"), ShapeError);
  CHECK_THROWS_WITH_AS(pow(a, b), doctest::Contains("pow"), ShapeError);
  CHECK_THROWS_WITH_AS(lt(a, b), doctest::Contains("lt"), ShapeError);
  CHECK_THROWS_WITH_AS(where(zeros({2, 3}, {.dtype = kBool}), a, b), doctest::Contains("[4]"), ShapeError);
  CHECK_THROWS_WITH_AS(where(zeros({5}, {.dtype = kBool}), a, 1.0), doctest::Contains("where"), ShapeError);
}

TEST_CASE("dtype promotion: tensor with tensor") {
  Tensor f = f32({1.5, 2}), d = f64({1, 2}), i = i64({3, 4}), b = b8({1, 0});
  CHECK(add(i, f).dtype() == kFloat32);
  CHECK(add(f, i).dtype() == kFloat32);
  check_close(add(i, f), {4.5, 6});
  CHECK(add(f, d).dtype() == kFloat64);
  CHECK(mul(i, d).dtype() == kFloat64);
  CHECK(add(i, i).dtype() == kInt64);
  CHECK(ints(mul(i, i)) == std::vector<std::int64_t>{9, 16});
  CHECK(add(b, i).dtype() == kInt64);
  CHECK(ints(add(b, i)) == std::vector<std::int64_t>{4, 4});
  // bool with bool stays bool: + is "or", * is "and", as PyTorch.
  CHECK(add(b, b8({0, 0})).dtype() == kBool);
  CHECK(bools(add(b, b8({1, 0}))) == std::vector<bool>{true, false});
  CHECK(bools(mul(b, b8({1, 1}))) == std::vector<bool>{true, false});
  // True division: integers give float32.
  Tensor q = div(i64({7, -7}), i64({2, 2}));
  CHECK(q.dtype() == kFloat32);
  check_close(q, {3.5, -3.5});
  CHECK(div(b, b).dtype() == kFloat32);
  // Subtraction and negation reject bool (use logical_not), naming the op.
  CHECK_THROWS_WITH_AS(sub(b, b), doctest::Contains("sub"), DTypeError);
  CHECK_THROWS_WITH_AS(sub(i, b), doctest::Contains("bool"), DTypeError);
  CHECK_THROWS_WITH_AS(neg(b), doctest::Contains("logical_not"), DTypeError);
  CHECK_THROWS_AS(rsub(b, 1), DTypeError);
  // alpha must be whole for integer results.
  CHECK(ints(add(i, i, 2)) == std::vector<std::int64_t>{9, 12});
  CHECK_THROWS_WITH_AS(add(i, i, 0.5), doctest::Contains("alpha"), DTypeError);
  CHECK(add(i, f, 0.5).dtype() == kFloat32);
  // maximum/minimum keep integers and bools.
  CHECK(maximum(i, i64({5, 0})).dtype() == kInt64);
  CHECK(ints(maximum(i, i64({5, 0}))) == std::vector<std::int64_t>{5, 4});
  CHECK(ints(minimum(i, i64({5, 0}))) == std::vector<std::int64_t>{3, 0});
  CHECK(maximum(b, b8({0, 1})).dtype() == kBool);
  CHECK(bools(maximum(b, b8({0, 1}))) == std::vector<bool>{true, true});
  CHECK(maximum(i, f).dtype() == kFloat32);
}

TEST_CASE("dtype promotion: tensor with a scalar") {
  Tensor f = f32({1, 2}), d = f64({1, 2}), i = i64({3, 4}), b = b8({1, 0});
  CHECK(add(f, 2.5).dtype() == kFloat32);
  CHECK(mul(d, 2).dtype() == kFloat64);
  // Whole-number scalars keep int64; fractional ones give float32.
  CHECK(mul(i, 2).dtype() == kInt64);
  CHECK(ints(mul(i, 2)) == std::vector<std::int64_t>{6, 8});
  CHECK(ints(add(i, -1)) == std::vector<std::int64_t>{2, 3});
  CHECK(ints(rsub(i, 10)) == std::vector<std::int64_t>{7, 6});
  Tensor h = mul(i, 2.5);
  CHECK(h.dtype() == kFloat32);
  check_close(h, {7.5, 10});
  CHECK(add(i, kNaN).dtype() == kFloat32);
  CHECK(add(i, 1e300).dtype() == kFloat32);  // too large for int64
  // Division is always true division.
  CHECK(div(i, 2).dtype() == kFloat32);
  check_close(div(i, 2), {1.5, 2});
  check_close(rdiv(i, 6), {2, 1.5});
  // bool with a whole number gives int64, as PyTorch.
  CHECK(add(b, 1).dtype() == kInt64);
  CHECK(ints(add(b, 1)) == std::vector<std::int64_t>{2, 1});
  CHECK(mul(b, 0.5).dtype() == kFloat32);
}

TEST_CASE("dtype rules of the unary functions") {
  Tensor i = i64({-2, 0, 3}), b = b8({1, 0, 1});
  for (auto fn : {+[](const Tensor& x) { return exp(x); }, +[](const Tensor& x) { return log(x); },
                  +[](const Tensor& x) { return log1p(x); }, +[](const Tensor& x) { return sqrt(x); },
                  +[](const Tensor& x) { return rsqrt(x); }, +[](const Tensor& x) { return sigmoid(x); },
                  +[](const Tensor& x) { return tanh(x); }}) {
    CHECK(fn(i).dtype() == kFloat32);
    CHECK(fn(f64({1})).dtype() == kFloat64);
    CHECK(fn(f32({1})).dtype() == kFloat32);
  }
  // gelu and leaky_relu keep floating dtypes and refuse integers, as PyTorch
  // (tests/autograd/test_dtype_support.cpp has every dtype).
  for (auto fn : {+[](const Tensor& x) { return gelu(x); }, +[](const Tensor& x) { return leaky_relu(x); }}) {
    CHECK_THROWS_AS(fn(i), tg::DTypeError);
    CHECK(fn(f64({1})).dtype() == kFloat64);
    CHECK(fn(f32({1})).dtype() == kFloat32);
  }
  // bool gives float32, but gelu and leaky_relu refuse it, as PyTorch
  // (tests/autograd/test_activation_bool.cpp).
  for (auto fn : {+[](const Tensor& x) { return exp(x); }, +[](const Tensor& x) { return log(x); },
                  +[](const Tensor& x) { return log1p(x); }, +[](const Tensor& x) { return sqrt(x); },
                  +[](const Tensor& x) { return rsqrt(x); }, +[](const Tensor& x) { return sigmoid(x); },
                  +[](const Tensor& x) { return tanh(x); }})
    CHECK(fn(b).dtype() == kFloat32);
  CHECK_THROWS_AS(gelu(b), DTypeError);
  CHECK_THROWS_AS(leaky_relu(b), DTypeError);
  check_close(exp(b), {std::exp(1.0), 1, std::exp(1.0)}, 1e-6);
  check_close(sigmoid(i64({0})), {0.5});
  // These keep int64.
  CHECK(ints(neg(i)) == std::vector<std::int64_t>{2, 0, -3});
  CHECK(ints(abs(i)) == std::vector<std::int64_t>{2, 0, 3});
  CHECK(ints(sign(i)) == std::vector<std::int64_t>{-1, 0, 1});
  CHECK(ints(relu(i)) == std::vector<std::int64_t>{0, 0, 3});
  CHECK(ints(clamp(i, -1, 1)) == std::vector<std::int64_t>{-1, 0, 1});
  CHECK(clamp(i, 0.5, {}).dtype() == kFloat32);
  check_close(clamp(i, 0.5, {}), {0.5, 0.5, 3});
  CHECK(sign(b).dtype() == kBool);
  CHECK_THROWS_WITH_AS(abs(b), doctest::Contains("abs"), DTypeError);
  CHECK_THROWS_WITH_AS(relu(b), doctest::Contains("relu"), DTypeError);
  // As PyTorch, bool clamped by whole numbers is int64 (by 0.5, float32).
  CHECK(clamp(b, 0, 1).dtype() == kInt64);
  CHECK(clamp(b, 0.5, {}).dtype() == kFloat32);
  CHECK_THROWS_WITH_AS(clamp(i, {}, {}), doctest::Contains("clamp"), ValueError);
}

TEST_CASE("clamp with a NaN bound gives NaN everywhere, as with a NaN tensor bound") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = tg::tensor({1.0, 5.0, -2.0}, {3});
  for (const Tensor& y :
       {clamp(x, nan, 3.0), clamp(x, 0.0, nan), clamp(x, nan, {}), clamp(x, {}, nan), clamp(x, nan, nan),
        clamp(tg::tensor({1.0, 5.0}, {2}, kFloat64), nan, 3.0), clamp(i64({1, 5}), nan, 3.0), hardtanh(x, nan, 1.0)})
    for (double v : y.to(kFloat64).to_vector<double>()) CHECK(std::isnan(v));
  CHECK(clamp(i64({1, 5}), nan, 3.0).dtype() == kFloat32);
  Tensor z = x.clone();
  z.clamp_(nan, 3.0);
  for (float v : z.to_vector<float>()) CHECK(std::isnan(v));
  // Bounds that are numbers keep NaN elements as they are.
  const std::vector<float> kept = clamp(tg::tensor({nan, 4.0}, {2}), 0.0, 3.0).to_vector<float>();
  CHECK(std::isnan(kept[0]));
  CHECK(kept[1] == 3.0f);
  // No gradient passes a NaN bound (PyTorch: the same zeros).
  Tensor w = tg::tensor({1.0, 5.0}, {2}, {.dtype = kFloat64, .requires_grad = true});
  clamp(w, nan, 3.0).sum().backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{0, 0});
}

TEST_CASE("float32 functions compute in float, not double") {
  // volatile: computed at run time by the same libm, not folded (correctly rounded) by the compiler.
  volatile float input = 0.7f;
  const float x = input;
  Tensor t = f32({static_cast<double>(x)});
  CHECK(log(t).item<float>() == std::log(x));
  CHECK(sqrt(t).item<float>() == std::sqrt(x));
  // exp and tanh go through the float32 vector functions (SLEEF, within
  // 1 ULP of libm's; tests/core/test_vector_math.cpp compares them).
  float vec_exp = 0, vec_tanh = 0;
  kernel::vec::exp(&x, &vec_exp, 1);
  kernel::vec::tanh(&x, &vec_tanh, 1);
  CHECK(exp(t).item<float>() == vec_exp);
  CHECK(tanh(t).item<float>() == vec_tanh);
}

TEST_CASE("unary functions at hand-computed points") {
  check_close(exp(f64({0, 1, -1})), {1, std::numbers::e, 1 / std::numbers::e});
  check_close(log(f64({1, std::numbers::e, 0, -1})), {0, 1, -kInf, kNaN});
  // log1p keeps precision where 1 + x rounds to 1.
  check_close(log1p(f64({1e-17, std::numbers::e - 1})), {1e-17, 1}, 1e-15);
  CHECK(log1p(f64({1e-17})).item<double>() == 1e-17);
  check_close(sqrt(f64({4, 0, 2.25})), {2, 0, 1.5});
  check_close(rsqrt(f64({4, 0.25})), {0.5, 2});
  check_close(abs(f64({-2, 0, 3.5})), {2, 0, 3.5});
  check_close(sign(f64({-2, 0, 3.5, kNaN})), {-1, 0, 1, 0});
  check_close(relu(f64({-1, 0, 1})), {0, 0, 1});
  check_close(relu(f64({kNaN})), {kNaN});
  check_close(leaky_relu(f64({-2, 0, 3}), 0.1), {-0.2, 0, 3});
  check_close(leaky_relu(f64({-100})), {-1});  // default slope 0.01
  check_close(sigmoid(f64({0, std::log(3.0), -std::log(3.0)})), {0.5, 0.75, 0.25});
  check_close(sigmoid(f64({800, -800})), {1, 0});  // no NaN at the extremes
  check_close(sigmoid(f32({-200, 200})), {0, 1});
  check_close(tanh(f64({0, 1})), {0, 0.7615941559557649});
  // gelu(x) = x Phi(x): Phi(1) = 0.841344746068543, Phi(-1) = 1 - Phi(1).
  check_close(gelu(f64({0, 1, -1, 2})), {0, 0.8413447460685429, -0.15865525393145707, 1.9544997361036416});
  check_close(gelu(f32({1})), {0.8413447460685429}, 1e-6);
}

TEST_CASE("clamp: both bounds, one bound, NaN, and min > max") {
  Tensor x = f64({-2, 0, 0.5, 1, 3, kNaN});
  check_close(clamp(x, 0, 1), {0, 0, 0.5, 1, 1, kNaN});
  check_close(clamp(x, 0.25, {}), {0.25, 0.25, 0.5, 1, 3, kNaN});
  check_close(clamp(x, {}, 0.75), {-2, 0, 0.5, 0.75, 0.75, kNaN});
  check_close(clamp(x, 2, 1), {1, 1, 1, 1, 1, kNaN});
  check_close(x.clamp(-1, 2), {-1, 0, 0.5, 1, 2, kNaN});
}

TEST_CASE("pow: scalar exponent, tensor exponent, scalar base") {
  Tensor x = f64({4, 9, 0.25});
  check_close(pow(x, 2), {16, 81, 0.0625});
  check_close(pow(x, 3), {64, 729, 0.015625});
  check_close(pow(x, 0.5), {2, 3, 0.5});
  check_close(pow(x, -1), {0.25, 1.0 / 9, 4});
  check_close(pow(x, 1.5), {8, 27, 0.125});
  check_close(pow(x, 1), {4, 9, 0.25});
  check_close(pow(x, 0), {1, 1, 1});
  check_close(pow(f64({-8}), 1.0 / 3), {kNaN});
  check_close(pow(f64({2, 3, 4}), f64({3, 2, 0.5})), {8, 9, 2});
  check_close(pow(f64({2, 3}, {2, 1}), f64({0, 1, 2}, {1, 3})), {1, 2, 4, 1, 3, 9});
  check_close(pow(2, f64({0, 1, 10, -1})), {1, 2, 1024, 0.5});
  check_close(pow(0, f64({0, 2})), {1, 0});
  check_close(x.pow(2), {16, 81, 0.0625});

  // Integers: whole exponents stay int64 and wrap; fractional ones give float32.
  Tensor i = i64({2, -3, 0});
  CHECK(pow(i, 3).dtype() == kInt64);
  CHECK(ints(pow(i, 3)) == std::vector<std::int64_t>{8, -27, 0});
  CHECK(ints(pow(i, 0)) == std::vector<std::int64_t>{1, 1, 1});
  CHECK(pow(i, 0.5).dtype() == kFloat32);
  CHECK_THROWS_WITH_AS(pow(i, -1), doctest::Contains("negative"), ValueError);
  CHECK(ints(pow(i64({2}), 63)) == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min()});
  // Negative tensor exponents follow PyTorch: 0 unless the base is 1 or -1.
  CHECK(ints(pow(i64({2, 1, -1, -1}), i64({-1, -5, -3, -2}))) == std::vector<std::int64_t>{0, 1, -1, 1});
  CHECK(ints(pow(3, i64({0, 2, 4}))) == std::vector<std::int64_t>{1, 9, 81});
  CHECK(pow(0.5, i64({1})).dtype() == kFloat32);
  CHECK(pow(i, f32({1, 1, 1})).dtype() == kFloat32);
}

TEST_CASE("maximum and minimum, NaN propagates") {
  Tensor a = f64({1, 5, -2, kNaN, 0}), b = f64({3, 5, -7, 1, kNaN});
  check_close(maximum(a, b), {3, 5, -2, kNaN, kNaN});
  check_close(minimum(a, b), {1, 5, -7, kNaN, kNaN});
  check_close(maximum(f64({1, 2}, {2, 1}), f64({0, 1.5, 3})), {1, 1.5, 3, 2, 2, 3});
}

TEST_CASE("where: tensor and scalar branches, broadcast condition, bool condition only") {
  Tensor c = b8({1, 0, 1});
  Tensor a = f64({1, 2, 3}), b = f64({10, 20, 30});
  check_close(where(c, a, b), {1, 20, 3});
  check_close(where(c, a, -1.0), {1, -1, 3});
  check_close(where(c, -1.0, b), {-1, 20, -1});
  // condition [2,1] with a [3] and b [1]: result [2,3].
  Tensor c2 = b8({1, 0}, {2, 1});
  Tensor w = where(c2, a, f64({0}));
  CHECK(w.shape() == Dims{2, 3});
  check_close(w, {1, 2, 3, 0, 0, 0});
  // Dtypes: promoted between branches; an int branch with a fractional scalar gives float32.
  CHECK(where(c, i64({1, 2, 3}), f32({0, 0, 0})).dtype() == kFloat32);
  CHECK(where(c, i64({1, 2, 3}), 0.5).dtype() == kFloat32);
  CHECK(where(c, i64({1, 2, 3}), 7.0).dtype() == kInt64);
  CHECK(ints(where(c, i64({1, 2, 3}), 7.0)) == std::vector<std::int64_t>{1, 7, 3});
  // A non-bool condition is a clear DTypeError.
  CHECK_THROWS_WITH_AS(where(f64({1, 0, 1}), a, b), doctest::Contains("where: condition must be a bool"), DTypeError);
  CHECK_THROWS_WITH_AS(where(i64({1, 0, 1}), a, 0.0), doctest::Contains("int64"), DTypeError);
  CHECK_THROWS_AS(where(f64({1, 0, 1}), 0.0, b), DTypeError);
  // Built from a comparison, the usual way.
  check_close(where(a > 1.5, a, 0.0), {0, 2, 3});
}

TEST_CASE("comparisons: bool results, broadcasting, scalars, NaN") {
  Tensor a = f64({1, 2, 3}), b = f64({3, 2, 1});
  CHECK(eq(a, b).dtype() == kBool);
  CHECK(bools(eq(a, b)) == std::vector<bool>{false, true, false});
  CHECK(bools(ne(a, b)) == std::vector<bool>{true, false, true});
  CHECK(bools(lt(a, b)) == std::vector<bool>{true, false, false});
  CHECK(bools(le(a, b)) == std::vector<bool>{true, true, false});
  CHECK(bools(gt(a, b)) == std::vector<bool>{false, false, true});
  CHECK(bools(ge(a, b)) == std::vector<bool>{false, true, true});
  CHECK(bools(a == b) == bools(eq(a, b)));
  CHECK(bools(a != b) == bools(ne(a, b)));
  CHECK(bools(a < b) == bools(lt(a, b)));
  CHECK(bools(a <= b) == bools(le(a, b)));
  CHECK(bools(a > b) == bools(gt(a, b)));
  CHECK(bools(a >= b) == bools(ge(a, b)));
  CHECK(bools(a == 2.0) == std::vector<bool>{false, true, false});
  CHECK(bools(a != 2.0) == std::vector<bool>{true, false, true});
  CHECK(bools(a < 2.0) == std::vector<bool>{true, false, false});
  CHECK(bools(a <= 2.0) == std::vector<bool>{true, true, false});
  CHECK(bools(a > 2.0) == std::vector<bool>{false, false, true});
  CHECK(bools(a >= 2.0) == std::vector<bool>{false, true, true});
  CHECK(bools(a.gt(1.5)) == std::vector<bool>{false, true, true});
  // Broadcast: [3,1] against [3].
  Tensor g = gt(f64({1, 2, 3}, {3, 1}), f64({1, 2, 3}));
  CHECK(g.shape() == Dims{3, 3});
  CHECK(bools(g) == std::vector<bool>{false, false, false, true, false, false, true, true, false});
  // NaN compares unequal to everything, itself included.
  Tensor n = f64({kNaN});
  CHECK(bools(eq(n, n)) == std::vector<bool>{false});
  CHECK(bools(ne(n, n)) == std::vector<bool>{true});
  CHECK(bools(n < 0.0) == std::vector<bool>{false});
  // The scalar takes the tensor's type first, as PyTorch: 0.1f == 0.1.
  CHECK(bools(f32({0.1}) == 0.1) == std::vector<bool>{true});
  // Mixed dtypes compare in the promoted type.
  CHECK(bools(lt(i64({1, 2}), f32({1.5, 1.5}))) == std::vector<bool>{true, false});
  CHECK(bools(i64({2, 3}) > 2.5) == std::vector<bool>{false, true});
  CHECK(bools(b8({1, 0}) == 1.0) == std::vector<bool>{true, false});
}

TEST_CASE("logic, isnan, isfinite") {
  Tensor p = b8({1, 1, 0, 0}), q = b8({1, 0, 1, 0});
  CHECK(bools(logical_and(p, q)) == std::vector<bool>{true, false, false, false});
  CHECK(bools(logical_or(p, q)) == std::vector<bool>{true, true, true, false});
  CHECK(bools(logical_not(p)) == std::vector<bool>{false, false, true, true});
  // Non-bool inputs count nonzero as true.
  CHECK(bools(logical_and(f64({2, 0, -1}), i64({1, 1, 0}))) == std::vector<bool>{true, false, false});
  CHECK(bools(logical_not(f64({0, 0.5, kNaN}))) == std::vector<bool>{true, false, false});
  CHECK(logical_or(p, q).dtype() == kBool);
  Tensor x = f64({1, kNaN, kInf, -kInf});
  CHECK(bools(isnan(x)) == std::vector<bool>{false, true, false, false});
  CHECK(bools(isfinite(x)) == std::vector<bool>{true, false, false, false});
  CHECK(bools(isnan(f32({kNaN, 0}))) == std::vector<bool>{true, false});
  CHECK(bools(isnan(i64({1, 2}))) == std::vector<bool>{false, false});
  CHECK(bools(isfinite(i64({1, 2}))) == std::vector<bool>{true, true});
}

TEST_CASE("allclose and equal") {
  Tensor a = f64({1, 2, 3});
  CHECK(allclose(a, f64({1, 2, 3})));
  CHECK(allclose(a, f64({1, 2, 3 + 1e-9})));
  CHECK_FALSE(allclose(a, f64({1, 2, 3.001})));
  CHECK(allclose(a, f64({1, 2, 3.001}), 1e-3));
  CHECK(allclose(a, f64({1, 2, 3.001}), 0, 0.01));
  CHECK_FALSE(allclose(f64({kNaN}), f64({kNaN})));
  CHECK(allclose(f64({kInf}), f64({kInf})));
  CHECK_FALSE(allclose(f64({kInf}), f64({-kInf})));
  CHECK_FALSE(allclose(f64({1}), f64({kInf})));
  CHECK(allclose(f64({2, 2}, {2, 1}), f64({2})));  // broadcast
  // As torch.allclose and isclose: one dtype, tolerances that are not negative.
  CHECK_THROWS_WITH_AS(allclose(f32({0.1}), f64({0.1}), 1e-6),
                       "allclose: expected both inputs to have the same dtype, got float32 and float64", DTypeError);
  CHECK(allclose(f32({0.1}), f64({0.1}).to(kFloat32), 1e-6));
  CHECK_THROWS_AS(allclose(a, a, -1e-5), ValueError);
  CHECK_THROWS_AS(allclose(a, a, 1e-5, kNaN), ValueError);
  CHECK_THROWS_AS(allclose(a, f64({1, 2})), ShapeError);
  CHECK(allclose(zeros({0}), zeros({0})));

  CHECK(equal(a, f64({1, 2, 3})));
  CHECK_FALSE(equal(a, f64({1, 2, 4})));
  CHECK_FALSE(equal(a, f64({1, 2, 3}, {3, 1})));
  CHECK_FALSE(equal(f64({2}, {1}), f64({2, 2})));  // no broadcasting
  CHECK_FALSE(equal(f64({kNaN}), f64({kNaN})));
  CHECK(equal(i64({1, 2}), f32({1, 2})));
}

TEST_CASE("int64 arithmetic wraps instead of overflowing") {
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const std::int64_t small = std::numeric_limits<std::int64_t>::min();
  Tensor m = tensor(std::vector<std::int64_t>{big});
  Tensor lo = tensor(std::vector<std::int64_t>{small});
  CHECK(ints(add(m, 1)) == std::vector<std::int64_t>{small});
  CHECK(ints(add(m, m)) == std::vector<std::int64_t>{-2});
  CHECK(ints(mul(m, 2)) == std::vector<std::int64_t>{-2});
  CHECK(ints(neg(lo)) == std::vector<std::int64_t>{small});
  CHECK(ints(abs(lo)) == std::vector<std::int64_t>{small});
  CHECK(ints(sub(lo, m)) == std::vector<std::int64_t>{1});
}

TEST_CASE("strided inputs give the results of their contiguous copies") {
  // Big enough (above the parallel threshold) to take the threaded loop too.
  for (std::int64_t rows : {std::int64_t{6}, parallel_threshold() / 64 + 7}) {
    CAPTURE(rows);
    Tensor base = iota({rows, 128}, -3000.5);
    base = div(base, 1000.0);
    const std::vector<Tensor> views = {
        make_view(base, {128, rows}, {1, 128}, 0),            // transposed
        make_view(base, {rows / 2, 64}, {256, 2}, 1),         // every other row and column
        make_view(base, {rows, 64}, {0, 1}, 5),               // a row expanded (stride 0)
        make_view(base, {2, rows / 2, 64}, {64, 256, 1}, 0),  // permuted 3-D
    };
    for (std::size_t v = 0; v < views.size(); ++v) {
      CAPTURE(v);
      const Tensor& x = views[v];
      REQUIRE_FALSE(x.is_contiguous());
      const Tensor c = x.clone();
      REQUIRE(c.is_contiguous());
      CHECK(equal(exp(x), exp(c)));
      CHECK(equal(gelu(x), gelu(c)));
      CHECK(equal(relu(x), relu(c)));
      CHECK(equal(clamp(x, -0.5, 0.5), clamp(c, -0.5, 0.5)));
      CHECK(equal(add(x, 1.0), add(c, 1.0)));
      CHECK(equal(mul(x, x), mul(c, c)));
      CHECK(equal(sub(x, c), zeros_like(c)));
      CHECK(equal(x > 0.1, c > 0.1));
      CHECK(equal(where(x > 0.0, x, c * 2.0), where(c > 0.0, c, c * 2.0)));
      CHECK(equal(maximum(x, 0.2 - c), maximum(c, 0.2 - c)));
      CHECK(equal(pow(abs(x), 1.5), pow(abs(c), 1.5)));
      // Broadcast against a strided row.
      const Tensor row = make_view(base, {x.size(-1)}, {2}, 0);
      CHECK(equal(add(x, row), add(c, row.clone())));
      CHECK(equal(div(row, add(abs(x), 1.0)), div(row.clone(), add(abs(c), 1.0))));
    }
  }
}

TEST_CASE("same-shape add, sub, mul and div give the general loop's bits, whatever the size") {
  // Contiguous operands take vec::arith (and skip the flush guard when tiny);
  // every other element of a wider tensor takes the strided loop.
  for (DType dt : {kFloat32, kFloat64})
    for (std::int64_t n : {std::int64_t{1}, std::int64_t{5}, std::int64_t{16}, std::int64_t{17}, std::int64_t{1000},
                           parallel_threshold() + 9}) {
      CAPTURE(dtype_name(dt));
      CAPTURE(n);
      Tensor wide_a = div(sub(iota({n, 2}, 0, dt), 3.0 * static_cast<double>(n)), 7.0);
      Tensor wide_b = add(mul(wide_a, wide_a), 0.5);
      const Tensor a = wide_a.select(1, 0), b = wide_b.select(1, 0);
      REQUIRE(a.is_contiguous() == (n == 1));  // one element is contiguous at any stride
      const Tensor ac = a.contiguous(), bc = b.contiguous();
      CHECK(equal(add(ac, bc), add(a, b)));
      CHECK(equal(sub(ac, bc), sub(a, b)));
      CHECK(equal(add(ac, bc, -1), sub(a, b)));
      CHECK(equal(mul(ac, bc), mul(a, b)));
      CHECK(equal(div(ac, bc), div(a, b)));
      CHECK(equal(div(bc, ac), div(b, a)));
      CHECK(equal(add(ac, bc, 2.5), add(a, b, 2.5)));
    }
}

TEST_CASE("int64 and float32 operands of different layouts mix correctly") {
  Tensor i = tensor(std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor it = make_view(i, {3, 2}, {1, 3}, 0);  // i^T: [[1 4] [2 5] [3 6]]
  Tensor f = f32({0.5, 0.25}, {1, 2});
  Tensor r = add(it, f);
  CHECK(r.dtype() == kFloat32);
  check_close(r, {1.5, 4.25, 2.5, 5.25, 3.5, 6.25});
}

TEST_CASE("writing to an output never touches the inputs") {
  Tensor a = f64({1, 2}), b = f64({3, 4});
  Tensor s = add(a, b);
  check_close(a, {1, 2});
  check_close(b, {3, 4});
  CHECK_FALSE(s.storage() == a.storage());
  // A 1-element fast path on either side.
  check_close(add(f64({1}), b), {4, 5});
  check_close(sub(b, f64({1})), {2, 3});
  check_close(sub(f64({10}), b), {7, 6});
}

}  // namespace test_elementwise
