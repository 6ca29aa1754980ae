#pragma once
/// @file
/// The convolution modules: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d.
#include <cstdint>

#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/module.h>

namespace tg::nn {

/// Options of Conv2d (PyTorch's keyword arguments).
struct Conv2dOptions {
  Size2 stride = 1;          ///< the step of the kernel
  ConvPadding2 padding = 0;  ///< zeros added on each side, or "same" or "valid" (tg::conv2d)
  Size2 dilation = 1;        ///< the spacing of the kernel's taps
  std::int64_t groups = 1;   ///< divides both channel counts
  bool bias = true;          ///< add a learned bias
};

/// 2-D convolution, as torch.nn.Conv2d (im2col + one GEMM per image and group), input
/// [N, C, H, W] or [C, H, W]:  Conv2d(3, 16, 3, {.stride = 2, .padding = 1}).
/// Initialised as PyTorch: weight by kaiming_uniform_(a = sqrt(5)), bias
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups * kh * kw.
class Conv2d : public Module {
 public:
  /// A 2-D convolution with a freshly initialised weight and bias.
  /// @param in_channels  the input's channels
  /// @param out_channels the output's channels
  /// @param kernel_size  the kernel's size
  /// @param options      stride, padding, dilation, groups, bias
  /// @throws tg::ValueError for non-positive channels or kernel size, or groups that do not divide both channel counts.
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size, Conv2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  void reset_parameters();  ///< draws weight and bias again, as the constructor does

  std::int64_t in_channels;   ///< the input's channels
  std::int64_t out_channels;  ///< the output's channels
  Size2 kernel_size;          ///< the kernel's size
  Size2 stride;               ///< the step of the kernel
  ConvPadding2 padding;       ///< zeros added on each side, or "same" or "valid"
  Size2 dilation;             ///< the spacing of the kernel's taps
  std::int64_t groups;        ///< the number of channel groups
  Tensor weight;              ///< [out_channels, in_channels / groups, kh, kw]
  Tensor bias;                ///< [out_channels], or undefined
};

/// Options of Conv1d (PyTorch's keyword arguments).
struct Conv1dOptions {
  std::int64_t stride = 1;    ///< the step of the kernel
  ConvPadding1 padding = 0;   ///< zeros added on each side, or "same" or "valid" (tg::conv1d)
  std::int64_t dilation = 1;  ///< the spacing of the kernel's taps
  std::int64_t groups = 1;    ///< the number of channel groups (divides both channel counts)
  bool bias = true;           ///< add a learned bias
};

/// 1-D convolution, as torch.nn.Conv1d, over [N, C, L] or [C, L] (conv2d on a height of 1),
/// initialised as Conv2d.
class Conv1d : public Module {
 public:
  /// A 1-D convolution with a freshly initialised weight and bias.
  /// @param in_channels  the input's channels
  /// @param out_channels the output's channels
  /// @param kernel_size  the kernel's size
  /// @param options      stride, padding, dilation, groups, bias
  /// @throws tg::ValueError for non-positive channels or kernel size, or groups that do not divide both channel counts.
  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Conv1dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Conv1d"; }
  std::string extra_repr() const override;
  void reset_parameters();  ///< draws weight and bias again, as the constructor does

