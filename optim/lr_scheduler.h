#pragma once
/// @file
/// Learning-rate schedulers, as torch.optim.lr_scheduler.
///
/// @code
/// tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
/// tg::optim::StepLR sched(opt, {.step_size = 30, .gamma = 0.1});
/// for (int epoch = 0; epoch < 100; ++epoch) { train(opt); sched.step(); }
/// @endcode
///
/// Making a scheduler records each group's starting lr in the optimizer
/// (initial_lr, kept by the first scheduler made, as PyTorch's
/// group["initial_lr"]) and sets the lr for epoch 0. Each step() advances one
/// epoch (one batch for OneCycleLR) and sets every group's lr as PyTorch's
/// step() does: the schedulers that have a chainable form (StepLR,
/// MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, ConstantLR,
/// PolynomialLR, MultiplicativeLR) change the lr the optimizer holds now, so
/// they compose with each other, with ReduceLROnPlateau and with set_lr; the
/// others (LambdaLR, CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts) set it
/// from the starting lr. A scheduler schedules the parameter groups the
/// optimizer had when it was made. It refers to its optimizer, which must
/// outlive it.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

/// What checkpoints need from any scheduler: its name and its state as JSON.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// The class name ("StepLR"), checked when a state is loaded.
  virtual std::string name() const = 0;
  /// The lr each group got at the last step.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// The state (epoch, learning rates, counters) as JSON, for checkpoints.
  virtual std::string state_dict() const = 0;
  /// Restores a state_dict(), checking the whole state before changing anything,
  /// and, unless the optimizer's state was loaded since this scheduler was
  /// made, sets the optimizer's lrs to get_last_lr() (and the momentum a
  /// scheduler cycles to that of its epoch), as the last step() left them.
  /// @throws tg::FormatError or tg::ValueError naming the problem.
  virtual void load_state_dict(const std::string& state) = 0;

 protected:
  /// Keeps a reference: `optimizer` must outlive the scheduler.
  explicit Scheduler(Optimizer& optimizer) : optimizer_(optimizer), optimizer_loads_(optimizer.loads()) {}
  /// Whether a load should set the optimizer's lr (and momentum) to what the
  /// last step() left: not when the optimizer's own state was loaded since
  /// this scheduler was made, which holds the saved lr already (and, with
  /// several schedulers stepped side by side, the only right one).
  bool sets_optimizer_on_load() const { return optimizer_.loads() == optimizer_loads_; }
  Optimizer& optimizer_;         ///< the optimizer whose learning rates are set
  std::vector<double> last_lr_;  ///< see get_last_lr()

 private:
  std::uint64_t optimizer_loads_;  ///< optimizer_.loads() when this was made
};

/// A scheduler that sets each group's lr from the epoch (all but
/// ReduceLROnPlateau and ChainedScheduler): derived classes give lr_at().
class LRScheduler : public Scheduler {
 public:
  /// Advances one epoch (one batch for OneCycleLR and CyclicLR) and sets every group's lr.
  virtual void step();
  /// The epoch the last step() reached (0 after construction).
  std::int64_t last_epoch() const { return last_epoch_; }
  /// Each group's starting lr (the optimizer's initial_lr).
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  std::string state_dict() const override;
  /// Restores a state_dict() and sets the optimizer's lrs (and the momentum a
  /// scheduler cycles) to what the last step() set, so a resume continues as
  /// an uninterrupted run whether the optimizer's state was loaded before or
  /// after the scheduler was made.
  void load_state_dict(const std::string& state) override;

