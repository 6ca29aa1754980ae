#pragma once
/// @file
/// tg::nn::functional: the operations behind the nn modules, as plain
/// functions for code that prefers them (torch.nn.functional):
///
/// @code
/// namespace F = tg::nn::functional;
/// auto h = F::relu(F::conv2d(x, w, b, /*stride=*/1, /*padding=*/1));
/// @endcode
///
/// Each forwards to the differentiable op of the same name in tg
/// (autograd/ops.h and autograd/nn_ops.h). The losses are in nn/loss.h,
/// included at the end.
#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

namespace tg::nn {

using tg::ConvPadding1;  // a convolution's padding: numbers, "same" or "valid" (core/args.h)
using tg::ConvPadding2;
using tg::InterpolateOptions;
using tg::Size2;  // a height and width (core/args.h)

}  // namespace tg::nn

namespace tg::nn::functional {

// ---- activations (autograd/ops.h) ---------------------------------------------
/// tg::relu, as torch.nn.functional.relu.
inline Tensor relu(const Tensor& x) { return tg::relu(x); }
/// tg::leaky_relu, as torch.nn.functional.leaky_relu.
inline Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01) { return tg::leaky_relu(x, negative_slope); }
/// tg::gelu, as torch.nn.functional.gelu: approximate "none" (the exact erf
/// form) or "tanh"; anything else is a tg::ValueError.
inline Tensor gelu(const Tensor& x, std::string_view approximate = "none") { return tg::gelu(x, approximate); }
/// tg::sigmoid, as torch.nn.functional.sigmoid.
inline Tensor sigmoid(const Tensor& x) { return tg::sigmoid(x); }
/// tg::tanh, as torch.nn.functional.tanh.
inline Tensor tanh(const Tensor& x) { return tg::tanh(x); }
/// tg::softplus, as torch.nn.functional.softplus.
inline Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20) {
  return tg::softplus(x, beta, threshold);
}
/// tg::silu, as torch.nn.functional.silu.
inline Tensor silu(const Tensor& x) { return tg::silu(x); }
/// tg::elu, as torch.nn.functional.elu.
inline Tensor elu(const Tensor& x, double alpha = 1) { return tg::elu(x, alpha); }
/// tg::selu, as torch.nn.functional.selu.
inline Tensor selu(const Tensor& x) { return tg::selu(x); }
/// tg::celu, as torch.nn.functional.celu.
inline Tensor celu(const Tensor& x, double alpha = 1) { return tg::celu(x, alpha); }
/// tg::mish, as torch.nn.functional.mish.
inline Tensor mish(const Tensor& x) { return tg::mish(x); }
/// tg::hardtanh, as torch.nn.functional.hardtanh.
inline Tensor hardtanh(const Tensor& x, double min_val = -1, double max_val = 1) {
  return tg::hardtanh(x, min_val, max_val);
}
/// tg::relu6, as torch.nn.functional.relu6.
inline Tensor relu6(const Tensor& x) { return tg::relu6(x); }
/// tg::prelu, as torch.nn.functional.prelu: weight [C] along dim 1, or one weight.
inline Tensor prelu(const Tensor& x, const Tensor& weight) { return tg::prelu(x, weight); }
/// tg::hardswish, as torch.nn.functional.hardswish.
inline Tensor hardswish(const Tensor& x) { return tg::hardswish(x); }
/// tg::hardsigmoid, as torch.nn.functional.hardsigmoid.
inline Tensor hardsigmoid(const Tensor& x) { return tg::hardsigmoid(x); }
/// tg::logsigmoid, as torch.nn.functional.logsigmoid.
inline Tensor logsigmoid(const Tensor& x) { return tg::logsigmoid(x); }
/// tg::softsign, as torch.nn.functional.softsign.
inline Tensor softsign(const Tensor& x) { return tg::softsign(x); }
/// tg::glu, as torch.nn.functional.glu.
inline Tensor glu(const Tensor& x, std::int64_t dim = -1) { return tg::glu(x, dim); }
/// tg::pad, as torch.nn.functional.pad.
inline Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pad, std::string_view mode = "constant",
                  double value = 0) {
  return tg::pad(x, pad, mode, value);
}
/// tg::softmax, as torch.nn.functional.softmax.
inline Tensor softmax(const Tensor& x, std::int64_t dim) { return tg::softmax(x, dim); }
/// tg::log_softmax, as torch.nn.functional.log_softmax.
inline Tensor log_softmax(const Tensor& x, std::int64_t dim) { return tg::log_softmax(x, dim); }

