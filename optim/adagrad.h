#pragma once
/// @file
/// Adagrad, as PyTorch's torch.optim.Adagrad. The update:
/// @code
/// g = -grad if maximize, else grad;  g += weight_decay * p
/// lr_t = lr / (1 + (t - 1) lr_decay)
/// s += g^2   (s starts at initial_accumulator_value)
/// p -= lr_t * g / (sqrt(s) + eps)
/// @endcode
#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// The options of Adagrad (torch.optim.Adagrad's arguments): `{.lr = 1e-3, ...}`.
struct AdagradOptions {
  double lr = 1e-2;                      ///< learning rate
  double lr_decay = 0;                   ///< learning-rate decay: lr / (1 + (step - 1) * lr_decay)
  double weight_decay = 0;               ///< L2 penalty, added to the gradient as weight_decay * p
  double initial_accumulator_value = 0;  ///< starting value of the sum of squared gradients
  double eps = 1e-10;                    ///< added to the denominator for numerical stability
  bool maximize = false;                 ///< maximize the objective instead of minimizing it

  /// Checks every option's range (the constructor, set_options and load_state_dict call it).
  /// @throws tg::ValueError naming `optimizer`, the option and its value when one is out of range.
  void validate(const std::string& optimizer) const;
  /// Calls f(name, field) for each option, in order (state dicts, param_groups metadata).
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("lr_decay", o.lr_decay);
    f("weight_decay", o.weight_decay);
    f("initial_accumulator_value", o.initial_accumulator_value);
    f("eps", o.eps);
    f("maximize", o.maximize);
  }
};

/// The per-parameter state of Adagrad, kept in state dicts.
struct AdagradState {
  std::int64_t step = 0;  ///< updates done so far
  Tensor sum;             ///< s

  /// Calls f(name, tensor) for each state tensor (state dicts).
  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("sum", s.sum);
  }
};

/// torch.optim.Adagrad: the update rule is in the description of adagrad.h.
///
/// @code
/// tg::optim::Adagrad opt(model.parameters(), {.lr = 1e-3});
/// opt.zero_grad();
/// loss.backward();
/// opt.step();
/// @endcode
class Adagrad : public OptimizerWithState<AdagradOptions, AdagradState> {
 public:
  /// Updates `params` with one set of options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  Adagrad(std::vector<Tensor> params, AdagradOptions options = {});
  /// Updates each group of parameters with its own options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  explicit Adagrad(std::vector<ParamGroup<AdagradOptions>> groups);
  void step() override;
  std::string name() const override { return "Adagrad"; }
};

}  // namespace tg::optim
