#pragma once
/// @file
/// The Dropout module, as torch.nn.Dropout.
#include <concepts>

#include <tapegrad/nn/module.h>

namespace tg {
class Generator;
}

namespace tg::nn {

/// Dropout, as torch.nn.Dropout. Training: zeroes each element with probability p
/// and scales the rest by 1 / (1 - p); eval: the identity. Draws from `generator`, or from the
/// default generator (tg::manual_seed) when none is given.
class Dropout : public Module {
 public:
  /// Zeroes each element with probability `p` in training mode.
  /// @throws tg::ValueError for p outside [0, 1].
  explicit Dropout(double p = 0.5, Generator* generator = nullptr);
  /// A bool would be p = 1 (everything dropped), as F::dropout's.
  template <class B>
  requires std::same_as<B, bool>
  explicit Dropout(B p, Generator* generator = nullptr) = delete;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;

  double p;              ///< the probability of zeroing an element
  Generator* generator;  ///< null: the default generator
};

}  // namespace tg::nn