// ---- shapes and affine maps ---------------------------------------------------
/// tg::flatten with start_dim 1 by default (keeping the batch dim).
inline Tensor flatten(const Tensor& x, std::int64_t start_dim = 1, std::int64_t end_dim = -1) {
  return tg::flatten(x, start_dim, end_dim);
}
/// tg::linear: x @ weight^T + bias, one GEMM with the bias folded in, as torch.nn.functional.linear.
inline Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {}) {
  return tg::linear(x, weight, bias);
}

// ---- dropout, conv, pooling, normalisation, embedding (autograd/nn_ops.h) --------
/// tg::dropout, as torch.nn.functional.dropout.
inline Tensor dropout(const Tensor& x, double p = 0.5, StrictBool training = true, Generator* generator = nullptr) {
  return tg::dropout(x, p, training, generator);
}
/// Deleted: `dropout(x, training)` would read the flag as p = 1 and zero everything.
template <class B, class... Rest>
requires std::same_as<B, bool> Tensor dropout(const Tensor& x, B p, Rest&&... rest)
= delete;

/// tg::conv2d, as torch.nn.functional.conv2d.
inline Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Size2 stride = 1,
                     ConvPadding2 padding = 0, Size2 dilation = 1, std::int64_t groups = 1) {
  return tg::conv2d(x, weight, bias, stride, padding, dilation, groups);
}
/// tg::conv1d, as torch.nn.functional.conv1d.
inline Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, std::int64_t stride = 1,
                     ConvPadding1 padding = 0, std::int64_t dilation = 1, std::int64_t groups = 1) {
  return tg::conv1d(x, weight, bias, stride, padding, dilation, groups);
}
/// tg::conv_transpose2d, as torch.nn.functional.conv_transpose2d.
inline Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Size2 stride = 1,
                               Size2 padding = 0, Size2 output_padding = 0, std::int64_t groups = 1,
                               Size2 dilation = 1) {
  return tg::conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation);
}
/// tg::conv_transpose1d, as torch.nn.functional.conv_transpose1d.
inline Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, std::int64_t stride = 1,
                               std::int64_t padding = 0, std::int64_t output_padding = 0, std::int64_t groups = 1,
                               std::int64_t dilation = 1) {
  return tg::conv_transpose1d(x, weight, bias, stride, padding, output_padding, groups, dilation);
}

/// tg::max_pool2d, as torch.nn.functional.max_pool2d.
inline Tensor max_pool2d(const Tensor& x, Size2 kernel_size, OptionalSize2 stride = {}, Size2 padding = 0,
                         Size2 dilation = 1, StrictBool ceil_mode = false) {
  return tg::max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode);
}
/// tg::max_pool2d_with_indices, as torch.nn.functional.max_pool2d_with_indices.
inline std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel_size, OptionalSize2 stride = {},
                                                          Size2 padding = 0, Size2 dilation = 1,
                                                          StrictBool ceil_mode = false) {
  return tg::max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode);
}
/// tg::max_pool1d, as torch.nn.functional.max_pool1d.
inline Tensor max_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride = {},
                         std::int64_t padding = 0, std::int64_t dilation = 1, StrictBool ceil_mode = false) {
  return tg::max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode);
}
/// tg::max_pool1d_with_indices, as torch.nn.functional.max_pool1d_with_indices.
inline std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& x, std::int64_t kernel_size,
                                                          std::optional<std::int64_t> stride = {},
                                                          std::int64_t padding = 0, std::int64_t dilation = 1,
                                                          StrictBool ceil_mode = false) {
  return tg::max_pool1d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode);
}
/// tg::avg_pool2d, as torch.nn.functional.avg_pool2d (ceil_mode last: see tg::avg_pool2d).
inline Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, OptionalSize2 stride = {}, Size2 padding = 0,
                         StrictBool count_include_pad = true, StrictBool ceil_mode = false) {
  return tg::avg_pool2d(x, kernel_size, stride, padding, count_include_pad, ceil_mode);
}
/// tg::avg_pool1d, as torch.nn.functional.avg_pool1d (ceil_mode last: see tg::avg_pool2d).
inline Tensor avg_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride = {},
                         std::int64_t padding = 0, StrictBool count_include_pad = true, StrictBool ceil_mode = false) {
  return tg::avg_pool1d(x, kernel_size, stride, padding, count_include_pad, ceil_mode);
}
/// tg::adaptive_max_pool2d, as torch.nn.functional.adaptive_max_pool2d.
inline Tensor adaptive_max_pool2d(const Tensor& x, Size2 output_size) {
  return tg::adaptive_max_pool2d(x, output_size);
}
/// tg::adaptive_max_pool2d_with_indices, as torch.nn.functional.adaptive_max_pool2d_with_indices.
inline std::tuple<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x, Size2 output_size) {
  return tg::adaptive_max_pool2d_with_indices(x, output_size);
}
/// tg::adaptive_max_pool1d, as torch.nn.functional.adaptive_max_pool1d.
inline Tensor adaptive_max_pool1d(const Tensor& x, std::int64_t output_size) {
  return tg::adaptive_max_pool1d(x, output_size);
}
/// tg::adaptive_max_pool1d_with_indices, as torch.nn.functional.adaptive_max_pool1d_with_indices.
inline std::tuple<Tensor, Tensor> adaptive_max_pool1d_with_indices(const Tensor& x, std::int64_t output_size) {
  return tg::adaptive_max_pool1d_with_indices(x, output_size);
}
/// tg::adaptive_avg_pool2d, as torch.nn.functional.adaptive_avg_pool2d.
inline Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  return tg::adaptive_avg_pool2d(x, output_size);
}
/// tg::adaptive_avg_pool1d, as torch.nn.functional.adaptive_avg_pool1d.
inline Tensor adaptive_avg_pool1d(const Tensor& x, std::int64_t output_size) {
  return tg::adaptive_avg_pool1d(x, output_size);
}

