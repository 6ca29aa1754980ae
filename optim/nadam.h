#pragma once
/// @file
/// NAdam, as PyTorch 1.13's torch.optim.NAdam (Adam with Nesterov momentum). The update:
/// @code
/// g = grad + weight_decay * p
/// mu_t = beta1 (1 - 0.5 * 0.96^(t momentum_decay))
/// mu_product *= mu_t
/// m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
/// d = sqrt(v / (1 - beta2^t)) + eps
/// p -= lr (1 - mu_t) / (1 - mu_product) g / d
/// p -= lr mu_{t+1} / (1 - mu_product mu_t mu_{t+1}) m / d
/// @endcode
/// The last line is PyTorch 1.13's (mu_t counted twice; later versions use
/// mu_product mu_{t+1}), kept so the trajectory is PyTorch 1.13's. PyTorch
/// keeps mu_product in a tensor of its default dtype; here it is a double,
/// as PyTorch with torch.set_default_dtype(torch.float64) (with float32 the
/// step sizes differ from these in the 7th digit).
#include <array>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// The options of NAdam (torch.optim.NAdam's arguments): `{.lr = 1e-3, ...}`.
struct NAdamOptions {
  double lr = 2e-3;                         ///< learning rate
  std::array<double, 2> betas{0.9, 0.999};  ///< coefficients of the running averages of the gradient and of its square
  double eps = 1e-8;                        ///< added to the denominator for numerical stability
  double weight_decay = 0;                  ///< L2 penalty, added to the gradient as weight_decay * p
  double momentum_decay = 4e-3;             ///< momentum decay (psi)

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
    f("momentum_decay", o.momentum_decay);
  }
};

/// The per-parameter state of NAdam, kept in state dicts.
struct NAdamState {
  std::int64_t step = 0;  ///< updates done so far
  double mu_product = 1;  ///< product of mu_1 .. mu_t
  Tensor exp_avg;         ///< m
  Tensor exp_avg_sq;      ///< v

  /// Calls f(name, tensor) for each state tensor (state dicts).
  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("exp_avg", s.exp_avg);
    f("exp_avg_sq", s.exp_avg_sq);
  }
  /// Calls f(name, number) for each state number not shaped like the parameter.
  template <class Self, class F>
  static void scalars(Self& s, F&& f) {
    f("mu_product", s.mu_product);
  }
};

/// torch.optim.NAdam: the update rule is in the description of nadam.h.
///
/// @code
/// tg::optim::NAdam opt(model.parameters(), {.lr = 1e-3});
/// opt.zero_grad();
/// loss.backward();
/// opt.step();
/// @endcode
class NAdam : public OptimizerWithState<NAdamOptions, NAdamState> {
 public:
  /// Updates `params` with one set of options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  NAdam(std::vector<Tensor> params, NAdamOptions options = {});
  /// Updates each group of parameters with its own options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  explicit NAdam(std::vector<ParamGroup<NAdamOptions>> groups);
  void step() override;
  std::string name() const override { return "NAdam"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double beta1) override;
};

}  // namespace tg::optim
