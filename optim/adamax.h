#pragma once
/// @file
/// Adamax, as PyTorch's torch.optim.Adamax (Adam with the infinity norm). The update:
/// @code
/// g = -grad if maximize, else grad;  g += weight_decay * p
/// m = beta1 m + (1 - beta1) g;  u = max(beta2 u, |g| + eps)
/// p -= lr / (1 - beta1^t) * m / u
/// @endcode
#include <array>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// The options of Adamax (torch.optim.Adamax's arguments): `{.lr = 1e-3, ...}`.
struct AdamaxOptions {
  double lr = 2e-3;                         ///< learning rate
  std::array<double, 2> betas{0.9, 0.999};  ///< coefficients of the running averages of the gradient and of its square
  double eps = 1e-8;                        ///< added to the denominator for numerical stability
  double weight_decay = 0;                  ///< L2 penalty, added to the gradient as weight_decay * p
  bool maximize = false;                    ///< maximize the objective instead of minimizing it

  /// Checks every option's range (the constructor, set_options and load_state_dict call it).
  /// @throws tg::ValueError naming `optimizer`, the option and its value when one is out of range.
  void validate(const std::string& optimizer) const;
  /// Calls f(name, field) for each option, in order (state dicts, param_groups metadata).
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.betas[0]);
    f("beta2", o.betas[1]);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("maximize", o.maximize);
  }
};

/// The per-parameter state of Adamax, kept in state dicts.
struct AdamaxState {
  std::int64_t step = 0;  ///< updates done so far
  Tensor exp_avg;         ///< m
  Tensor exp_inf;         ///< u

  /// Calls f(name, tensor) for each state tensor (state dicts).
  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("exp_avg", s.exp_avg);
    f("exp_inf", s.exp_inf);
  }
};

/// torch.optim.Adamax: the update rule is in the description of adamax.h.
///
/// @code
/// tg::optim::Adamax opt(model.parameters(), {.lr = 1e-3});
/// opt.zero_grad();
/// loss.backward();
/// opt.step();
/// @endcode
class Adamax : public OptimizerWithState<AdamaxOptions, AdamaxState> {
 public:
  /// Updates `params` with one set of options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  Adamax(std::vector<Tensor> params, AdamaxOptions options = {});
  /// Updates each group of parameters with its own options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  explicit Adamax(std::vector<ParamGroup<AdamaxOptions>> groups);
  void step() override;
  std::string name() const override { return "Adamax"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double beta1) override;
};

}  // namespace tg::optim
