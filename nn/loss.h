#pragma once
// Losses, as functions (tg::nn::functional, like torch.nn.functional) and as
// modules (tg::nn, like torch.nn):
//
//   namespace F = tg::nn::functional;
//   auto loss = F::cross_entropy(logits, labels, {.label_smoothing = 0.1});
//   tg::nn::CrossEntropyLoss criterion({.ignore_index = 0});
//   auto same = criterion(logits, labels);
//
// The functions and their options are the ops of autograd/nn_ops.h
// (tg::cross_entropy, ...); the names here forward to them.
#include <cstdint>
#include <string>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/module.h>

namespace tg::nn {

using tg::BCELossOptions;
using tg::BCEWithLogitsLossOptions;
using tg::CosineEmbeddingLossOptions;
using tg::CrossEntropyLossOptions;
using tg::GaussianNLLLossOptions;
using tg::HuberLossOptions;
using tg::KLDivLossOptions;
using tg::KLDivReduction;
using tg::L1LossOptions;
using tg::MarginRankingLossOptions;
using tg::MSELossOptions;
using tg::MultiLabelSoftMarginLossOptions;
using tg::NLLLossOptions;
using tg::PoissonNLLLossOptions;
using tg::reduce_loss;
using tg::Reduction;
using tg::reduction_name;
using tg::SmoothL1LossOptions;
using tg::TripletMarginLossOptions;

}  // namespace tg::nn

namespace tg::nn::functional {

inline Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options = {}) {
  return tg::cross_entropy(input, target, options);
}
inline Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {}) {
  return tg::nll_loss(input, target, options);
}
inline Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options = {}) {
  return tg::mse_loss(input, target, options);
}
inline Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options = {}) {
  return tg::l1_loss(input, target, options);
}
inline Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options = {}) {
  return tg::huber_loss(input, target, options);
}
inline Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& options = {}) {
  return tg::binary_cross_entropy(input, target, options);
}
inline Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                               const BCEWithLogitsLossOptions& options = {}) {
  return tg::binary_cross_entropy_with_logits(input, target, options);
}
inline Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivLossOptions& options = {}) {
  return tg::kl_div(input, target, options);
}
inline Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& options = {}) {
  return tg::smooth_l1_loss(input, target, options);
}
inline Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                                    const CosineEmbeddingLossOptions& options = {}) {
  return tg::cosine_embedding_loss(input1, input2, target, options);
}
inline Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                                  const MarginRankingLossOptions& options = {}) {
  return tg::margin_ranking_loss(input1, input2, target, options);
}
inline Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                                  const TripletMarginLossOptions& options = {}) {
  return tg::triplet_margin_loss(anchor, positive, negative, options);
}
inline Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, const PoissonNLLLossOptions& options = {}) {
  return tg::poisson_nll_loss(input, target, options);
}
inline Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var,
                                const GaussianNLLLossOptions& options = {}) {
  return tg::gaussian_nll_loss(input, target, var, options);
}
inline Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target,
                                          const MultiLabelSoftMarginLossOptions& options = {}) {
  return tg::multilabel_soft_margin_loss(input, target, options);
}

inline Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                       const Tensor& target_lengths, const CTCLossOptions& options = {}) {
  return tg::ctc_loss(log_probs, targets, input_lengths, target_lengths, options);
}

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

class KLDivLoss : public Loss {
 public:
  explicit KLDivLoss(KLDivLossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "KLDivLoss"; }
  KLDivLossOptions options;
};

class SmoothL1Loss : public Loss {
 public:
  explicit SmoothL1Loss(SmoothL1LossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "SmoothL1Loss"; }
  SmoothL1LossOptions options;
};

class PoissonNLLLoss : public Loss {
 public:
  explicit PoissonNLLLoss(PoissonNLLLossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "PoissonNLLLoss"; }
  PoissonNLLLossOptions options;
};

class MultiLabelSoftMarginLoss : public Loss {
 public:
  explicit MultiLabelSoftMarginLoss(MultiLabelSoftMarginLossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "MultiLabelSoftMarginLoss"; }
  MultiLabelSoftMarginLossOptions options;
};

// The three-input losses: called as criterion(a, b, c).
class CosineEmbeddingLoss : public Callable<CosineEmbeddingLoss> {
 public:
  using Module::forward;
  explicit CosineEmbeddingLoss(CosineEmbeddingLossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target);
  std::string type_name() const override { return "CosineEmbeddingLoss"; }
  CosineEmbeddingLossOptions options;
};

class MarginRankingLoss : public Callable<MarginRankingLoss> {
 public:
  using Module::forward;
  explicit MarginRankingLoss(MarginRankingLossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target);
  std::string type_name() const override { return "MarginRankingLoss"; }
  MarginRankingLossOptions options;
};

class TripletMarginLoss : public Callable<TripletMarginLoss> {
 public:
  using Module::forward;
  explicit TripletMarginLoss(TripletMarginLossOptions options = {});
  Tensor forward(const Tensor& anchor, const Tensor& positive, const Tensor& negative);
  std::string type_name() const override { return "TripletMarginLoss"; }
  TripletMarginLossOptions options;
};

// Called as ctc(log_probs, targets, input_lengths, target_lengths).
class CTCLoss : public Callable<CTCLoss> {
 public:
  using Module::forward;
  explicit CTCLoss(CTCLossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                 const Tensor& target_lengths);
  std::string type_name() const override { return "CTCLoss"; }
  CTCLossOptions options;
};

class GaussianNLLLoss : public Callable<GaussianNLLLoss> {
 public:
  using Module::forward;
  explicit GaussianNLLLoss(GaussianNLLLossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& var);
  std::string type_name() const override { return "GaussianNLLLoss"; }
  GaussianNLLLossOptions options;
};

}  // namespace tg::nn
