#pragma once
#include <cstdint>

#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/module.h>

namespace tg::nn {

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;  // zeros
  Size2 dilation = 1;
  bool bias = true;
};

// 2-D convolution (im2col + one GEMM per image), input [N, C, H, W] or
// [C, H, W]:  Conv2d(3, 16, 3, {.stride = 2, .padding = 1}).
// Initialised as PyTorch: weight by kaiming_uniform_(a = sqrt(5)), bias
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels * kh * kw.
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
  Tensor weight;  // [out_channels, in_channels, kh, kw]
  Tensor bias;    // [out_channels], or undefined
};

}  // namespace tg::nn
