#pragma once
/// @file
/// tg::nn::init: in-place initialisers with PyTorch's formulas
/// (torch.nn.init). Each runs under NoGradGuard, so it may be applied to
/// parameters that require grad, and returns its argument (the same handle).
/// Random ones draw from `generator`, or from the default generator that
/// tg::manual_seed seeds.
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include <tapegrad/autograd/tensor.h>

namespace tg {
class Generator;
}

namespace tg::nn::init {

/// The nonlinearities calculate_gain() knows (PyTorch's names, as enumerators).
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
/// Which fan the kaiming initialisers scale by: fan_in keeps the forward
/// pass's variance, fan_out the backward pass's.
enum class FanMode { FanIn, FanOut };

/// The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain. 1 for linear, convolutions and
/// sigmoid; 5/3 for tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for
/// leaky_relu (param = slope, default 0.01); 3/4 for selu.
///@{
double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param = {});
/// By PyTorch's name ("relu", "leaky_relu", "conv2d", ...); ValueError for others.
/// @throws tg::ValueError for an unknown name.
double calculate_gain(std::string_view nonlinearity, std::optional<double> param = {});
///@}

/// The fans of a weight, as torch.nn.init._calculate_fan_in_and_fan_out:
/// (fan_in, fan_out) of a weight [out, in, *kernel]: in * k and out * k, with k
/// the product of the kernel dims. ValueError below 2 dims.
/// @throws tg::ValueError for a tensor of fewer than 2 dims.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

/// Fills tensor with U(low, high) samples, as torch.nn.init.uniform_.
/// @throws tg::DTypeError for a non-floating tensor, tg::ValueError for low > high.
Tensor uniform_(const Tensor& tensor, double low = 0, double high = 1, Generator* generator = nullptr);
/// Fills tensor with N(mean, std^2) samples, as torch.nn.init.normal_.
/// @throws tg::DTypeError for a non-floating tensor, tg::ValueError for a negative std.
Tensor normal_(const Tensor& tensor, double mean = 0, double std = 1, Generator* generator = nullptr);
/// Fills tensor with value, as torch.nn.init.constant_.
Tensor constant_(const Tensor& tensor, double value);
/// Fills tensor with 0, as torch.nn.init.zeros_.
Tensor zeros_(const Tensor& tensor);
/// Fills tensor with 1, as torch.nn.init.ones_.
Tensor ones_(const Tensor& tensor);

/// Xavier (Glorot) uniform initialisation, as torch.nn.init.xavier_uniform_:
/// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1, Generator* generator = nullptr);
/// Xavier (Glorot) normal initialisation, as torch.nn.init.xavier_normal_:
/// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& tensor, double gain = 1, Generator* generator = nullptr);
/// Kaiming (He) uniform initialisation, as torch.nn.init.kaiming_uniform_:
/// U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
/// and fan the fan_in or fan_out as `mode` says.
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* generator = nullptr);
/// Kaiming (He) normal initialisation, as torch.nn.init.kaiming_normal_:
/// N(0, std^2) with std = gain / sqrt(fan), gain and fan as kaiming_uniform_'s.
Tensor kaiming_normal_(const Tensor& tensor, double a = 0, FanMode mode = FanMode::FanIn,
                       Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* generator = nullptr);

/// Fills tensor with samples of N(mean, std^2) truncated to [a, b], as
/// torch.nn.init.trunc_normal_ (and its method: uniform samples of the
/// normal CDF between a and b sent through the inverse CDF, then clamped to
/// [a, b] against rounding). Computed in float64 and stored in the tensor's
/// dtype; std = 0 fills mean clamped to [a, b].
/// @throws tg::DTypeError for a non-floating tensor, tg::ValueError for a
///   negative or NaN std, a > b, or a NaN bound or mean.
Tensor trunc_normal_(const Tensor& tensor, double mean = 0, double std = 1, double a = -2, double b = 2,
                     Generator* generator = nullptr);
/// Fills tensor with a (semi-)orthogonal matrix times gain, as
/// torch.nn.init.orthogonal_: the dims after the first are flattened
/// (rows = size(0), cols = numel / rows), a standard normal matrix is drawn
/// and the Q of its QR decomposition (signs fixed by R's diagonal, so Q is
/// uniformly distributed) is kept: rows orthonormal if rows <= cols, else
/// columns. Computed in float64 and stored in the tensor's dtype.
/// @throws tg::DTypeError for a non-floating tensor, tg::ValueError for fewer than 2 dims.
Tensor orthogonal_(const Tensor& tensor, double gain = 1, Generator* generator = nullptr);

}  // namespace tg::nn::init