 protected:
  /// Reads each group's starting lr; the derived constructor then calls initial_step().
  explicit LRScheduler(Optimizer& optimizer);
  /// The lr of `group` at `epoch` (>= 0).
  virtual double lr_at(std::size_t group, std::int64_t epoch) const = 0;
  /// Anything besides the lr a scheduler sets at `epoch` (OneCycleLR's momentum).
  virtual void set_extras(std::int64_t) {}
  /// The lr of `group` at `epoch` after one step() from `epoch - 1`, where
  /// `current` is the lr the optimizer holds: PyTorch's chainable form (a
  /// factor applied to `current`) for the schedulers that have one; the
  /// closed form for those that set the lr outright (LambdaLR, CyclicLR,
  /// OneCycleLR, CosineAnnealingWarmRestarts).
  virtual double chained_lr(std::size_t group, std::int64_t epoch, double current) const;
  /// Moves to `epoch` and sets every group's lr for it from the closed form
  /// (PyTorch's step(epoch); SequentialLR's start of a scheduler at a milestone).
  void set_epoch(std::int64_t epoch);
  /// Epoch 0 by the chainable form; derived constructors call it once they are complete.
  void initial_step() { move_to(last_epoch_ + 1, Form::kChainable); }
  /// Refuses an epoch of a state to be loaded that this schedule cannot reach (OneCycleLR's past its end).
  virtual void check_loaded_epoch(std::int64_t) const {}
  /// Sets the optimizer's lrs to last_lr_ and the extras (momentum) to last_epoch_'s, after a load.
  void restore_optimizer();

  std::vector<double> base_lrs_;  ///< see base_lrs()
  std::int64_t last_epoch_ = -1;  ///< see last_epoch()

 private:
  enum class Form { kClosed, kChainable };
  void move_to(std::int64_t epoch, Form form);

  friend class SequentialLR;
  friend class ChainedScheduler;
};

/// The options of StepLR (torch.optim.lr_scheduler.StepLR's arguments).
struct StepLROptions {
  std::int64_t step_size = 1;  ///< epochs between decays
  double gamma = 0.1;          ///< multiplicative factor of the decay
};
/// lr = base * gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  StepLR(Optimizer& optimizer, StepLROptions options);
  std::string name() const override { return "StepLR"; }
  const StepLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

/// The options of MultiStepLR (torch.optim.lr_scheduler.MultiStepLR's arguments).
struct MultiStepLROptions {
  std::vector<std::int64_t> milestones{};  ///< a milestone named twice decays twice, as PyTorch
  double gamma = 0.1;                      ///< multiplicative factor of the decay
};
/// lr = base * gamma^(number of milestones <= epoch). A negative milestone is a
/// ValueError: no epoch reaches it (PyTorch's step() ignores it, its closed form counts it).
class MultiStepLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  MultiStepLR(Optimizer& optimizer, MultiStepLROptions options);
  std::string name() const override { return "MultiStepLR"; }
  const MultiStepLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

/// The options of ExponentialLR (torch.optim.lr_scheduler.ExponentialLR's arguments).
struct ExponentialLROptions {
  double gamma = 0.1;  ///< multiplicative factor of the decay
};
/// lr = base * gamma^epoch
class ExponentialLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  ExponentialLR(Optimizer& optimizer, ExponentialLROptions options);
  std::string name() const override { return "ExponentialLR"; }
  const ExponentialLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

/// The options of CosineAnnealingLR (torch.optim.lr_scheduler.CosineAnnealingLR's arguments).
struct CosineAnnealingLROptions {
  std::int64_t T_max = 1;  ///< half a period, in epochs
  double eta_min = 0;      ///< the lowest lr
};
/// lr = eta_min + (base - eta_min) (1 + cos(pi epoch / T_max)) / 2
class CosineAnnealingLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options);
  std::string name() const override { return "CosineAnnealingLR"; }
  const CosineAnnealingLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

/// The options of LinearLR (torch.optim.lr_scheduler.LinearLR's arguments).
struct LinearLROptions {
  double start_factor = 1.0 / 3;  ///< in (0, 1]
  double end_factor = 1.0;        ///< in [0, 1]
  std::int64_t total_iters = 5;   ///< steps until the schedule ends
};
/// Warm-up (or -down): lr = base * (start + (end - start) min(epoch, total) / total)
class LinearLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  LinearLR(Optimizer& optimizer, LinearLROptions options = {});
  std::string name() const override { return "LinearLR"; }
  const LinearLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

/// How OneCycleLR anneals: along a cosine or a straight line.
enum class AnnealStrategy { Cos, Linear };

