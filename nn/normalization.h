#pragma once
/// @file
/// LayerNorm, RMSNorm, GroupNorm, BatchNorm1d, BatchNorm2d, InstanceNorm1d and InstanceNorm2d.
///
/// @code
/// tg::nn::BatchNorm2d bn(16);
/// bn.train();
/// tg::Tensor y = bn(x);  // x [N, 16, H, W]; updates bn.running_mean and running_var
/// @endcode
#include <cstdint>
#include <optional>

#include <tapegrad/nn/module.h>

// Constructor parameters carry PyTorch's argument names, which are the names
// of the members they set: GCC's -Wshadow would flag each in a user's build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"

namespace tg::nn {

/// Options of LayerNorm.
struct LayerNormOptions {
  double eps = 1e-5;               ///< added to the variance
  bool elementwise_affine = true;  ///< learn weight (ones) and bias (zeros) of normalized_shape
  bool bias = true;                ///< with elementwise_affine: whether to learn the bias too
};

/// Layer normalisation, as torch.nn.LayerNorm: normalises over the last dims
/// (normalized_shape), per sample.
class LayerNorm : public Module {
 public:
  /// Normalises over the trailing dims normalized_shape.
  /// @throws tg::ValueError for an empty normalized_shape or a negative size in it.
  explicit LayerNorm(Dims normalized_shape, LayerNormOptions options = {});
  /// Normalises over the last dim, of size normalized_size.
  explicit LayerNorm(std::int64_t normalized_size, LayerNormOptions options = {})
      : LayerNorm(Dims{normalized_size}, options) {}
  /// With eps and elementwise_affine as arguments, as PyTorch's positional ones.
  /// eps is a Real so that `LayerNorm({4}, false)` (meant as no affine) does
  /// not compile as eps = 0; elementwise_affine takes only a bool.
  template <Real E>
  LayerNorm(Dims normalized_shape, E eps, StrictBool elementwise_affine = true)
      : LayerNorm(normalized_shape, LayerNormOptions{static_cast<double>(eps), elementwise_affine}) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  void reset_parameters();  ///< weight to ones, bias to zeros

  Dims normalized_shape;    ///< the trailing shape normalised over
  double eps;               ///< added to the variance
  bool elementwise_affine;  ///< whether weight (and bias) are learned
  Tensor weight;            ///< normalized_shape, or undefined
  Tensor bias;              ///< normalized_shape, or undefined
};

/// Options of RMSNorm.
struct RMSNormOptions {
  std::optional<double> eps = std::nullopt;  ///< nothing: the machine epsilon of the input's dtype
  bool elementwise_affine = true;            ///< learn weight (ones) of normalized_shape
};

/// RMS normalisation, as torch.nn.RMSNorm:
/// x * rsqrt(mean(x^2) + eps) * weight over the last dims (normalized_shape).
class RMSNorm : public Module {
 public:
  /// Normalises over the trailing dims normalized_shape.
  /// @throws tg::ValueError for an empty normalized_shape or a negative size in it.
  explicit RMSNorm(Dims normalized_shape, RMSNormOptions options = {});
  /// Normalises over the last dim, of size normalized_size.
  explicit RMSNorm(std::int64_t normalized_size, RMSNormOptions options = {})
      : RMSNorm(Dims{normalized_size}, options) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;
  void reset_parameters();  ///< weight to ones

  Dims normalized_shape;      ///< the trailing shape normalised over
  std::optional<double> eps;  ///< added to mean(x^2); nothing: the dtype's machine epsilon
  bool elementwise_affine;    ///< whether weight is learned
  Tensor weight;              ///< normalized_shape, or undefined
};

/// Options of GroupNorm.
struct GroupNormOptions {
  double eps = 1e-5;   ///< added to the variance
  bool affine = true;  ///< learn weight (ones) and bias (zeros) per channel
};

/// Group normalisation, as torch.nn.GroupNorm.
/// Input [N, C, ...]: the channels in num_groups groups, each normalised per
/// sample over its channels and positions; the same in training and eval.
class GroupNorm : public Module {
 public:
  /// Normalises each of `num_groups` groups of channels over the group and the spatial dims.
  /// @param num_groups   the number of groups, > 0
  /// @param num_channels C, divisible by num_groups
  /// @param options      eps and affine
  /// @throws tg::ValueError for num_groups <= 0 or num_channels not divisible by it.
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels, GroupNormOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;
  void reset_parameters();  ///< weight to ones, bias to zeros

  std::int64_t num_groups;    ///< the number of groups
  std::int64_t num_channels;  ///< C
  double eps;                 ///< added to the variance
  bool affine;                ///< whether weight and bias are learned
  /// The scale and shift, [num_channels], or undefined.
  ///@{
  Tensor weight, bias;
  ///@}
};

/// Options of BatchNorm1d and BatchNorm2d.
struct BatchNormOptions {
  double eps = 1e-5;  ///< added to the variance
  /// Weight of the batch in the running statistics; nothing: a cumulative
  /// average over all batches seen (1 / num_batches_tracked).
  std::optional<double> momentum = 0.1;
  bool affine = true;               ///< learn weight (ones) and bias (zeros) per channel
  bool track_running_stats = true;  ///< keep running_mean/running_var and use them in eval
};

/// Options of InstanceNorm1d and InstanceNorm2d (PyTorch's defaults: no affine, no running statistics).
struct InstanceNormOptions {
  double eps = 1e-5;                 ///< added to the variance
  double momentum = 0.1;             ///< the batch's weight in the running statistics
  bool affine = false;               ///< learn weight (ones) and bias (zeros) per channel
  bool track_running_stats = false;  ///< keep running_mean/running_var and use them in eval
};

/// What BatchNorm and InstanceNorm share (as torch.nn's _NormBase): per-channel
/// weight and bias, and the running statistics with their buffers'
/// names, which a state_dict must match PyTorch's by.
class NormBase : public Module {
 public:
  std::string extra_repr() const override;
  /// running_mean to zeros, running_var to ones, num_batches_tracked to 0.
  void reset_running_stats();
  /// reset_running_stats(), then weight to ones and bias to zeros.
  void reset_parameters();

