#include <tapegrad/optim/lr_scheduler.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numbers>

#include <nlohmann/json.hpp>

namespace tg::optim {

using nlohmann::json;

namespace {

json parse_state(const std::string& who, const std::string& text) {
  json state = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object())
    throw FormatError(fmt::format("{}::load_state_dict: the state is not a JSON object", who));
  auto name = state.find("scheduler");
  if (name == state.end() || !name->is_string() || name->get<std::string>() != who)
    throw ValueError(fmt::format(
        "{}::load_state_dict: the state is for {}", who,
        name != state.end() && name->is_string() ? name->get<std::string>() : std::string("another scheduler")));
  return state;
}

// An integer of the state, at least `min`. JSON keeps integers up to 2^64 - 1
// as unsigned, which get<int64_t> would wrap negative.
std::int64_t get_int(const std::string& who, const json& state, const char* key, std::int64_t min) {
  auto it = state.find(key);
  if (it == state.end() || !it->is_number_integer())
    throw FormatError(fmt::format("{}::load_state_dict: \"{}\" is missing or not an integer", who, key));
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > std::uint64_t{INT64_MAX})
    throw FormatError(
        fmt::format("{}::load_state_dict: \"{}\" ({}) does not fit in int64", who, key, it->get<std::uint64_t>()));
  const auto v = it->get<std::int64_t>();
  if (v < min) throw FormatError(fmt::format("{}::load_state_dict: \"{}\" is {}, below {}", who, key, v, min));
  return v;
}

std::vector<double> get_lrs(const std::string& who, const json& state, const char* key, std::size_t groups) {
  auto it = state.find(key);
  if (it == state.end() || !it->is_array() || it->size() != groups)
    throw FormatError(
        fmt::format("{}::load_state_dict: \"{}\" must list {} numbers, one per parameter group", who, key, groups));
  std::vector<double> out;
  for (const auto& v : *it) {
    if (!v.is_number() || !std::isfinite(v.get<double>()) || !(v.get<double>() >= 0))
      throw FormatError(fmt::format("{}::load_state_dict: \"{}\" holds {}, not a learning rate (a finite number >= 0)",
                                    who, key, v.dump()));
    out.push_back(v.get<double>());
  }
  return out;
}

// Non-finite doubles (a plateau's starting best is +-inf) as text, which JSON
// numbers cannot hold; fmt's shortest form reads back exactly.
std::string double_text(double v) { return fmt::format("{}", v); }
double text_double(const std::string& who, const json& state, const char* key) {
  auto it = state.find(key);
  if (it == state.end() || !it->is_string())
    throw FormatError(fmt::format("{}::load_state_dict: \"{}\" is missing", who, key));
  const std::string text = it->get<std::string>();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    throw FormatError(fmt::format("{}::load_state_dict: \"{}\" is not a number: '{}'", who, key, text));
  return v;
}

// One value for every group, or one per group.
std::vector<double> per_group(const std::string& who, const char* what, const std::vector<double>& values,
                              std::size_t groups) {
  if (values.size() == 1) return std::vector<double>(groups, values[0]);
  if (values.size() != groups)
    throw ValueError(fmt::format("{}: expected 1 or {} values of {} (one per parameter group), got {}", who, groups,
                                 what, values.size()));
  return values;
}

// A factor the lr is multiplied by, checked when the scheduler is made: a
// negative, infinite or NaN one gives an lr the optimizer refuses (or NaN
// weights), which would surface only epochs later, in step().
void check_factor(const std::string& who, const char* what, double value) {
  if (!(value >= 0) || !std::isfinite(value))
    throw ValueError(fmt::format("{}: {} must be a finite number >= 0, got {}", who, what, value));
}

// The epoch after `epoch`: a state loaded with last_epoch = INT64_MAX would
// otherwise overflow (undefined) at the next step.
std::int64_t next_epoch(const std::string& who, std::int64_t epoch) {
  if (epoch == std::numeric_limits<std::int64_t>::max())
    throw ValueError(fmt::format("{}: cannot step past epoch {}", who, epoch));
  return epoch + 1;
}

// The lrs and momenta of an optimizer, put back when a composite scheduler's
// load fails after some of its parts set theirs.
class OptimizerSettings {
 public:
  explicit OptimizerSettings(const Optimizer& optimizer) {
    for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g) {
      lrs_.push_back(optimizer.lr(g));
      if (optimizer.has_momentum()) momenta_.push_back(optimizer.momentum(g));
    }
  }
  void restore(Optimizer& optimizer) const {
    for (std::size_t g = 0; g < lrs_.size(); ++g) optimizer.set_lr(g, lrs_[g]);
    for (std::size_t g = 0; g < momenta_.size(); ++g) optimizer.set_momentum(g, momenta_[g]);
  }

 private:
  std::vector<double> lrs_, momenta_;
};

}  // namespace

// ---- LRScheduler -----------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer) : Scheduler(optimizer) {
  for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g) {
    if (!optimizer.initial_lr(g)) optimizer.set_initial_lr(g, optimizer.lr(g));
    base_lrs_.push_back(*optimizer.initial_lr(g));
  }
}

