#pragma once
/// @file
/// Upsample, PixelShuffle and PixelUnshuffle: modules without parameters over
/// the resampling ops of autograd/ops/resample.cpp.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/module.h>

// Constructor parameters carry PyTorch's argument names, which are the names
// of the members they set: GCC's -Wshadow would flag each in a user's build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"

namespace tg::nn {

/// torch.nn.Upsample's size, scale_factor, mode, align_corners and
/// recompute_scale_factor (the fields of InterpolateOptions).
using UpsampleOptions = InterpolateOptions;

/// Resampling as a module, as torch.nn.Upsample: F::interpolate with fixed options: Upsample({.scale_factor = {2},
/// .mode = "bilinear"}).
class Upsample : public Module {
 public:
  /// Checked when forward runs (tg::interpolate's errors).
  explicit Upsample(UpsampleOptions options) : options(std::move(options)) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Upsample"; }
  std::string extra_repr() const override;

  UpsampleOptions options;  ///< as constructed
};

/// tg::pixel_shuffle as a module, as torch.nn.PixelShuffle: [*, C r^2, H, W] -> [*, C, H r, W r].
class PixelShuffle : public Module {
 public:
  /// Upscaling by r = upscale_factor (checked when forward runs).
  explicit PixelShuffle(std::int64_t upscale_factor) : upscale_factor(upscale_factor) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "PixelShuffle"; }
  std::string extra_repr() const override;

  std::int64_t upscale_factor;  ///< r
};

/// tg::pixel_unshuffle as a module, as torch.nn.PixelUnshuffle: [*, C, H r, W r] -> [*, C r^2, H, W].
class PixelUnshuffle : public Module {
 public:
  /// Downscaling by r = downscale_factor (checked when forward runs).
  explicit PixelUnshuffle(std::int64_t downscale_factor) : downscale_factor(downscale_factor) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "PixelUnshuffle"; }
  std::string extra_repr() const override;

  std::int64_t downscale_factor;  ///< r
};

}  // namespace tg::nn

#pragma GCC diagnostic pop
