#include <tapegrad/nn/activation.h>

#include <utility>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/init.h>

namespace tg::nn {

Tensor ReLU::forward(const Tensor& input) { return relu(input); }

Tensor LeakyReLU::forward(const Tensor& input) { return leaky_relu(input, negative_slope); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + detail::py_float(negative_slope); }

GELU::GELU(std::string approximate) : approximate(std::move(approximate)) {
  if (this->approximate != "none" && this->approximate != "tanh")
    throw ValueError(fmt::format("GELU: approximate must be \"none\" or \"tanh\", got \"{}\"", this->approximate));
}
Tensor GELU::forward(const Tensor& input) { return gelu(input, approximate); }
std::string GELU::extra_repr() const { return fmt::format("approximate='{}'", approximate); }

Tensor ReLU6::forward(const Tensor& input) { return relu6(input); }

PReLU::PReLU(PReLUOptions options) : num_parameters(options.num_parameters), init(options.init) {
  if (num_parameters < 1)
    throw ValueError(fmt::format("PReLU: num_parameters must be at least 1, got {}", num_parameters));
  register_parameter("weight", &PReLU::weight, empty({num_parameters}));
  reset_parameters();
}
Tensor PReLU::forward(const Tensor& input) { return prelu(input, weight); }
std::string PReLU::extra_repr() const { return fmt::format("num_parameters={}", num_parameters); }
void PReLU::reset_parameters() { init::constant_(weight, init); }

Tensor Sigmoid::forward(const Tensor& input) { return sigmoid(input); }

Tensor Tanh::forward(const Tensor& input) { return tanh(input); }

Tensor Softmax::forward(const Tensor& input) { return softmax(input, dim); }
std::string Softmax::extra_repr() const { return fmt::format("dim={}", dim); }

Tensor LogSoftmax::forward(const Tensor& input) { return log_softmax(input, dim); }
std::string LogSoftmax::extra_repr() const { return fmt::format("dim={}", dim); }

Tensor Softplus::forward(const Tensor& input) { return softplus(input, beta, threshold); }
std::string Softplus::extra_repr() const { return fmt::format("beta={}, threshold={}", beta, threshold); }

Tensor SiLU::forward(const Tensor& input) { return silu(input); }

Tensor ELU::forward(const Tensor& input) { return elu(input, alpha); }
std::string ELU::extra_repr() const { return "alpha=" + detail::py_float(alpha); }

Tensor SELU::forward(const Tensor& input) { return selu(input); }

Tensor CELU::forward(const Tensor& input) { return celu(input, alpha); }
std::string CELU::extra_repr() const { return "alpha=" + detail::py_float(alpha); }

Tensor Mish::forward(const Tensor& input) { return mish(input); }

Hardtanh::Hardtanh(double min_val, double max_val) : min_val(min_val), max_val(max_val) {
  if (!(max_val > min_val))
    throw ValueError(
        fmt::format("Hardtanh: max_val must be above min_val, got min_val={}, max_val={}", min_val, max_val));
}
Tensor Hardtanh::forward(const Tensor& input) { return hardtanh(input, min_val, max_val); }
std::string Hardtanh::extra_repr() const {
  return fmt::format("min_val={}, max_val={}", detail::py_float(min_val), detail::py_float(max_val));
}

Tensor Hardswish::forward(const Tensor& input) { return hardswish(input); }

Tensor Hardsigmoid::forward(const Tensor& input) { return hardsigmoid(input); }

Tensor LogSigmoid::forward(const Tensor& input) { return logsigmoid(input); }

Tensor Softsign::forward(const Tensor& input) { return softsign(input); }

Tensor GLU::forward(const Tensor& input) { return glu(input, dim); }
std::string GLU::extra_repr() const { return fmt::format("dim={}", dim); }

}  // namespace tg::nn
