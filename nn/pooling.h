#pragma once
#include <optional>

#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/module.h>

namespace tg::nn {

// Max over each window; stride defaults to the kernel size. Input
// [N, C, H, W] or [C, H, W].
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Size2 kernel_size, std::optional<Size2> stride = {}, Size2 padding = 0, Size2 dilation = 1)
      : kernel_size(kernel_size), stride(stride.value_or(kernel_size)), padding(padding), dilation(dilation) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;

  Size2 kernel_size;
  Size2 stride;
  Size2 padding;
  Size2 dilation;
};

// Mean over each window; padded zeros count in the divisor unless
// count_include_pad is false.
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Size2 kernel_size, std::optional<Size2> stride = {}, Size2 padding = 0,
                     StrictBool count_include_pad = true)
      : kernel_size(kernel_size),
        stride(stride.value_or(kernel_size)),
        padding(padding),
        count_include_pad(count_include_pad) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;

  Size2 kernel_size;
  Size2 stride;
  Size2 padding;
  bool count_include_pad;
};

// Mean over each window of [N, C, L] or [C, L]; stride defaults to the kernel size.
class AvgPool1d : public Module {
 public:
  explicit AvgPool1d(std::int64_t kernel_size, std::optional<std::int64_t> stride = {}, std::int64_t padding = 0,
                     StrictBool count_include_pad = true)
      : kernel_size(kernel_size),
        stride(stride.value_or(kernel_size)),
        padding(padding),
        count_include_pad(count_include_pad) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool1d"; }
  std::string extra_repr() const override;

  std::int64_t kernel_size;
  std::int64_t stride;
  std::int64_t padding;
  bool count_include_pad;
};

// Averages [N, C, H, W] or [C, H, W] down to output_size with PyTorch's bins.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;

  Size2 output_size;
};

// Averages [N, C, L] or [C, L] down to output_size with PyTorch's bins.
class AdaptiveAvgPool1d : public Module {
 public:
  explicit AdaptiveAvgPool1d(std::int64_t output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AdaptiveAvgPool1d"; }
  std::string extra_repr() const override;

  std::int64_t output_size;
};

}  // namespace tg::nn
