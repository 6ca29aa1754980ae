#pragma once
/// @file
/// What Adam, AdamW, NAdam, RAdam and Adamax share: PyTorch's option checks,
/// beta1 as the momentum a scheduler cycles, and moment buffers made on first use.
#include <array>
#include <cstddef>
#include <string>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim::detail {

inline void validate_adam_family(const std::string& optimizer, double lr, const std::array<double, 2>& betas,
                                 double eps, double weight_decay) {
  if (!(lr >= 0)) throw_bad_option(optimizer, "learning rate", lr);
  if (!(eps >= 0)) throw_bad_option(optimizer, "epsilon", eps);
  for (std::size_t i = 0; i < 2; ++i)
    if (!(betas[i] >= 0 && betas[i] < 1))
      throw ValueError(
          fmt::format("{}: invalid beta parameter at index {}: {} (must be in [0, 1))", optimizer, i, betas[i]));
  if (!(weight_decay >= 0)) throw_bad_option(optimizer, "weight_decay", weight_decay);
}

// Optimizer::set_momentum for the optimizers whose momentum is betas[0]
// (OneCycleLR and CyclicLR cycle it).
template <class Optim>
void set_beta1(Optim& optim, std::size_t group, double beta1) {
  auto options = optim.options(group);
  options.betas[0] = beta1;
  optim.set_options(group, options);
}

// Zero moment buffers shaped like the parameter, made at its first step.
inline void zeros_once(Tensor& first, Tensor& second, const Tensor& like) {
  if (first.defined()) return;
  first = zeros_like(like);
  second = zeros_like(like);
}

}  // namespace tg::optim::detail