  std::int64_t num_features;       ///< C
  double eps;                      ///< added to the variance
  std::optional<double> momentum;  ///< the batch's weight in the running statistics (none: see the subclass)
  bool affine;                     ///< whether weight and bias are learned
  bool track_running_stats;        ///< whether running statistics are kept
  /// The scale and shift, [C], or undefined.
  ///@{
  Tensor weight, bias;
  ///@}
  /// The running statistics (buffers), or undefined.
  ///@{
  Tensor running_mean, running_var, num_batches_tracked;
  ///@}

 protected:
  /// Registers the parameters and buffers of num_features channels, then resets them.
  /// @throws tg::ValueError for a negative num_features (`kind` names the module in the message).
  NormBase(const char* kind, std::int64_t num_features, double eps, std::optional<double> momentum, bool affine,
           bool track_running_stats);
};

/// Batch normalisation, the base of BatchNorm1d and BatchNorm2d (as torch.nn's _BatchNorm).
/// Normalises each channel over the batch (and spatial dims). In training the
/// batch statistics are used and the running statistics (buffers
/// running_mean, running_var with the unbiased variance, and
/// num_batches_tracked) are updated; in eval the running statistics are used.
/// momentum nothing: a cumulative average over all batches (1 / num_batches_tracked).
class BatchNorm : public NormBase {
 public:
  Tensor forward(const Tensor& input) override;

 protected:
  /// Registers the parameters and buffers of num_features channels.
  /// @throws tg::ValueError for a negative num_features.
  BatchNorm(std::int64_t num_features, BatchNormOptions options)
      : NormBase("BatchNorm", num_features, options.eps, options.momentum, options.affine,
                 options.track_running_stats) {}
  /// Throws unless the input has a rank this module accepts.
  virtual void check_input_dim(const Tensor& input) const = 0;
};

/// Batch normalisation, as torch.nn.BatchNorm1d: input [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  /// Over `num_features` channels (C), with BatchNormOptions' eps, momentum, affine and running statistics.
  /// @throws tg::ValueError for a negative num_features.
  explicit BatchNorm1d(std::int64_t num_features, BatchNormOptions options = {}) : BatchNorm(num_features, options) {}
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  void check_input_dim(const Tensor& input) const override;  ///< tg::ShapeError for another rank
};

/// Batch normalisation, as torch.nn.BatchNorm2d: input [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  /// Over `num_features` channels (C), with BatchNormOptions' eps, momentum, affine and running statistics.
  /// @throws tg::ValueError for a negative num_features.
  explicit BatchNorm2d(std::int64_t num_features, BatchNormOptions options = {}) : BatchNorm(num_features, options) {}
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  void check_input_dim(const Tensor& input) const override;  ///< tg::ShapeError for another rank
};

/// Instance normalisation, the base of InstanceNorm1d and InstanceNorm2d (as
/// torch.nn's _InstanceNorm): each (sample, channel) normalised over its
/// positions by tg::instance_norm. With track_running_stats, training updates
/// the buffers running_mean and running_var (num_batches_tracked is kept for
/// PyTorch's state_dict and, as there, not counted) and eval normalises by
/// them; momentum nothing leaves them as they are (as PyTorch 2's
/// InstanceNorm). An unbatched input (no N dim) is taken as a batch of one.
class InstanceNorm : public NormBase {
 public:
  Tensor forward(const Tensor& input) override;

 protected:
  /// Registers the parameters and buffers of num_features channels.
  /// @throws tg::ValueError for a negative num_features.
  InstanceNorm(std::int64_t num_features, InstanceNormOptions options)
      : NormBase("InstanceNorm", num_features, options.eps, options.momentum, options.affine,
                 options.track_running_stats) {}
  /// The rank of an unbatched input: 2 ([C, L]) for InstanceNorm1d, 3 for InstanceNorm2d.
  virtual int unbatched_dim() const = 0;
};

/// Instance normalisation, as torch.nn.InstanceNorm1d: input [N, C, L] or [C, L].
class InstanceNorm1d : public InstanceNorm {
 public:
  /// Over `num_features` channels (C), with InstanceNormOptions' eps, momentum, affine and running statistics.
  /// @throws tg::ValueError for a negative num_features.
  explicit InstanceNorm1d(std::int64_t num_features, InstanceNormOptions options = {})
      : InstanceNorm(num_features, options) {}
  std::string type_name() const override { return "InstanceNorm1d"; }

 protected:
  int unbatched_dim() const override { return 2; }  ///< [C, L]
};

/// Instance normalisation, as torch.nn.InstanceNorm2d: input [N, C, H, W] or [C, H, W].
class InstanceNorm2d : public InstanceNorm {
 public:
  /// Over `num_features` channels (C), with InstanceNormOptions' eps, momentum, affine and running statistics.
  /// @throws tg::ValueError for a negative num_features.
  explicit InstanceNorm2d(std::int64_t num_features, InstanceNormOptions options = {})
      : InstanceNorm(num_features, options) {}
  std::string type_name() const override { return "InstanceNorm2d"; }

 protected:
  int unbatched_dim() const override { return 3; }  ///< [C, H, W]
};

}  // namespace tg::nn

#pragma GCC diagnostic pop