void LRScheduler::step() { move_to(next_epoch(name(), last_epoch_), Form::kChainable); }

void LRScheduler::set_epoch(std::int64_t epoch) { move_to(epoch, Form::kClosed); }

void LRScheduler::move_to(std::int64_t epoch, Form form) {
  std::vector<double> lrs;
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) {
    lrs.push_back(form == Form::kClosed ? lr_at(g, epoch) : chained_lr(g, epoch, optimizer_.lr(g)));
    // A growing factor (gamma > 1) overflows the lr to inf after enough
    // epochs, and 0 * inf is NaN: either would turn the weights into NaN at
    // the next optimizer step. Refused here, with the optimizer untouched.
    if (!std::isfinite(lrs.back()) || lrs.back() < 0)
      throw ValueError(fmt::format("{}: the learning rate of group {} at epoch {} would be {} (base lr {}, lr now {})",
                                   name(), g, epoch, lrs.back(), base_lrs_[g], optimizer_.lr(g)));
  }
  last_epoch_ = epoch;
  for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_.set_lr(g, lrs[g]);
  set_extras(epoch);
  last_lr_ = std::move(lrs);
}

double LRScheduler::chained_lr(std::size_t group, std::int64_t epoch, double) const { return lr_at(group, epoch); }

std::string LRScheduler::state_dict() const {
  return json{{"scheduler", name()}, {"last_epoch", last_epoch_}, {"base_lrs", base_lrs_}, {"last_lr", last_lr_}}
      .dump();
}

void LRScheduler::load_state_dict(const std::string& text) {
  const std::string who = name();
  const json state = parse_state(who, text);
  const std::int64_t last_epoch = get_int(who, state, "last_epoch", -1);
  auto base = get_lrs(who, state, "base_lrs", base_lrs_.size());
  auto last = get_lrs(who, state, "last_lr", base_lrs_.size());
  check_loaded_epoch(last_epoch);
  last_epoch_ = last_epoch;
  base_lrs_ = std::move(base);
  last_lr_ = std::move(last);
  restore_optimizer();
}

void LRScheduler::restore_optimizer() {
  // Making the scheduler set epoch 0's lr (and momentum); a resume that makes
  // it after loading the optimizer's state then ran at epoch 0's lr while
  // get_last_lr() gave the restored one. The optimizer now holds what the
  // last step() gave it, in whichever order the two states are loaded. An
  // optimizer loaded since this scheduler was made holds it already, and is
  // right where this scheduler's own last lr is not (another scheduler
  // stepped after it).
  if (!sets_optimizer_on_load()) return;
  for (std::size_t g = 0; g < last_lr_.size(); ++g) optimizer_.set_lr(g, last_lr_[g]);
  if (last_epoch_ >= 0) set_extras(last_epoch_);
}

// ---- closed forms -------------------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, StepLROptions options) : LRScheduler(optimizer), options(options) {
  if (options.step_size <= 0)
    throw ValueError(fmt::format("StepLR: step_size must be positive, got {}", options.step_size));
  check_factor(name(), "gamma", options.gamma);
  initial_step();
}

double StepLR::lr_at(std::size_t group, std::int64_t epoch) const {
  return base_lrs_[group] * std::pow(options.gamma, static_cast<double>(epoch / options.step_size));
}

// The chainable forms below are PyTorch 1.13's get_lr(), line for line, so a
// chain gives PyTorch's lrs to the last bit or so.
double StepLR::chained_lr(std::size_t, std::int64_t epoch, double current) const {
  if (epoch == 0 || epoch % options.step_size != 0) return current;
  return current * options.gamma;
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, MultiStepLROptions options_in)
    : LRScheduler(optimizer), options([&] {
        std::sort(options_in.milestones.begin(), options_in.milestones.end());
        return options_in;
      }()) {
  // Epochs start at 0, so PyTorch never reaches a negative milestone (its
  // step() ignores it), while its closed form counts it: refused rather than
  // picking one of the two.
  if (!options.milestones.empty() && options.milestones.front() < 0)
    throw ValueError(fmt::format("MultiStepLR: milestones must be >= 0, got {}", options.milestones.front()));
  check_factor(name(), "gamma", options.gamma);
  initial_step();
}

double MultiStepLR::lr_at(std::size_t group, std::int64_t epoch) const {
  const auto passed =
      std::upper_bound(options.milestones.begin(), options.milestones.end(), epoch) - options.milestones.begin();
  return base_lrs_[group] * std::pow(options.gamma, static_cast<double>(passed));
}

double MultiStepLR::chained_lr(std::size_t, std::int64_t epoch, double current) const {
  const auto count = std::count(options.milestones.begin(), options.milestones.end(), epoch);
  if (count == 0) return current;
  return current * std::pow(options.gamma, static_cast<double>(count));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, ExponentialLROptions options)
    : LRScheduler(optimizer), options(options) {
  check_factor(name(), "gamma", options.gamma);
  initial_step();
}

double ExponentialLR::lr_at(std::size_t group, std::int64_t epoch) const {
  return base_lrs_[group] * std::pow(options.gamma, static_cast<double>(epoch));
}

