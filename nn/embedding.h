#pragma once
/// @file
/// The Embedding module, as torch.nn.Embedding: a table of vectors looked up by index.
#include <cstdint>
#include <optional>

#include <tapegrad/nn/module.h>

namespace tg::nn {

/// A table of num_embeddings vectors of size embedding_dim, looked up by
/// int64 (or int32) indices of any shape ([*indices.shape, embedding_dim] out).
/// Initialised N(0, 1), as PyTorch; the padding_idx row (negative counts from
/// the end) starts at zero and receives no gradient. max_norm, norm_type and
/// scale_grad_by_freq as F::embedding (rows renormalised in place when looked up).
class Embedding : public Module {
 public:
  /// A [num_embeddings, embedding_dim] table, initialised from N(0, 1) (the padding_idx row zero).
  /// @throws tg::ValueError for non-positive sizes, a padding_idx out of range or a bad max_norm.
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, std::optional<std::int64_t> padding_idx = {},
            std::optional<double> max_norm = {}, double norm_type = 2, StrictBool scale_grad_by_freq = false);
  Tensor forward(const Tensor& indices) override;
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  /// Draws the table again, as the constructor does.
  void reset_parameters();

  std::int64_t num_embeddings;              ///< rows of the table
  std::int64_t embedding_dim;               ///< the size of each vector
  std::optional<std::int64_t> padding_idx;  ///< normalised to [0, num_embeddings)
  std::optional<double> max_norm;           ///< rows looked up are renormalised to at most this norm
  double norm_type;                         ///< the p of that norm
  bool scale_grad_by_freq;                  ///< gradients divided by each index's count in the batch
  Tensor weight;                            ///< [num_embeddings, embedding_dim]
};

}  // namespace tg::nn
