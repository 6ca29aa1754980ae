#pragma once
// Upsample, PixelShuffle and PixelUnshuffle: modules without parameters over
// the resampling ops of autograd/ops/resample.cpp.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/module.h>

namespace tg::nn {

// torch.nn.Upsample's size, scale_factor, mode, align_corners and
// recompute_scale_factor (the fields of InterpolateOptions).
using UpsampleOptions = InterpolateOptions;

// F::interpolate with fixed options: Upsample({.scale_factor = {2}, .mode = "bilinear"}).
class Upsample : public Module {
 public:
  explicit Upsample(UpsampleOptions options) : options(std::move(options)) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Upsample"; }
  std::string extra_repr() const override;

  UpsampleOptions options;
};

// [*, C r^2, H, W] -> [*, C, H r, W r].
class PixelShuffle : public Module {
 public:
  explicit PixelShuffle(std::int64_t upscale_factor) : upscale_factor(upscale_factor) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "PixelShuffle"; }
  std::string extra_repr() const override;

  std::int64_t upscale_factor;
};

// [*, C, H r, W r] -> [*, C r^2, H, W].
class PixelUnshuffle : public Module {
 public:
  explicit PixelUnshuffle(std::int64_t downscale_factor) : downscale_factor(downscale_factor) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "PixelUnshuffle"; }
  std::string extra_repr() const override;

  std::int64_t downscale_factor;
};

}  // namespace tg::nn
