// Scalars that are stored in a tensor (full, fill_, masked_fill, ...) must be
// representable in its dtype, as PyTorch checks them: NaN, infinities and
// out-of-range values are a ValueError for int64 (not a silent 0 or
// INT64_MAX), finite values beyond float32 are a ValueError for float32, and
// bool takes anything.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/init.h>

namespace test_scalar_checks {

using tg::Tensor;

namespace {
constexpr tg::TensorOptions kI64{.dtype = tg::kInt64};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
std::vector<std::int64_t> ints(const Tensor& t) { return t.to_vector<std::int64_t>(); }
}  // namespace

TEST_CASE("full and its kin refuse a value the integer dtype cannot hold") {
  CHECK_THROWS_WITH_AS(tg::full({2}, kNaN, kI64), "full: value nan cannot be converted to int64 without overflow",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::full({2}, -kInf, kI64), "full: value -inf cannot be converted to int64 without overflow",
                       tg::ValueError);
  CHECK_THROWS_AS(tg::full({2}, kInf, kI64), tg::ValueError);
  CHECK_THROWS_AS(tg::full({2}, 1e19, kI64), tg::ValueError);
  CHECK_THROWS_AS(tg::full({2}, 0x1p63, kI64), tg::ValueError);  // INT64_MAX + 1
  CHECK_THROWS_AS(tg::full({0}, kNaN, kI64), tg::ValueError);    // refused even with nothing to fill, as PyTorch
  CHECK_THROWS_WITH_AS(tg::scalar_tensor(kNaN, kI64), doctest::Contains("scalar_tensor: value nan"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::full_like(tg::zeros({3}, kI64), 1e30), doctest::Contains("full_like: value 1e+30"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::full_like(tg::zeros({3}), kNaN, tg::kInt64), doctest::Contains("full_like"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::tensor({1, kNaN}, {}, kI64), doctest::Contains("tensor: value nan"), tg::ValueError);
  // What fits is stored as before: fractions truncate toward zero.
  CHECK(ints(tg::full({2}, -0x1p63, kI64)) == std::vector<std::int64_t>{INT64_MIN, INT64_MIN});
  CHECK(ints(tg::full({1}, 2.7, kI64)) == std::vector<std::int64_t>{2});
  CHECK(ints(tg::full({1}, -2.7, kI64)) == std::vector<std::int64_t>{-2});
  CHECK(ints(tg::tensor({1e18, -3}, {}, kI64)) == std::vector<std::int64_t>{1000000000000000000, -3});
}

TEST_CASE("float32 refuses a finite value beyond its range and keeps NaN and infinities; bool takes anything") {
  CHECK_THROWS_WITH_AS(tg::full({2}, 1e300), "full: value 1e+300 cannot be converted to float32 without overflow",
                       tg::ValueError);
  CHECK_THROWS_AS(tg::full({2}, -3.5e38), tg::ValueError);
  CHECK(std::isnan(tg::full({1}, kNaN).item<float>()));
  CHECK(tg::full({1}, -kInf).item<float>() == -std::numeric_limits<float>::infinity());
  CHECK(tg::full({1}, 3.4e38).item<float>() == 3.4e38f);
  CHECK(tg::full({1}, 1e300, {.dtype = tg::kFloat64}).item<double>() == 1e300);
  // As PyTorch: NaN is true, 0 is false.
  CHECK(tg::full({2}, kNaN, {.dtype = tg::kBool}).to_vector<bool>() == std::vector<bool>{true, true});
  CHECK(tg::full({1}, 1e300, {.dtype = tg::kBool}).item<bool>());
  CHECK(!tg::scalar_tensor(0, {.dtype = tg::kBool}).item<bool>());
}

// -1 stored into uint8 was refused; c10 lets an integer scalar wrap into an
// unsigned dtype down to -max (torch.zeros(3, dtype=torch.uint8).fill_(-1)
// is [255, 255, 255]). A fraction, -256, or a clamp bound still refuse.
TEST_CASE("an unsigned dtype stores a whole negative scalar down to -max, wrapped, as c10") {
  constexpr tg::TensorOptions kU8{.dtype = tg::kUInt8};
  CHECK(ints(tg::zeros({3}, kU8).fill_(-1)) == std::vector<std::int64_t>{255, 255, 255});
  CHECK(ints(tg::full({2}, -255, kU8)) == std::vector<std::int64_t>{1, 1});
  CHECK(ints(tg::masked_fill(tg::zeros({2}, kU8), tg::tensor({true, false}), -2)) == std::vector<std::int64_t>{254, 0});
  CHECK_THROWS_WITH_AS(tg::full({2}, -256, kU8), "full: value -256 cannot be converted to uint8 without overflow",
                       tg::ValueError);
  CHECK_THROWS_AS(tg::full({2}, -1.5, kU8), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::clamp(tg::zeros({2}, kU8), -1.0, std::nullopt), doctest::Contains("clamp: value -1"),
                       tg::ValueError);
  // Signed dtypes as before.
  CHECK_THROWS_AS(tg::full({2}, -129, {.dtype = tg::kInt8}), tg::ValueError);
}

TEST_CASE("fill_, masked_fill and constant_ refuse such values and leave the tensor as it was") {
  Tensor i = tg::tensor({1, 2, 3}, {}, kI64);
  CHECK_THROWS_WITH_AS(i.fill_(kNaN), "fill_: value nan cannot be converted to int64 without overflow", tg::ValueError);
  CHECK_THROWS_AS(i.fill_(-1e19), tg::ValueError);
  CHECK(ints(i) == std::vector<std::int64_t>{1, 2, 3});
  Tensor f = tg::zeros({2});
  CHECK_THROWS_AS(f.fill_(1e39), tg::ValueError);
  CHECK(f.to_vector<float>() == std::vector<float>{0, 0});
  CHECK_THROWS_WITH_AS(tg::nn::init::constant_(f, -1e300), doctest::Contains("value -1e+300"), tg::ValueError);

  const Tensor none = tg::zeros({3}, {.dtype = tg::kBool});
  CHECK_THROWS_WITH_AS(tg::masked_fill(i, none, kInf),
                       "masked_fill: value inf cannot be converted to int64 without overflow", tg::ValueError);
  CHECK_THROWS_AS(i.masked_fill(none, kNaN), tg::ValueError);
  CHECK_THROWS_AS(i.masked_fill_(none, 1e30), tg::ValueError);
  CHECK_THROWS_AS(f.masked_fill_(tg::ones({2}, {.dtype = tg::kBool}), 1e300), tg::ValueError);
  CHECK(ints(i) == std::vector<std::int64_t>{1, 2, 3});
  CHECK(ints(i.masked_fill(tg::logical_not(none), -7.9)) == std::vector<std::int64_t>{-7, -7, -7});
}

TEST_CASE("arange and linspace refuse integer values that int64 cannot hold") {
  CHECK_THROWS_WITH_AS(tg::arange(0, 1e30, 1e28, kI64), doctest::Contains("arange: value"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::linspace(0, kNaN, 3, kI64), doctest::Contains("linspace: value nan"), tg::ValueError);
  CHECK_THROWS_AS(tg::linspace(-1e30, 0, 3, kI64), tg::ValueError);
  CHECK(ints(tg::arange(0, 5, 2, kI64)) == std::vector<std::int64_t>{0, 2, 4});
  CHECK(ints(tg::linspace(0, 4, 3, kI64)) == std::vector<std::int64_t>{0, 2, 4});
  CHECK(std::isnan(tg::linspace(0, kNaN, 3).to_vector<float>()[2]));
}

TEST_CASE("arange of integers counts and steps in int64, exact past 2^53 (PyTorch)") {
  using I = std::int64_t;
  constexpr I kMax = std::numeric_limits<I>::max(), kMin = std::numeric_limits<I>::min();
  const I c = (I{1} << 53) + 1;  // the double path read it as c - 1
  CHECK(ints(tg::arange(c, c + 3)) == std::vector<I>{c, c + 1, c + 2});
  const I b = I{1} << 60;
  CHECK(ints(tg::arange(b, b + 5, 2)) == std::vector<I>{b, b + 2, b + 4});
  CHECK(ints(tg::arange(kMax - 3, kMax)) == std::vector<I>{kMax - 3, kMax - 2, kMax - 1});
  CHECK(ints(tg::arange(kMin + 2, kMin, -1)) == std::vector<I>{kMin + 2, kMin + 1});
  // i * step alone passes int64 here (3 * 2^62), the value does not.
  CHECK(ints(tg::arange(kMin, kMax, I{1} << 62)) == std::vector<I>{kMin, kMin + (I{1} << 62), 0, I{1} << 62});
  CHECK(ints(tg::arange(kMax, kMin, kMin)) == std::vector<I>{kMax, -1});
  CHECK_THROWS_WITH_AS(tg::arange(kMin, kMax), doctest::Contains("more elements than a tensor can hold"),
                       tg::ValueError);  // 2^64 - 1 elements
  CHECK(ints(tg::arange(5, 5)).empty());
  CHECK(ints(tg::arange(0, 7, 3)) == std::vector<I>{0, 3, 6});
  CHECK(ints(tg::arange(7, 0, -3)) == std::vector<I>{7, 4, 1});
  CHECK_THROWS_WITH_AS(tg::arange(5, 0), "arange: step 1 does not lead from 5 to 0", tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::arange(0, 5, 0), doctest::Contains("arange: invalid range"), tg::ValueError);
  CHECK_THROWS_AS(tg::arange(std::uint64_t{1} << 63), tg::ValueError);  // not an int64
  // Other dtypes take each value as the double path did: uint8 wraps -1, as PyTorch.
  CHECK(tg::arange(-1, 2, tg::kUInt8).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{255, 0, 1});
  CHECK(tg::arange(0, 5, 2, tg::kFloat64).to_vector<double>() == std::vector<double>{0, 2, 4});
  CHECK_THROWS_AS(tg::arange(0, 300, 100, tg::kInt8), tg::ValueError);
  CHECK(tg::arange(c, c + 1, 1, tg::kFloat64).to_vector<double>() == std::vector<double>{static_cast<double>(c)});
}

}  // namespace test_scalar_checks
