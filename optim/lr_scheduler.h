#pragma once
// Learning-rate schedulers, as torch.optim.lr_scheduler:
//
//   tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
//   tg::optim::StepLR sched(opt, {.step_size = 30, .gamma = 0.1});
//   for (int epoch = 0; epoch < 100; ++epoch) { train(opt); sched.step(); }
//
// Making a scheduler records each group's starting lr in the optimizer
// (initial_lr, kept by the first scheduler made, as PyTorch's
// group["initial_lr"]) and sets the lr for epoch 0. Each step() advances one
// epoch (one batch for OneCycleLR) and sets every group's lr from a closed
// form of its starting lr, which is what PyTorch's chainable forms compute
// when nothing else changes the lr. A scheduler refers to its optimizer,
// which must outlive it.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

// What checkpoints need from any scheduler: its name and its state as JSON.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  virtual std::string name() const = 0;
  // The lr each group got at the last step.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  virtual std::string state_dict() const = 0;
  // Checks the whole state (FormatError/ValueError naming the problem) before
  // changing anything.
  virtual void load_state_dict(const std::string& state) = 0;

 protected:
  explicit Scheduler(Optimizer& optimizer) : optimizer_(optimizer) {}
  Optimizer& optimizer_;
  std::vector<double> last_lr_;
};

class LRScheduler : public Scheduler {
 public:
  virtual void step();
  std::int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  std::string state_dict() const override;
  void load_state_dict(const std::string& state) override;

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // The lr of `group` at `epoch` (>= 0).
  virtual double lr_at(std::size_t group, std::int64_t epoch) const = 0;
  // Anything besides the lr a scheduler sets at `epoch` (OneCycleLR's momentum).
  virtual void set_extras(std::int64_t) {}
  // The lr of `group` at `epoch` inside a ChainedScheduler, where `current`
  // is the lr the schedulers before it in the chain left: PyTorch's chainable
  // form (a factor applied to `current`) for the schedulers that have one;
  // the closed form for those that set the lr outright (LambdaLR, CyclicLR,
  // OneCycleLR, CosineAnnealingWarmRestarts).
  virtual double chained_lr(std::size_t group, std::int64_t epoch, double current) const;
  // One step inside a ChainedScheduler.
  virtual void chain_step();
  // Moves to `epoch` and sets every group's lr for it.
  void set_epoch(std::int64_t epoch);
  // Epoch 0; derived constructors call it once they are complete.
  void initial_step() { set_epoch(last_epoch_ + 1); }

  std::vector<double> base_lrs_;
  std::int64_t last_epoch_ = -1;

  friend class SequentialLR;
  friend class ChainedScheduler;
};

struct StepLROptions {
  std::int64_t step_size = 1;  // epochs between decays
  double gamma = 0.1;
};
// lr = base * gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, StepLROptions options);
  std::string name() const override { return "StepLR"; }
  const StepLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

struct MultiStepLROptions {
  std::vector<std::int64_t> milestones{};  // a milestone named twice decays twice, as PyTorch
  double gamma = 0.1;
};
// lr = base * gamma^(number of milestones <= epoch)
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, MultiStepLROptions options);
  std::string name() const override { return "MultiStepLR"; }
  const MultiStepLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

struct ExponentialLROptions {
  double gamma = 0.1;
};
// lr = base * gamma^epoch
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, ExponentialLROptions options);
  std::string name() const override { return "ExponentialLR"; }
  const ExponentialLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

struct CosineAnnealingLROptions {
  std::int64_t T_max = 1;  // half a period, in epochs
  double eta_min = 0;
};
// lr = eta_min + (base - eta_min) (1 + cos(pi epoch / T_max)) / 2
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options);
  std::string name() const override { return "CosineAnnealingLR"; }
  const CosineAnnealingLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

struct LinearLROptions {
  double start_factor = 1.0 / 3;  // in (0, 1]
  double end_factor = 1.0;        // in [0, 1]
  std::int64_t total_iters = 5;
};
// Warm-up (or -down): lr = base * (start + (end - start) min(epoch, total) / total)
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, LinearLROptions options = {});
  std::string name() const override { return "LinearLR"; }
  const LinearLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

enum class AnnealStrategy { Cos, Linear };

