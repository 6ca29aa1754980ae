#pragma once
/// @file
/// RAdam, as PyTorch's torch.optim.RAdam (Adam with the variance rectified). The update:
/// @code
/// g = grad + weight_decay * p
/// m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
/// rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
/// rho_t > 5: r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
///            p -= lr m / (1 - beta1^t) * r sqrt(1 - beta2^t) / (sqrt(v) + eps)
/// otherwise  p -= lr m / (1 - beta1^t)
/// @endcode
#include <array>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// The options of RAdam (torch.optim.RAdam's arguments): `{.lr = 1e-3, ...}`.
struct RAdamOptions {
  double lr = 1e-3;                         ///< learning rate
  std::array<double, 2> betas{0.9, 0.999};  ///< coefficients of the running averages of the gradient and of its square
  double eps = 1e-8;                        ///< added to the denominator for numerical stability
  double weight_decay = 0;                  ///< L2 penalty, added to the gradient as weight_decay * p

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
  }
};

/// The per-parameter state of RAdam, kept in state dicts.
struct RAdamState {
  std::int64_t step = 0;  ///< updates done so far
  Tensor exp_avg;         ///< m
  Tensor exp_avg_sq;      ///< v

  /// Calls f(name, tensor) for each state tensor (state dicts).
  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("exp_avg", s.exp_avg);
    f("exp_avg_sq", s.exp_avg_sq);
  }
};

/// torch.optim.RAdam: the update rule is in the description of radam.h.
///
/// @code
/// tg::optim::RAdam opt(model.parameters(), {.lr = 1e-3});
/// opt.zero_grad();
/// loss.backward();
/// opt.step();
/// @endcode
class RAdam : public OptimizerWithState<RAdamOptions, RAdamState> {
 public:
  /// Updates `params` with one set of options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  RAdam(std::vector<Tensor> params, RAdamOptions options = {});
  /// Updates each group of parameters with its own options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  explicit RAdam(std::vector<ParamGroup<RAdamOptions>> groups);
  void step() override;
  std::string name() const override { return "RAdam"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double beta1) override;
};

}  // namespace tg::optim