double ExponentialLR::chained_lr(std::size_t, std::int64_t epoch, double current) const {
  return epoch == 0 ? current : current * options.gamma;
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options)
    : LRScheduler(optimizer), options(options) {
  if (options.T_max <= 0)
    throw ValueError(fmt::format("CosineAnnealingLR: T_max must be positive, got {}", options.T_max));
  // The lr moves between the base lr and eta_min, so eta_min must be an lr too.
  check_factor(name(), "eta_min", options.eta_min);
  initial_step();
}

double CosineAnnealingLR::lr_at(std::size_t group, std::int64_t epoch) const {
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(options.T_max);
  return options.eta_min + (base_lrs_[group] - options.eta_min) * (1 + std::cos(phase)) / 2;
}

double CosineAnnealingLR::chained_lr(std::size_t group, std::int64_t epoch, double current) const {
  const double pi = std::numbers::pi, t_max = static_cast<double>(options.T_max), e = static_cast<double>(epoch);
  if (epoch == 0) return current;
  // 2 * T_max overflows for T_max > INT64_MAX / 2, where only 0 is a multiple of it in reach.
  const std::int64_t since = epoch - 1 - options.T_max;
  if (options.T_max > std::numeric_limits<std::int64_t>::max() / 2 ? since == 0 : since % (2 * options.T_max) == 0)
    return current + (base_lrs_[group] - options.eta_min) * (1 - std::cos(pi / t_max)) / 2;
  return (1 + std::cos(pi * e / t_max)) / (1 + std::cos(pi * (e - 1) / t_max)) * (current - options.eta_min) +
         options.eta_min;
}

LinearLR::LinearLR(Optimizer& optimizer, LinearLROptions options) : LRScheduler(optimizer), options(options) {
  if (!(options.start_factor > 0 && options.start_factor <= 1))
    throw ValueError(fmt::format("LinearLR: start_factor must be in (0, 1], got {}", options.start_factor));
  if (!(options.end_factor >= 0 && options.end_factor <= 1))
    throw ValueError(fmt::format("LinearLR: end_factor must be in [0, 1], got {}", options.end_factor));
  if (options.total_iters <= 0)
    throw ValueError(fmt::format("LinearLR: total_iters must be positive, got {}", options.total_iters));
  initial_step();
}

double LinearLR::lr_at(std::size_t group, std::int64_t epoch) const {
  const double done =
      static_cast<double>(std::min(epoch, options.total_iters)) / static_cast<double>(options.total_iters);
  return base_lrs_[group] * (options.start_factor + (options.end_factor - options.start_factor) * done);
}

double LinearLR::chained_lr(std::size_t, std::int64_t epoch, double current) const {
  if (epoch == 0) return current * options.start_factor;
  if (epoch > options.total_iters) return current;
  const double span = options.end_factor - options.start_factor;
  return current * (1 + span / (static_cast<double>(options.total_iters) * options.start_factor +
                                static_cast<double>(epoch - 1) * span));
}

// ---- OneCycleLR ---------------------------------------------------------------------

OneCycleLR::OneCycleLR(Optimizer& optimizer, OneCycleLROptions options_in)
    : LRScheduler(optimizer), options(std::move(options_in)) {
  const std::string who = name();
  if (options.total_steps > 0) {
    total_steps_ = options.total_steps;
  } else if (options.epochs > 0 && options.steps_per_epoch > 0) {
    if (__builtin_mul_overflow(options.epochs, options.steps_per_epoch, &total_steps_))
      throw ValueError(fmt::format("{}: epochs * steps_per_epoch ({} * {}) overflows int64", who, options.epochs,
                                   options.steps_per_epoch));
  } else {
    throw ValueError(fmt::format("{}: give total_steps > 0, or epochs > 0 and steps_per_epoch > 0 (got {}, {} and {})",
                                 who, options.total_steps, options.epochs, options.steps_per_epoch));
  }
  if (!(options.pct_start >= 0 && options.pct_start <= 1))
    throw ValueError(fmt::format("{}: pct_start must be in [0, 1], got {}", who, options.pct_start));
  if (!(options.div_factor > 0) || !(options.final_div_factor > 0))
    throw ValueError(fmt::format("{}: div_factor and final_div_factor must be positive, got {} and {}", who,
                                 options.div_factor, options.final_div_factor));
  if (options.cycle_momentum && !optimizer.has_momentum())
    throw ValueError(
        fmt::format("{}: {} has no momentum or beta1 to cycle; set cycle_momentum = false", who, optimizer.name()));
  max_lrs_ = per_group(who, "max_lr", options.max_lr, optimizer.num_param_groups());
  for (double lr : max_lrs_) check_factor(who, "max_lr", lr);
  if (options.cycle_momentum) {
    check_factor(who, "base_momentum", options.base_momentum);
    check_factor(who, "max_momentum", options.max_momentum);
  }

  const double total = static_cast<double>(total_steps_);
  const double rise_end = options.pct_start * total - 1;
  if (options.three_phase)
    phases_ = {{rise_end, kInitial, kMax, kMax, kInitial},
               {2 * options.pct_start * total - 2, kMax, kInitial, kInitial, kMax},
               {total - 1, kInitial, kMin, kMax, kMax}};
  else phases_ = {{rise_end, kInitial, kMax, kMax, kInitial}, {total - 1, kMax, kMin, kInitial, kMax}};

  // A phase of no length is a division by zero where a step falls in it:
  // pct_start * total_steps == 1 makes the rise end at step 0 (NaN at step 0);
  // pct_start == 1 (or, with three phases, (2 pct_start - 1) total_steps == 1)
  // leaves the last phase no length (NaN at the last step). Such a schedule is
  // refused now rather than when step() reaches it. Only the steps at either
  // end and beside each phase boundary can divide by zero, so those are tried.
  {
    std::vector<std::int64_t> probes{0, total_steps_};
    for (const Phase& phase : phases_)
      for (double s : {std::floor(phase.end_step), std::floor(phase.end_step) + 1})
        // 2^63 itself is past int64 (total_steps near INT64_MAX rounds up to it).
        if (s >= 0 && s <= total && s < 0x1p63) probes.push_back(static_cast<std::int64_t>(s));
    for (std::int64_t s : probes) {
      const auto [phase, pct] = locate(s);
      if (!std::isfinite(pct))
        throw ValueError(fmt::format(
            "{}: pct_start {} with total_steps {} leaves a phase of the schedule with no steps (the lr at step {} "
            "would be NaN); choose another pct_start",
            who, options.pct_start, total_steps_, s));
    }
  }

  // The cycle starts from max_lr / div_factor, whatever the optimizer had.
  for (std::size_t g = 0; g < max_lrs_.size(); ++g) {
    base_lrs_[g] = max_lrs_[g] / options.div_factor;
    optimizer.set_initial_lr(g, base_lrs_[g]);
  }
  initial_step();
}

