#include <tapegrad/nn/pooling.h>

#include <fmt/format.h>

namespace tg::nn {

namespace {

// PyTorch prints an int where one was given; a square size prints as one.
std::string size_str(Size2 s) { return s.h == s.w ? fmt::format("{}", s.h) : fmt::format("({}, {})", s.h, s.w); }

}  // namespace

Tensor MaxPool2d::forward(const Tensor& input) {
  return functional::max_pool2d(input, kernel_size, stride, padding, dilation);
}

std::string MaxPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode=False", size_str(kernel_size),
                     size_str(stride), size_str(padding), size_str(dilation));
}

Tensor AvgPool2d::forward(const Tensor& input) {
  return functional::avg_pool2d(input, kernel_size, stride, padding, count_include_pad);
}

std::string AvgPool2d::extra_repr() const {
  std::string s =
      fmt::format("kernel_size={}, stride={}, padding={}", size_str(kernel_size), size_str(stride), size_str(padding));
  if (!count_include_pad) s += ", count_include_pad=False";
  return s;
}

Tensor AvgPool1d::forward(const Tensor& input) {
  return functional::avg_pool1d(input, kernel_size, stride, padding, count_include_pad);
}

std::string AvgPool1d::extra_repr() const {
  return fmt::format("kernel_size=({},), stride=({},), padding=({},)", kernel_size, stride, padding);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) { return functional::adaptive_avg_pool2d(input, output_size); }

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + size_str(output_size); }

Tensor AdaptiveAvgPool1d::forward(const Tensor& input) { return functional::adaptive_avg_pool1d(input, output_size); }

std::string AdaptiveAvgPool1d::extra_repr() const { return fmt::format("output_size={}", output_size); }

}  // namespace tg::nn
