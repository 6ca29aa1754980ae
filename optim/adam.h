#pragma once
/// @file
/// Adam and AdamW, as PyTorch's torch.optim.Adam and torch.optim.AdamW. The update:
/// @code
/// g = -grad if maximize, else grad
/// Adam:  g += weight_decay * p        AdamW: p *= 1 - lr * weight_decay
/// m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
/// v_max = max(v_max, v) with amsgrad (and used in place of v below)
/// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// @endcode
#include <array>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// The options of Adam (torch.optim.Adam's arguments): `{.lr = 1e-3, ...}`.
struct AdamOptions {
  double lr = 1e-3;                         ///< learning rate
  std::array<double, 2> betas{0.9, 0.999};  ///< coefficients of the running averages of the gradient and of its square
  double eps = 1e-8;                        ///< added to the denominator for numerical stability
  double weight_decay = 0;                  ///< L2 penalty, added to the gradient as weight_decay * p
  bool amsgrad = false;                     ///< use the maximum of the past squared-gradient averages (AMSGrad)
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
    f("amsgrad", o.amsgrad);
    f("maximize", o.maximize);
  }
};

/// The options of AdamW (the same fields as AdamOptions; weight decay is decoupled
/// and defaults to 1e-2).
struct AdamWOptions {
  double lr = 1e-3;                         ///< learning rate
  std::array<double, 2> betas{0.9, 0.999};  ///< coefficients of the running averages of the gradient and of its square
  double eps = 1e-8;                        ///< added to the denominator for numerical stability
  double weight_decay = 1e-2;               ///< decoupled weight decay: p *= 1 - lr * weight_decay
  bool amsgrad = false;                     ///< use the maximum of the past squared-gradient averages (AMSGrad)
  bool maximize = false;                    ///< maximize the objective instead of minimizing it

  /// Checks every option's range (the constructor, set_options and load_state_dict call it).
  /// @throws tg::ValueError naming `optimizer`, the option and its value when one is out of range.
  void validate(const std::string& optimizer) const;
  /// Calls f(name, field) for each option, in order (state dicts, param_groups metadata).
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    AdamOptions::fields(o, f);
  }
};

/// The per-parameter state of Adam, kept in state dicts.
struct AdamState {
  std::int64_t step = 0;  ///< updates done so far
  Tensor exp_avg;         ///< m
  Tensor exp_avg_sq;      ///< v
  Tensor max_exp_avg_sq;  ///< v_max, with amsgrad

  /// Calls f(name, tensor) for each state tensor (state dicts).
  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("exp_avg", s.exp_avg);
    f("exp_avg_sq", s.exp_avg_sq);
    f("max_exp_avg_sq", s.max_exp_avg_sq);
  }
  /// Whether a state dict must hold `field` (see detail::state_needs): the
  /// moments always, max_exp_avg_sq with amsgrad (PyTorch's step reads it then).
  template <class Options>
  static bool needs(const Options& o, std::string_view field) {
    return field != "max_exp_avg_sq" || o.amsgrad;
  }
};

/// torch.optim.Adam: the update rule is in the description of adam.h.
///
/// @code
/// tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
/// opt.zero_grad();
/// loss.backward();
/// opt.step();
/// @endcode
class Adam : public OptimizerWithState<AdamOptions, AdamState> {
 public:
  /// Updates `params` with one set of options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  /// Updates each group of parameters with its own options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  explicit Adam(std::vector<ParamGroup<AdamOptions>> groups);
  void step() override;
  std::string name() const override { return "Adam"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double beta1) override;
};

/// torch.optim.AdamW: the update rule is in the description of adam.h.
///
/// @code
/// tg::optim::AdamW opt(model.parameters(), {.lr = 1e-3});
/// opt.zero_grad();
/// loss.backward();
/// opt.step();
/// @endcode
class AdamW : public OptimizerWithState<AdamWOptions, AdamState> {
 public:
  /// Updates `params` with one set of options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  /// Updates each group of parameters with its own options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  explicit AdamW(std::vector<ParamGroup<AdamWOptions>> groups);
  void step() override;
  std::string name() const override { return "AdamW"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double beta1) override;
};

}  // namespace tg::optim