struct OneCycleLROptions {
  std::vector<double> max_lr{};  // one for every group, or one per group
  std::int64_t total_steps = 0;  // or epochs * steps_per_epoch
  std::int64_t epochs = 0;
  std::int64_t steps_per_epoch = 0;
  double pct_start = 0.3;  // share of the steps spent rising
  AnnealStrategy anneal_strategy = AnnealStrategy::Cos;
  bool cycle_momentum = true;  // momentum (or Adam's beta1) moves against the lr
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25;         // initial lr = max_lr / div_factor
  double final_div_factor = 1e4;  // final lr = initial lr / final_div_factor
  bool three_phase = false;
};
// The 1cycle policy, stepped once per batch: the lr rises from
// max_lr / div_factor to max_lr over pct_start of the steps, then anneals to
// its minimum (three_phase: back to the initial lr first). Stepping past
// total_steps is a ValueError.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, OneCycleLROptions options);
  std::string name() const override { return "OneCycleLR"; }
  const OneCycleLROptions options;
  std::int64_t total_steps() const { return total_steps_; }

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  void set_extras(std::int64_t epoch) override;

 private:
  enum Level { kInitial, kMax, kMin };  // lr levels; momentum uses kInitial for its base, kMax for its max
  struct Phase {
    double end_step;
    Level start_lr, end_lr;
    Level start_momentum, end_momentum;
  };
  // Where `step` falls: the phase and how far into it (0..1).
  std::pair<const Phase*, double> locate(std::int64_t step) const;
  double anneal(double start, double end, double pct) const;
  std::int64_t total_steps_ = 0;
  std::vector<Phase> phases_;
  std::vector<double> max_lrs_;
};

// A chain: schedulers[0] runs until milestones[0], then schedulers[1] starts
// from its epoch 0, and so on. All must drive the same optimizer.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);
  void step() override;
  std::string name() const override { return "SequentialLR"; }
  std::string state_dict() const override;
  void load_state_dict(const std::string& state) override;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<std::int64_t> milestones_;
};

// A function of the epoch, for LambdaLR and MultiplicativeLR.
using LRLambda = std::function<double(std::int64_t)>;

struct LambdaLROptions {
  std::vector<LRLambda> lr_lambda{};  // one for every group, or one per group
};
// lr = base * lr_lambda(epoch)
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, LambdaLROptions options);
  std::string name() const override { return "LambdaLR"; }
  const LambdaLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;

 private:
  std::vector<LRLambda> lambdas_;
};

struct MultiplicativeLROptions {
  std::vector<LRLambda> lr_lambda{};  // one for every group, or one per group
};
// lr = lr of the epoch before * lr_lambda(epoch), for epoch > 0: the one
// scheduler that works from the optimizer's current lr, as PyTorch's does.
class MultiplicativeLR : public LRScheduler {
 public:
  MultiplicativeLR(Optimizer& optimizer, MultiplicativeLROptions options);
  std::string name() const override { return "MultiplicativeLR"; }
  const MultiplicativeLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;

 private:
  std::vector<LRLambda> lambdas_;
};

