#include <tapegrad/nn/conv.h>

#include <cmath>
#include <optional>
#include <string>

#include <fmt/format.h>

#include <tapegrad/nn/init.h>

namespace tg::nn {

namespace {

// Channels, kernel and groups, checked when the module is built (the op
// checks the rest when it runs). The 1-D modules pass no kh: their error
// shows the one kernel size they were given.
void check_sizes(const char* module, std::int64_t in, std::int64_t out, std::optional<std::int64_t> kh, std::int64_t kw,
                 std::int64_t groups) {
  if (in < 1 || out < 1 || kh.value_or(1) < 1 || kw < 1)
    throw ValueError(fmt::format("{}: channels ({}, {}) and kernel size {} must be positive", module, in, out,
                                 kh ? fmt::format("({}, {})", *kh, kw) : fmt::format("{}", kw)));
  if (groups < 1 || in % groups != 0 || out % groups != 0)
    throw ValueError(fmt::format("{}: groups ({}) must be positive and divide in_channels ({}) and out_channels ({})",
                                 module, groups, in, out));
}

// As Linear: kaiming_uniform_ with a = sqrt(5) gives U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), fan_in read from the weight's layout (dim 1 times the
// kernel), which for the transposed convolutions is out_channels / groups.
void reset_conv_parameters(Tensor& weight, Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::calculate_fan_in_and_fan_out(weight).first));
    init::uniform_(bias, -bound, bound);
  }
}

std::string pair(Size2 s) { return fmt::format("({}, {})", s.h, s.w); }
std::string single(std::int64_t v) { return fmt::format("({},)", v); }
// PyTorch prints a padding string bare: padding=same.
std::string padding_str(const ConvPadding2& p) { return p.named ? p.name : pair(p.size); }
std::string padding_str(const ConvPadding1& p) { return p.named ? p.name : single(p.size); }

// PyTorch's repr: the sizes, then what differs from the defaults.
template <class S>
std::string conv_repr(std::int64_t in, std::int64_t out, const S& kernel, const S& stride, const S& padding,
                      const S& dilation, const S& output_padding, std::int64_t groups, bool bias, const S& zero,
                      const S& one) {
  std::string s = fmt::format("{}, {}, kernel_size={}, stride={}", in, out, kernel, stride);
  if (padding != zero) s += fmt::format(", padding={}", padding);
  if (dilation != one) s += fmt::format(", dilation={}", dilation);
  if (output_padding != zero) s += fmt::format(", output_padding={}", output_padding);
  if (groups != 1) s += fmt::format(", groups={}", groups);
  if (!bias) s += ", bias=False";
  return s;
}

}  // namespace

Conv2d::Conv2d(std::int64_t in, std::int64_t out, Size2 kernel, Conv2dOptions options)
    : in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      stride(options.stride),
      padding(options.padding),
      dilation(options.dilation),
      groups(options.groups) {
  check_sizes("Conv2d", in, out, kernel.h, kernel.w, groups);
  // Checked when the module is built, as PyTorch does (the op checks it again when it runs).
  if (padding.named)
    tg::detail::check_conv_padding_name("Conv2d", padding.name, stride.h != 1 || stride.w != 1, pair(stride));
  register_parameter("weight", &Conv2d::weight, empty({out, in / groups, kernel.h, kernel.w}));
  if (options.bias) register_parameter("bias", &Conv2d::bias, empty({out}));
  reset_parameters();
}

void Conv2d::reset_parameters() { reset_conv_parameters(weight, bias); }

Tensor Conv2d::forward(const Tensor& input) {
  return functional::conv2d(input, weight, bias, stride, padding, dilation, groups);
}

std::string Conv2d::extra_repr() const {
  return conv_repr(in_channels, out_channels, pair(kernel_size), pair(stride), padding_str(padding), pair(dilation),
                   pair(0), groups, bias.defined(), pair(0), pair(1));
}

Conv1d::Conv1d(std::int64_t in, std::int64_t out, std::int64_t kernel, Conv1dOptions options)
    : in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      stride(options.stride),
      padding(options.padding),
      dilation(options.dilation),
      groups(options.groups) {
  check_sizes("Conv1d", in, out, std::nullopt, kernel, groups);
  if (padding.named)
    tg::detail::check_conv_padding_name("Conv1d", padding.name, stride != 1, fmt::format("{}", stride));
  register_parameter("weight", &Conv1d::weight, empty({out, in / groups, kernel}));
  if (options.bias) register_parameter("bias", &Conv1d::bias, empty({out}));
  reset_parameters();
}

void Conv1d::reset_parameters() { reset_conv_parameters(weight, bias); }

Tensor Conv1d::forward(const Tensor& input) {
  return functional::conv1d(input, weight, bias, stride, padding, dilation, groups);
}

std::string Conv1d::extra_repr() const {
  return conv_repr(in_channels, out_channels, single(kernel_size), single(stride), padding_str(padding),
                   single(dilation), single(0), groups, bias.defined(), single(0), single(1));
}

ConvTranspose2d::ConvTranspose2d(std::int64_t in, std::int64_t out, Size2 kernel, ConvTranspose2dOptions options)
    : in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      stride(options.stride),
      padding(options.padding),
      output_padding(options.output_padding),
      groups(options.groups),
      dilation(options.dilation) {
  check_sizes("ConvTranspose2d", in, out, kernel.h, kernel.w, groups);
  register_parameter("weight", &ConvTranspose2d::weight, empty({in, out / groups, kernel.h, kernel.w}));
  if (options.bias) register_parameter("bias", &ConvTranspose2d::bias, empty({out}));
  reset_parameters();
}

void ConvTranspose2d::reset_parameters() { reset_conv_parameters(weight, bias); }

Tensor ConvTranspose2d::forward(const Tensor& input) {
  return functional::conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation);
}

std::string ConvTranspose2d::extra_repr() const {
  return conv_repr(in_channels, out_channels, pair(kernel_size), pair(stride), pair(padding), pair(dilation),
                   pair(output_padding), groups, bias.defined(), pair(0), pair(1));
}

ConvTranspose1d::ConvTranspose1d(std::int64_t in, std::int64_t out, std::int64_t kernel, ConvTranspose1dOptions options)
    : in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      stride(options.stride),
      padding(options.padding),
      output_padding(options.output_padding),
      groups(options.groups),
      dilation(options.dilation) {
  check_sizes("ConvTranspose1d", in, out, std::nullopt, kernel, groups);
  register_parameter("weight", &ConvTranspose1d::weight, empty({in, out / groups, kernel}));
  if (options.bias) register_parameter("bias", &ConvTranspose1d::bias, empty({out}));
  reset_parameters();
}

void ConvTranspose1d::reset_parameters() { reset_conv_parameters(weight, bias); }

Tensor ConvTranspose1d::forward(const Tensor& input) {
  return functional::conv_transpose1d(input, weight, bias, stride, padding, output_padding, groups, dilation);
}

std::string ConvTranspose1d::extra_repr() const {
  return conv_repr(in_channels, out_channels, single(kernel_size), single(stride), single(padding), single(dilation),
                   single(output_padding), groups, bias.defined(), single(0), single(1));
}

}  // namespace tg::nn