std::pair<const OneCycleLR::Phase*, double> OneCycleLR::locate(std::int64_t step) const {
  if (step > total_steps_)
    throw ValueError(fmt::format("OneCycleLR: tried to step {} times; the schedule has {} steps", step, total_steps_));
  const double s = static_cast<double>(step);
  double start = 0;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    const Phase& phase = phases_[i];
    if (s <= phase.end_step || i + 1 == phases_.size()) return {&phase, (s - start) / (phase.end_step - start)};
    start = phase.end_step;
  }
  return {&phases_.back(), 1.0};
}

void OneCycleLR::check_loaded_epoch(std::int64_t epoch) const {
  if (epoch > total_steps_)
    throw ValueError(fmt::format("OneCycleLR::load_state_dict: the state is at step {}, past this schedule's {} steps",
                                 epoch, total_steps_));
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  // The last step (total_steps) lies past the last phase's end, pct > 1.
  // PyTorch extrapolates there, which for a linear fall is a negative lr that
  // the optimizer refuses: the final step() threw. Hold the end value instead.
  if (options.anneal_strategy == AnnealStrategy::Linear) return (end - start) * std::min(pct, 1.0) + start;
  return end + (start - end) / 2 * (std::cos(std::numbers::pi * pct) + 1);
}

double OneCycleLR::lr_at(std::size_t group, std::int64_t epoch) const {
  const auto [phase, pct] = locate(epoch);
  const double initial = max_lrs_[group] / options.div_factor;
  auto level = [&](Level l) {
    return l == kInitial ? initial : l == kMax ? max_lrs_[group] : initial / options.final_div_factor;
  };
  return anneal(level(phase->start_lr), level(phase->end_lr), pct);
}

void OneCycleLR::set_extras(std::int64_t epoch) {
  if (!options.cycle_momentum) return;
  const auto [phase, pct] = locate(epoch);
  auto level = [&](Level l) { return l == kMax ? options.max_momentum : options.base_momentum; };
  const double momentum = anneal(level(phase->start_momentum), level(phase->end_momentum), pct);
  for (std::size_t g = 0; g < max_lrs_.size(); ++g) optimizer_.set_momentum(g, momentum);
}

// ---- SequentialLR -------------------------------------------------------------------

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  if (schedulers_.empty()) throw ValueError("SequentialLR: needs at least one scheduler");
  if (milestones_.size() + 1 != schedulers_.size())
    throw ValueError(fmt::format("SequentialLR: {} schedulers need {} milestones, got {}", schedulers_.size(),
                                 schedulers_.size() - 1, milestones_.size()));
  for (std::size_t i = 0; i < schedulers_.size(); ++i) {
    if (!schedulers_[i]) throw ValueError(fmt::format("SequentialLR: scheduler {} is null", i));
    if (&schedulers_[i]->optimizer_ != &optimizer)
      throw ValueError(
          fmt::format("SequentialLR: scheduler {} ({}) drives another optimizer", i, schedulers_[i]->name()));
  }
  for (std::size_t i = 0; i < milestones_.size(); ++i)
    if (milestones_[i] < 0 || (i > 0 && milestones_[i] <= milestones_[i - 1]))
      throw ValueError(fmt::format("SequentialLR: milestones must be non-negative and increasing, got {} at index {}",
                                   milestones_[i], i));
  // Back to the starting lr, every scheduler one step back (each took its
  // epoch 0 when it was made), then epoch 0 of the first.
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) optimizer.set_lr(g, base_lrs_[g]);
  for (auto& s : schedulers_) --s->last_epoch_;
  schedulers_[0]->step();
  last_epoch_ = 0;
  last_lr_ = schedulers_[0]->get_last_lr();
}