  std::int64_t in_channels;   ///< the input's channels
  std::int64_t out_channels;  ///< the output's channels
  std::int64_t kernel_size;   ///< the kernel's size
  std::int64_t stride;        ///< the step of the kernel
  ConvPadding1 padding;       ///< zeros added on each side, or "same" or "valid"
  std::int64_t dilation;      ///< the spacing of the kernel's taps
  std::int64_t groups;        ///< the number of channel groups
  Tensor weight;              ///< [out_channels, in_channels / groups, k]
  Tensor bias;                ///< [out_channels], or undefined
};

/// Options of ConvTranspose2d (PyTorch's keyword arguments).
struct ConvTranspose2dOptions {
  Size2 stride = 1;          ///< the step of the kernel
  Size2 padding = 0;         ///< zeros added on each side
  Size2 output_padding = 0;  ///< added to one side of the output; below the stride or the dilation
  std::int64_t groups = 1;   ///< the number of channel groups (divides both channel counts)
  bool bias = true;          ///< add a learned bias
  Size2 dilation = 1;        ///< the spacing of the kernel's taps
};

/// The transposed 2-D convolution (the gradient of Conv2d with respect to its
/// input), as PyTorch's ConvTranspose2d: weight [in_channels,
/// out_channels / groups, kh, kw], initialised as PyTorch does (kaiming_uniform_
/// with a = sqrt(5) on that layout, so fan_in = out_channels / groups * kh * kw).
class ConvTranspose2d : public Module {
 public:
  /// A transposed 2-D convolution with a freshly initialised weight and bias.
  /// @param in_channels  the input's channels
  /// @param out_channels the output's channels
  /// @param kernel_size  the kernel's size
  /// @param options      stride, padding, output_padding, groups, bias, dilation
  /// @throws tg::ValueError for non-positive channels or kernel size, or groups that do not divide both channel counts.
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size,
                  ConvTranspose2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;
  void reset_parameters();  ///< draws weight and bias again, as the constructor does

  std::int64_t in_channels;   ///< the input's channels
  std::int64_t out_channels;  ///< the output's channels
  Size2 kernel_size;          ///< the kernel's size
  Size2 stride;               ///< the step of the kernel
  Size2 padding;              ///< zeros added on each side
  Size2 output_padding;       ///< added to one side of the output
  std::int64_t groups;        ///< the number of channel groups
  Size2 dilation;             ///< the spacing of the kernel's taps
  Tensor weight;              ///< [in_channels, out_channels / groups, kh, kw]
  Tensor bias;                ///< [out_channels], or undefined
};

/// Options of ConvTranspose1d (PyTorch's keyword arguments).
struct ConvTranspose1dOptions {
  std::int64_t stride = 1;          ///< the step of the kernel
  std::int64_t padding = 0;         ///< zeros added on each side
  std::int64_t output_padding = 0;  ///< added to one side of the output
  std::int64_t groups = 1;          ///< the number of channel groups (divides both channel counts)
  bool bias = true;                 ///< add a learned bias
  std::int64_t dilation = 1;        ///< the spacing of the kernel's taps
};

/// The transposed 1-D convolution, as torch.nn.ConvTranspose1d, over [N, C, L] or [C, L]: weight
/// [in_channels, out_channels / groups, k].
class ConvTranspose1d : public Module {
 public:
  /// A transposed 1-D convolution with a freshly initialised weight and bias.
  /// @param in_channels  the input's channels
  /// @param out_channels the output's channels
  /// @param kernel_size  the kernel's size
  /// @param options      stride, padding, output_padding, groups, bias, dilation
  /// @throws tg::ValueError for non-positive channels or kernel size, or groups that do not divide both channel counts.
  ConvTranspose1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                  ConvTranspose1dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ConvTranspose1d"; }
  std::string extra_repr() const override;
  void reset_parameters();  ///< draws weight and bias again, as the constructor does

  std::int64_t in_channels;     ///< the input's channels
  std::int64_t out_channels;    ///< the output's channels
  std::int64_t kernel_size;     ///< the kernel's size
  std::int64_t stride;          ///< the step of the kernel
  std::int64_t padding;         ///< zeros added on each side
  std::int64_t output_padding;  ///< added to one side of the output
  std::int64_t groups;          ///< the number of channel groups
  std::int64_t dilation;        ///< the spacing of the kernel's taps
  Tensor weight;                ///< [in_channels, out_channels / groups, k]
  Tensor bias;                  ///< [out_channels], or undefined
};

}  // namespace tg::nn
