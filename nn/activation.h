#pragma once
/// @file
/// Activation modules: thin wrappers over the ops of autograd/ops.h.
#include <cstdint>
#include <string>

#include <tapegrad/nn/module.h>

// Constructor parameters carry PyTorch's argument names, which are the names
// of the members they set: GCC's -Wshadow would flag each in a user's build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"

namespace tg::nn {

/// max(x, 0), elementwise (torch.nn.ReLU).
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ReLU"; }
};

/// x where x > 0, else negative_slope * x, elementwise (torch.nn.LeakyReLU).
class LeakyReLU : public Module {
 public:
  /// The slope for x < 0.
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override;
  double negative_slope;  ///< the slope for x < 0
};

/// x * Phi(x), Phi the standard normal CDF (torch.nn.GELU): the exact (erf)
/// form by default, or with approximate "tanh" the tanh approximation
/// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
class GELU : public Module {
 public:
  /// approximate is "none" (exact) or "tanh".
  /// @throws tg::ValueError for another approximate (PyTorch refuses it only in forward).
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override;
  std::string approximate;  ///< "none" or "tanh"
};

/// min(max(x, 0), 6), elementwise (torch.nn.ReLU6).
class ReLU6 : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ReLU6"; }
};

/// Options of PReLU.
struct PReLUOptions {
  std::int64_t num_parameters = 1;  ///< 1 (one slope for all channels) or the number of channels C
  double init = 0.25;               ///< the slopes' initial value
};

/// x where x > 0, else a * x, with a learned slope a per channel (dim 1) or one
/// for all (torch.nn.PReLU).
class PReLU : public Module {
 public:
  /// num_parameters slopes (1, or the input's channels), each starting at init.
  /// @throws tg::ValueError for num_parameters < 1.
  explicit PReLU(PReLUOptions options = {});
  /// The same with PyTorch's positional arguments.
  explicit PReLU(std::int64_t num_parameters, double init = 0.25) : PReLU(PReLUOptions{num_parameters, init}) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "PReLU"; }
  std::string extra_repr() const override;
  void reset_parameters();  ///< every slope back to init

  std::int64_t num_parameters;  ///< the number of slopes
  double init;                  ///< their initial value
  Tensor weight;                ///< [num_parameters], the slopes
};

/// 1 / (1 + exp(-x)), elementwise (torch.nn.Sigmoid).
class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sigmoid"; }
};

/// tanh(x), elementwise (torch.nn.Tanh).
class Tanh : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Tanh"; }
};

/// softmax along `dim`: exp(x) / sum(exp(x)) (torch.nn.Softmax).
class Softmax : public Module {
 public:
  /// Normalizes along `dim` (negative counts from the end).
  explicit Softmax(std::int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Softmax"; }
  std::string extra_repr() const override;
  std::int64_t dim;  ///< see the constructor
};

/// log(softmax(x)) along `dim`, computed stably (torch.nn.LogSoftmax).
class LogSoftmax : public Module {
 public:
  /// Normalizes along `dim` (negative counts from the end).
  explicit LogSoftmax(std::int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LogSoftmax"; }
  std::string extra_repr() const override;
  std::int64_t dim;  ///< see the constructor
};

// ---- the activations of autograd/ops/activation_functions.cpp ----
/// log(1 + exp(beta x)) / beta, linear where beta x > threshold (torch.nn.Softplus).
class Softplus : public Module {
 public:
  /// The sharpness beta, and the threshold: where beta x > threshold the output is x.
  explicit Softplus(double beta = 1, double threshold = 20) : beta(beta), threshold(threshold) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Softplus"; }
  std::string extra_repr() const override;
  double beta;       ///< the sharpness
  double threshold;  ///< where beta x exceeds it, the output is x
};

/// x * sigmoid(x), elementwise (torch.nn.SiLU).
class SiLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "SiLU"; }
};

/// x where x > 0, else alpha (exp(x) - 1), elementwise (torch.nn.ELU).
class ELU : public Module {
 public:
  /// The value the negative side tends to is -alpha.
  explicit ELU(double alpha = 1) : alpha(alpha) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ELU"; }
  std::string extra_repr() const override;
  double alpha;  ///< see the constructor
};

/// scale * ELU(x) with PyTorch's fixed alpha and scale (torch.nn.SELU).
class SELU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "SELU"; }
};

/// max(0, x) + min(0, alpha (exp(x / alpha) - 1)), elementwise (torch.nn.CELU).
class CELU : public Module {
 public:
  /// The value the negative side tends to is -alpha.
  explicit CELU(double alpha = 1) : alpha(alpha) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "CELU"; }
  std::string extra_repr() const override;
  double alpha;  ///< see the constructor
};

/// x * tanh(softplus(x)), elementwise (torch.nn.Mish).
class Mish : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Mish"; }
};

/// x clamped to [min_val, max_val] (torch.nn.Hardtanh).
class Hardtanh : public Module {
 public:
  /// The range the output is clamped to.
  /// @throws tg::ValueError unless max_val > min_val (as torch.nn.Hardtanh asserts).
  explicit Hardtanh(double min_val = -1, double max_val = 1);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Hardtanh"; }
  std::string extra_repr() const override;
  double min_val;  ///< the lower bound
  double max_val;  ///< the upper bound
};

/// x * relu6(x + 3) / 6, elementwise (torch.nn.Hardswish).
class Hardswish : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Hardswish"; }
};

/// relu6(x + 3) / 6, elementwise (torch.nn.Hardsigmoid).
class Hardsigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Hardsigmoid"; }
};

/// log(sigmoid(x)), computed stably (torch.nn.LogSigmoid).
class LogSigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LogSigmoid"; }
};

/// x / (1 + |x|), elementwise (torch.nn.Softsign).
class Softsign : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Softsign"; }
};

/// a * sigmoid(b), where a and b are the halves of the input along `dim` (torch.nn.GLU).
class GLU : public Module {
 public:
  /// Splits the input in halves along `dim`, whose size must be even.
  explicit GLU(std::int64_t dim = -1) : dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GLU"; }
  std::string extra_repr() const override;
  std::int64_t dim;  ///< see the constructor
};

}  // namespace tg::nn

#pragma GCC diagnostic pop
