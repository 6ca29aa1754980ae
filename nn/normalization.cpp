#include <tapegrad/nn/normalization.h>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/init.h>

namespace tg::nn {

namespace {

// Python's tuple repr: (10,) or (3, 4).
std::string tuple_str(const Dims& dims) {
  if (dims.size() == 1) return fmt::format("({},)", dims[0]);
  return fmt::format("({})", fmt::join(dims.begin(), dims.end(), ", "));
}

using detail::py_bool;
using detail::py_float;

}  // namespace

LayerNorm::LayerNorm(Dims shape, LayerNormOptions options)
    : normalized_shape(shape), eps(options.eps), elementwise_affine(options.elementwise_affine) {
  if (shape.empty()) throw ValueError("LayerNorm: normalized_shape must have at least one dim");
  for (auto s : shape)
    if (s < 0) throw ValueError(fmt::format("LayerNorm: negative size in normalized_shape {}", shape_str(shape)));
  if (elementwise_affine) {
    register_parameter("weight", &LayerNorm::weight, empty(shape));
    if (options.bias) register_parameter("bias", &LayerNorm::bias, empty(shape));
  }
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (weight.defined()) init::ones_(weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& input) {
  return functional::layer_norm(input, normalized_shape, weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", tuple_str(normalized_shape), eps,
                     py_bool(elementwise_affine));
}

RMSNorm::RMSNorm(Dims shape, RMSNormOptions options)
    : normalized_shape(shape), eps(options.eps), elementwise_affine(options.elementwise_affine) {
  if (shape.empty()) throw ValueError("RMSNorm: normalized_shape must have at least one dim");
  for (auto s : shape)
    if (s < 0) throw ValueError(fmt::format("RMSNorm: negative size in normalized_shape {}", shape_str(shape)));
  if (elementwise_affine) register_parameter("weight", &RMSNorm::weight, empty(shape));
  reset_parameters();
}

void RMSNorm::reset_parameters() {
  if (weight.defined()) init::ones_(weight);
}

Tensor RMSNorm::forward(const Tensor& input) { return functional::rms_norm(input, normalized_shape, weight, eps); }

std::string RMSNorm::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", tuple_str(normalized_shape),
                     eps ? fmt::format("{}", *eps) : "None", py_bool(elementwise_affine));
}

GroupNorm::GroupNorm(std::int64_t num_groups, std::int64_t num_channels, GroupNormOptions options)
    : num_groups(num_groups), num_channels(num_channels), eps(options.eps), affine(options.affine) {
  if (num_groups <= 0) throw ValueError(fmt::format("GroupNorm: num_groups must be positive, got {}", num_groups));
  if (num_channels < 0 || num_channels % num_groups != 0)
    throw ValueError(
        fmt::format("GroupNorm: num_channels {} must be divisible by num_groups {}", num_channels, num_groups));
  if (affine) {
    register_parameter("weight", &GroupNorm::weight, empty({num_channels}));
    register_parameter("bias", &GroupNorm::bias, empty({num_channels}));
  }
  reset_parameters();
}

void GroupNorm::reset_parameters() {
  if (!affine) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor GroupNorm::forward(const Tensor& input) {
  if (input.dim() >= 2 && input.size(1) != num_channels)
    throw ShapeError(fmt::format("GroupNorm: expected {} channels, got {} (input shape {})", num_channels,
                                 input.size(1), shape_str(input.sizes())));
  return functional::group_norm(input, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const {
  return fmt::format("{}, {}, eps={}, affine={}", num_groups, num_channels, eps, py_bool(affine));
}

NormBase::NormBase(const char* kind, std::int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                   bool track_running_stats)
    : num_features(num_features),
      eps(eps),
      momentum(momentum),
      affine(affine),
      track_running_stats(track_running_stats) {
  if (num_features < 0)
    throw ValueError(fmt::format("{}: num_features must be non-negative, got {}", kind, num_features));
  if (affine) {
    register_parameter("weight", &NormBase::weight, empty({num_features}));
    register_parameter("bias", &NormBase::bias, empty({num_features}));
  }
  if (track_running_stats) {
    register_buffer("running_mean", &NormBase::running_mean, zeros({num_features}));
    register_buffer("running_var", &NormBase::running_var, ones({num_features}));
    register_buffer("num_batches_tracked", &NormBase::num_batches_tracked, scalar_tensor(0, {.dtype = kInt64}));
    zero_if_missing("num_batches_tracked");
  }
  reset_parameters();
}

void NormBase::reset_running_stats() {
  if (!track_running_stats) return;
  init::zeros_(running_mean);
  init::ones_(running_var);
  NoGradGuard no_grad;
  num_batches_tracked.zero_();
}

void NormBase::reset_parameters() {
  reset_running_stats();
  if (affine) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

std::string NormBase::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", num_features, py_float(eps),
                     momentum ? py_float(*momentum) : "None", py_bool(affine), py_bool(track_running_stats));
}

Tensor BatchNorm::forward(const Tensor& input) {
  check_input_dim(input);
  if (input.size(1) != num_features)
    throw ShapeError(fmt::format("{}: expected {} channels, got {} (input shape {})", type_name(), num_features,
                                 input.size(1), shape_str(input.sizes())));
  double factor = momentum.value_or(0.0);
  if (is_training() && track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1.0);
    if (!momentum) factor = 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
  }
  return functional::batch_norm(input, running_mean, running_var, weight, bias, is_training() || !track_running_stats,
                                factor, eps);
}

void BatchNorm1d::check_input_dim(const Tensor& input) const {
  if (input.dim() != 2 && input.dim() != 3)
    throw ShapeError(
        fmt::format("BatchNorm1d: expected a 2-D [N, C] or 3-D [N, C, L] input, got {}", shape_str(input.sizes())));
}

void BatchNorm2d::check_input_dim(const Tensor& input) const {
  if (input.dim() != 4)
    throw ShapeError(fmt::format("BatchNorm2d: expected a 4-D [N, C, H, W] input, got {}", shape_str(input.sizes())));
}

Tensor InstanceNorm::forward(const Tensor& input) {
  const int unbatched = unbatched_dim();
  if (input.dim() != unbatched && input.dim() != unbatched + 1)
    throw ShapeError(fmt::format("{}: expected a {}-D (unbatched) or {}-D (batched) input, got {}", type_name(),
                                 unbatched, unbatched + 1, shape_str(input.sizes())));
  // As PyTorch, a channel count other than num_features is an error only
  // where it meets a [num_features] tensor (affine; the running statistics
  // are checked by instance_norm); without those it only warns there.
  const int feature_dim = input.dim() - unbatched;
  if (affine && input.size(feature_dim) != num_features)
    throw ShapeError(fmt::format("{}: expected {} channels at dim {}, got {} (input shape {})", type_name(),
                                 num_features, feature_dim, input.size(feature_dim), shape_str(input.sizes())));
  const Tensor x = input.dim() == unbatched ? unsqueeze(input, 0) : input;
  const Tensor y = functional::instance_norm(x, running_mean, running_var, weight, bias,
                                             is_training() || !track_running_stats, momentum.value_or(0.0), eps);
  return input.dim() == unbatched ? squeeze(y, 0) : y;
}

}  // namespace tg::nn
