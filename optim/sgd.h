#pragma once
/// @file
/// Stochastic gradient descent with momentum, dampening, Nesterov momentum,
/// weight decay (an L2 term added to the gradient) and maximize, as PyTorch's
/// torch.optim.SGD. The update:
/// @code
/// g = -grad if maximize, else grad;  g += weight_decay * p
/// b = g on the first step, else momentum * b + (1 - dampening) * g
/// g = g + momentum * b (nesterov) or b
/// p -= lr * g
/// @endcode
#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// The options of SGD (torch.optim.SGD's arguments): `{.lr = 1e-3, ...}`.
struct SGDOptions {
  double lr = 1e-3;         ///< learning rate
  double momentum = 0;      ///< momentum factor
  double dampening = 0;     ///< dampening for momentum
  double weight_decay = 0;  ///< L2 penalty, added to the gradient as weight_decay * p
  bool nesterov = false;    ///< Nesterov momentum
  bool maximize = false;    ///< maximize the objective instead of minimizing it

  /// Checks every option's range (the constructor, set_options and load_state_dict call it).
  /// @throws tg::ValueError naming `optimizer`, the option and its value when one is out of range.
  void validate(const std::string& optimizer) const;
  /// Calls f(name, field) for each option, in order (state dicts, param_groups metadata).
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("momentum", o.momentum);
    f("dampening", o.dampening);
    f("weight_decay", o.weight_decay);
    f("nesterov", o.nesterov);
    f("maximize", o.maximize);
  }
};

/// The per-parameter state of SGD, kept in state dicts.
struct SGDState {
  std::int64_t step = 0;   ///< updates done so far
  Tensor momentum_buffer;  ///< once momentum is non-zero

  /// Calls f(name, tensor) for each state tensor (state dicts).
  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("momentum_buffer", s.momentum_buffer);
  }
  /// Whether a state dict must hold `field` (see detail::state_needs): never the
  /// momentum buffer, which PyTorch keeps as None until momentum is used; the
  /// next step then starts it from the gradient, as at the first step.
  template <class Options>
  static bool needs(const Options&, std::string_view) {
    return false;
  }
};

/// torch.optim.SGD: the update rule is in the description of sgd.h.
///
/// @code
/// tg::optim::SGD opt(model.parameters(), {.lr = 1e-3});
/// opt.zero_grad();
/// loss.backward();
/// opt.step();
/// @endcode
class SGD : public OptimizerWithState<SGDOptions, SGDState> {
 public:
  /// Updates `params` with one set of options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  /// Updates each group of parameters with its own options.
  /// @throws tg::ValueError for an invalid option, no parameters, or a parameter that is not a
  ///   floating leaf tensor or is in two groups.
  explicit SGD(std::vector<ParamGroup<SGDOptions>> groups);
  void step() override;
  std::string name() const override { return "SGD"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).momentum; }
  void set_momentum(std::size_t group, double momentum) override;
};

}  // namespace tg::optim
