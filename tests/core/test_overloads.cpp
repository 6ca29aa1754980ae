// Which overload each public call reaches (docs/overloads.md). The first half
// is a compile-time table: every row is a static_assert that a call compiles
// (and returns what it must) or must not compile. The second half checks at
// run time that the calls that compile mean what the table says: a braced
// list is dims, a number after norm is p, and so on.
#include <cmath>
#include <concepts>
#include <cstdint>
#include <optional>
#include <tuple>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/linear.h>

#include "support/close.h"

namespace test_overloads {

namespace {

using tg::DimList;
using tg::Dims;
using tg::StrictBool;
using tg::Tensor;
using TensorPair = std::tuple<Tensor, Tensor>;

// True when the call compiles with `x` a Tensor. The generic lambda makes the
// requires-expression a template's, so an ill-formed call is `false` rather
// than a hard error.
#define TG_COMPILES(...)                   \
  ([]<class T = Tensor>() {                \
    return requires(T x) { __VA_ARGS__; }; \
  }())
// True when the call compiles and its type is exactly R.
#define TG_RETURNS(R, ...)                \
  ([]<class T = Tensor>() {               \
    return requires(T x) {                \
      { __VA_ARGS__ } -> std::same_as<R>; \
    };                                    \
  }())

// ---- the parameter types ------------------------------------------------------
static_assert(tg::Real<int> && tg::Real<std::int64_t> && tg::Real<double> && tg::Real<float>);
static_assert(!tg::Real<bool>);
// Dims: an integer, a list, a Dims, a vector, a span, nullopt. Never a
// floating-point number or a bool.
static_assert(std::is_convertible_v<int, DimList> && std::is_convertible_v<std::int64_t, DimList>);
static_assert(std::is_convertible_v<std::size_t, DimList>);
static_assert(std::is_convertible_v<Dims, DimList> && std::is_convertible_v<std::vector<std::int64_t>, DimList>);
static_assert(std::is_convertible_v<tg::IntArrayRef, DimList> && std::is_convertible_v<std::nullopt_t, DimList>);
static_assert(!std::is_convertible_v<double, DimList> && !std::is_convertible_v<float, DimList>);
static_assert(!std::is_convertible_v<bool, DimList>);
// keepdim: a bool, nothing else.
static_assert(std::is_convertible_v<bool, StrictBool>);
static_assert(!std::is_convertible_v<int, StrictBool> && !std::is_convertible_v<double, StrictBool>);
static_assert(!std::is_default_constructible_v<StrictBool>);

// ---- sum, mean, logsumexp, amax, amin: dims first --------------------------------
static_assert(TG_RETURNS(Tensor, x.sum()));
static_assert(TG_RETURNS(Tensor, x.sum(1)));
static_assert(TG_RETURNS(Tensor, x.sum({0, 1})));
static_assert(TG_RETURNS(Tensor, x.sum({})));
static_assert(TG_RETURNS(Tensor, x.sum(std::nullopt)));
static_assert(TG_RETURNS(Tensor, x.sum(Dims{0, 1}, true)));
static_assert(TG_RETURNS(Tensor, x.sum(std::vector<std::int64_t>{1})));
static_assert(TG_RETURNS(Tensor, x.mean(1, true)));
static_assert(TG_RETURNS(Tensor, x.mean({0, 1}, false)));
static_assert(TG_RETURNS(Tensor, x.logsumexp(1)));
static_assert(TG_RETURNS(Tensor, x.logsumexp({0}, true)));
static_assert(TG_RETURNS(Tensor, tg::sum(x, 1)));
static_assert(TG_RETURNS(Tensor, tg::mean(x, {1}, true)));
static_assert(TG_RETURNS(Tensor, tg::amax(x, 1)));
static_assert(TG_RETURNS(Tensor, tg::amin(x, {0, 1}, true)));
static_assert(TG_RETURNS(Tensor, tg::logsumexp(x, -1)));
// A number that is not an integer is not a dim; keepdim is only a bool: `x.sum(0, 1)`
// reads as "dims 0 and 1", so it must not compile as keepdim = true.
static_assert(!TG_COMPILES(x.sum(1.0)));
static_assert(!TG_COMPILES(x.sum(true)));
static_assert(!TG_COMPILES(x.sum(0, 1)));
static_assert(!TG_COMPILES(x.sum({0}, {1})));
static_assert(!TG_COMPILES(x.sum({0}, {})));
static_assert(!TG_COMPILES(x.mean({0}, 1)));
static_assert(!TG_COMPILES(x.mean(0.5)));
static_assert(!TG_COMPILES(x.logsumexp(0, 1)));
static_assert(!TG_COMPILES(tg::sum(x, 0, 1)));
static_assert(!TG_COMPILES(tg::amax(x, 0, 1)));

// ---- var, std: dims first, then a number (correction), then keepdim -----------------
static_assert(TG_RETURNS(Tensor, x.var()));
static_assert(TG_RETURNS(Tensor, x.var(1)));
static_assert(TG_RETURNS(Tensor, x.var({1})));
static_assert(TG_RETURNS(Tensor, x.var({0, 1}, 0)));
static_assert(TG_RETURNS(Tensor, x.var(1, 0.5, true)));
static_assert(TG_RETURNS(Tensor, x.var(std::nullopt, 0)));
static_assert(TG_RETURNS(Tensor, x.std()));
static_assert(TG_RETURNS(Tensor, x.std({0})));
static_assert(TG_RETURNS(Tensor, x.std({0}, /*correction=*/0)));
static_assert(TG_RETURNS(Tensor, x.std(1, 1, true)));
static_assert(TG_RETURNS(Tensor, tg::var(x)));
static_assert(TG_RETURNS(Tensor, tg::var(x, 1)));
static_assert(TG_RETURNS(Tensor, tg::var(x, {1}, 0, true)));
static_assert(TG_RETURNS(Tensor, tg::std(x)));
static_assert(TG_RETURNS(Tensor, tg::std(x, {0, 1}, 0)));
// A braced list never reaches the correction, a bool is not a correction (in
// LibTorch `var(dims, true)` is "unbiased", which reads as keepdim here), a
// floating-point number alone is neither dims nor (any longer) a correction.
static_assert(!TG_COMPILES(x.var({1}, {0})));
static_assert(!TG_COMPILES(x.std({0}, {1})));
static_assert(!TG_COMPILES(x.var({1}, true)));
static_assert(!TG_COMPILES(x.std(1, false)));
static_assert(!TG_COMPILES(x.var(0.0)));
static_assert(!TG_COMPILES(x.std(1.0)));
static_assert(!TG_COMPILES(x.var({1}, 0, 1)));
static_assert(!TG_COMPILES(tg::var(x, {1}, {0})));
static_assert(!TG_COMPILES(tg::std(x, {1}, true)));
static_assert(!TG_COMPILES(tg::var(x, 0.0)));

// ---- norm: a number first is p (as torch.norm), a braced list is dims (p = 2) --------
static_assert(TG_RETURNS(Tensor, x.norm()));
static_assert(TG_RETURNS(Tensor, x.norm(1)));
static_assert(TG_RETURNS(Tensor, x.norm(2.5)));
static_assert(TG_RETURNS(Tensor, x.norm({1})));
static_assert(TG_RETURNS(Tensor, x.norm({0, 1})));
static_assert(TG_RETURNS(Tensor, x.norm(Dims{1})));
static_assert(TG_RETURNS(Tensor, x.norm(2, {1})));
static_assert(TG_RETURNS(Tensor, x.norm(1, 0, true)));
static_assert(TG_RETURNS(Tensor, tg::norm(x)));
static_assert(TG_RETURNS(Tensor, tg::norm(x, 1)));
static_assert(TG_RETURNS(Tensor, tg::norm(x, {1})));
static_assert(TG_RETURNS(Tensor, tg::norm(x, 1.5, {0}, true)));
static_assert(!TG_COMPILES(x.norm({2}, {1})));
static_assert(!TG_COMPILES(x.norm(true)));
static_assert(!TG_COMPILES(x.norm(1, true)));
static_assert(!TG_COMPILES(x.norm(2, {1}, 1)));
static_assert(!TG_COMPILES(tg::norm(x, {2}, {1})));
static_assert(!TG_COMPILES(tg::norm(x, false)));

// ---- one-dim reductions: an int64 dim; values and indices from max/min(dim) --------
static_assert(TG_RETURNS(Tensor, x.max()));
static_assert(TG_RETURNS(TensorPair, x.max(1)));
static_assert(TG_RETURNS(TensorPair, x.min(1, true)));
static_assert(TG_RETURNS(Tensor, x.argmax()));
static_assert(TG_RETURNS(Tensor, x.argmax(1, true)));
static_assert(TG_RETURNS(Tensor, x.argmin(0)));
static_assert(TG_RETURNS(Tensor, x.prod()));
static_assert(TG_RETURNS(Tensor, x.prod(1, true)));
static_assert(TG_RETURNS(TensorPair, tg::max(x, 0)));
static_assert(TG_RETURNS(Tensor, tg::argmax(x)));
static_assert(TG_RETURNS(Tensor, tg::argmin(x, 1, true)));
static_assert(!TG_COMPILES(x.max(0, 1)));
static_assert(!TG_COMPILES(x.argmax(0, 1)));
static_assert(!TG_COMPILES(x.prod(0, 1)));
static_assert(!TG_COMPILES(tg::min(x, 0, 1)));
static_assert(!TG_COMPILES(tg::argmax(x, 0, 1)));

// ---- other overload sets (audited; see docs/overloads.md) -----------------------------
// Creation: a braced list first is data for tensor(), a shape for the rest.
static_assert(TG_RETURNS(Tensor, tg::tensor({1, 2, 3, 4}, {2, 2})));
// The shape (tg::OptionalDims): braces, {}, std::nullopt, a Dims, sizes().
static_assert(TG_RETURNS(Tensor, tg::tensor({1.5}, {})));
static_assert(TG_RETURNS(Tensor, tg::tensor({1.5}, std::nullopt)));
static_assert(TG_RETURNS(Tensor, tg::tensor({1.5}, tg::Dims{})));
static_assert(TG_RETURNS(Tensor, tg::tensor({1.5}, x.shape())));
static_assert(TG_RETURNS(Tensor, tg::tensor(std::vector<float>{1, 2}, x.sizes())));
static_assert(TG_RETURNS(Tensor, tg::tensor({1.0, 2.0}, {2}, tg::kFloat64)));
static_assert(TG_RETURNS(Tensor, tg::full({2, 3}, 1.5)));
static_assert(TG_RETURNS(Tensor, tg::zeros({2, 3}, {.dtype = tg::kFloat64})));
// arange: `{}` after one number is the default options, not end = 0.
static_assert(TG_RETURNS(Tensor, tg::arange(5, {})));
static_assert(TG_RETURNS(Tensor, tg::arange(0, 5)));
static_assert(TG_RETURNS(Tensor, tg::arange(1, 2.5, 0.5, {.dtype = tg::kFloat64})));
// pow: a number or a tensor exponent.
static_assert(TG_RETURNS(Tensor, x.pow(2)));
static_assert(TG_RETURNS(Tensor, x.pow(x)));
static_assert(TG_RETURNS(Tensor, tg::pow(2.0, x)));
// Linear's third argument: a bool, or options. `{}` is the default options
// (with a bias), not `bias = false`; an integer is neither.
static_assert(std::is_constructible_v<tg::nn::Linear, int, int, bool>);
static_assert(std::is_constructible_v<tg::nn::Linear, int, int, tg::nn::LinearOptions>);
static_assert(!std::is_constructible_v<tg::nn::Linear, int, int, int>);
// dropout's second argument is p: a bool there (`dropout(x, training)`) must not
// compile as p = 1.
static_assert(TG_RETURNS(Tensor, tg::nn::functional::dropout(x, 0.5, true)));
static_assert(TG_RETURNS(Tensor, tg::nn::functional::dropout(x, 1)));
static_assert(!TG_COMPILES(tg::nn::functional::dropout(x, true)));
static_assert(!TG_COMPILES(tg::nn::functional::dropout(x, 0.5, 1)));

#undef TG_COMPILES
#undef TG_RETURNS

// [[1, 2, 3], [4, 6, 8]] in float64.
Tensor rows() { return tg::tensor({1, 2, 3, 4, 6, 8}, {2, 3}, {.dtype = tg::kFloat64}); }

void check_values(const Tensor& t, const Dims& shape, const std::vector<double>& expected) {
  tg_test::check_close(t, shape, expected);
}

}  // namespace

TEST_CASE("overloads: a braced list or an integer after var and std is dims") {
  const Tensor x = rows();
  // Rows [1 2 3] and [4 6 8]: squared deviations 2 and 8 over 3 elements.
  check_values(x.var({1}), {2}, {1, 4});
  check_values(x.var(1), {2}, {1, 4});
  check_values(x.var(-1), {2}, {1, 4});
  check_values(tg::var(x, {1}), {2}, {1, 4});
  check_values(tg::var(x, 1), {2}, {1, 4});
  check_values(x.var({1}, 0), {2}, {2.0 / 3, 8.0 / 3});
  check_values(x.var(1, 0, true), {2, 1}, {2.0 / 3, 8.0 / 3});
  // The same as the kernel asked directly for dim 1 with correction 1.
  check_values(x.var({1}), {2}, tg::kernel::var(x, Dims{1}, 1, false).to_vector<double>());
  // Columns (1, 4), (2, 6), (3, 8): differences 3, 4, 5.
  check_values(x.std({0}), {3}, {3 / std::sqrt(2.0), 4 / std::sqrt(2.0), 5 / std::sqrt(2.0)});
  check_values(x.std({0}, /*correction=*/0), {3}, {1.5, 2, 2.5});
  check_values(x.std(0, 0, true), {1, 3}, {1.5, 2, 2.5});
  check_values(tg::std(x, {0}, 0), {3}, {1.5, 2, 2.5});
  // Every dim: mean 4, squared deviations 9 + 4 + 1 + 0 + 4 + 16 = 34 over 6.
  check_values(x.var(), {}, {34.0 / 5});
  check_values(tg::var(x), {}, {34.0 / 5});
  check_values(x.var(std::nullopt, 0), {}, {34.0 / 6});
  check_values(x.var({}, 0), {}, {34.0 / 6});
  check_values(x.std(std::nullopt, 0), {}, {std::sqrt(34.0 / 6)});
  check_values(tg::std(x), {}, {std::sqrt(34.0 / 5)});
  check_values(x.var({0, 1}, 0, true), {1, 1}, {34.0 / 6});
}

TEST_CASE("overloads: norm takes p first, and a braced list alone is dims with p = 2") {
  const Tensor x = rows();
  check_values(x.norm({1}), {2}, {std::sqrt(14.0), std::sqrt(116.0)});
  check_values(tg::norm(x, {1}), {2}, {std::sqrt(14.0), std::sqrt(116.0)});
  check_values(x.norm({0, 1}), {}, {std::sqrt(130.0)});
  check_values(x.norm(), {}, {std::sqrt(130.0)});
  check_values(x.norm(1), {}, {24});
  check_values(tg::norm(x, 1), {}, {24});
  check_values(x.norm(2.0), {}, {std::sqrt(130.0)});
  check_values(x.norm(1, {0}), {3}, {5, 8, 11});
  check_values(x.norm(1, 0, true), {1, 3}, {5, 8, 11});
  check_values(tg::norm(x, 2, {1}, true), {2, 1}, {std::sqrt(14.0), std::sqrt(116.0)});
}

TEST_CASE("overloads: an integer, a list, a Dims or a vector is dims for sum, mean and the rest") {
  const Tensor x = rows();
  check_values(x.sum(1), {2}, {6, 18});
  check_values(x.sum({1}), {2}, {6, 18});
  check_values(x.sum({0, 1}), {}, {24});
  check_values(x.sum({}), {}, {24});
  check_values(x.sum(std::nullopt), {}, {24});
  check_values(x.sum(Dims{0}), {3}, {5, 8, 11});
  check_values(x.sum(std::vector<std::int64_t>{0}, true), {1, 3}, {5, 8, 11});
  check_values(tg::sum(x, -1, true), {2, 1}, {6, 18});
  const int d = 1;
  const std::size_t ud = 0;
  check_values(x.sum(d), {2}, {6, 18});
  check_values(x.sum(ud), {3}, {5, 8, 11});
  check_values(x.mean(1, true), {2, 1}, {2, 6});
  check_values(tg::mean(x, 0), {3}, {2.5, 4, 5.5});
  check_values(tg::amax(x, 1), {2}, {3, 8});
  check_values(tg::amin(x, {0}, true), {1, 3}, {1, 2, 3});
  check_values(x.logsumexp(1), {2}, tg::kernel::logsumexp(x, Dims{1}, false).to_vector<double>());
  const auto [values, indices] = x.max(1, true);
  check_values(values, {2, 1}, {3, 8});
  check_values(indices, {2, 1}, {2, 2});
  check_values(x.argmin(0), {3}, {0, 0, 0});
  check_values(x.prod(1), {2}, {6, 192});
}

TEST_CASE("overloads: dims reach the reduction's own checks") {
  const Tensor x = rows();
  CHECK_THROWS_WITH_AS(x.var(2), doctest::Contains("var"), tg::IndexError);
  CHECK_THROWS_WITH_AS(x.norm({5}), doctest::Contains("norm"), tg::IndexError);
  CHECK_THROWS_WITH_AS(x.sum({1, 1}), doctest::Contains("sum"), tg::ValueError);
  CHECK_THROWS_WITH_AS(x.std({0, -2}), doctest::Contains("std"), tg::ValueError);
}

TEST_CASE("overloads: arange's `{}` is the default options") {
  CHECK(tg::arange(5, {}).to_vector<double>() == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(tg::arange(1, 5).to_vector<double>() == std::vector<double>{1, 2, 3, 4});
  CHECK(tg::arange(1, 2.5, 0.5).to_vector<double>() == std::vector<double>{1, 1.5, 2});
}

TEST_CASE("overloads: Linear's `{}` is the default options, with a bias") {
  tg::nn::Linear with_options(3, 2, {});
  CHECK(with_options.parameters().size() == 2);
  tg::nn::Linear without(3, 2, false);
  CHECK(without.parameters().size() == 1);
}

TEST_CASE("overloads: eye with options last, amax/amin as methods and over every dim, roll by one number") {
  // As LibTorch's torch::eye(n, options) and Python's x.amax(), torch.roll(x, 1, 0).
  CHECK(tg::eye(3, {.dtype = tg::kFloat64}).dtype() == tg::kFloat64);
  CHECK(tg::eye(3, tg::kFloat64).dtype() == tg::kFloat64);
  CHECK(tg::eye(2, tg::kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 0, 1});
  CHECK(tg::eye(2, 3).sizes() == Dims{2, 3});
  const Tensor x = tg::tensor({1, 5, -2, 4, 0, 3}, {2, 3});
  CHECK(x.amax().item<float>() == 5);
  CHECK(tg::amin(x).item<float>() == -2);
  CHECK(x.amax(1).to_vector<float>() == std::vector<float>{5, 4});
  CHECK(x.amin({0}, true).sizes() == Dims{1, 3});
  CHECK(tg::roll(x, 1).to_vector<float>() == std::vector<float>{3, 1, 5, -2, 4, 0});
  CHECK(tg::roll(x, 1, 0).to_vector<float>() == std::vector<float>{4, 0, 3, 1, 5, -2});
  CHECK(tg::roll(x, {1}, {1}).to_vector<float>() == std::vector<float>{-2, 1, 5, 3, 4, 0});
}

}  // namespace test_overloads
