#include <tapegrad/nn/init.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/linalg.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/random.h>

namespace tg::nn::init {

namespace {

void require_floating(const Tensor& t, const char* op) {
  if (!t.is_floating_point())
    throw DTypeError(fmt::format("init.{}: expected a floating-point tensor, got {}", op, dtype_name(t.dtype())));
}

std::int64_t fan(const Tensor& t, FanMode mode) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return mode == FanMode::FanIn ? fan_in : fan_out;
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Conv1d:
    case Nonlinearity::Conv2d:
    case Nonlinearity::Conv3d:
    case Nonlinearity::ConvTranspose1d:
    case Nonlinearity::ConvTranspose2d:
    case Nonlinearity::ConvTranspose3d:
    case Nonlinearity::Sigmoid:
      return 1.0;
    case Nonlinearity::Tanh:
      return 5.0 / 3.0;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: {
      const double slope = param.value_or(0.01);
      return std::sqrt(2.0 / (1.0 + slope * slope));
    }
    case Nonlinearity::SELU:
      return 3.0 / 4.0;
  }
  throw ValueError("calculate_gain: unknown nonlinearity");
}

double calculate_gain(std::string_view name, std::optional<double> param) {
  static constexpr std::pair<std::string_view, Nonlinearity> kNames[] = {
      {"linear", Nonlinearity::Linear},
      {"conv1d", Nonlinearity::Conv1d},
      {"conv2d", Nonlinearity::Conv2d},
      {"conv3d", Nonlinearity::Conv3d},
      {"conv_transpose1d", Nonlinearity::ConvTranspose1d},
      {"conv_transpose2d", Nonlinearity::ConvTranspose2d},
      {"conv_transpose3d", Nonlinearity::ConvTranspose3d},
      {"sigmoid", Nonlinearity::Sigmoid},
      {"tanh", Nonlinearity::Tanh},
      {"relu", Nonlinearity::ReLU},
      {"leaky_relu", Nonlinearity::LeakyReLU},
      {"selu", Nonlinearity::SELU},
  };
  for (const auto& [n, v] : kNames)
    if (n == name) return calculate_gain(v, param);
  throw ValueError(fmt::format("calculate_gain: unsupported nonlinearity '{}'", name));
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  if (tensor.dim() < 2)
    throw ValueError(
        fmt::format("init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions (shape {})",
                    shape_str(tensor.sizes())));
  std::int64_t receptive = 1;
  for (int d = 2; d < tensor.dim(); ++d) receptive *= tensor.size(d);
  return {tensor.size(1) * receptive, tensor.size(0) * receptive};
}

Tensor uniform_(const Tensor& tensor, double low, double high, Generator* generator) {
  require_floating(tensor, "uniform_");
  if (!(low <= high)) throw ValueError(fmt::format("init.uniform_: low {} is greater than high {}", low, high));
  // As PyTorch's, which is tensor.uniform_(low, high): that refuses a bound
  // or a width the dtype cannot hold (an infinite gain in xavier_uniform_,
  // float16's -1e6..1e6), which would fill with infinities or NaN.
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.uniform_(low, high, generator);
  return t;
}

Tensor normal_(const Tensor& tensor, double mean, double std, Generator* generator) {
  require_floating(tensor, "normal_");
  if (!(std >= 0)) throw ValueError(fmt::format("init.normal_: std must be non-negative, got {}", std));
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.copy_(tg::add(tg::mul(randn(t.shape(), {.dtype = t.dtype()}, generator), std), mean));
  return t;
}

Tensor constant_(const Tensor& tensor, double value) {
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.fill_(value);
  return t;
}

Tensor zeros_(const Tensor& tensor) { return constant_(tensor, 0); }
Tensor ones_(const Tensor& tensor) { return constant_(tensor, 1); }

Tensor xavier_uniform_(const Tensor& tensor, double gain, Generator* generator) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  // Nothing to fill, and fans of 0 to divide by ([0, 0] gave an infinite
  // range named as uniform_'s): as kaiming_uniform_, the tensor unchanged.
  require_floating(tensor, "xavier_uniform_");
  if (tensor.numel() == 0) return tensor;
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double a = std::sqrt(3.0) * std;
  return uniform_(tensor, -a, a, generator);
}

Tensor xavier_normal_(const Tensor& tensor, double gain, Generator* generator) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  require_floating(tensor, "xavier_normal_");
  if (tensor.numel() == 0) return tensor;  // as xavier_uniform_
  return normal_(tensor, 0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), generator);
}

Tensor kaiming_uniform_(const Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Generator* generator) {
  if (tensor.numel() == 0) return tensor;  // nothing to fill, and no fan to divide by
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(tensor, mode)));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(tensor, -bound, bound, generator);
}

Tensor kaiming_normal_(const Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Generator* generator) {
  if (tensor.numel() == 0) return tensor;
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(tensor, mode)));
  return normal_(tensor, 0, std, generator);
}

Tensor trunc_normal_(const Tensor& tensor, double mean, double std, double a, double b, Generator* generator) {
  require_floating(tensor, "trunc_normal_");
  if (!(std >= 0)) throw ValueError(fmt::format("init.trunc_normal_: std must be non-negative, got {}", std));
  if (std::isnan(mean) || std::isnan(a) || std::isnan(b) || !(a <= b))
    throw ValueError(
        fmt::format("init.trunc_normal_: expected a <= b and no NaN, got mean={}, a={}, b={}", mean, a, b));
  NoGradGuard no_grad;
  Tensor t = tensor;
  if (std == 0) {  // the method below would give erfinv(+-1) * 0 = NaN at the ends
    t.fill_(std::clamp(mean, a, b));
    return t;
  }
  // The normal CDF at the bounds; u uniform in (cdf(a), cdf(b)) scaled to
  // (2 cdf(a) - 1, 2 cdf(b) - 1), where erfinv(u) sqrt(2) is the inverse CDF.
  const auto cdf = [](double x) { return (1 + std::erf(x / std::sqrt(2.0))) / 2; };
  const double lo = 2 * cdf((a - mean) / std) - 1, hi = 2 * cdf((b - mean) / std) - 1;
  const Tensor u = tg::add(tg::mul(rand(t.shape(), {.dtype = kFloat64}, generator), hi - lo), lo);
  t.copy_(tg::clamp(tg::add(tg::mul(tg::erfinv(u), std * std::sqrt(2.0)), mean), a, b));
  return t;
}

Tensor orthogonal_(const Tensor& tensor, double gain, Generator* generator) {
  require_floating(tensor, "orthogonal_");
  if (tensor.dim() < 2)
    throw ValueError(fmt::format("init.orthogonal_: only tensors with 2 or more dimensions are supported, got shape {}",
                                 shape_str(tensor.sizes())));
  if (tensor.numel() == 0) return tensor;
  NoGradGuard no_grad;
  const std::int64_t rows = tensor.size(0), cols = tensor.numel() / rows;
  // QR of the tall orientation: Q's columns are orthonormal.
  Tensor flat = randn({rows, cols}, {.dtype = kFloat64}, generator);
  if (rows < cols) flat = tg::transpose(flat, 0, 1);
  auto [q, r] = linalg::qr(flat);
  // Multiplying column j by sign(R_jj) makes the factorisation unique, and Q Haar-distributed.
  q = tg::mul(q, tg::sign(tg::diagonal(r)));
  if (rows < cols) q = tg::transpose(q, 0, 1);
  Tensor t = tensor;
  t.copy_(tg::reshape(tg::mul(q, gain), t.shape()));
  return t;
}

}  // namespace tg::nn::init