/// The options of OneCycleLR (torch.optim.lr_scheduler.OneCycleLR's arguments).
struct OneCycleLROptions {
  std::vector<double> max_lr{};                          ///< one for every group, or one per group
  std::int64_t total_steps = 0;                          ///< or epochs * steps_per_epoch
  std::int64_t epochs = 0;                               ///< with steps_per_epoch, gives total_steps
  std::int64_t steps_per_epoch = 0;                      ///< with epochs, gives total_steps
  double pct_start = 0.3;                                ///< share of the steps spent rising
  AnnealStrategy anneal_strategy = AnnealStrategy::Cos;  ///< how the lr anneals: cosine or linear
  bool cycle_momentum = true;                            ///< momentum (or Adam's beta1) moves against the lr
  double base_momentum = 0.85;                           ///< the lowest momentum (at the highest lr)
  double max_momentum = 0.95;                            ///< the highest momentum (at the lowest lr)
  double div_factor = 25;                                ///< initial lr = max_lr / div_factor
  double final_div_factor = 1e4;                         ///< final lr = initial lr / final_div_factor
  bool three_phase = false;                              ///< anneal back to the initial lr before the minimum
};
/// The 1cycle policy, stepped once per batch: the lr rises from
/// max_lr / div_factor to max_lr over pct_start of the steps, then anneals to
/// its minimum (three_phase: back to the initial lr first). Stepping past
/// total_steps is a ValueError.
class OneCycleLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  OneCycleLR(Optimizer& optimizer, OneCycleLROptions options);
  std::string name() const override { return "OneCycleLR"; }
  const OneCycleLROptions options;  ///< as given
  /// The number of step() calls the schedule has (given, or epochs * steps_per_epoch).
  std::int64_t total_steps() const { return total_steps_; }

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  void set_extras(std::int64_t epoch) override;
  void check_loaded_epoch(std::int64_t epoch) const override;

 private:
  enum Level { kInitial, kMax, kMin };  ///< lr levels; momentum uses kInitial for its base, kMax for its max
  struct Phase {
    double end_step;
    Level start_lr, end_lr;
    Level start_momentum, end_momentum;
  };
  /// Where `step` falls: the phase and how far into it (0..1).
  std::pair<const Phase*, double> locate(std::int64_t step) const;
  double anneal(double start, double end, double pct) const;
  std::int64_t total_steps_ = 0;
  std::vector<Phase> phases_;
  std::vector<double> max_lrs_;
};

/// A chain: schedulers[0] runs until milestones[0], then schedulers[1] starts
/// from its epoch 0, and so on. All must drive the same optimizer.
class SequentialLR : public LRScheduler {
 public:
  /// Runs `schedulers` one after another, switching at `milestones`.
  /// @param optimizer  the optimizer all `schedulers` drive
  /// @param schedulers one more than there are milestones
  /// @param milestones increasing epochs at which the next scheduler takes over; a
  ///   first milestone of 0 (as PyTorch) lets the second scheduler run from epoch 1
  /// @throws tg::ValueError when the counts or the optimizers do not match, or
  ///   the milestones are negative or do not increase.
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);
  /// Steps the scheduler of the current epoch (at a milestone, the next one from its epoch 0).
  void step() override;
  std::string name() const override { return "SequentialLR"; }
  std::string state_dict() const override;
  void load_state_dict(const std::string& state) override;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;

 private:
  std::size_t active(std::int64_t epoch) const;  // the scheduler in charge at `epoch`
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<std::int64_t> milestones_;
};

/// A function of the epoch, for LambdaLR and MultiplicativeLR.
using LRLambda = std::function<double(std::int64_t)>;

/// The options of LambdaLR (torch.optim.lr_scheduler.LambdaLR's arguments).
struct LambdaLROptions {
  std::vector<LRLambda> lr_lambda{};  ///< one for every group, or one per group
};
/// lr = base * lr_lambda(epoch)
class LambdaLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  LambdaLR(Optimizer& optimizer, LambdaLROptions options);
  std::string name() const override { return "LambdaLR"; }
  const LambdaLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;

 private:
  std::vector<LRLambda> lambdas_;
};

