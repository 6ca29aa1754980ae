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
  // The value is compared before its fraction is dropped, as c10's
  // checked_convert: torch.full((2,), -0.5, dtype=torch.uint8) and 255.5 refuse.
  CHECK_THROWS_WITH_AS(tg::full({2}, -0.5, kU8), "full: value -0.5 cannot be converted to uint8 without overflow",
                       tg::ValueError);
  CHECK_THROWS_AS(tg::full({2}, 255.5, kU8), tg::ValueError);
  CHECK_THROWS_AS(tg::zeros({2}, {.dtype = tg::kInt8}).fill_(127.5), tg::ValueError);
  CHECK(ints(tg::full({1}, 255.0, kU8)) == std::vector<std::int64_t>{255});
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

// tg::tensor(values, shape, dtype) from a std::vector of another type
// converted the whole vector without a check: uint8 took int64 300 as 44 and
// double 300.7 as 255. Each value is now checked as it is stored, as
// torch.tensor([300], dtype=torch.uint8) refuses.
TEST_CASE("tg::tensor from a vector refuses values the dtype cannot hold, as a braced list does") {
  constexpr tg::TensorOptions kU8{.dtype = tg::kUInt8};
  CHECK_THROWS_WITH_AS(tg::tensor(std::vector<std::int64_t>{1, 300}, {}, kU8),
                       "tensor: value 300 cannot be converted to uint8 without overflow", tg::ValueError);
  CHECK_THROWS_AS(tg::tensor(std::vector<double>{300.7, -1.0}, {}, kU8), tg::ValueError);
  CHECK_THROWS_AS(tg::tensor(std::vector<double>{255.9}, {}, kU8), tg::ValueError);
  CHECK_THROWS_AS(tg::tensor(std::vector<std::int64_t>{-129}, {}, {.dtype = tg::kInt8}), tg::ValueError);
  CHECK_THROWS_AS(tg::tensor(std::vector<double>{1e10}, {}, {.dtype = tg::kInt32}), tg::ValueError);
  CHECK_THROWS_AS(tg::tensor(std::vector<double>{kNaN}, {}, kI64), tg::ValueError);
  // What fits is stored: -1 wraps into uint8 as c10's integer scalars, a
  // fraction truncates toward zero, the same dtype is copied as it is.
  CHECK(ints(tg::tensor(std::vector<std::int64_t>{-1, 255, 0}, {}, kU8)) == std::vector<std::int64_t>{255, 255, 0});
  CHECK(ints(tg::tensor(std::vector<double>{2.5, -2.5}, {}, kI64)) == std::vector<std::int64_t>{2, -2});
  CHECK(ints(tg::tensor(std::vector<std::int64_t>{INT64_MIN, INT64_MAX})) ==
        std::vector<std::int64_t>{INT64_MIN, INT64_MAX});
  CHECK(tg::tensor(std::vector<float>{1.5f}, {}, {.dtype = tg::kFloat64}).item<double>() == 1.5);
}

// pow(int tensor, exponent) cast the exponent with static_cast: undefined
// behaviour out of range, and wrapped it gave int8 3^128 == 1.
TEST_CASE("pow of an integer tensor refuses an exponent its dtype cannot hold, as PyTorch") {
  const Tensor i8 = tg::tensor({3, 0, 1}, {}, {.dtype = tg::kInt8});
  CHECK_THROWS_WITH_AS(tg::pow(i8, 128.0), "pow: value 128 cannot be converted to int8 without overflow",
                       tg::ValueError);
  CHECK_THROWS_AS(tg::pow(tg::tensor({2, 0, 1}, {}, {.dtype = tg::kUInt8}), 256.0), tg::ValueError);
  CHECK_THROWS_AS(tg::pow(tg::tensor({3, 0, 1}, {}, {.dtype = tg::kInt32}), 1e10), tg::ValueError);
  Tensor inplace = i8.clone();
  CHECK_THROWS_AS(inplace.pow_(200.0), tg::ValueError);
  CHECK(ints(inplace) == std::vector<std::int64_t>{3, 0, 1});
  CHECK(ints(tg::pow(i8, 127.0)) == ints(tg::pow(i8.to(tg::kInt64), 127.0).to(tg::kInt8)));  // wraps as PyTorch
  CHECK(ints(tg::pow(tg::tensor({3, 2}, {}, kI64), 3.0)) == std::vector<std::int64_t>{27, 8});
}

