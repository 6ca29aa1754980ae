#pragma once
// Activation modules: thin wrappers over the ops of autograd/ops.h.
#include <cstdint>

#include <tapegrad/nn/module.h>

namespace tg::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override;
  double negative_slope;
};

// The exact (erf) form, as PyTorch's default.
class GELU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override { return "approximate='none'"; }
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Tanh"; }
};

class Softmax : public Module {
 public:
  explicit Softmax(std::int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Softmax"; }
  std::string extra_repr() const override;
  std::int64_t dim;
};

class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(std::int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LogSoftmax"; }
  std::string extra_repr() const override;
  std::int64_t dim;
};

// ---- the activations of autograd/ops/activation_functions.cpp ----
class Softplus : public Module {
 public:
  explicit Softplus(double beta = 1, double threshold = 20) : beta(beta), threshold(threshold) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Softplus"; }
  std::string extra_repr() const override;
  double beta, threshold;
};

class SiLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "SiLU"; }
};

class ELU : public Module {
 public:
  explicit ELU(double alpha = 1) : alpha(alpha) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ELU"; }
  std::string extra_repr() const override;
  double alpha;
};

class SELU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "SELU"; }
};

class CELU : public Module {
 public:
  explicit CELU(double alpha = 1) : alpha(alpha) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "CELU"; }
  std::string extra_repr() const override;
  double alpha;
};

class Mish : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Mish"; }
};

class Hardtanh : public Module {
 public:
  explicit Hardtanh(double min_val = -1, double max_val = 1) : min_val(min_val), max_val(max_val) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Hardtanh"; }
  std::string extra_repr() const override;
  double min_val, max_val;
};

class Hardswish : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Hardswish"; }
};

class Hardsigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Hardsigmoid"; }
};

class LogSigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LogSigmoid"; }
};

class Softsign : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Softsign"; }
};

class GLU : public Module {
 public:
  explicit GLU(std::int64_t dim = -1) : dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GLU"; }
  std::string extra_repr() const override;
  std::int64_t dim;
};

}  // namespace tg::nn