// The scheduler in charge at `epoch`: the first at epoch 0 (the constructor
// took its epoch 0, whatever the milestones), then the one after the last
// milestone at or before the epoch. A milestone of 0, as PyTorch's, hands
// over at epoch 1 without a restart: the next scheduler's own steps begin
// there from its epoch 0.
std::size_t SequentialLR::active(std::int64_t epoch) const {
  if (epoch <= 0) return 0;
  return static_cast<std::size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), epoch) -
                                  milestones_.begin());
}

void SequentialLR::step() {
  last_epoch_ = next_epoch(name(), last_epoch_);
  const std::size_t idx = active(last_epoch_);
  LRScheduler& current = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) current.set_epoch(0);
  else current.step();
  last_lr_ = current.get_last_lr();
}

double SequentialLR::lr_at(std::size_t group, std::int64_t) const { return optimizer_.lr(group); }

std::string SequentialLR::state_dict() const {
  json state = json::parse(LRScheduler::state_dict());
  json subs = json::array();
  for (const auto& s : schedulers_) subs.push_back(json::parse(s->state_dict()));
  state["schedulers"] = subs;
  state["milestones"] = milestones_;
  return state.dump();
}

void SequentialLR::load_state_dict(const std::string& text) {
  const std::string who = name();
  const json state = parse_state(who, text);
  auto subs = state.find("schedulers");
  if (subs == state.end() || !subs->is_array() || subs->size() != schedulers_.size())
    throw FormatError(fmt::format("{}::load_state_dict: \"schedulers\" must hold {} states", who, schedulers_.size()));
  auto milestones = state.find("milestones");
  if (milestones == state.end() || *milestones != json(milestones_))
    throw ValueError(
        fmt::format("{}::load_state_dict: the state's milestones differ from {}", who, json(milestones_).dump()));
  get_int(who, state, "last_epoch", -1);
  get_lrs(who, state, "base_lrs", base_lrs_.size());
  get_lrs(who, state, "last_lr", base_lrs_.size());
  // All or nothing: if one part fails, the parts already loaded go back.
  std::vector<std::string> previous;
  for (const auto& s : schedulers_) previous.push_back(s->state_dict());
  const OptimizerSettings before(optimizer_);
  try {
    for (std::size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict((*subs)[i].dump());
  } catch (...) {
    for (std::size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict(previous[i]);
    before.restore(optimizer_);  // each part's load set the lr it had
    throw;
  }
  LRScheduler::load_state_dict(text);
  // Each part restored the momentum of its own epoch; the one running now has the last word.
  const std::size_t idx = active(last_epoch_);
  if (sets_optimizer_on_load() && schedulers_[idx]->last_epoch_ >= 0)
    schedulers_[idx]->set_extras(schedulers_[idx]->last_epoch_);
}

// ---- LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR -----------------------------

namespace {

std::vector<LRLambda> per_group_lambdas(const std::string& who, const std::vector<LRLambda>& lambdas,
                                        std::size_t groups) {
  if (lambdas.size() != 1 && lambdas.size() != groups)
    throw ValueError(fmt::format("{}: expected 1 or {} lr_lambda functions (one per parameter group), got {}", who,
                                 groups, lambdas.size()));
  for (std::size_t i = 0; i < lambdas.size(); ++i) require_function(lambdas[i], who, fmt::format("lr_lambda {}", i));
  return lambdas.size() == 1 ? std::vector<LRLambda>(groups, lambdas[0]) : lambdas;
}

}  // namespace

LambdaLR::LambdaLR(Optimizer& optimizer, LambdaLROptions options_in)
    : LRScheduler(optimizer),
      options(std::move(options_in)),
      lambdas_(per_group_lambdas(name(), options.lr_lambda, optimizer.num_param_groups())) {
  initial_step();
}

double LambdaLR::lr_at(std::size_t group, std::int64_t epoch) const {
  return base_lrs_[group] * lambdas_[group](epoch);
}

MultiplicativeLR::MultiplicativeLR(Optimizer& optimizer, MultiplicativeLROptions options_in)
    : LRScheduler(optimizer),
      options(std::move(options_in)),
      lambdas_(per_group_lambdas(name(), options.lr_lambda, optimizer.num_param_groups())) {
  initial_step();
}

double MultiplicativeLR::lr_at(std::size_t group, std::int64_t epoch) const {
  return chained_lr(group, epoch, optimizer_.lr(group));
}

double MultiplicativeLR::chained_lr(std::size_t group, std::int64_t epoch, double current) const {
  return epoch > 0 ? current * lambdas_[group](epoch) : current;
}

ConstantLR::ConstantLR(Optimizer& optimizer, ConstantLROptions options) : LRScheduler(optimizer), options(options) {
  if (!(options.factor >= 0 && options.factor <= 1))
    throw ValueError(fmt::format("ConstantLR: factor must be in [0, 1], got {}", options.factor));
  if (options.total_iters < 0)
    throw ValueError(fmt::format("ConstantLR: total_iters must be >= 0, got {}", options.total_iters));
  initial_step();
}

double ConstantLR::lr_at(std::size_t group, std::int64_t epoch) const {
  // total_iters 0: PyTorch 1.13 applies the factor at epoch 0 and, never
  // reaching epoch total_iters again, never takes it back.
  const bool factored = epoch < options.total_iters || options.total_iters == 0;
  return factored ? base_lrs_[group] * options.factor : base_lrs_[group];
}

double ConstantLR::chained_lr(std::size_t group, std::int64_t epoch, double current) const {
  if (epoch == 0) return current * options.factor;
  if (epoch != options.total_iters) return current;
  // A factor of 0 cannot be divided out (PyTorch raises ZeroDivisionError):
  // the closed form's base lr, which ignores other changes to the lr.
  if (options.factor == 0) return lr_at(group, epoch);
  return current * (1.0 / options.factor);
}

PolynomialLR::PolynomialLR(Optimizer& optimizer, PolynomialLROptions options)
    : LRScheduler(optimizer), options(options) {
  if (options.total_iters <= 0)
    throw ValueError(fmt::format("PolynomialLR: total_iters must be positive, got {}", options.total_iters));
  // A negative power sends the lr to infinity at total_iters.
  if (!(options.power >= 0) || !std::isfinite(options.power))
    throw ValueError(fmt::format("PolynomialLR: power must be a finite number >= 0, got {}", options.power));
  initial_step();
}

double PolynomialLR::lr_at(std::size_t group, std::int64_t epoch) const {
  const double done =
      static_cast<double>(std::min(epoch, options.total_iters)) / static_cast<double>(options.total_iters);
  return base_lrs_[group] * std::pow(1 - done, options.power);
}

double PolynomialLR::chained_lr(std::size_t, std::int64_t epoch, double current) const {
  if (epoch == 0 || epoch > options.total_iters) return current;
  const double total = static_cast<double>(options.total_iters), e = static_cast<double>(epoch);
  return current * std::pow((1 - e / total) / (1 - (e - 1) / total), options.power);
}

// ---- CyclicLR ---------------------------------------------------------------------------

Optimizer& CyclicLR::start_at_base_lr(Optimizer& optimizer, const CyclicLROptions& options) {
  // Everything is checked before the optimizer's lr changes, so a bad option
  // leaves the optimizer as it was.
  const std::string who = "CyclicLR";
  const std::size_t groups = optimizer.num_param_groups();
  const auto base = per_group(who, "base_lr", options.base_lr, groups);
  for (double lr : base) check_factor(who, "base_lr", lr);
  for (double lr : per_group(who, "max_lr", options.max_lr, groups)) check_factor(who, "max_lr", lr);
  const std::int64_t down = options.step_size_down.value_or(options.step_size_up);
  if (options.step_size_up <= 0 || down <= 0)
    throw ValueError(fmt::format("{}: step_size_up and step_size_down must be positive, got {} and {}", who,
                                 options.step_size_up, down));
  check_factor(who, "gamma", options.gamma);
  if (options.cycle_momentum) {
    if (!optimizer.has_momentum())
      throw ValueError(
          fmt::format("{}: {} has no momentum or beta1 to cycle; set cycle_momentum = false", who, optimizer.name()));
    for (double m : per_group(who, "base_momentum", options.base_momentum, groups))
      check_factor(who, "base_momentum", m);
    for (double m : per_group(who, "max_momentum", options.max_momentum, groups)) check_factor(who, "max_momentum", m);
  }
  // As PyTorch: the cycle starts from base_lr, and base_lr is what the
  // optimizer keeps as its initial lr if no scheduler set one before.
  for (std::size_t g = 0; g < groups; ++g) optimizer.set_lr(g, base[g]);
  return optimizer;
}

CyclicLR::CyclicLR(Optimizer& optimizer, CyclicLROptions options_in)
    : LRScheduler(start_at_base_lr(optimizer, options_in)), options(std::move(options_in)) {
  const std::size_t groups = optimizer.num_param_groups();
  base_lrs_ = per_group(name(), "base_lr", options.base_lr, groups);
  max_lrs_ = per_group(name(), "max_lr", options.max_lr, groups);
  const std::int64_t down = options.step_size_down.value_or(options.step_size_up);
  total_size_ = static_cast<double>(options.step_size_up) + static_cast<double>(down);
  step_ratio_ = static_cast<double>(options.step_size_up) / total_size_;
  if (options.cycle_momentum) {
    base_momentums_ = per_group(name(), "base_momentum", options.base_momentum, groups);
    max_momentums_ = per_group(name(), "max_momentum", options.max_momentum, groups);
    for (std::size_t g = 0; g < groups; ++g) optimizer.set_momentum(g, base_momentums_[g]);
  }
  initial_step();
}

std::pair<double, double> CyclicLR::position(std::int64_t epoch) const {
  const double e = static_cast<double>(epoch);
  const double cycle = std::floor(1 + e / total_size_);
  const double x = 1. + e / total_size_ - cycle;
  const double rise = x <= step_ratio_ ? x / step_ratio_ : (x - 1) / (step_ratio_ - 1);
  const bool by_cycle =
      options.scale_fn ? options.scale_mode == CyclicScaleMode::Cycle : options.mode != CyclicMode::ExpRange;
  const double arg = by_cycle ? cycle : e;
  double scale = 1;
  if (options.scale_fn) scale = options.scale_fn(arg);
  else if (options.mode == CyclicMode::Triangular2) scale = 1 / std::pow(2., arg - 1);
  else if (options.mode == CyclicMode::ExpRange) scale = std::pow(options.gamma, arg);
  return {rise, scale};
}

double CyclicLR::lr_at(std::size_t group, std::int64_t epoch) const {
  const auto [rise, scale] = position(epoch);
  return base_lrs_[group] + (max_lrs_[group] - base_lrs_[group]) * rise * scale;
}

void CyclicLR::set_extras(std::int64_t epoch) {
  if (!options.cycle_momentum) return;
  const auto [rise, scale] = position(epoch);
  for (std::size_t g = 0; g < max_momentums_.size(); ++g)
    optimizer_.set_momentum(g, max_momentums_[g] - (max_momentums_[g] - base_momentums_[g]) * rise * scale);
}

// ---- CosineAnnealingWarmRestarts -----------------------------------------------------

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer,
                                                         CosineAnnealingWarmRestartsOptions options)
    : LRScheduler(optimizer), options(options) {
  if (options.T_0 <= 0)
    throw ValueError(fmt::format("CosineAnnealingWarmRestarts: T_0 must be positive, got {}", options.T_0));
  if (options.T_mult < 1)
    throw ValueError(fmt::format("CosineAnnealingWarmRestarts: T_mult must be >= 1, got {}", options.T_mult));
  check_factor(name(), "eta_min", options.eta_min);
  initial_step();
}

double CosineAnnealingWarmRestarts::lr_at(std::size_t group, std::int64_t epoch) const {
  // Where epoch falls in its period: what PyTorch reaches by stepping one
  // epoch at a time (T_cur += 1, restarting when it reaches T_i).
  std::int64_t t_i = options.T_0, t_cur = epoch;
  if (options.T_mult == 1) {
    t_cur = epoch % options.T_0;
  } else {
    while (t_cur >= t_i) {
      t_cur -= t_i;
      if (__builtin_mul_overflow(t_i, options.T_mult, &t_i)) t_i = std::numeric_limits<std::int64_t>::max();
    }
  }
  const double phase = std::numbers::pi * static_cast<double>(t_cur) / static_cast<double>(t_i);
  return options.eta_min + (base_lrs_[group] - options.eta_min) * (1 + std::cos(phase)) / 2;
}

// ---- ChainedScheduler ------------------------------------------------------------------

Optimizer& ChainedScheduler::optimizer_of(const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
  if (schedulers.empty()) throw ValueError("ChainedScheduler: needs at least one scheduler");
  for (std::size_t i = 0; i < schedulers.size(); ++i)
    if (!schedulers[i]) throw ValueError(fmt::format("ChainedScheduler: scheduler {} is null", i));
  return schedulers[0]->optimizer_;
}

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers)
    : Scheduler(optimizer_of(schedulers)), schedulers_(std::move(schedulers)) {
  for (std::size_t i = 0; i < schedulers_.size(); ++i)
    if (&schedulers_[i]->optimizer_ != &optimizer_)
      throw ValueError(fmt::format("ChainedScheduler: scheduler {} ({}) drives another optimizer than scheduler 0 ({})",
                                   i, schedulers_[i]->name(), schedulers_[0]->name()));
  for (std::size_t i = 0; i < schedulers_.size(); ++i)
    if (dynamic_cast<const SequentialLR*>(schedulers_[i].get()))
      throw ValueError(fmt::format("ChainedScheduler: scheduler {} is a SequentialLR, which cannot be chained", i));
  // Each scheduler applied its epoch 0 to the lr the ones made before it
  // left (PyTorch's chainable forms), so the optimizer holds the chain's lr.
  for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) last_lr_.push_back(optimizer_.lr(g));
}

