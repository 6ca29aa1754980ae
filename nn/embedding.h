#pragma once
#include <cstdint>
#include <optional>

#include <tapegrad/nn/module.h>

namespace tg::nn {

/// A table of num_embeddings vectors of size embedding_dim, looked up by
/// int64 indices of any shape ([*indices.shape, embedding_dim] out).
/// Initialised N(0, 1), as PyTorch; the padding_idx row (negative counts from
/// the end) starts at zero and receives no gradient.
class Embedding : public Module {
 public:
  /// @throws tg::ValueError for non-positive sizes or a padding_idx out of range.
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, std::optional<std::int64_t> padding_idx = {});
  Tensor forward(const Tensor& indices) override;
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  /// Draws the table again, as the constructor does.
  void reset_parameters();

  std::int64_t num_embeddings;              ///< rows of the table
  std::int64_t embedding_dim;               ///< the size of each vector
  std::optional<std::int64_t> padding_idx;  ///< normalised to [0, num_embeddings)
  Tensor weight;                            ///< [num_embeddings, embedding_dim]
};

}  // namespace tg::nn
