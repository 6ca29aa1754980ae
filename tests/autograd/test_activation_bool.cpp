// Every activation on a bool tensor, against torch 1.13 on
// torch.tensor([[True, False], [False, True]]): sigmoid and tanh give
// float32; relu, leaky_relu, gelu, softplus, silu, elu, selu, celu, mish,
// hardtanh, hardswish, hardsigmoid, logsigmoid, softsign, glu, softmax and
// log_softmax raise ("not implemented for 'Bool'", "Boolean inputs not
// supported for relu"), here as tg::DTypeError naming the op and bool.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/nn/functional.h>

namespace test_activation_bool {

namespace {

using tg::Tensor;
namespace F = tg::nn::functional;

Tensor bool_matrix() { return tg::tensor({1, 0, 0, 1}, {2, 2}, {.dtype = tg::kBool}); }

struct Refused {
  std::string op;  // the name the error must start with
  std::function<Tensor(const Tensor&)> f;
};

// The message of what f throws as tg::DTypeError, or "" when it throws nothing.
std::string dtype_error(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
  try {
    (void)f(x);
  } catch (const tg::DTypeError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("bool: the activations PyTorch refuses throw DTypeError naming the op and bool") {
  const std::vector<Refused> refused = {
      {"relu", [](const Tensor& x) { return tg::relu(x); }},
      {"relu", [](const Tensor& x) { return x.relu(); }},
      {"relu", [](const Tensor& x) { return F::relu(x); }},
      {"leaky_relu", [](const Tensor& x) { return tg::leaky_relu(x); }},
      {"leaky_relu", [](const Tensor& x) { return tg::leaky_relu(x, 0.2); }},
      {"leaky_relu", [](const Tensor& x) { return F::leaky_relu(x, 0.1); }},
      {"gelu", [](const Tensor& x) { return tg::gelu(x); }},
      {"gelu", [](const Tensor& x) { return x.gelu(); }},
      {"gelu", [](const Tensor& x) { return F::gelu(x); }},
      {"softplus", [](const Tensor& x) { return tg::softplus(x); }},
      {"silu", [](const Tensor& x) { return tg::silu(x); }},
      {"elu", [](const Tensor& x) { return tg::elu(x); }},
      {"selu", [](const Tensor& x) { return tg::selu(x); }},
      {"celu", [](const Tensor& x) { return tg::celu(x); }},
      {"mish", [](const Tensor& x) { return tg::mish(x); }},
      {"hardtanh", [](const Tensor& x) { return tg::hardtanh(x); }},
      {"hardswish", [](const Tensor& x) { return tg::hardswish(x); }},
      {"hardsigmoid", [](const Tensor& x) { return tg::hardsigmoid(x); }},
      {"logsigmoid", [](const Tensor& x) { return tg::logsigmoid(x); }},
      {"softsign", [](const Tensor& x) { return tg::softsign(x); }},
      {"glu", [](const Tensor& x) { return tg::glu(x); }},
      {"softmax", [](const Tensor& x) { return tg::softmax(x, 1); }},
      {"softmax", [](const Tensor& x) { return x.softmax(0); }},
      {"softmax", [](const Tensor& x) { return F::softmax(x, -1); }},
      {"log_softmax", [](const Tensor& x) { return tg::log_softmax(x, 1); }},
      {"log_softmax", [](const Tensor& x) { return x.log_softmax(0); }},
      {"log_softmax", [](const Tensor& x) { return F::log_softmax(x, -1); }},
  };
  const Tensor b = bool_matrix();
  for (const auto& r : refused) {
    CAPTURE(r.op);
    const std::string message = dtype_error(r.f, b);
    CHECK(message.starts_with(r.op + ":"));
    CHECK(message.find("bool") != std::string::npos);
  }
}

TEST_CASE("bool: leaky_relu and gelu word the refusal as every floating-only op does (check_dtype)") {
  const Tensor b = bool_matrix();
  CHECK_THROWS_WITH_AS(tg::leaky_relu(b), "leaky_relu: expected a floating-point tensor, got bool (shape [2, 2])",
                       tg::DTypeError);
  CHECK_THROWS_WITH_AS(tg::gelu(b), "gelu: expected a floating-point tensor, got bool (shape [2, 2])", tg::DTypeError);
  // Integers too, as PyTorch 1.13 ("GeluKernelImpl" not implemented for 'Long').
  CHECK_THROWS_WITH_AS(tg::gelu(tg::tensor({1, 2})), "gelu: expected a floating-point tensor, got int64 (shape [2])",
                       tg::DTypeError);
  // 0-d and empty ones too.
  CHECK_THROWS_AS(tg::gelu(tg::tensor({1.0}, {}, {.dtype = tg::kBool})), tg::DTypeError);
  CHECK_THROWS_AS(tg::leaky_relu(tg::zeros({0, 3}, {.dtype = tg::kBool})), tg::DTypeError);
}

TEST_CASE("bool: sigmoid and tanh give float32, as PyTorch") {
  struct Accepted {
    std::function<Tensor(const Tensor&)> f;
    std::vector<float> expected;  // torch's values
  };
  const std::vector<float> sigmoid = {0.7310585975646973f, 0.5f, 0.5f, 0.7310585975646973f};
  const std::vector<float> tanh = {0.7615941762924194f, 0.0f, 0.0f, 0.7615941762924194f};
  const std::vector<Accepted> accepted = {
      {[](const Tensor& x) { return tg::sigmoid(x); }, sigmoid}, {[](const Tensor& x) { return x.sigmoid(); }, sigmoid},
      {[](const Tensor& x) { return F::sigmoid(x); }, sigmoid},  {[](const Tensor& x) { return tg::tanh(x); }, tanh},
      {[](const Tensor& x) { return x.tanh(); }, tanh},          {[](const Tensor& x) { return F::tanh(x); }, tanh}};
  const Tensor b = bool_matrix();
  for (const auto& a : accepted) {
    const Tensor y = a.f(b);
    CHECK(y.dtype() == tg::kFloat32);
    CHECK(y.shape() == tg::Dims{2, 2});
    CHECK(y.to_vector<float>() == a.expected);
  }
}

}  // namespace test_activation_bool
