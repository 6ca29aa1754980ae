#pragma once
/// @file
/// L-BFGS, as PyTorch's torch.optim.LBFGS: each step(closure) runs up to
/// max_iter iterations of
///   d = -H g              (H from the last history_size pairs s = x' - x,
///                          y = g' - g, by the two-loop recursion; H0 = s.y / y.y)
///   x += t d              (t = lr, or min(1, 1 / |g|_1) lr on the very first
///                          iteration; or PyTorch's strong-Wolfe line search)
/// and stops early on |g|_inf <= tolerance_grad, |t d|_inf <= tolerance_change,
/// |loss change| < tolerance_change or max_eval evaluations. The closure
/// recomputes the loss and the gradients (zero_grad, forward, backward) and
/// returns the loss; step() returns the closure's first loss.
///
///   tg::optim::LBFGS opt(model.parameters(), {.line_search_fn = "strong_wolfe"});
///   opt.step([&] { opt.zero_grad(); Tensor loss = criterion(model(x), y); loss.backward(); return loss; });
///
/// All parameters form one flat vector (PyTorch allows no parameter groups
/// here either). The directions, history and step length persist across
/// step() calls, so repeated calls continue one run, as PyTorch's. They are
/// kept in float64 whatever the parameters' dtype: float32 parameters follow
/// PyTorch's trajectory to float32 rounding, float64 ones to the last bits.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// LBFGS's options, PyTorch's defaults, in declaration order.
struct LBFGSOptions {
  double lr = 1;                           ///< the step length (or the line search's first trial)
  std::int64_t max_iter = 20;              ///< iterations per step()
  std::optional<std::int64_t> max_eval{};  ///< closure calls per step(); nothing: max_iter * 5 / 4
  double tolerance_grad = 1e-7;            ///< stop when |g|_inf is at most this
  /// Stop when the step or the loss changes less than this. The strong-Wolfe line search keeps its own
  /// 1e-9, as PyTorch 1.13's (which does not pass this option to it).
  double tolerance_change = 1e-9;
  std::int64_t history_size = 100;              ///< (s, y) pairs kept for the two-loop recursion
  std::optional<std::string> line_search_fn{};  ///< nothing, or "strong_wolfe"

  /// Checks every option's range (the constructor and load_state_dict call it).
  /// @throws tg::ValueError naming `optimizer`, the option and its value for a negative lr or
  ///   tolerance, max_iter, max_eval or history_size below 1, or an unknown line search.
  void validate(const std::string& optimizer) const;
};

/// L-BFGS over all `params` as one flat vector (see the description of lbfgs.h).
class LBFGS : public Optimizer {
 public:
  /// Recomputes the loss and the gradients, and returns the loss.
  using Closure = std::function<Tensor()>;

  /// Over `params` (one group), with the options' lr, iteration limits, tolerances and line search.
  /// @throws tg::ValueError for a negative lr or tolerance, max_iter, max_eval or history_size below 1, or an
  /// unknown line search.
  LBFGS(std::vector<Tensor> params, LBFGSOptions options = {});

  /// Runs the iterations above, calling `closure` (with grad mode on) for each
  /// evaluation; returns its first loss.
  Tensor step(const Closure& closure);
  // L-BFGS evaluates the loss several times per step: a ValueError saying so.
  void step() override;

  std::string name() const override { return "LBFGS"; }
  /// A ValueError: L-BFGS treats all parameters as one vector, with one set of options (PyTorch's
  /// accepts a second group, then fails at its next step).
  void add_param_group(std::vector<Tensor> params) override;
  std::size_t num_param_groups() const override { return 1; }
  const std::vector<Tensor>& params(std::size_t group) const override;
  double lr(std::size_t group) const override;
  void set_lr(std::size_t group, double lr) override;
  /// The options it was made with.
  const LBFGSOptions& options() const { return options_; }

  // "state.0.<field>" (the state sits on the first parameter, as PyTorch's):
  // func_evals, n_iter (int64), d, t, old_dirs [k, n], old_stps [k, n], ro [k],
  // H_diag, prev_flat_grad, prev_loss (float64). PyTorch's "al" is scratch
  // space of the recursion, rewritten before it is read, and is not kept.
  OptimizerState state_dict() const override;
  void load_state_dict(const OptimizerState& state) override;

 private:
  using Vec = std::vector<double>;
  Vec gather_flat_grad() const;
  void add_to_params(double step_size, const Vec& direction);
  // loss and gradient at x + t d, then the parameters are x again.
  std::pair<double, Vec> directional_evaluate(const Closure& closure, const std::vector<Tensor>& x, double t,
                                              const Vec& d);
  double evaluate(const Closure& closure);

  std::vector<Tensor> params_;
  LBFGSOptions options_;
  std::int64_t numel_ = 0;
  // The run's state (PyTorch's state[params[0]]).
  std::int64_t func_evals_ = 0, n_iter_ = 0;
  bool started_ = false;  // d, t, history below are set
  Vec d_, prev_flat_grad_;
  double t_ = 0, h_diag_ = 1, prev_loss_ = 0;
  std::vector<Vec> old_dirs_, old_stps_;
  Vec ro_;
};

}  // namespace tg::optim
