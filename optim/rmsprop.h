#pragma once
/// @file
/// RMSprop, as PyTorch's torch.optim.RMSprop. The update:
/// @code
/// g = -grad if maximize, else grad;  g += weight_decay * p
/// v = alpha v + (1 - alpha) g^2
/// centered: a = alpha a + (1 - alpha) g;  d = sqrt(v - a^2) + eps
/// otherwise d = sqrt(v) + eps
/// momentum > 0: b = momentum b + g / d;  p -= lr * b
/// otherwise p -= lr * g / d
/// @endcode
#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// The options of RMSprop (torch.optim.RMSprop's arguments): `{.lr = 1e-3, ...}`.
struct RMSpropOptions {
  double lr = 1e-2;         ///< learning rate
  double alpha = 0.99;      ///< smoothing constant of the squared-gradient average
  double eps = 1e-8;        ///< added to the denominator for numerical stability
  double weight_decay = 0;  ///< L2 penalty, added to the gradient as weight_decay * p
  double momentum = 0;      ///< momentum factor
  bool centered = false;    ///< normalize by an estimate of the gradient's variance
  bool maximize = false;    ///< maximize the objective instead of minimizing it

  /// Checks every option's range (the constructor, set_options and load_state_dict call it).
  /// @throws tg::ValueError naming `optimizer`, the option and its value when one is out of range.
  void validate(const std::string& optimizer) const;
  /// Calls f(name, field) for each option, in order (state dicts, param_groups metadata).
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("alpha", o.alpha);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("momentum", o.momentum);
    f("centered", o.centered);
    f("maximize", o.maximize);
  }
};

/// The per-parameter state of RMSprop, kept in state dicts.
struct RMSpropState {
  std::int64_t step = 0;   ///< updates done so far
  Tensor square_avg;       ///< v
  Tensor grad_avg;         ///< a, when centered
  Tensor momentum_buffer;  ///< b, when momentum > 0

  /// Calls f(name, tensor) for each state tensor (state dicts).
  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("square_avg", s.square_avg);
    f("grad_avg", s.grad_avg);
    f("momentum_buffer", s.momentum_buffer);
  }
  /// Whether a state dict must hold `field` (see detail::state_needs): what
  /// PyTorch's step reads, square_avg always, grad_avg when centered,
  /// momentum_buffer with momentum > 0.
  template <class Options>
  static bool needs(const Options& o, std::string_view field) {
    if (field == "grad_avg") return o.centered;
    if (field == "momentum_buffer") return o.momentum > 0;
    return true;
  }
};

/// torch.optim.RMSprop: the update rule is in the description of rmsprop.h.
///
/// @code
/// tg::optim::RMSprop opt(model.parameters(), {.lr = 1e-3});
/// opt.zero_grad();
/// loss.backward();
/// opt.step();
/// @endcode
class RMSprop : public OptimizerWithState<RMSpropOptions, RMSpropState> {
 public:
  /// Updates `params` with one set of options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
  /// Updates each group of parameters with its own options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  explicit RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups);
  void step() override;
  std::string name() const override { return "RMSprop"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).momentum; }
  void set_momentum(std::size_t group, double momentum) override;
};

}  // namespace tg::optim
