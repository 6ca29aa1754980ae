#pragma once
// LayerNorm, RMSNorm, GroupNorm, BatchNorm1d and BatchNorm2d.
#include <cstdint>
#include <optional>

#include <tapegrad/nn/module.h>

namespace tg::nn {

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // learn weight (ones) and bias (zeros) of normalized_shape
  bool bias = true;                // with elementwise_affine: whether to learn the bias too
};

// Normalises over the last dims (normalized_shape), per sample.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Dims normalized_shape, LayerNormOptions options = {});
  explicit LayerNorm(std::int64_t normalized_size, LayerNormOptions options = {})
      : LayerNorm(Dims{normalized_size}, options) {}
  // eps is a Real so that `LayerNorm({4}, false)` (meant as no affine) does
  // not compile as eps = 0; elementwise_affine takes only a bool.
  template <Real E>
  LayerNorm(Dims normalized_shape, E eps, StrictBool elementwise_affine = true)
      : LayerNorm(normalized_shape, LayerNormOptions{static_cast<double>(eps), elementwise_affine}) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  void reset_parameters();

  Dims normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor weight;  // normalized_shape, or undefined
  Tensor bias;    // normalized_shape, or undefined
};

struct RMSNormOptions {
  std::optional<double> eps = std::nullopt;  // nothing: the machine epsilon of the input's dtype
  bool elementwise_affine = true;            // learn weight (ones) of normalized_shape
};

// x * rsqrt(mean(x^2) + eps) * weight over the last dims (normalized_shape).
class RMSNorm : public Module {
 public:
  explicit RMSNorm(Dims normalized_shape, RMSNormOptions options = {});
  explicit RMSNorm(std::int64_t normalized_size, RMSNormOptions options = {})
      : RMSNorm(Dims{normalized_size}, options) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;
  void reset_parameters();

  Dims normalized_shape;
  std::optional<double> eps;
  bool elementwise_affine;
  Tensor weight;  // normalized_shape, or undefined
};

struct GroupNormOptions {
  double eps = 1e-5;
  bool affine = true;  // learn weight (ones) and bias (zeros) per channel
};

// Input [N, C, ...]: the channels in num_groups groups, each normalised per
// sample over its channels and positions; the same in training and eval.
class GroupNorm : public Module {
 public:
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels, GroupNormOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;
  void reset_parameters();

  std::int64_t num_groups;
  std::int64_t num_channels;
  double eps;
  bool affine;
  Tensor weight, bias;  // [num_channels], or undefined
};

struct BatchNormOptions {
  double eps = 1e-5;
  // Weight of the batch in the running statistics; nothing: a cumulative
  // average over all batches seen (1 / num_batches_tracked).
  std::optional<double> momentum = 0.1;
  bool affine = true;               // learn weight (ones) and bias (zeros) per channel
  bool track_running_stats = true;  // keep running_mean/running_var and use them in eval
};

// Normalises each channel over the batch (and spatial dims). In training the
// batch statistics are used and the running statistics (buffers
// running_mean, running_var with the unbiased variance, and
// num_batches_tracked) are updated; in eval the running statistics are used.
class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  void reset_running_stats();
  void reset_parameters();

  std::int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool affine;
  bool track_running_stats;
  Tensor weight, bias;                                    // [C], or undefined
  Tensor running_mean, running_var, num_batches_tracked;  // buffers, or undefined

 protected:
  BatchNorm(std::int64_t num_features, BatchNormOptions options);
  // Throws unless the input has a rank this module accepts.
  virtual void check_input_dim(const Tensor& input) const = 0;
};

// Input [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(std::int64_t num_features, BatchNormOptions options = {}) : BatchNorm(num_features, options) {}
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  void check_input_dim(const Tensor& input) const override;
};

// Input [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(std::int64_t num_features, BatchNormOptions options = {}) : BatchNorm(num_features, options) {}
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  void check_input_dim(const Tensor& input) const override;
};

}  // namespace tg::nn
