#pragma once
#include <cstdint>

#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/module.h>

namespace tg::nn {

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;  // zeros
  Size2 dilation = 1;
  std::int64_t groups = 1;  // divides both channel counts
  bool bias = true;
};

// 2-D convolution (im2col + one GEMM per image and group), input
// [N, C, H, W] or [C, H, W]:  Conv2d(3, 16, 3, {.stride = 2, .padding = 1}).
// Initialised as PyTorch: weight by kaiming_uniform_(a = sqrt(5)), bias
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups * kh * kw.
class Conv2d : public Module {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size, Conv2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  void reset_parameters();

  std::int64_t in_channels;
  std::int64_t out_channels;
  Size2 kernel_size;
  Size2 stride;
  Size2 padding;
  Size2 dilation;
  std::int64_t groups;
  Tensor weight;  // [out_channels, in_channels / groups, kh, kw]
  Tensor bias;    // [out_channels], or undefined
};

struct Conv1dOptions {
  std::int64_t stride = 1;
  std::int64_t padding = 0;  // zeros
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

// 1-D convolution over [N, C, L] or [C, L] (conv2d on a height of 1),
// initialised as Conv2d.
class Conv1d : public Module {
 public:
  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Conv1dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Conv1d"; }
  std::string extra_repr() const override;
  void reset_parameters();

  std::int64_t in_channels;
  std::int64_t out_channels;
  std::int64_t kernel_size;
  std::int64_t stride;
  std::int64_t padding;
  std::int64_t dilation;
  std::int64_t groups;
  Tensor weight;  // [out_channels, in_channels / groups, k]
  Tensor bias;    // [out_channels], or undefined
};

struct ConvTranspose2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;  // added to one side of the output; below the stride or the dilation
  std::int64_t groups = 1;
  bool bias = true;
  Size2 dilation = 1;
};

// The transposed 2-D convolution (the gradient of Conv2d with respect to its
// input), as PyTorch's ConvTranspose2d: weight [in_channels,
// out_channels / groups, kh, kw], initialised as PyTorch does (kaiming_uniform_
// with a = sqrt(5) on that layout, so fan_in = out_channels / groups * kh * kw).
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size,
                  ConvTranspose2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;
  void reset_parameters();

  std::int64_t in_channels;
  std::int64_t out_channels;
  Size2 kernel_size;
  Size2 stride;
  Size2 padding;
  Size2 output_padding;
  std::int64_t groups;
  Size2 dilation;
  Tensor weight;  // [in_channels, out_channels / groups, kh, kw]
  Tensor bias;    // [out_channels], or undefined
};

struct ConvTranspose1dOptions {
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t output_padding = 0;
  std::int64_t groups = 1;
  bool bias = true;
  std::int64_t dilation = 1;
};

// The transposed 1-D convolution over [N, C, L] or [C, L]: weight
// [in_channels, out_channels / groups, k].
class ConvTranspose1d : public Module {
 public:
  ConvTranspose1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                  ConvTranspose1dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ConvTranspose1d"; }
  std::string extra_repr() const override;
  void reset_parameters();

  std::int64_t in_channels;
  std::int64_t out_channels;
  std::int64_t kernel_size;
  std::int64_t stride;
  std::int64_t padding;
  std::int64_t output_padding;
  std::int64_t groups;
  std::int64_t dilation;
  Tensor weight;  // [in_channels, out_channels / groups, k]
  Tensor bias;    // [out_channels], or undefined
};

}  // namespace tg::nn
