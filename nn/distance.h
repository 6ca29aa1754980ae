#pragma once
/// @file
/// CosineSimilarity and PairwiseDistance: modules without parameters over the
/// ops of autograd/ops/distance.cpp, called with two inputs (`cos(x1, x2)`).
#include <cstdint>

#include <tapegrad/nn/module.h>

// Constructor parameters carry PyTorch's argument names, which are the names
// of the members they set: GCC's -Wshadow would flag each in a user's build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"

namespace tg::nn {

/// Options of CosineSimilarity.
struct CosineSimilarityOptions {
  std::int64_t dim = 1;  ///< the dim reduced
  double eps = 1e-8;     ///< the smallest norm divided by
};

/// tg::cosine_similarity as a module, as torch.nn.CosineSimilarity. Prints as
/// `CosineSimilarity()` whatever its options, as torch's.
class CosineSimilarity : public Callable<CosineSimilarity> {
 public:
  /// With dim and eps (checked when forward runs).
  explicit CosineSimilarity(CosineSimilarityOptions options = {}) : dim(options.dim), eps(options.eps) {}
  using Module::forward;
  /// The cosine similarity of x1 and x2 (broadcast) along dim.
  Tensor forward(const Tensor& x1, const Tensor& x2);
  std::string type_name() const override { return "CosineSimilarity"; }

  std::int64_t dim;  ///< the dim reduced
  double eps;        ///< the smallest norm divided by
};

/// Options of PairwiseDistance.
struct PairwiseDistanceOptions {
  double p = 2;          ///< the norm's order
  double eps = 1e-6;     ///< added to x1 - x2
  bool keepdim = false;  ///< keep the reduced last dim (as size 1)
};

/// tg::pairwise_distance as a module, as torch.nn.PairwiseDistance. Prints as
/// `PairwiseDistance()` whatever its options, as torch's.
class PairwiseDistance : public Callable<PairwiseDistance> {
 public:
  /// With p, eps and keepdim.
  explicit PairwiseDistance(PairwiseDistanceOptions options = {})
      : p(options.p), eps(options.eps), keepdim(options.keepdim) {}
  using Module::forward;
  /// ||x1 - x2 + eps||_p over the last dim.
  Tensor forward(const Tensor& x1, const Tensor& x2);
  std::string type_name() const override { return "PairwiseDistance"; }

  double p;      ///< the norm's order
  double eps;    ///< added to x1 - x2
  bool keepdim;  ///< keep the reduced last dim
};

}  // namespace tg::nn

#pragma GCC diagnostic pop
