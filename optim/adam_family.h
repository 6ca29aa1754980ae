#pragma once
/// @file
/// The option checks NAdam, RAdam and Adamax share with Adam (PyTorch's).
#include <array>
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

}  // namespace tg::optim::detail
