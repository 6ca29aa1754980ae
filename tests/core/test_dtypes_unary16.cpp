// The real unary functions on float16 and bfloat16 tensors: computed in
// float32 and rounded once on store (PyTorch's opmath), in a tensor of the
// input's own dtype. They used to compute in double and write 8-byte doubles
// into the 2-byte elements of the output.
#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace test_dtypes_unary16 {

using tg::Tensor;

namespace {

std::vector<std::uint16_t> bits16(const Tensor& t) {
  std::vector<std::uint16_t> out;
  tg::dispatch(t.dtype(), [&]<class T>() {
    if constexpr (tg::is_reduced_float_v<T>) {
      const Tensor c = t.contiguous();
      const T* p = static_cast<const T*>(c.raw_data());
      for (std::int64_t i = 0; i < c.numel(); ++i) out.push_back(p[i].bits);
    }
  });
  return out;
}

}  // namespace

TEST_CASE("unary functions on float16 and bfloat16 compute in float32 and round once into the input's dtype") {
  using Fn = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<std::string, Fn>> ops = {
      {"exp", [](const Tensor& x) { return tg::exp(x); }},
      {"log", [](const Tensor& x) { return tg::log(x); }},
      {"log1p", [](const Tensor& x) { return tg::log1p(x); }},
      {"sqrt", [](const Tensor& x) { return tg::sqrt(x); }},
      {"rsqrt", [](const Tensor& x) { return tg::rsqrt(x); }},
      {"sigmoid", [](const Tensor& x) { return tg::sigmoid(x); }},
      {"tanh", [](const Tensor& x) { return tg::tanh(x); }},
      {"sin", [](const Tensor& x) { return tg::sin(x); }},
      {"cos", [](const Tensor& x) { return tg::cos(x); }},
      {"atan", [](const Tensor& x) { return tg::atan(x); }},
      {"asinh", [](const Tensor& x) { return tg::asinh(x); }},
      {"erf", [](const Tensor& x) { return tg::erf(x); }},
      {"expm1", [](const Tensor& x) { return tg::expm1(x); }},
      {"log2", [](const Tensor& x) { return tg::log2(x); }},
      {"exp2", [](const Tensor& x) { return tg::exp2(x); }},
      {"reciprocal", [](const Tensor& x) { return tg::reciprocal(x); }},
  };
  // Enough elements that writing doubles would run far past the output.
  std::vector<double> values;
  for (int i = 0; i < 257; ++i) values.push_back(0.125 + 0.03125 * i);
  for (tg::DType dt : {tg::kFloat16, tg::kBFloat16}) {
    const Tensor x = tg::tensor(values, {}, dt);
    const Tensor x32 = x.to(tg::kFloat32);  // exact
    for (const auto& [name, fn] : ops) {
      const std::string op = name;
      const std::string dtype = std::string(tg::dtype_name(dt));
      CAPTURE(op);
      CAPTURE(dtype);
      const Tensor got = fn(x);
      CHECK(got.dtype() == dt);
      CHECK(got.shape() == x.shape());
      CHECK(bits16(got) == bits16(fn(x32).to(dt)));
    }
  }
}

}  // namespace test_dtypes_unary16