/// tg::interpolate, as torch.nn.functional.interpolate.
inline Tensor interpolate(const Tensor& x, const InterpolateOptions& options) { return tg::interpolate(x, options); }
/// tg::pixel_shuffle, as torch.nn.functional.pixel_shuffle.
inline Tensor pixel_shuffle(const Tensor& x, std::int64_t upscale_factor) {
  return tg::pixel_shuffle(x, upscale_factor);
}
/// tg::pixel_unshuffle, as torch.nn.functional.pixel_unshuffle.
inline Tensor pixel_unshuffle(const Tensor& x, std::int64_t downscale_factor) {
  return tg::pixel_unshuffle(x, downscale_factor);
}

/// tg::scaled_dot_product_attention, as torch.nn.functional.scaled_dot_product_attention.
inline Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                           const Tensor& attn_mask = {}, double dropout_p = 0,
                                           StrictBool is_causal = false, std::optional<double> scale = {},
                                           Generator* generator = nullptr) {
  return tg::scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, generator);
}
/// tg::layer_norm, as torch.nn.functional.layer_norm.
inline Tensor layer_norm(const Tensor& x, Dims normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                         double eps = 1e-5) {
  return tg::layer_norm(x, std::move(normalized_shape), weight, bias, eps);
}
/// tg::rms_norm, as torch.nn.functional.rms_norm.
inline Tensor rms_norm(const Tensor& x, Dims normalized_shape, const Tensor& weight = {},
                       std::optional<double> eps = std::nullopt) {
  return tg::rms_norm(x, std::move(normalized_shape), weight, eps);
}
/// tg::group_norm, as torch.nn.functional.group_norm.
inline Tensor group_norm(const Tensor& x, std::int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                         double eps = 1e-5) {
  return tg::group_norm(x, num_groups, weight, bias, eps);
}
/// tg::batch_norm, as torch.nn.functional.batch_norm.
inline Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                         const Tensor& weight = {}, const Tensor& bias = {}, StrictBool training = false,
                         double momentum = 0.1, double eps = 1e-5) {
  return tg::batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps);
}
/// tg::instance_norm, as torch.nn.functional.instance_norm.
inline Tensor instance_norm(const Tensor& x, const Tensor& running_mean = {}, const Tensor& running_var = {},
                            const Tensor& weight = {}, const Tensor& bias = {}, StrictBool use_input_stats = true,
                            double momentum = 0.1, double eps = 1e-5) {
  return tg::instance_norm(x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps);
}

// ---- distances (autograd/ops/distance.cpp) ------------------------------------------
/// tg::normalize, as torch.nn.functional.normalize: x / max(||x||_p, eps) along dim.
inline Tensor normalize(const Tensor& x, double p = 2, std::int64_t dim = 1, double eps = 1e-12) {
  return tg::normalize(x, p, dim, eps);
}
/// tg::cosine_similarity, as torch.nn.functional.cosine_similarity (x1 and x2 broadcast).
inline Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, std::int64_t dim = 1, double eps = 1e-8) {
  return tg::cosine_similarity(x1, x2, dim, eps);
}
/// tg::pairwise_distance, as torch.nn.functional.pairwise_distance.
inline Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p = 2, double eps = 1e-6,
                                StrictBool keepdim = false) {
  return tg::pairwise_distance(x1, x2, p, eps, keepdim);
}

/// tg::embedding, as torch.nn.functional.embedding.
inline Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<std::int64_t> padding_idx = {},
                        std::optional<double> max_norm = {}, double norm_type = 2,
                        StrictBool scale_grad_by_freq = false) {
  return tg::embedding(indices, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq);
}

}  // namespace tg::nn::functional

// The losses (another file, the same namespace).
#include <tapegrad/nn/loss.h>