/// The options of MultiplicativeLR (torch.optim.lr_scheduler.MultiplicativeLR's arguments).
struct MultiplicativeLROptions {
  std::vector<LRLambda> lr_lambda{};  ///< one for every group, or one per group
};
/// lr = lr of the epoch before * lr_lambda(epoch), for epoch > 0: the one
/// scheduler that works from the optimizer's current lr, as PyTorch's does.
class MultiplicativeLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  MultiplicativeLR(Optimizer& optimizer, MultiplicativeLROptions options);
  std::string name() const override { return "MultiplicativeLR"; }
  const MultiplicativeLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;

 private:
  std::vector<LRLambda> lambdas_;
};

/// The options of ConstantLR (torch.optim.lr_scheduler.ConstantLR's arguments).
struct ConstantLROptions {
  double factor = 1.0 / 3;       ///< in [0, 1]
  std::int64_t total_iters = 5;  ///< steps until the schedule ends
};
/// lr = base * factor until epoch total_iters, then base; with total_iters 0,
/// base * factor at every epoch (PyTorch 1.13's behaviour).
class ConstantLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  ConstantLR(Optimizer& optimizer, ConstantLROptions options = {});
  std::string name() const override { return "ConstantLR"; }
  const ConstantLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

/// The options of PolynomialLR (torch.optim.lr_scheduler.PolynomialLR's arguments).
struct PolynomialLROptions {
  std::int64_t total_iters = 5;  ///< steps until the schedule ends
  double power = 1.0;            ///< the exponent of the decay
};
/// lr = base * (1 - min(epoch, total_iters) / total_iters)^power
class PolynomialLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  PolynomialLR(Optimizer& optimizer, PolynomialLROptions options = {});
  std::string name() const override { return "PolynomialLR"; }
  const PolynomialLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

/// CyclicLR's amplitude: constant, halved each cycle, or scaled by gamma^iteration.
enum class CyclicMode { Triangular, Triangular2, ExpRange };
/// Whether CyclicLR's scale_fn takes the cycle number or the iteration.
enum class CyclicScaleMode { Cycle, Iterations };

/// The options of CyclicLR (torch.optim.lr_scheduler.CyclicLR's arguments).
struct CyclicLROptions {
  std::vector<double> base_lr{};                 ///< one for every group, or one per group
  std::vector<double> max_lr{};                  ///< likewise
  std::int64_t step_size_up = 2000;              ///< iterations of the rising half of a cycle
  std::optional<std::int64_t> step_size_down{};  ///< step_size_up when not given
  CyclicMode mode = CyclicMode::Triangular;      ///< the amplitude's scaling, when scale_fn is not given
  double gamma = 1.0;                            ///< ExpRange: the amplitude scales by gamma^iteration
  /// A custom amplitude scale, in place of mode's, of the cycle number (from 1)
  /// or of the iteration, as scale_mode says.
  std::function<double(double)> scale_fn{};
  CyclicScaleMode scale_mode = CyclicScaleMode::Cycle;  ///< whether scale_fn takes the cycle number or the iteration
  bool cycle_momentum = true;                           ///< momentum (or beta1) moves against the lr
  std::vector<double> base_momentum{0.8};               ///< the lowest momentum (at the highest lr)
  std::vector<double> max_momentum{0.9};                ///< the highest momentum (at the lowest lr)
};
/// The cyclical learning rate policy, stepped once per batch: the lr rises
/// from base_lr to max_lr over step_size_up iterations and falls back over
/// step_size_down, the amplitude scaled by mode (Triangular: 1; Triangular2:
/// halved each cycle; ExpRange: gamma^iteration). Making it sets every
/// group's lr to base_lr (and its momentum to base_momentum).
class CyclicLR : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  CyclicLR(Optimizer& optimizer, CyclicLROptions options);
  std::string name() const override { return "CyclicLR"; }
  const CyclicLROptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  void set_extras(std::int64_t epoch) override;

 private:
  static Optimizer& start_at_base_lr(Optimizer& optimizer, const CyclicLROptions& options);
  /// The position in the cycle (0 at base_lr, 1 at max_lr) and the amplitude's scale.
  std::pair<double, double> position(std::int64_t epoch) const;
  std::vector<double> max_lrs_, base_momentums_, max_momentums_;
  double total_size_ = 0, step_ratio_ = 0;
};

