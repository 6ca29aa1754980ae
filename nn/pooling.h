#pragma once
/// @file
/// The pooling modules: MaxPool2d, MaxPool1d, AvgPool2d, AvgPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool1d,
/// AdaptiveAvgPool2d, AdaptiveAvgPool1d.
/// The max pools' forward returns the values; forward_with_indices also the
/// indices (PyTorch's return_indices=True).
/// Their arguments are checked when forward runs, by the ops of autograd/nn_ops.h.
#include <optional>
#include <tuple>

#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/module.h>

// Constructor parameters carry PyTorch's argument names, which are the names
// of the members they set: GCC's -Wshadow would flag each in a user's build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"

namespace tg::nn {

/// 2-D max pooling, as torch.nn.MaxPool2d (tg::max_pool2d): max over each window; stride defaults to the kernel size.
/// Input [N, C, H, W] or [C, H, W].
class MaxPool2d : public Module {
 public:
  /// Pooling over kernel_size windows every stride (default: kernel_size) steps,
  /// with -inf padding and dilated windows; ceil_mode rounds the output size up.
  explicit MaxPool2d(Size2 kernel_size, OptionalSize2 stride = {}, Size2 padding = 0, Size2 dilation = 1,
                     StrictBool ceil_mode = false)
      : kernel_size(kernel_size),
        stride(stride.value_or(kernel_size)),
        padding(padding),
        dilation(dilation),
        ceil_mode(ceil_mode) {}
  Tensor forward(const Tensor& input) override;
  /// The values and each window's argmax (flat into its H * W plane), as PyTorch's return_indices=True.
  std::tuple<Tensor, Tensor> forward_with_indices(const Tensor& input);
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;

  Size2 kernel_size;  ///< the window
  Size2 stride;       ///< the step between windows
  Size2 padding;      ///< padding on each side
  Size2 dilation;     ///< the spacing of the window's taps
  bool ceil_mode;     ///< whether the output size rounds up
};

/// 1-D max pooling, as torch.nn.MaxPool1d (tg::max_pool1d): max over each window of [N, C, L] or [C, L]; stride
/// defaults to the kernel size.
class MaxPool1d : public Module {
 public:
  /// Pooling over kernel_size windows every stride (default: kernel_size) steps,
  /// with -inf padding and dilated windows; ceil_mode rounds the output size up.
  explicit MaxPool1d(std::int64_t kernel_size, std::optional<std::int64_t> stride = {}, std::int64_t padding = 0,
                     std::int64_t dilation = 1, StrictBool ceil_mode = false)
      : kernel_size(kernel_size),
        stride(stride.value_or(kernel_size)),
        padding(padding),
        dilation(dilation),
        ceil_mode(ceil_mode) {}
  Tensor forward(const Tensor& input) override;
  /// The values and each window's argmax (a position along L), as PyTorch's return_indices=True.
  std::tuple<Tensor, Tensor> forward_with_indices(const Tensor& input);
  std::string type_name() const override { return "MaxPool1d"; }
  std::string extra_repr() const override;

  std::int64_t kernel_size;  ///< the window
  std::int64_t stride;       ///< the step between windows
  std::int64_t padding;      ///< padding on each side
  std::int64_t dilation;     ///< the spacing of the window's taps
  bool ceil_mode;            ///< whether the output size rounds up
};

/// 2-D average pooling, as torch.nn.AvgPool2d (tg::avg_pool2d): mean over each window; padded zeros count in the
/// divisor unless count_include_pad is false. ceil_mode comes last (see tg::avg_pool2d).
class AvgPool2d : public Module {
 public:
  /// Pooling over kernel_size windows every stride (default: kernel_size) steps, with zero padding.
  explicit AvgPool2d(Size2 kernel_size, OptionalSize2 stride = {}, Size2 padding = 0,
                     StrictBool count_include_pad = true, StrictBool ceil_mode = false)
      : kernel_size(kernel_size),
        stride(stride.value_or(kernel_size)),
        padding(padding),
        count_include_pad(count_include_pad),
        ceil_mode(ceil_mode) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;

