#pragma once
// Losses, as functions (tg::nn::functional, like torch.nn.functional) and as
// modules (tg::nn, like torch.nn):
//
//   namespace F = tg::nn::functional;
//   auto loss = F::cross_entropy(logits, labels, {.label_smoothing = 0.1});
//   tg::nn::CrossEntropyLoss criterion({.ignore_index = 0});
//   auto same = criterion(logits, labels);
//
// cross_entropy, nll_loss, binary_cross_entropy and
// binary_cross_entropy_with_logits are fused ops (autograd/ops/loss.cpp):
// one pass forward, a closed-form backward written with differentiable ops so
// that higher derivatives work. The others are built from the ops of
// autograd/ops.h (nn/loss.cpp). Every loss works in float32 and float64.
#include <cstdint>
#include <string>

#include <tapegrad/nn/module.h>

namespace tg::nn {

// How per-element losses become the result: kept as they are, averaged, or
// summed (PyTorch's reduction='none' | 'mean' | 'sum').
enum class Reduction { None, Mean, Sum };

struct CrossEntropyLossOptions {
  Tensor weight{};                   // [C] rescales each class; undefined: all 1
  std::int64_t ignore_index = -100;  // class-index targets equal to it add nothing
  double label_smoothing = 0;        // in [0, 1]
  Reduction reduction = Reduction::Mean;
};

struct NLLLossOptions {
  Tensor weight{};
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
};

struct MSELossOptions {
  Reduction reduction = Reduction::Mean;
};

struct L1LossOptions {
  Reduction reduction = Reduction::Mean;
};

struct HuberLossOptions {
  Reduction reduction = Reduction::Mean;
  double delta = 1.0;  // > 0: quadratic inside |x - y| < delta, linear outside
};

struct BCELossOptions {
  Tensor weight{};  // broadcasts to the input's shape
  Reduction reduction = Reduction::Mean;
};

struct BCEWithLogitsLossOptions {
  Tensor weight{};      // broadcasts to the input's shape
  Tensor pos_weight{};  // weight of the positive term, broadcast along the last dim (e.g. [C])
  Reduction reduction = Reduction::Mean;
};

std::string reduction_name(Reduction reduction);  // "none", "mean", "sum"

// `loss` itself, its mean, or its sum.
Tensor reduce_loss(const Tensor& loss, Reduction reduction);

namespace detail {
// The target of an elementwise loss, checked to have the input's shape; an
// int64 or bool target is converted to the input's dtype, a floating one is
// left to promote with the input. Errors name `op` and both.
Tensor elementwise_loss_target(const char* op, const Tensor& input, const Tensor& target);
}  // namespace detail

}  // namespace tg::nn

namespace tg::nn::functional {

// Softmax cross-entropy of `input` logits [N, C] (or [C], or [N, C, d1, ...])
// against either
//   - int64 class indices [N] (or [], or [N, d1, ...]) in [0, C), or
//   - float class probabilities with the input's shape.
// One fused, numerically stable op (log-softmax and the negative
// log-likelihood together); finite for logits of any magnitude.
// Mean reduction divides by the summed weights of the targets that are not
// ignore_index (class indices) or by the number of rows (probabilities), as
// PyTorch. `weight` and class-index targets get no gradient.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options = {});

// Negative log-likelihood of log-probabilities `input` [N, C] (or [C], or
// [N, C, d1, ...]) at int64 class indices `target`: -weight[t] * input[n, t].
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {});

// (input - target)^2 and |input - target|; input and target have one shape.
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options = {});
Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options = {});

// 0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), d = input - target.
Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options = {});

// -weight * (t log(x) + (1 - t) log(1 - x)) for probabilities x in [0, 1],
// each log clamped at -100 as PyTorch (so x = 0 or 1 gives a finite loss).
// Input values outside [0, 1] are a ValueError naming the first such value.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& options = {});

// The same on logits, computed stably as
//   (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x),
// never forming sigmoid(x); finite for logits of any magnitude.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& options = {});

}  // namespace tg::nn::functional

namespace tg::nn {

// Base of the loss modules: two-tensor forward, printed as PyTorch prints
// them. A loss has no parameters; weights are buffers, so they follow to()
// and appear in state_dict().
class Loss : public Module {
 public:
  using Module::forward;
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
};

class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(CrossEntropyLossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "CrossEntropyLoss"; }
  CrossEntropyLossOptions options;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(NLLLossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "NLLLoss"; }
  NLLLossOptions options;
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(MSELossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "MSELoss"; }
  MSELossOptions options;
};

class L1Loss : public Loss {
 public:
  explicit L1Loss(L1LossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "L1Loss"; }
  L1LossOptions options;
};

class HuberLoss : public Loss {
 public:
  explicit HuberLoss(HuberLossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "HuberLoss"; }
  HuberLossOptions options;
};

class BCELoss : public Loss {
 public:
  explicit BCELoss(BCELossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCELoss"; }
  BCELossOptions options;
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(BCEWithLogitsLossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCEWithLogitsLoss"; }
  BCEWithLogitsLossOptions options;
};

}  // namespace tg::nn