struct ConstantLROptions {
  double factor = 1.0 / 3;  // in [0, 1]
  std::int64_t total_iters = 5;
};
// lr = base * factor until epoch total_iters, then base
class ConstantLR : public LRScheduler {
 public:
  ConstantLR(Optimizer& optimizer, ConstantLROptions options = {});
  std::string name() const override { return "ConstantLR"; }
  const ConstantLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

struct PolynomialLROptions {
  std::int64_t total_iters = 5;
  double power = 1.0;
};
// lr = base * (1 - min(epoch, total_iters) / total_iters)^power
class PolynomialLR : public LRScheduler {
 public:
  PolynomialLR(Optimizer& optimizer, PolynomialLROptions options = {});
  std::string name() const override { return "PolynomialLR"; }
  const PolynomialLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  double chained_lr(std::size_t group, std::int64_t epoch, double current) const override;
};

enum class CyclicMode { Triangular, Triangular2, ExpRange };
enum class CyclicScaleMode { Cycle, Iterations };

struct CyclicLROptions {
  std::vector<double> base_lr{};  // one for every group, or one per group
  std::vector<double> max_lr{};   // likewise
  std::int64_t step_size_up = 2000;
  std::optional<std::int64_t> step_size_down{};  // step_size_up when not given
  CyclicMode mode = CyclicMode::Triangular;
  double gamma = 1.0;  // ExpRange: the amplitude scales by gamma^iteration
  // A custom amplitude scale, in place of mode's, of the cycle number (from 1)
  // or of the iteration, as scale_mode says.
  std::function<double(double)> scale_fn{};
  CyclicScaleMode scale_mode = CyclicScaleMode::Cycle;
  bool cycle_momentum = true;  // momentum (or beta1) moves against the lr
  std::vector<double> base_momentum{0.8};
  std::vector<double> max_momentum{0.9};
};
// The cyclical learning rate policy, stepped once per batch: the lr rises
// from base_lr to max_lr over step_size_up iterations and falls back over
// step_size_down, the amplitude scaled by mode (Triangular: 1; Triangular2:
// halved each cycle; ExpRange: gamma^iteration). Making it sets every
// group's lr to base_lr (and its momentum to base_momentum).
class CyclicLR : public LRScheduler {
 public:
  CyclicLR(Optimizer& optimizer, CyclicLROptions options);
  std::string name() const override { return "CyclicLR"; }
  const CyclicLROptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
  void set_extras(std::int64_t epoch) override;

 private:
  static Optimizer& start_at_base_lr(Optimizer& optimizer, const CyclicLROptions& options);
  // The position in the cycle (0 at base_lr, 1 at max_lr) and the amplitude's scale.
  std::pair<double, double> position(std::int64_t epoch) const;
  std::vector<double> max_lrs_, base_momentums_, max_momentums_;
  double total_size_ = 0, step_ratio_ = 0;
};

struct CosineAnnealingWarmRestartsOptions {
  std::int64_t T_0 = 1;     // epochs until the first restart
  std::int64_t T_mult = 1;  // each period is T_mult times the one before
  double eta_min = 0;
};
// SGDR: cosine annealing from the base lr to eta_min over T_i epochs, then a
// restart: lr = eta_min + (base - eta_min) (1 + cos(pi T_cur / T_i)) / 2.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& optimizer, CosineAnnealingWarmRestartsOptions options);
  std::string name() const override { return "CosineAnnealingWarmRestarts"; }
  const CosineAnnealingWarmRestartsOptions options;

 protected:
  double lr_at(std::size_t group, std::int64_t epoch) const override;
};

// Several schedulers stepped together, each applying its change to the lr
// the ones before it left (PyTorch's ChainedScheduler): ConstantLR then
// ExponentialLR gives a damped start of an exponential decay. All must drive
// the same optimizer. Making it recomputes epoch 0 through the chain.
// A SequentialLR cannot be a link (it is refused): its parts restart from
// closed forms at its milestones, which a chain cannot compose.
class ChainedScheduler : public Scheduler {
 public:
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  void step();
  std::string name() const override { return "ChainedScheduler"; }
  std::string state_dict() const override;
  void load_state_dict(const std::string& state) override;

 private:
  static Optimizer& optimizer_of(const std::vector<std::shared_ptr<LRScheduler>>& schedulers);
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

enum class PlateauMode { Min, Max };
enum class ThresholdMode { Rel, Abs };

struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::Min;  // Min: the metric should fall (a loss); Max: rise (an accuracy)
  double factor = 0.1;                  // new lr = lr * factor, in [0, 1)
  std::int64_t patience = 10;           // epochs without improvement tolerated
  double threshold = 1e-4;              // what counts as an improvement
  ThresholdMode threshold_mode = ThresholdMode::Rel;
  std::int64_t cooldown = 0;        // epochs to wait after a reduction
  std::vector<double> min_lr{0.0};  // one for every group, or one per group
  double eps = 1e-8;                // smaller changes of the lr are skipped
};
// Cuts the lr when a metric stops improving: step(metric) once per epoch.
class ReduceLROnPlateau : public Scheduler {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  void step(double metric);
  std::string name() const override { return "ReduceLROnPlateau"; }
  std::string state_dict() const override;
  void load_state_dict(const std::string& state) override;
  const ReduceLROnPlateauOptions options;

  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
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
