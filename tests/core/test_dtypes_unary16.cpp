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

using Fn = std::function<Tensor(const Tensor&)>;

// The gradient of f at x for a gradient output of 0.75 (exact in every dtype).
Tensor backward_of(const Fn& f, const Tensor& x) {
  Tensor leaf = x.detach().set_requires_grad();
  f(leaf).backward(tg::full_like(leaf, 0.75));
  return leaf.grad();
}

// Each op on float16 and bfloat16 `values` gives the bits of the same op on
// their (exact) float32 copies, rounded once into the dtype.
void check_rounded_once(const std::vector<std::pair<std::string, Fn>>& ops, const std::vector<double>& values) {
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

}  // namespace

TEST_CASE("unary functions on float16 and bfloat16 compute in float32 and round once into the input's dtype") {
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
  check_rounded_once(ops, values);
}

// A scalar parameter (a slope, a weight, a beta) is kept in float for 16-bit
// tensors, as PyTorch's opmath: rounded to bfloat16 first, 0.3 became
// 0.30078125, and lerp(0, 100, 0.3) gave 30.125 where PyTorch gives 30,
// leaky_relu(-55.5, 0.3) -16.75 where PyTorch gives -16.625.
TEST_CASE("ops with scalar parameters on float16 and bfloat16 keep the parameter in float32 and round once") {
  const Tensor hundred = tg::full({257}, 100.0);
  const std::vector<std::pair<std::string, Fn>> ops = {
      {"lerp", [&](const Tensor& x) { return tg::lerp(x, hundred.to(x.dtype()), 0.3); }},
      {"leaky_relu", [](const Tensor& x) { return tg::leaky_relu(x, 0.3); }},
      {"elu", [](const Tensor& x) { return tg::elu(x, 0.7); }},
      {"selu", [](const Tensor& x) { return tg::selu(x); }},
      {"celu", [](const Tensor& x) { return tg::celu(x, 1.3); }},
      {"softplus", [](const Tensor& x) { return tg::softplus(x, 0.3, 7.1); }},
      {"elu backward", [](const Tensor& x) { return backward_of([](const Tensor& t) { return tg::elu(t, 0.7); }, x); }},
      {"selu backward", [](const Tensor& x) { return backward_of([](const Tensor& t) { return tg::selu(t); }, x); }},
      {"celu backward",
       [](const Tensor& x) { return backward_of([](const Tensor& t) { return tg::celu(t, 1.3); }, x); }},
      {"softplus backward",
       [](const Tensor& x) { return backward_of([](const Tensor& t) { return tg::softplus(t, 0.3, 7.1); }, x); }},
      {"silu backward", [](const Tensor& x) { return backward_of([](const Tensor& t) { return tg::silu(t); }, x); }},
      {"mish backward", [](const Tensor& x) { return backward_of([](const Tensor& t) { return tg::mish(t); }, x); }},
      {"hardswish backward",
       [](const Tensor& x) { return backward_of([](const Tensor& t) { return tg::hardswish(t * 0.125); }, x); }},
      {"logsigmoid backward",
       [](const Tensor& x) { return backward_of([](const Tensor& t) { return tg::logsigmoid(t); }, x); }},
      {"softsign backward",
       [](const Tensor& x) { return backward_of([](const Tensor& t) { return tg::softsign(t); }, x); }},
      {"leaky_relu backward",
       [](const Tensor& x) {
         Tensor leaf = x.detach().set_requires_grad();
         tg::leaky_relu(leaf, 0.3).backward(tg::full_like(leaf, 0.75));  // exact in both dtypes
         return leaf.grad();
       }},
  };
  std::vector<double> values;
  for (int i = 0; i < 257; ++i) values.push_back(-55.5 + 0.4375 * i);
  check_rounded_once(ops, values);
  // PyTorch 1.13's values for the two the hunt found.
  const Tensor bf_zero = tg::zeros({1}, {.dtype = tg::kBFloat16});
  CHECK(tg::lerp(bf_zero, tg::full({1}, 100.0, {.dtype = tg::kBFloat16}), 0.3).item<float>() == 30.0f);
  CHECK(tg::leaky_relu(tg::full({1}, -55.5, {.dtype = tg::kBFloat16}), 0.3).item<float>() == -16.625f);
}

}  // namespace test_dtypes_unary16
