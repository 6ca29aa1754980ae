#pragma once
/// @file
/// Adadelta, as PyTorch's torch.optim.Adadelta. The update:
/// @code
/// g = -grad if maximize, else grad;  g += weight_decay * p
/// v = rho v + (1 - rho) g^2
/// d = sqrt(u + eps) / sqrt(v + eps) * g
/// u = rho u + (1 - rho) d^2
/// p -= lr d
/// @endcode
#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// The options of Adadelta (torch.optim.Adadelta's arguments): `{.lr = 1e-3, ...}`.
struct AdadeltaOptions {
  double lr = 1.0;          ///< learning rate
  double rho = 0.9;         ///< in [0, 1]
  double eps = 1e-6;        ///< added to the denominator for numerical stability
  double weight_decay = 0;  ///< L2 penalty, added to the gradient as weight_decay * p
  bool maximize = false;    ///< maximize the objective instead of minimizing it

  /// Checks every option's range (the constructor, set_options and load_state_dict call it).
  /// @throws tg::ValueError naming `optimizer`, the option and its value when one is out of range.
  void validate(const std::string& optimizer) const;
  /// Calls f(name, field) for each option, in order (state dicts, param_groups metadata).
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("rho", o.rho);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("maximize", o.maximize);
  }
};

/// The per-parameter state of Adadelta, kept in state dicts.
struct AdadeltaState {
  std::int64_t step = 0;  ///< updates done so far
  Tensor square_avg;      ///< v
  Tensor acc_delta;       ///< u

  /// Calls f(name, tensor) for each state tensor (state dicts).
  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("square_avg", s.square_avg);
    f("acc_delta", s.acc_delta);
  }
};

/// torch.optim.Adadelta: the update rule is in the description of adadelta.h.
///
/// @code
/// tg::optim::Adadelta opt(model.parameters(), {.lr = 1e-3});
/// opt.zero_grad();
/// loss.backward();
/// opt.step();
/// @endcode
class Adadelta : public OptimizerWithState<AdadeltaOptions, AdadeltaState> {
 public:
  /// Updates `params` with one set of options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  Adadelta(std::vector<Tensor> params, AdadeltaOptions options = {});
  /// Updates each group of parameters with its own options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  explicit Adadelta(std::vector<ParamGroup<AdadeltaOptions>> groups);
  void step() override;
  std::string name() const override { return "Adadelta"; }
};

}  // namespace tg::optim