void ChainedScheduler::step() {
  for (auto& s : schedulers_) s->step();
  // last_lr_'s groups: a group added to the optimizer later is not scheduled (as PyTorch's).
  for (std::size_t g = 0; g < last_lr_.size(); ++g) last_lr_[g] = optimizer_.lr(g);
}

std::string ChainedScheduler::state_dict() const {
  json subs = json::array();
  for (const auto& s : schedulers_) subs.push_back(json::parse(s->state_dict()));
  return json{{"scheduler", name()}, {"schedulers", subs}, {"last_lr", last_lr_}}.dump();
}

void ChainedScheduler::load_state_dict(const std::string& text) {
  const std::string who = name();
  const json state = parse_state(who, text);
  auto subs = state.find("schedulers");
  if (subs == state.end() || !subs->is_array() || subs->size() != schedulers_.size())
    throw FormatError(fmt::format("{}::load_state_dict: \"schedulers\" must hold {} states", who, schedulers_.size()));
  auto last = get_lrs(who, state, "last_lr", last_lr_.size());
  // All or nothing, as SequentialLR.
  std::vector<std::string> previous;
  for (const auto& s : schedulers_) previous.push_back(s->state_dict());
  const OptimizerSettings before(optimizer_);
  try {
    for (std::size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict((*subs)[i].dump());
  } catch (...) {
    for (std::size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict(previous[i]);
    before.restore(optimizer_);  // each part's load set the lr it had
    throw;
  }
  last_lr_ = std::move(last);
  // Each link set its own last lr; the optimizer's is what the whole chain left.
  if (sets_optimizer_on_load())
    for (std::size_t g = 0; g < last_lr_.size(); ++g) optimizer_.set_lr(g, last_lr_[g]);
}

// ---- ReduceLROnPlateau -------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options_in)
    : Scheduler(optimizer), options(std::move(options_in)) {
  const std::string who = name();
  if (!(options.factor >= 0 && options.factor < 1))
    throw ValueError(fmt::format("{}: factor must be in [0, 1), got {}", who, options.factor));
  if (options.patience < 0 || options.cooldown < 0)
    throw ValueError(
        fmt::format("{}: patience and cooldown must be >= 0, got {} and {}", who, options.patience, options.cooldown));
  if (!(options.threshold >= 0))
    throw ValueError(fmt::format("{}: threshold must be >= 0, got {}", who, options.threshold));
  min_lrs_ = per_group(who, "min_lr", options.min_lr, optimizer.num_param_groups());
  best_ = options.mode == PlateauMode::Min ? std::numeric_limits<double>::infinity()
                                           : -std::numeric_limits<double>::infinity();
  for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g) last_lr_.push_back(optimizer.lr(g));
}

bool ReduceLROnPlateau::is_better(double metric) const {
  const bool rel = options.threshold_mode == ThresholdMode::Rel;
  if (options.mode == PlateauMode::Min)
    return metric < (rel ? best_ * (1 - options.threshold) : best_ - options.threshold);
  return metric > (rel ? best_ * (1 + options.threshold) : best_ + options.threshold);
}

void ReduceLROnPlateau::step(double metric) {
  last_epoch_ = next_epoch(name(), last_epoch_);
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else if (num_bad_epochs_ < std::numeric_limits<std::int64_t>::max()) {
    ++num_bad_epochs_;  // a loaded state may hold any count; INT64_MAX + 1 would be undefined
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during a cooldown do not count
  }
  if (num_bad_epochs_ > options.patience) {
    for (std::size_t g = 0; g < min_lrs_.size(); ++g) {
      const double old_lr = optimizer_.lr(g);
      const double new_lr = std::max(old_lr * options.factor, min_lrs_[g]);
      if (old_lr - new_lr > options.eps) optimizer_.set_lr(g, new_lr);
    }
    cooldown_counter_ = options.cooldown;
    num_bad_epochs_ = 0;
  }
  for (std::size_t g = 0; g < min_lrs_.size(); ++g) last_lr_[g] = optimizer_.lr(g);
}

std::string ReduceLROnPlateau::state_dict() const {
  return json{{"scheduler", name()},
              {"mode", options.mode == PlateauMode::Min ? "min" : "max"},
              {"last_epoch", last_epoch_},
              {"best", double_text(best_)},
              {"num_bad_epochs", num_bad_epochs_},
              {"cooldown_counter", cooldown_counter_},
              {"last_lr", last_lr_}}
      .dump();
}

void ReduceLROnPlateau::load_state_dict(const std::string& text) {
  const std::string who = name();
  const json state = parse_state(who, text);
  // `best` means the lowest metric in min mode and the highest in max mode:
  // a state of the other mode would compare against the wrong end. (States
  // saved before the mode was recorded are taken as they are.)
  const std::string mode = options.mode == PlateauMode::Min ? "min" : "max";
  if (auto it = state.find("mode"); it != state.end() && (!it->is_string() || it->get<std::string>() != mode))
    throw ValueError(fmt::format("{}::load_state_dict: the state was saved in mode {}, this scheduler is in mode {}",
                                 who, it->dump(), mode));
  const auto last_epoch = get_int(who, state, "last_epoch", -1);
  const double best = text_double(who, state, "best");
  // NaN compares false with every metric: the lr would never be cut again.
  if (std::isnan(best)) throw FormatError(fmt::format("{}::load_state_dict: \"best\" is NaN", who));
  const auto bad = get_int(who, state, "num_bad_epochs", 0);
  const auto cooldown = get_int(who, state, "cooldown_counter", 0);
  auto last = get_lrs(who, state, "last_lr", min_lrs_.size());
  last_epoch_ = last_epoch;
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown;
  last_lr_ = std::move(last);
  // As LRScheduler::restore_optimizer: the optimizer resumes with the lr the last step() left.
  if (sets_optimizer_on_load())
    for (std::size_t g = 0; g < last_lr_.size(); ++g) optimizer_.set_lr(g, last_lr_[g]);
}

}  // namespace tg::optim
