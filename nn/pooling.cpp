#include <tapegrad/nn/pooling.h>

#include <fmt/format.h>

namespace tg::nn {

namespace {

// PyTorch prints an int where one was given; a square size prints as one.
std::string size_str(Size2 s) { return s.h == s.w ? fmt::format("{}", s.h) : fmt::format("({}, {})", s.h, s.w); }

const char* python_bool(bool b) { return b ? "True" : "False"; }

}  // namespace

Tensor MaxPool2d::forward(const Tensor& input) {
  return functional::max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode);
}

std::tuple<Tensor, Tensor> MaxPool2d::forward_with_indices(const Tensor& input) {
  return functional::max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}", size_str(kernel_size),
                     size_str(stride), size_str(padding), size_str(dilation), python_bool(ceil_mode));
}

Tensor MaxPool1d::forward(const Tensor& input) {
  return functional::max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode);
}

std::tuple<Tensor, Tensor> MaxPool1d::forward_with_indices(const Tensor& input) {
  return functional::max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode);
}

// PyTorch's MaxPool1d keeps its ints as given (AvgPool1d makes 1-tuples).
std::string MaxPool1d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}", kernel_size, stride, padding,
                     dilation, python_bool(ceil_mode));
}

Tensor AvgPool2d::forward(const Tensor& input) {
  return functional::avg_pool2d(input, kernel_size, stride, padding, count_include_pad, ceil_mode);
}

// As PyTorch's AvgPool2d: neither ceil_mode nor count_include_pad is printed.
std::string AvgPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", size_str(kernel_size), size_str(stride),
                     size_str(padding));
}

Tensor AvgPool1d::forward(const Tensor& input) {
  return functional::avg_pool1d(input, kernel_size, stride, padding, count_include_pad, ceil_mode);
}

std::string AvgPool1d::extra_repr() const {
  return fmt::format("kernel_size=({},), stride=({},), padding=({},)", kernel_size, stride, padding);
}

Tensor AdaptiveMaxPool2d::forward(const Tensor& input) { return functional::adaptive_max_pool2d(input, output_size); }

std::tuple<Tensor, Tensor> AdaptiveMaxPool2d::forward_with_indices(const Tensor& input) {
  return functional::adaptive_max_pool2d_with_indices(input, output_size);
}

std::string AdaptiveMaxPool2d::extra_repr() const { return "output_size=" + size_str(output_size); }

Tensor AdaptiveMaxPool1d::forward(const Tensor& input) { return functional::adaptive_max_pool1d(input, output_size); }

std::tuple<Tensor, Tensor> AdaptiveMaxPool1d::forward_with_indices(const Tensor& input) {
  return functional::adaptive_max_pool1d_with_indices(input, output_size);
}

std::string AdaptiveMaxPool1d::extra_repr() const { return fmt::format("output_size={}", output_size); }

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) { return functional::adaptive_avg_pool2d(input, output_size); }

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + size_str(output_size); }

Tensor AdaptiveAvgPool1d::forward(const Tensor& input) { return functional::adaptive_avg_pool1d(input, output_size); }

std::string AdaptiveAvgPool1d::extra_repr() const { return fmt::format("output_size={}", output_size); }

}  // namespace tg::nn
