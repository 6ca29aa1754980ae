// Matrix products on every numeric dtype, as PyTorch: integer products wrap
// at the dtype's width (uint8 200 * 2 is 144), float16 and bfloat16 are
// computed in float32 and rounded once on store; bool is refused. Each
// product is compared with the same product computed in int64 (reduced
// modulo the width) or in float32 (then rounded), on contiguous and
// transposed operands.
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>

namespace test_product_dtypes {

namespace {

using tg::Tensor;

// Small whole numbers, some large enough that uint8, int8 and int16 products wrap.
Tensor values(tg::Dims shape, std::int64_t seed, tg::DType dtype) {
  std::vector<double> v(static_cast<std::size_t>(shape.product()));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto x = static_cast<std::int64_t>((i * 7 + static_cast<std::size_t>(seed) * 13) % 23);
    v[i] = dtype == tg::kUInt8 ? static_cast<double>(x * 11) : static_cast<double>((x - 11) * 11);
  }
  return tg::tensor(v, shape, dtype);
}

// What the product must be: computed in a wide type, then stored as `dtype`
// (modular for integers, one rounding for 16-bit floats).
Tensor expected(const std::function<Tensor(const Tensor&, const Tensor&)>& f, const Tensor& a, const Tensor& b,
                tg::DType dtype) {
  const tg::DType wide = tg::is_integer(dtype) ? tg::kInt64 : tg::kFloat32;
  return f(a.to(wide), b.to(wide)).to(dtype);
}

}  // namespace

TEST_CASE("matrix products on every numeric dtype wrap or round as PyTorch's") {
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&, const Tensor&)>>> products = {
      {"mm", [](const Tensor& a, const Tensor& b) { return tg::mm(a, b); }},
      {"matmul", [](const Tensor& a, const Tensor& b) { return tg::matmul(a, b); }},
      {"mm of a transpose", [](const Tensor& a, const Tensor& b) { return tg::mm(b.t(), a.t()); }},
      {"bmm", [](const Tensor& a, const Tensor& b) { return tg::bmm(a.unsqueeze(0), b.unsqueeze(0)); }},
      {"mv", [](const Tensor& a, const Tensor& b) { return tg::mv(a, b.select(1, 0)); }},
      {"dot", [](const Tensor& a, const Tensor& b) { return tg::dot(a.select(0, 1), b.select(1, 2)); }},
  };
  for (tg::DType dtype : tg::kAllDTypes) {
    if (dtype == tg::kBool) continue;
    const Tensor a = values({5, 4}, 1, dtype), b = values({4, 3}, 2, dtype);
    for (const auto& product : products) {
      const auto& f = product.second;  // a named pair, not a binding: Clang 14 cannot capture one
      CAPTURE(product.first);
      CAPTURE(tg::dtype_name(dtype));
      const Tensor got = f(a, b);
      CHECK(got.dtype() == dtype);
      CHECK(got.to_vector<double>() == expected(f, a, b, dtype).to_vector<double>());
    }
  }
  // The wrap itself, by hand: 200 * 2 = 400 = 144 (mod 256); -128 * -1 = -128 in int8.
  CHECK(tg::mm(tg::tensor({200.0}, {1, 1}, tg::kUInt8), tg::tensor({2.0}, {1, 1}, tg::kUInt8)).item<double>() == 144);
  CHECK(tg::mm(tg::tensor({-128.0}, {1, 1}, tg::kInt8), tg::tensor({-1.0}, {1, 1}, tg::kInt8)).item<double>() == -128);
  // int16: 300 * 300 = 90000 = 24464 (mod 65536) and no signed overflow on the way (UBSan).
  CHECK(tg::mm(tg::tensor({-300.0}, {1, 1}, tg::kInt16), tg::tensor({-300.0}, {1, 1}, tg::kInt16)).item<double>() ==
        24464);
  CHECK((tg::tensor({-300.0}, {1}, tg::kInt16) * tg::tensor({-300.0}, {1}, tg::kInt16)).item<double>() == 24464);
}

TEST_CASE("integer addmm takes whole scales within its dtype") {
  const Tensor a = values({2, 2}, 1, tg::kInt8), b = values({2, 2}, 2, tg::kInt8), c = values({2, 2}, 3, tg::kInt8);
  const Tensor got = tg::addmm(c, a, b, 2, 3);
  const Tensor want = tg::addmm(c.to(tg::kInt64), a.to(tg::kInt64), b.to(tg::kInt64), 2, 3).to(tg::kInt8);
  CHECK(got.to_vector<double>() == want.to_vector<double>());
  CHECK_THROWS_AS(tg::addmm(c, a, b, 1, 0.5), tg::ValueError);
  CHECK_THROWS_AS(tg::addmm(c, a, b, 1, 300), tg::ValueError);
  CHECK_THROWS_AS(tg::mm(tg::zeros({2, 2}, tg::kBool), tg::zeros({2, 2}, tg::kBool)), tg::DTypeError);
}

TEST_CASE("float16 and bfloat16 linear layers run and match float32 rounded once") {
  for (tg::DType dtype : {tg::kFloat16, tg::kBFloat16}) {
    CAPTURE(tg::dtype_name(dtype));
    const Tensor x = tg::randn({6, 5}).to(dtype), w = tg::randn({3, 5}).to(dtype), bias = tg::randn({3}).to(dtype);
    const Tensor got = tg::linear(x, w, bias);
    const Tensor ref =
        tg::linear(x.to(tg::kFloat32), w.to(tg::kFloat32), {}).to(dtype).to(tg::kFloat32) + bias.to(tg::kFloat32);
    CHECK(got.dtype() == dtype);
    // The bias is added after the product is rounded: within one more rounding.
    CHECK(tg::allclose(got.to(tg::kFloat32), ref.to(dtype).to(tg::kFloat32), 1e-2, 1e-2));
  }
}

}  // namespace test_product_dtypes
