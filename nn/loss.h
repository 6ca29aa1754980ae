#pragma once
/// @file
/// Losses, as functions (tg::nn::functional, like torch.nn.functional) and as
/// modules (tg::nn, like torch.nn).
///
/// @code
/// namespace F = tg::nn::functional;
/// auto loss = F::cross_entropy(logits, labels, {.label_smoothing = 0.1});
/// tg::nn::CrossEntropyLoss criterion({.ignore_index = 0});
/// auto same = criterion(logits, labels);
/// @endcode
///
/// The functions and their options are the ops of autograd/nn_ops.h
/// (tg::cross_entropy, ...); the names here forward to them.
#include <cstdint>
#include <string>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/module.h>

// Constructor parameters carry PyTorch's argument names, which are the names
// of the members they set: GCC's -Wshadow would flag each in a user's build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"

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

/// tg::cross_entropy (autograd/nn_ops.h), as torch.nn.functional.cross_entropy.
inline Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options = {}) {
  return tg::cross_entropy(input, target, options);
}
/// tg::nll_loss (autograd/nn_ops.h), as torch.nn.functional.nll_loss.
inline Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {}) {
  return tg::nll_loss(input, target, options);
}
/// tg::mse_loss (autograd/nn_ops.h), as torch.nn.functional.mse_loss.
inline Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options = {}) {
  return tg::mse_loss(input, target, options);
}
/// tg::l1_loss (autograd/nn_ops.h), as torch.nn.functional.l1_loss.
inline Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options = {}) {
  return tg::l1_loss(input, target, options);
}
/// tg::huber_loss (autograd/nn_ops.h), as torch.nn.functional.huber_loss.
inline Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options = {}) {
  return tg::huber_loss(input, target, options);
}
/// tg::binary_cross_entropy (autograd/nn_ops.h), as torch.nn.functional.binary_cross_entropy.
inline Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& options = {}) {
  return tg::binary_cross_entropy(input, target, options);
}
/// tg::binary_cross_entropy_with_logits (autograd/nn_ops.h), as torch.nn.functional.binary_cross_entropy_with_logits.
inline Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                               const BCEWithLogitsLossOptions& options = {}) {
  return tg::binary_cross_entropy_with_logits(input, target, options);
}
/// tg::kl_div (autograd/nn_ops.h), as torch.nn.functional.kl_div.
inline Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivLossOptions& options = {}) {
  return tg::kl_div(input, target, options);
}
/// tg::smooth_l1_loss (autograd/nn_ops.h), as torch.nn.functional.smooth_l1_loss.
inline Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& options = {}) {
  return tg::smooth_l1_loss(input, target, options);
}
/// tg::cosine_embedding_loss (autograd/nn_ops.h), as torch.nn.functional.cosine_embedding_loss.
inline Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                                    const CosineEmbeddingLossOptions& options = {}) {
  return tg::cosine_embedding_loss(input1, input2, target, options);
}
/// tg::margin_ranking_loss (autograd/nn_ops.h), as torch.nn.functional.margin_ranking_loss.
inline Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                                  const MarginRankingLossOptions& options = {}) {
  return tg::margin_ranking_loss(input1, input2, target, options);
}
/// tg::triplet_margin_loss (autograd/nn_ops.h), as torch.nn.functional.triplet_margin_loss.
inline Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                                  const TripletMarginLossOptions& options = {}) {
  return tg::triplet_margin_loss(anchor, positive, negative, options);
}
/// tg::poisson_nll_loss (autograd/nn_ops.h), as torch.nn.functional.poisson_nll_loss.
inline Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, const PoissonNLLLossOptions& options = {}) {
  return tg::poisson_nll_loss(input, target, options);
}
/// tg::gaussian_nll_loss (autograd/nn_ops.h), as torch.nn.functional.gaussian_nll_loss.
inline Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var,
                                const GaussianNLLLossOptions& options = {}) {
  return tg::gaussian_nll_loss(input, target, var, options);
}
/// tg::multilabel_soft_margin_loss (autograd/nn_ops.h), as torch.nn.functional.multilabel_soft_margin_loss.
inline Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target,
                                          const MultiLabelSoftMarginLossOptions& options = {}) {
  return tg::multilabel_soft_margin_loss(input, target, options);
}

