// The losses built from the ops of autograd/ops.h (mse, l1, huber), the
// reduction and target checks every loss shares, and the loss modules. The
// fused losses are in autograd/ops/loss.cpp.
#include <tapegrad/nn/loss.h>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.h>

namespace tg::nn {

std::string reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return "none";
    case Reduction::Mean: return "mean";
    case Reduction::Sum: return "sum";
  }
  return "?";
}

Tensor reduce_loss(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return loss;
    case Reduction::Mean: return tg::mean(loss);
    case Reduction::Sum: return tg::sum(loss);
  }
  throw ValueError("reduce_loss: unknown reduction");
}

namespace detail {

Tensor elementwise_loss_target(const char* op, const Tensor& input, const Tensor& target) {
  if (!input.is_floating_point())
    throw DTypeError(fmt::format("{}: input must be float32 or float64, got {}", op, dtype_name(input.dtype())));
  if (target.shape() != input.shape())
    throw ShapeError(fmt::format("{}: target must have the input's shape {}, got {} {}", op,
                                 shape_str(input.sizes()), dtype_name(target.dtype()), shape_str(target.sizes())));
  // As PyTorch: an int64 or bool target is taken in the input's dtype, and a
  // floating one promotes with it in the ops that follow.
  return target.is_floating_point() ? target : tg::to_dtype(target, input.dtype());
}

}  // namespace detail

}  // namespace tg::nn

namespace tg::nn::functional {

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options) {
  const Tensor d = tg::sub(input, detail::elementwise_loss_target("mse_loss", input, target));
  return reduce_loss(tg::mul(d, d), options.reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options) {
  const Tensor d = tg::sub(input, detail::elementwise_loss_target("l1_loss", input, target));
  return reduce_loss(tg::abs(d), options.reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options) {
  const double delta = options.delta;
  if (!(delta > 0)) throw ValueError(fmt::format("huber_loss: delta must be positive, got {}", delta));
  // Unlike mse and l1, PyTorch's huber_loss computes in the input's dtype.
  const Tensor d = tg::sub(input, tg::to_dtype(detail::elementwise_loss_target("huber_loss", input, target),
                                               input.dtype()));
  const Tensor a = tg::abs(d);
  // The branches meet with equal value and slope at |d| = delta.
  const Tensor quadratic = tg::mul(tg::mul(d, d), 0.5);
  const Tensor linear = tg::mul(tg::sub(a, 0.5 * delta), delta);
  return reduce_loss(tg::where(a.lt(delta), quadratic, linear), options.reduction);
}

}  // namespace tg::nn::functional

namespace tg::nn {

CrossEntropyLoss::CrossEntropyLoss(CrossEntropyLossOptions options) : options(std::move(options)) {
  if (this->options.weight.defined()) this->options.weight = register_buffer("weight", this->options.weight);
}
Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::cross_entropy(input, target, options);
}

NLLLoss::NLLLoss(NLLLossOptions options) : options(std::move(options)) {
  if (this->options.weight.defined()) this->options.weight = register_buffer("weight", this->options.weight);
}
Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::nll_loss(input, target, options);
}

Tensor MSELoss::forward(const Tensor& input, const Tensor& target) {
  return functional::mse_loss(input, target, options);
}

Tensor L1Loss::forward(const Tensor& input, const Tensor& target) {
  return functional::l1_loss(input, target, options);
}

HuberLoss::HuberLoss(HuberLossOptions options) : options(options) {
  if (!(options.delta > 0)) throw ValueError(fmt::format("HuberLoss: delta must be positive, got {}", options.delta));
}
Tensor HuberLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::huber_loss(input, target, options);
}

BCELoss::BCELoss(BCELossOptions options) : options(std::move(options)) {
  if (this->options.weight.defined()) this->options.weight = register_buffer("weight", this->options.weight);
}
Tensor BCELoss::forward(const Tensor& input, const Tensor& target) {
  return functional::binary_cross_entropy(input, target, options);
}

BCEWithLogitsLoss::BCEWithLogitsLoss(BCEWithLogitsLossOptions options) : options(std::move(options)) {
  if (this->options.weight.defined()) this->options.weight = register_buffer("weight", this->options.weight);
  if (this->options.pos_weight.defined())
    this->options.pos_weight = register_buffer("pos_weight", this->options.pos_weight);
}
Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::binary_cross_entropy_with_logits(input, target, options);
}

}  // namespace tg::nn
