#include <tapegrad/nn/conv.h>

#include <cmath>

#include <fmt/format.h>

#include <tapegrad/nn/init.h>

namespace tg::nn {

Conv2d::Conv2d(std::int64_t in, std::int64_t out, Size2 kernel, Conv2dOptions options)
    : in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      stride(options.stride),
      padding(options.padding),
      dilation(options.dilation) {
  if (in < 1 || out < 1 || kernel.h < 1 || kernel.w < 1)
    throw ValueError(fmt::format("Conv2d: channels ({}, {}) and kernel size ({}, {}) must be positive", in, out,
                                 kernel.h, kernel.w));
  weight = register_parameter("weight", empty({out, in, kernel.h, kernel.w}));
  if (options.bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  // As Linear: kaiming_uniform_ with a = sqrt(5) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::calculate_fan_in_and_fan_out(weight).first));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Conv2d::forward(const Tensor& input) {
  return functional::conv2d(input, weight, bias, stride, padding, dilation);
}

std::string Conv2d::extra_repr() const {
  auto pair = [](Size2 s) { return fmt::format("({}, {})", s.h, s.w); };
  std::string s =
      fmt::format("{}, {}, kernel_size={}, stride={}", in_channels, out_channels, pair(kernel_size), pair(stride));
  if (!(padding == Size2(0))) s += fmt::format(", padding={}", pair(padding));
  if (!(dilation == Size2(1))) s += fmt::format(", dilation={}", pair(dilation));
  if (!bias.defined()) s += ", bias=False";
  return s;
}

}  // namespace tg::nn