/// The options of CosineAnnealingWarmRestarts (torch.optim.lr_scheduler.CosineAnnealingWarmRestarts's arguments).
struct CosineAnnealingWarmRestartsOptions {
  std::int64_t T_0 = 1;     ///< epochs until the first restart
  std::int64_t T_mult = 1;  ///< each period is T_mult times the one before
  double eta_min = 0;       ///< the lowest lr
};
/// SGDR: cosine annealing from the base lr to eta_min over T_i epochs, then a
/// restart: lr = eta_min + (base - eta_min) (1 + cos(pi T_cur / T_i)) / 2.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  CosineAnnealingWarmRestarts(Optimizer& optimizer, CosineAnnealingWarmRestartsOptions options);
  std::string name() const override { return "CosineAnnealingWarmRestarts"; }
  const CosineAnnealingWarmRestartsOptions options;  ///< as given

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
};

/// Several schedulers stepped together, each applying its change to the lr
/// the ones before it left (PyTorch's ChainedScheduler): ConstantLR then
/// ExponentialLR gives a damped start of an exponential decay. All must drive
/// the same optimizer. Each applied its epoch 0, when it was made, to the lr
/// the ones made before it left, so making the chain changes no lr.
/// A SequentialLR cannot be a link (it is refused): its parts restart from
/// closed forms at its milestones, which a chain cannot compose.
class ChainedScheduler : public Scheduler {
 public:
  /// Steps every scheduler in `schedulers` (all of one optimizer) at each step().
  /// @throws tg::ValueError for no schedulers, schedulers of different
  ///   optimizers, or a SequentialLR among them.
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  /// Steps every scheduler, in order, each from the lr the one before left.
  void step();
  std::string name() const override { return "ChainedScheduler"; }
  std::string state_dict() const override;
  void load_state_dict(const std::string& state) override;

 private:
  static Optimizer& optimizer_of(const std::vector<std::shared_ptr<LRScheduler>>& schedulers);
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

/// Whether ReduceLROnPlateau's metric should fall (Min: a loss) or rise (Max: an accuracy).
enum class PlateauMode { Min, Max };
/// Whether ReduceLROnPlateau's threshold is relative to the best metric or absolute.
enum class ThresholdMode { Rel, Abs };

/// The options of ReduceLROnPlateau (torch.optim.lr_scheduler.ReduceLROnPlateau's arguments).
struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::Min;                ///< Min: the metric should fall (a loss); Max: rise (an accuracy)
  double factor = 0.1;                                ///< new lr = lr * factor, in [0, 1)
  std::int64_t patience = 10;                         ///< epochs without improvement tolerated
  double threshold = 1e-4;                            ///< what counts as an improvement
  ThresholdMode threshold_mode = ThresholdMode::Rel;  ///< Rel: best * (1 -+ threshold); Abs: best -+ threshold
  std::int64_t cooldown = 0;                          ///< epochs to wait after a reduction
  std::vector<double> min_lr{0.0};                    ///< one for every group, or one per group
  double eps = 1e-8;                                  ///< smaller changes of the lr are skipped
};
/// Cuts the lr when a metric stops improving: step(metric) once per epoch.
class ReduceLROnPlateau : public Scheduler {
 public:
  /// Schedules `optimizer` (which must outlive this) and sets its lr for epoch 0.
  /// @throws tg::ValueError naming the scheduler for an invalid option.
  /// Schedules `optimizer` (which must outlive this).
  /// @throws tg::ValueError naming the option for an invalid one.
  ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  /// Records one epoch's metric, and cuts the lr after `patience` epochs without improvement.
  void step(double metric);
  std::string name() const override { return "ReduceLROnPlateau"; }
  std::string state_dict() const override;
  void load_state_dict(const std::string& state) override;
  const ReduceLROnPlateauOptions options;  ///< as given

  /// The best metric so far.
  double best() const { return best_; }
  /// Epochs since the metric last improved.
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
  /// The number of step() calls so far.
  std::int64_t last_epoch() const { return last_epoch_; }

 private:
  bool is_better(double metric) const;
  std::vector<double> min_lrs_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
};

}  // namespace tg::optim
