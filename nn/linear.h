#pragma once
/// @file
/// Linear, and the two shape-only modules Identity and Flatten.
#include <cstdint>
#include <utility>

#include <tapegrad/nn/module.h>

// Constructor parameters carry PyTorch's argument names, which are the names
// of the members they set: GCC's -Wshadow would flag each in a user's build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"

namespace tg::nn {

/// Options of Linear.
struct LinearOptions {
  bool bias = true;  ///< add a learned bias
};

/// y = x @ weight^T + bias, one GEMM with the bias folded in; x [..., in].
/// Initialised as PyTorch: weight by kaiming_uniform_(a = sqrt(5)), i.e.
/// U(-1/sqrt(in), 1/sqrt(in)), and the bias from the same range.
class Linear : public Module {
 public:
  /// A layer from `in_features` to `out_features`, with a bias unless `bias` is false.
  /// `bias` is a StrictBool: `Linear(in, out, {})` is the default options (with a bias),
  /// not bias = false, and an integer is neither.
  /// @throws tg::ValueError for a negative number of features (zero is allowed, as in PyTorch).
  Linear(std::int64_t in_features, std::int64_t out_features, StrictBool bias = true);
  /// The same with options.
  Linear(std::int64_t in_features, std::int64_t out_features, LinearOptions options);

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  /// Draws weight and bias again, as the constructor does.
  void reset_parameters();

  std::int64_t in_features;   ///< the size of the input's last dim
  std::int64_t out_features;  ///< the size of the output's last dim
  Tensor weight;              ///< [out_features, in_features]
  Tensor bias;                ///< [out_features], or undefined
};

/// Returns its input (a placeholder, as torch.nn.Identity).
class Identity : public Module {
 public:
  Tensor forward(const Tensor& input) override { return input; }
  std::string type_name() const override { return "Identity"; }
};

/// Flattens dims start_dim..end_dim into one (by default all but the batch dim).
class Flatten : public Module {
 public:
  /// Flattens dims start_dim..end_dim (negative dims count from the end).
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;

  std::int64_t start_dim;  ///< the first dim flattened
  std::int64_t end_dim;    ///< the last dim flattened
};

/// Splits dim into unflattened_size (one entry may be -1), as tg::unflatten:
/// Unflatten(1, {2, 5}) takes [N, 10] to [N, 2, 5].
class Unflatten : public Module {
 public:
  /// The sizes are checked against the input when forward runs (tg::ShapeError).
  Unflatten(std::int64_t dim, Dims unflattened_size) : dim(dim), unflattened_size(std::move(unflattened_size)) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Unflatten"; }
  std::string extra_repr() const override;

  std::int64_t dim;       ///< the dim split (negative counts from the end)
  Dims unflattened_size;  ///< the sizes it is split into
};

}  // namespace tg::nn

#pragma GCC diagnostic pop
