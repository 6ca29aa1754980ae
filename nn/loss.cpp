// The loss modules; the losses themselves are ops (autograd/ops/loss.cpp).
#include <tapegrad/nn/loss.h>

#include <fmt/format.h>

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

Tensor KLDivLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::kl_div(input, target, options);
}

SmoothL1Loss::SmoothL1Loss(SmoothL1LossOptions options) : options(options) {
  if (!(options.beta >= 0))
    throw ValueError(fmt::format("SmoothL1Loss: beta must be non-negative, got {}", options.beta));
}
Tensor SmoothL1Loss::forward(const Tensor& input, const Tensor& target) {
  return functional::smooth_l1_loss(input, target, options);
}

Tensor PoissonNLLLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::poisson_nll_loss(input, target, options);
}

MultiLabelSoftMarginLoss::MultiLabelSoftMarginLoss(MultiLabelSoftMarginLossOptions options)
    : options(std::move(options)) {
  if (this->options.weight.defined()) this->options.weight = register_buffer("weight", this->options.weight);
}
Tensor MultiLabelSoftMarginLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::multilabel_soft_margin_loss(input, target, options);
}

Tensor CosineEmbeddingLoss::forward(const Tensor& input1, const Tensor& input2, const Tensor& target) {
  return functional::cosine_embedding_loss(input1, input2, target, options);
}

Tensor MarginRankingLoss::forward(const Tensor& input1, const Tensor& input2, const Tensor& target) {
  return functional::margin_ranking_loss(input1, input2, target, options);
}

TripletMarginLoss::TripletMarginLoss(TripletMarginLossOptions options) : options(options) {
  if (!(options.p > 0)) throw ValueError(fmt::format("TripletMarginLoss: p must be positive, got {}", options.p));
}
Tensor TripletMarginLoss::forward(const Tensor& anchor, const Tensor& positive, const Tensor& negative) {
  return functional::triplet_margin_loss(anchor, positive, negative, options);
}

Tensor CTCLoss::forward(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                        const Tensor& target_lengths) {
  return functional::ctc_loss(log_probs, targets, input_lengths, target_lengths, options);
}

Tensor GaussianNLLLoss::forward(const Tensor& input, const Tensor& target, const Tensor& var) {
  return functional::gaussian_nll_loss(input, target, var, options);
}

}  // namespace tg::nn