/// tg::ctc_loss (autograd/nn_ops.h), as torch.nn.functional.ctc_loss.
inline Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                       const Tensor& target_lengths, const CTCLossOptions& options = {}) {
  return tg::ctc_loss(log_probs, targets, input_lengths, target_lengths, options);
}

}  // namespace tg::nn::functional

namespace tg::nn {

/// Base of the loss modules: two-tensor forward, printed as PyTorch prints
/// them. A loss has no parameters; weights are buffers, so they follow to()
/// and appear in state_dict().
class Loss : public Module {
 public:
  using Module::forward;
  /// The loss of input against target, reduced as the options say.
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  /// forward(input, target).
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
};

/// torch.nn.CrossEntropyLoss: tg::cross_entropy as a module.
class CrossEntropyLoss : public Loss {
 public:
  /// A CrossEntropyLoss with the given options (the weights become buffers).
  explicit CrossEntropyLoss(CrossEntropyLossOptions options = {});
  /// tg::cross_entropy of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "CrossEntropyLoss"; }
  CrossEntropyLossOptions options;  ///< as constructed
};

/// torch.nn.NLLLoss: tg::nll_loss as a module.
class NLLLoss : public Loss {
 public:
  /// A NLLLoss with the given options (the weights become buffers).
  explicit NLLLoss(NLLLossOptions options = {});
  /// tg::nll_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "NLLLoss"; }
  NLLLossOptions options;  ///< as constructed
};

/// torch.nn.MSELoss: tg::mse_loss as a module.
class MSELoss : public Loss {
 public:
  /// A MSELoss with the given options.
  explicit MSELoss(MSELossOptions options = {}) : options(options) {}
  /// tg::mse_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "MSELoss"; }
  MSELossOptions options;  ///< as constructed
};

/// torch.nn.L1Loss: tg::l1_loss as a module.
class L1Loss : public Loss {
 public:
  /// A L1Loss with the given options.
  explicit L1Loss(L1LossOptions options = {}) : options(options) {}
  /// tg::l1_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "L1Loss"; }
  L1LossOptions options;  ///< as constructed
};

/// torch.nn.HuberLoss: tg::huber_loss as a module.
class HuberLoss : public Loss {
 public:
  /// A HuberLoss with the given options.
  /// @throws tg::ValueError for delta <= 0.
  explicit HuberLoss(HuberLossOptions options = {});
  /// tg::huber_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "HuberLoss"; }
  HuberLossOptions options;  ///< as constructed
};

/// torch.nn.BCELoss: tg::binary_cross_entropy as a module.
class BCELoss : public Loss {
 public:
  /// A BCELoss with the given options (the weights become buffers).
  explicit BCELoss(BCELossOptions options = {});
  /// tg::binary_cross_entropy of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCELoss"; }
  BCELossOptions options;  ///< as constructed
};

/// torch.nn.BCEWithLogitsLoss: tg::binary_cross_entropy_with_logits as a module.
class BCEWithLogitsLoss : public Loss {
 public:
  /// A BCEWithLogitsLoss with the given options (the weights become buffers).
  explicit BCEWithLogitsLoss(BCEWithLogitsLossOptions options = {});
  /// tg::binary_cross_entropy_with_logits of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCEWithLogitsLoss"; }
  BCEWithLogitsLossOptions options;  ///< as constructed
};

/// torch.nn.KLDivLoss: tg::kl_div as a module.
class KLDivLoss : public Loss {
 public:
  /// A KLDivLoss with the given options.
  explicit KLDivLoss(KLDivLossOptions options = {}) : options(options) {}
  /// tg::kl_div of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "KLDivLoss"; }
  KLDivLossOptions options;  ///< as constructed
};

/// torch.nn.SmoothL1Loss: tg::smooth_l1_loss as a module.
class SmoothL1Loss : public Loss {
 public:
  /// A SmoothL1Loss with the given options.
  /// @throws tg::ValueError for a negative beta.
  explicit SmoothL1Loss(SmoothL1LossOptions options = {});
  /// tg::smooth_l1_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "SmoothL1Loss"; }
  SmoothL1LossOptions options;  ///< as constructed
};

/// torch.nn.PoissonNLLLoss: tg::poisson_nll_loss as a module.
class PoissonNLLLoss : public Loss {
 public:
  /// A PoissonNLLLoss with the given options.
  explicit PoissonNLLLoss(PoissonNLLLossOptions options = {}) : options(options) {}
  /// tg::poisson_nll_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "PoissonNLLLoss"; }
  PoissonNLLLossOptions options;  ///< as constructed
};

/// torch.nn.MultiLabelSoftMarginLoss: tg::multilabel_soft_margin_loss as a module.
class MultiLabelSoftMarginLoss : public Loss {
 public:
  /// A MultiLabelSoftMarginLoss with the given options (the weights become buffers).
  explicit MultiLabelSoftMarginLoss(MultiLabelSoftMarginLossOptions options = {});
  /// tg::multilabel_soft_margin_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "MultiLabelSoftMarginLoss"; }
  MultiLabelSoftMarginLossOptions options;  ///< as constructed
};

// The three-input losses: called as criterion(a, b, c).
/// torch.nn.CosineEmbeddingLoss: tg::cosine_embedding_loss as a module.
class CosineEmbeddingLoss : public Callable<CosineEmbeddingLoss> {
 public:
  using Module::forward;
  /// A CosineEmbeddingLoss with the given options.
  explicit CosineEmbeddingLoss(CosineEmbeddingLossOptions options = {}) : options(options) {}
  /// tg::cosine_embedding_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target);
  std::string type_name() const override { return "CosineEmbeddingLoss"; }
  CosineEmbeddingLossOptions options;  ///< as constructed
};

/// torch.nn.MarginRankingLoss: tg::margin_ranking_loss as a module.
class MarginRankingLoss : public Callable<MarginRankingLoss> {
 public:
  using Module::forward;
  /// A MarginRankingLoss with the given options.
  explicit MarginRankingLoss(MarginRankingLossOptions options = {}) : options(options) {}
  /// tg::margin_ranking_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target);
  std::string type_name() const override { return "MarginRankingLoss"; }
  MarginRankingLossOptions options;  ///< as constructed
};

/// torch.nn.TripletMarginLoss: tg::triplet_margin_loss as a module.
class TripletMarginLoss : public Callable<TripletMarginLoss> {
 public:
  using Module::forward;
  /// A TripletMarginLoss with the given options.
  /// @throws tg::ValueError for p <= 0.
  explicit TripletMarginLoss(TripletMarginLossOptions options = {});
  /// tg::triplet_margin_loss of the arguments with this module's options.
  Tensor forward(const Tensor& anchor, const Tensor& positive, const Tensor& negative);
  std::string type_name() const override { return "TripletMarginLoss"; }
  TripletMarginLossOptions options;  ///< as constructed
};

/// torch.nn.CTCLoss: tg::ctc_loss as a module, called as ctc(log_probs, targets,
/// input_lengths, target_lengths).
class CTCLoss : public Callable<CTCLoss> {
 public:
  using Module::forward;
  /// A CTCLoss with the given options.
  explicit CTCLoss(CTCLossOptions options = {}) : options(options) {}
  /// tg::ctc_loss of the arguments with this module's options.
  Tensor forward(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                 const Tensor& target_lengths);
  std::string type_name() const override { return "CTCLoss"; }
  CTCLossOptions options;  ///< as constructed
};

/// torch.nn.GaussianNLLLoss: tg::gaussian_nll_loss as a module.
class GaussianNLLLoss : public Callable<GaussianNLLLoss> {
 public:
  using Module::forward;
  /// A GaussianNLLLoss with the given options.
  explicit GaussianNLLLoss(GaussianNLLLossOptions options = {}) : options(options) {}
  /// tg::gaussian_nll_loss of the arguments with this module's options.
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& var);
  std::string type_name() const override { return "GaussianNLLLoss"; }
  GaussianNLLLossOptions options;  ///< as constructed
};

}  // namespace tg::nn

#pragma GCC diagnostic pop
