// The narrow dtypes (uint8, int8, int16, int32) and the 16-bit storage types
// (float16, bfloat16): conversion bit patterns, arithmetic against PyTorch's
// (tests/reference/dtypes_new.json, written by make_dtypes_reference.py),
// wrapping overflow, the wrapped-scalar rule, .to(), printing, safetensors and
// the creation defaults (tensor({1, 2}) and arange(5) are int64).
#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "support/reference.h"

namespace test_dtypes_new {

using tg::Tensor;

namespace {

const std::map<std::string, tg::DType>& new_dtypes() {
  static const std::map<std::string, tg::DType> kNames = {{"uint8", tg::kUInt8},     {"int8", tg::kInt8},
                                                          {"int16", tg::kInt16},     {"int32", tg::kInt32},
                                                          {"float16", tg::kFloat16}, {"bfloat16", tg::kBFloat16}};
  return kNames;
}

// Elements as PyTorch's reference lists them: integers as values, 16-bit floats as their bits.
std::vector<std::int64_t> bits_of(const Tensor& t) {
  std::vector<std::int64_t> out;
  const Tensor c = t.contiguous();
  tg::dispatch(c.dtype(), [&]<class T>() {
    const T* p = static_cast<const T*>(c.raw_data());
    for (std::int64_t i = 0; i < c.numel(); ++i) {
      if constexpr (tg::is_reduced_float_v<T>) out.push_back(p[i].bits);
      else out.push_back(static_cast<std::int64_t>(p[i]));
    }
  });
  return out;
}

std::uint16_t half_bits(float f) { return tg::Half(f).bits; }
std::uint16_t bf16_bits(float f) { return tg::BFloat16(f).bits; }

}  // namespace

TEST_CASE("dtypes new: float16 conversion bit patterns (ties to even, subnormals, inf, NaN)") {
  CHECK(half_bits(1.0f) == 0x3c00);
  CHECK(half_bits(-2.0f) == 0xc000);
  CHECK(half_bits(0.0f) == 0x0000);
  CHECK(half_bits(-0.0f) == 0x8000);
  CHECK(half_bits(65504.0f) == 0x7bff);                    // the largest half
  CHECK(half_bits(65519.0f) == 0x7bff);                    // below the midpoint to 2^16
  CHECK(half_bits(65520.0f) == 0x7c00);                    // the midpoint rounds (to even) to inf
  CHECK(half_bits(1.0f + 0x1p-11f) == 0x3c00);             // tie between 1 and 1+2^-10: even is 1
  CHECK(half_bits(1.0f + 3 * 0x1p-11f) == 0x3c02);         // tie between 1+2^-10 and 1+2^-9: even is the upper
  CHECK(half_bits(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01);  // just above the tie rounds up
  CHECK(half_bits(0x1p-14f) == 0x0400);                    // smallest normal
  CHECK(half_bits(0x1p-24f) == 0x0001);                    // smallest subnormal
  CHECK(half_bits(0x1p-25f) == 0x0000);                    // half of it: tie to even 0
  CHECK(half_bits(1.5f * 0x1p-24f) == 0x0002);             // 1.5 ulp: tie to even 2
  CHECK(half_bits(0x1.8p-25f) == 0x0001);                  // above the tie rounds up
  CHECK(half_bits(0x1.ffcp-15f) == 0x0400);                // the largest subnormal's neighbour rounds into the normals
  CHECK(half_bits(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK(half_bits(-std::numeric_limits<float>::infinity()) == 0xfc00);
  CHECK(half_bits(std::numeric_limits<float>::quiet_NaN()) == 0x7e00);
  CHECK(half_bits(-std::numeric_limits<float>::quiet_NaN()) == 0xfe00);
  CHECK(half_bits(1e-30f) == 0x0000);
  // Back to float: exact, subnormals included.
  CHECK(static_cast<float>(tg::Half::from_bits(0x0001)) == 0x1p-24f);
  CHECK(static_cast<float>(tg::Half::from_bits(0x03ff)) == 0x3ffp-24f);
  CHECK(static_cast<float>(tg::Half::from_bits(0x7bff)) == 65504.0f);
  CHECK(static_cast<float>(tg::Half::from_bits(0xfc00)) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(static_cast<float>(tg::Half::from_bits(0x7e00))));
  // Every half round-trips through float.
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto h = tg::Half::from_bits(static_cast<std::uint16_t>(b));
    const float f = h;
    if (std::isnan(f)) continue;
    REQUIRE(tg::Half(f).bits == b);
  }
}

TEST_CASE("dtypes new: bfloat16 conversion bit patterns") {
  CHECK(bf16_bits(1.0f) == 0x3f80);
  CHECK(bf16_bits(257.0f) == 0x4380);     // tie between 256 and 258: even is 256
  CHECK(bf16_bits(259.0f) == 0x4382);     // tie between 258 and 260: even is 260
  CHECK(bf16_bits(0x1p-133f) == 0x0001);  // a float subnormal stays a subnormal
  CHECK(bf16_bits(3.4e38f) == 0x7f80);    // past the largest bfloat16: rounds to inf
  CHECK(bf16_bits(-std::numeric_limits<float>::infinity()) == 0xff80);
  CHECK(bf16_bits(std::numeric_limits<float>::quiet_NaN()) == 0x7fc0);
  CHECK(static_cast<float>(tg::BFloat16::from_bits(0x4049)) == 3.140625f);
}

TEST_CASE("dtypes new: arithmetic, wrapping and wrapped scalars match PyTorch") {
  const auto& ref = tg_test::reference_file("dtypes_new.json");
  for (const auto& row : ref["rows"]) {
    const std::string name = row["dtype"], op = row["op"];
    CAPTURE(name);
    CAPTURE(op);
    const tg::DType dt = new_dtypes().at(name);
    const Tensor a = tg::tensor(ref["a"][name].get<std::vector<double>>(), {}, dt);
    const Tensor b = tg::tensor(ref["b"][name].get<std::vector<double>>(), {}, dt);
    Tensor got;
    if (op == "a") got = a;
    else if (op == "b") got = b;
    else if (op == "add") got = a + b;
    else if (op == "sub") got = a - b;
    else if (op == "mul") got = a * b;
    else if (op == "neg") got = -a;
    else if (op == "add_scalar_300") got = a + 300;
    else if (op == "add_scalar_2") got = a + 2;
    else if (op == "mul_scalar_300") got = a * 300;
    else if (op == "mul_scalar_2") got = a * 2;
    else if (op == "sum") {
      if (row["result"].is_null()) continue;
      CHECK(a.sum().dtype() == tg::kInt64);
      CHECK(a.sum().item<std::int64_t>() == row["result"].get<std::int64_t>());
      continue;
    } else if (op == "div_dtype") {
      CHECK(tg::dtype_name((a / b).dtype()) == row["result"].get<std::string>());
      continue;
    } else {
      FAIL("unknown op " << op);
    }
    CHECK(got.dtype() == dt);
    CHECK(bits_of(got) == row["result"].get<std::vector<std::int64_t>>());
  }
}

TEST_CASE("dtypes new: promote_types follows PyTorch's table") {
  CHECK(tg::promote_types(tg::kUInt8, tg::kInt8) == tg::kInt16);
  CHECK(tg::promote_types(tg::kUInt8, tg::kInt16) == tg::kInt16);
  CHECK(tg::promote_types(tg::kInt8, tg::kInt32) == tg::kInt32);
  CHECK(tg::promote_types(tg::kFloat16, tg::kBFloat16) == tg::kFloat32);
  CHECK(tg::promote_types(tg::kInt64, tg::kFloat16) == tg::kFloat16);
  CHECK(tg::promote_types(tg::kBool, tg::kUInt8) == tg::kUInt8);
  CHECK(tg::promote_types(tg::kBFloat16, tg::kFloat64) == tg::kFloat64);
}

TEST_CASE("dtypes new: to() round trips and saturating float -> int conversion") {
  const Tensor x = tg::tensor({-1.5, 0.25, 300.0, 70000.0});
  CHECK(bits_of(x.to(tg::kInt16)) == std::vector<std::int64_t>{-1, 0, 300, 32767});
  CHECK(bits_of(x.half()) == std::vector<std::int64_t>{0xbe00, 0x3400, 0x5cb0, 0x7c00});
  CHECK(x.bfloat16().to(tg::kFloat32).to_vector<float>() == std::vector<float>{-1.5f, 0.25f, 300.0f, 70144.0f});
  CHECK(tg::tensor({3, 250}).byte().dtype() == tg::kUInt8);
  CHECK(x.to(tg::kInt8).dtype() == tg::kInt8);
}

TEST_CASE("dtypes new: floating-only ops accept float16/bfloat16 and refuse integers by name") {
  const Tensor h = tg::tensor({0.0, 1.0}, {}, tg::kFloat16);
  const Tensor e = tg::exp(h);
  CHECK(e.dtype() == tg::kFloat16);
  CHECK(bits_of(e) == std::vector<std::int64_t>{0x3c00, half_bits(2.718281828f)});
  CHECK_THROWS_WITH_AS(tg::dispatch_floating(tg::kInt16, "erfinv", []<class T>() {}),
                       doctest::Contains("erfinv: expected a floating-point tensor"), tg::DTypeError);
}

TEST_CASE("dtypes new: uint8 images round trip through safetensors") {
  std::vector<std::uint8_t> pixels(2 * 3 * 4);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 11);
  const Tensor img = tg::tensor(pixels, {2, 3, 4});
  CHECK(img.dtype() == tg::kUInt8);
  const Tensor h = tg::tensor({1.5, -2.0}, {}, tg::kFloat16);
  const Tensor b = tg::tensor({1.5, -2.0}, {}, tg::kBFloat16);
  const Tensor i8 = tg::tensor(std::vector<std::int8_t>{-128, 127});
  const Tensor i16 = tg::tensor(std::vector<std::int16_t>{-300});
  const Tensor i32 = tg::tensor(std::vector<std::int32_t>{1 << 30});
  const tg::TensorMap back =
      tg::load_from_bytes(tg::save_to_bytes({{"img", img}, {"h", h}, {"b", b}, {"i8", i8}, {"i16", i16}, {"i32", i32}}))
          .tensors;
  for (const auto& [name, original] :
       std::map<std::string, Tensor>{{"img", img}, {"h", h}, {"b", b}, {"i8", i8}, {"i16", i16}, {"i32", i32}}) {
    const std::string n = name;
    CAPTURE(n);
    CHECK(back.at(n).dtype() == original.dtype());
    CHECK(back.at(n).shape() == original.shape());
    CHECK(bits_of(back.at(n)) == bits_of(original));
  }
}

TEST_CASE("creation: integer lists and arange give int64, floating ones float32, as PyTorch") {
  CHECK(tg::tensor({1, 2, 3}).dtype() == tg::kInt64);
  CHECK(tg::tensor({1.0, 2.0}).dtype() == tg::kFloat32);
  CHECK(tg::tensor({1.5f, 2.0f}).dtype() == tg::kFloat32);
  CHECK(tg::tensor({true, false}).dtype() == tg::kBool);
  CHECK(tg::tensor({1, 2}, {}, {.dtype = tg::kFloat64}).dtype() == tg::kFloat64);
  CHECK(tg::tensor({9007199254740993LL}).item<std::int64_t>() == 9007199254740993LL);  // 2^53 + 1, exact
  CHECK(tg::arange(5).dtype() == tg::kInt64);
  CHECK(tg::arange(5).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  CHECK(tg::arange(5.0).dtype() == tg::kFloat32);
  CHECK(tg::arange(0, 1, 0.25).dtype() == tg::kFloat32);
  CHECK(tg::arange(1, 5, tg::kFloat64).dtype() == tg::kFloat64);
  CHECK(tg::arange(1, 5, tg::kFloat64).to_vector<double>() == std::vector<double>{1, 2, 3, 4});
  CHECK(tg::arange(1, 7, 2).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 3, 5});
}

TEST_CASE("creation: std::vector of every arithmetic type, and a DType or options everywhere") {
  CHECK(tg::tensor(std::vector<int>{1, 2}).dtype() == tg::kInt32);
  CHECK(tg::tensor(std::vector<short>{1, 2}).dtype() == tg::kInt16);
  CHECK(tg::tensor(std::vector<unsigned char>{1, 2}).dtype() == tg::kUInt8);
  CHECK(tg::tensor(std::vector<signed char>{1, 2}).dtype() == tg::kInt8);
  CHECK(tg::tensor(std::vector<unsigned>{1, 4000000000u}).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{1, 4000000000});
  CHECK(tg::tensor(std::vector<long long>{-5}).dtype() == tg::kInt64);
  CHECK(tg::tensor(std::vector<long double>{0.5L}).dtype() == tg::kFloat64);
  CHECK(tg::tensor(std::vector<std::uint16_t>{65535}).to_vector<std::int64_t>() == std::vector<std::int64_t>{65535});
  CHECK_THROWS_AS(tg::tensor(std::vector<std::uint64_t>{std::numeric_limits<std::uint64_t>::max()}), tg::ValueError);
  CHECK(tg::tensor(std::vector<int>{1, 2}, {}, tg::kFloat64).dtype() == tg::kFloat64);

  CHECK(tg::randn({3}, tg::kFloat64).dtype() == tg::kFloat64);
  const Tensor r = tg::randn({3}, {.dtype = tg::kFloat64, .requires_grad = true});
  CHECK(r.dtype() == tg::kFloat64);
  CHECK(r.requires_grad());
  CHECK(tg::zeros({2}, tg::kInt8).dtype() == tg::kInt8);
  CHECK(tg::ones({2}, tg::kBFloat16).dtype() == tg::kBFloat16);
  CHECK(tg::full({2}, 7, tg::kUInt8).to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 7});
  CHECK(tg::empty({2}, tg::kInt16).dtype() == tg::kInt16);
  CHECK(tg::eye(2, {}, tg::kInt32).dtype() == tg::kInt32);
  CHECK(tg::linspace(0, 1, 3, tg::kFloat16).dtype() == tg::kFloat16);
  CHECK(tg::rand({2}, tg::kFloat64).dtype() == tg::kFloat64);
  CHECK(tg::randint(0, 5, {2}, tg::kInt32).dtype() == tg::kInt32);
  CHECK(tg::scalar_tensor(3, tg::kInt64).dtype() == tg::kInt64);
  // Values a narrow dtype cannot hold are refused, as PyTorch's full.
  CHECK_THROWS_AS(tg::full({1}, 256, tg::kUInt8), tg::ValueError);
  CHECK_THROWS_AS(tg::full({1}, -256, tg::kUInt8), tg::ValueError);  // -1 wraps to 255, as c10
  CHECK_THROWS_AS(tg::full({1}, 128, tg::kInt8), tg::ValueError);
  CHECK_THROWS_AS(tg::full({1}, 1e6, tg::kFloat16), tg::ValueError);
}

TEST_CASE("habits: method forms and grad without grad_outputs") {
  const Tensor x = tg::tensor({1.0, 2.0, 3.0}, {}, {.dtype = tg::kFloat64, .requires_grad = true});
  const Tensor y = tg::tensor({0.5, 0.5, 2.0}, {}, tg::kFloat64);
  CHECK(x.add(y).to_vector<double>() == std::vector<double>{1.5, 2.5, 5.0});
  CHECK(x.add(y, 2).to_vector<double>() == std::vector<double>{2.0, 3.0, 7.0});
  CHECK(x.sub(y).to_vector<double>() == std::vector<double>{0.5, 1.5, 1.0});
  CHECK(x.mul(y).to_vector<double>() == std::vector<double>{0.5, 1.0, 6.0});
  CHECK(x.div(y).to_vector<double>() == std::vector<double>{2.0, 4.0, 1.5});
  CHECK(x.mul(2).to_vector<double>() == std::vector<double>{2, 4, 6});
  tg_test::check_values(x.reshape({1, 3}).softmax(1), tg::softmax(x.reshape({1, 3}), 1).to_vector<double>());
  tg_test::check_values(x.reshape({1, 3}).log_softmax(1), tg::log_softmax(x.reshape({1, 3}), 1).to_vector<double>());
  const Tensor s = (x * x * x).sum();
  const std::vector<Tensor> g = tg::grad(s, x, {.create_graph = true});
  REQUIRE(g.size() == 1);
  CHECK(g[0].to_vector<double>() == std::vector<double>{3, 12, 27});
  CHECK(g[0].requires_grad());
  const std::vector<Tensor> g2 = tg::grad(g[0].sum(), x);
  CHECK(g2[0].to_vector<double>() == std::vector<double>{6, 12, 18});
}

TEST_CASE("printing: new dtypes and summaries as torch prints them") {
  CHECK(tg::repr(tg::tensor(std::vector<std::uint8_t>{1, 2})) == "tensor([1, 2], dtype=uint8)");
  CHECK(tg::repr(tg::tensor({1.5, 2.0}, {}, tg::kFloat16)) == "tensor([1.5000, 2.0000], dtype=float16)");
  CHECK(tg::repr(tg::tensor({1.5, 2.0}, {}, tg::kBFloat16)) == "tensor([1.5000, 2.0000], dtype=bfloat16)");
  CHECK(tg::repr(tg::tensor(std::vector<int>{1, 2})) == "tensor([1, 2], dtype=int32)");
  CHECK(tg::repr(tg::tensor({1, 2})) == "tensor([1, 2])");
  CHECK(tg::repr(tg::arange(2000)) == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
  CHECK(tg::repr(tg::arange(1200.0).reshape({40, 30})) ==
        "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 2.7000e+01, 2.8000e+01,\n"
        "         2.9000e+01],\n"
        "        [3.0000e+01, 3.1000e+01, 3.2000e+01,  ..., 5.7000e+01, 5.8000e+01,\n"
        "         5.9000e+01],\n"
        "        [6.0000e+01, 6.1000e+01, 6.2000e+01,  ..., 8.7000e+01, 8.8000e+01,\n"
        "         8.9000e+01],\n"
        "        ...,\n"
        "        [1.1100e+03, 1.1110e+03, 1.1120e+03,  ..., 1.1370e+03, 1.1380e+03,\n"
        "         1.1390e+03],\n"
        "        [1.1400e+03, 1.1410e+03, 1.1420e+03,  ..., 1.1670e+03, 1.1680e+03,\n"
        "         1.1690e+03],\n"
        "        [1.1700e+03, 1.1710e+03, 1.1720e+03,  ..., 1.1970e+03, 1.1980e+03,\n"
        "         1.1990e+03]])");
  CHECK(tg::repr(Tensor()) == "tensor(undefined)");
}

}  // namespace test_dtypes_new