  Size2 kernel_size;       ///< the window
  Size2 stride;            ///< the step between windows
  Size2 padding;           ///< padding on each side
  bool count_include_pad;  ///< whether padded zeros count in the divisor
  bool ceil_mode;          ///< whether the output size rounds up
};

/// 1-D average pooling, as torch.nn.AvgPool1d (tg::avg_pool1d): mean over each window of [N, C, L] or [C, L]; stride
/// defaults to the kernel size. ceil_mode comes last (see tg::avg_pool2d).
class AvgPool1d : public Module {
 public:
  /// Pooling over kernel_size windows every stride (default: kernel_size) steps, with zero padding.
  explicit AvgPool1d(std::int64_t kernel_size, std::optional<std::int64_t> stride = {}, std::int64_t padding = 0,
                     StrictBool count_include_pad = true, StrictBool ceil_mode = false)
      : kernel_size(kernel_size),
        stride(stride.value_or(kernel_size)),
        padding(padding),
        count_include_pad(count_include_pad),
        ceil_mode(ceil_mode) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool1d"; }
  std::string extra_repr() const override;

  std::int64_t kernel_size;  ///< the window
  std::int64_t stride;       ///< the step between windows
  std::int64_t padding;      ///< padding on each side
  bool count_include_pad;    ///< whether padded zeros count in the divisor
  bool ceil_mode;            ///< whether the output size rounds up
};

/// 2-D adaptive max pooling, as torch.nn.AdaptiveMaxPool2d: the maximum of each of PyTorch's bins of
/// [N, C, H, W] or [C, H, W], down (or up) to output_size.
class AdaptiveMaxPool2d : public Module {
 public:
  /// Pooling down to output_size (height, width).
  explicit AdaptiveMaxPool2d(Size2 output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& input) override;
  /// The values and each bin's argmax (flat into its H * W plane), as PyTorch's return_indices=True.
  std::tuple<Tensor, Tensor> forward_with_indices(const Tensor& input);
  std::string type_name() const override { return "AdaptiveMaxPool2d"; }
  std::string extra_repr() const override;

  Size2 output_size;  ///< the output size
};

/// 1-D adaptive max pooling, as torch.nn.AdaptiveMaxPool1d: the maximum of each of PyTorch's bins of [N, C, L] or
/// [C, L], down (or up) to output_size.
class AdaptiveMaxPool1d : public Module {
 public:
  /// Pooling down to output_size steps.
  explicit AdaptiveMaxPool1d(std::int64_t output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& input) override;
  /// The values and each bin's argmax (a position along L), as PyTorch's return_indices=True.
  std::tuple<Tensor, Tensor> forward_with_indices(const Tensor& input);
  std::string type_name() const override { return "AdaptiveMaxPool1d"; }
  std::string extra_repr() const override;

  std::int64_t output_size;  ///< the output size
};

/// 2-D adaptive average pooling, as torch.nn.AdaptiveAvgPool2d: averages [N, C, H, W] or [C, H, W] down to output_size
/// with PyTorch's bins.
class AdaptiveAvgPool2d : public Module {
 public:
  /// Pooling down to output_size (height, width).
  explicit AdaptiveAvgPool2d(Size2 output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;

  Size2 output_size;  ///< the output size
};

/// 1-D adaptive average pooling, as torch.nn.AdaptiveAvgPool1d: averages [N, C, L] or [C, L] down to output_size with
/// PyTorch's bins.
class AdaptiveAvgPool1d : public Module {
 public:
  /// Pooling down to output_size steps.
  explicit AdaptiveAvgPool1d(std::int64_t output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AdaptiveAvgPool1d"; }
  std::string extra_repr() const override;

  std::int64_t output_size;  ///< the output size
};

}  // namespace tg::nn

#pragma GCC diagnostic pop
