#include <tapegrad/nn/linear.h>

#include <cmath>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/init.h>

namespace tg::nn {

Linear::Linear(std::int64_t in, std::int64_t out, StrictBool with_bias) : in_features(in), out_features(out) {
  if (in < 0 || out < 0)
    throw ValueError(
        fmt::format("Linear: feature counts must be non-negative, got in_features={}, out_features={}", in, out));
  register_parameter("weight", &Linear::weight, empty({out, in}));
  if (with_bias) register_parameter("bias", &Linear::bias, empty({out}));
  reset_parameters();
}

Linear::Linear(std::int64_t in, std::int64_t out, LinearOptions options) : Linear(in, out, options.bias) {}

void Linear::reset_parameters() {
  // kaiming_uniform_ with a = sqrt(5) has gain sqrt(1/3), so its bound is
  // sqrt(3) * gain / sqrt(fan_in) = 1 / sqrt(fan_in).
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& input) {
  if (input.dim() == 0)
    throw ShapeError(
        fmt::format("Linear: expected input with {} features in its last dim, got a 0-d tensor", in_features));
  if (input.size(-1) != in_features)
    throw ShapeError(fmt::format("Linear: expected input with {} features, got {} (input shape {})", in_features,
                                 input.size(-1), shape_str(input.sizes())));
  return linear(input, weight, bias);
}

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features, out_features,
                     bias.defined() ? "True" : "False");
}

Tensor Flatten::forward(const Tensor& input) { return flatten(input, start_dim, end_dim); }

std::string Flatten::extra_repr() const { return fmt::format("start_dim={}, end_dim={}", start_dim, end_dim); }

Tensor Unflatten::forward(const Tensor& input) { return tg::unflatten(input, dim, unflattened_size); }

std::string Unflatten::extra_repr() const {
  // PyTorch prints the sizes as a tuple: (2, 5), or (4,).
  std::string sizes;
  for (std::int64_t v : unflattened_size) sizes += fmt::format("{}{}", sizes.empty() ? "" : ", ", v);
  if (unflattened_size.size() == 1) sizes += ",";
  return fmt::format("dim={}, unflattened_size=({})", dim, sizes);
}

}  // namespace tg::nn
