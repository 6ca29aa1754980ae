#pragma once
// tg::nn::init: in-place initialisers with PyTorch's formulas
// (torch.nn.init). Each runs under NoGradGuard, so it may be applied to
// parameters that require grad, and returns its argument (the same handle).
// Random ones draw from `generator`, or from the default generator that
// tg::manual_seed seeds.
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include <tapegrad/autograd/tensor.h>

namespace tg {
class Generator;
}

namespace tg::nn::init {

enum class Nonlinearity {
  Linear,
  Conv1d,
  Conv2d,
  Conv3d,
  ConvTranspose1d,
  ConvTranspose2d,
  ConvTranspose3d,
  Sigmoid,
  Tanh,
  ReLU,
  LeakyReLU,
  SELU,
};
enum class FanMode { FanIn, FanOut };

// The recommended gain for a nonlinearity: 1 for linear, convolutions and
// sigmoid; 5/3 for tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for
// leaky_relu (param = slope, default 0.01); 3/4 for selu.
double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param = {});
// By PyTorch's name ("relu", "leaky_relu", "conv2d", ...); ValueError for others.
double calculate_gain(std::string_view nonlinearity, std::optional<double> param = {});

// (fan_in, fan_out) of a weight [out, in, *kernel]: in * k and out * k, with k
// the product of the kernel dims. ValueError below 2 dims.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

Tensor uniform_(const Tensor& tensor, double low = 0, double high = 1, Generator* generator = nullptr);
Tensor normal_(const Tensor& tensor, double mean = 0, double std = 1, Generator* generator = nullptr);
Tensor constant_(const Tensor& tensor, double value);
Tensor zeros_(const Tensor& tensor);
Tensor ones_(const Tensor& tensor);

// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1, Generator* generator = nullptr);
// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& tensor, double gain = 1, Generator* generator = nullptr);
// U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
// and fan the fan_in or fan_out as `mode` says.
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* generator = nullptr);
// N(0, std^2) with std = gain / sqrt(fan).
Tensor kaiming_normal_(const Tensor& tensor, double a = 0, FanMode mode = FanMode::FanIn,
                       Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* generator = nullptr);

}  // namespace tg::nn::init