// uniform_ checked the range in double only: float16 -1e6..1e6 filled with
// infinities, float32 -3e38..3e38 (a width of 6e38) with inf, and
// nn::init::uniform_ computed that width in the dtype. PyTorch refuses both.
TEST_CASE("uniform_ and init::uniform_ refuse a range the dtype cannot hold") {
  static_assert(tg::floating_max(tg::kFloat16) == 65504.0);
  static_assert(tg::floating_max(tg::kFloat32) == static_cast<double>(std::numeric_limits<float>::max()));
  static_assert(tg::floating_max(tg::kFloat64) == std::numeric_limits<double>::max());
  CHECK(tg::floating_max(tg::kBFloat16) ==
        tg::full({1}, 3.3895313892515355e38, {.dtype = tg::kBFloat16}).item<double>());
  struct Case {
    tg::DType dtype;
    double low, high;
  };
  for (const Case& c : {Case{tg::kFloat16, -1e6, 1e6}, Case{tg::kFloat16, 0, 70000}, Case{tg::kFloat32, -3e38, 3e38},
                        Case{tg::kBFloat16, 0, 1e39}}) {
    CAPTURE(tg::dtype_name(c.dtype));
    CAPTURE(c.low);
    Tensor t = tg::zeros({4}, {.dtype = c.dtype});
    CHECK_THROWS_WITH_AS(t.uniform_(c.low, c.high), doctest::Contains("is out of bounds for"), tg::ValueError);
    CHECK_THROWS_WITH_AS(tg::nn::init::uniform_(t, c.low, c.high), doctest::Contains("is out of bounds for"),
                         tg::ValueError);
    CHECK((t == 0.0).all().item<bool>());  // left as it was
  }
  // float64's own limit: a width past DBL_MAX is already infinite in double.
  CHECK_THROWS_AS(tg::zeros({2}, {.dtype = tg::kFloat64}).uniform_(-1e308, 1e308), tg::ValueError);
  // Ranges inside the dtype fill with finite values inside the range.
  for (tg::DType d : {tg::kFloat16, tg::kBFloat16, tg::kFloat32, tg::kFloat64}) {
    const double max = tg::floating_max(d);
    Tensor t = tg::zeros({1000}, {.dtype = d});
    tg::nn::init::uniform_(t, -max / 2, max / 2);
    const Tensor wide = t.to(tg::kFloat64);
    CHECK(tg::all(tg::isfinite(wide)).item<bool>());
    CHECK(tg::max(tg::abs(wide)).item<double>() <= max / 2 * (1 + 1e-2));
  }
}

// clamp with tensor bounds refused bool ("not supported for bool tensors"),
// though clamp with scalar bounds takes it and PyTorch's clamp(min=tensor)
// gives torch.clamp(tensor([True, False]), min=tensor([True])) == [True, True].
TEST_CASE("clamp with tensor bounds takes bool tensors, false below true") {
  const Tensor b = tg::tensor({true, false});
  const Tensor t = tg::tensor({true}), f = tg::tensor({false});
  CHECK(tg::clamp(b, t, Tensor()).to_vector<bool>() == std::vector<bool>{true, true});
  CHECK(tg::clamp(b, Tensor(), f).to_vector<bool>() == std::vector<bool>{false, false});
  CHECK(tg::clamp(b, f, t).to_vector<bool>() == std::vector<bool>{true, false});
  CHECK(tg::clamp(b, f, t).dtype() == tg::kBool);
}

}  // namespace test_scalar_checks
