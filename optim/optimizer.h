#pragma once
/// @file
/// tg::optim::Optimizer: parameter groups with their own options, per-parameter
/// state, a fused step, and state dicts that tg::save can write.
///
/// @code
/// tg::optim::Adam opt(model.parameters(), {.lr = 1e-3, .weight_decay = 0.01});
/// for (...) { opt.zero_grad(); loss(model).backward(); opt.step(); }
/// @endcode
///
/// Parameter groups: each group has its own options.
///
/// @code
/// std::vector<tg::optim::ParamGroup<tg::optim::SGDOptions>> groups{
///     {body.parameters(), {.lr = 0.01, .momentum = 0.9}},
///     {head.parameters(), {.lr = 0.1}}};
/// tg::optim::SGD opt(groups);
/// @endcode
///
/// Options are validated when the optimizer is made (ValueError naming the
/// option and its value). step() runs with grad mode off as one loop over each
/// parameter's data (float16, bfloat16, float32 or float64), skipping parameters without a
/// gradient; the update rules are those PyTorch documents for torch.optim.
///
/// State dicts: state_dict() gives tensors named "state.<i>.<field>" (i counts
/// parameters over all groups in order; "step" is an int64 scalar) and
/// metadata "optimizer" (the class name) and "param_groups" (JSON: each
/// group's options and parameter count). load_state_dict() checks all of it
/// against this optimizer before changing anything; floating state is cast to
/// its parameter's dtype, as PyTorch does. A parameter's state is all or
/// nothing: none (it starts fresh at its next update), or every field the
/// optimizer's state needs with its options ("step" always).
///
/// Module::to converts parameters in place, so an optimizer keeps them; at the
/// next step each parameter's state is converted to its new dtype.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/float_mode.h>

namespace tg::optim {

/// The two halves of a safetensors file: tg::save(path, s.tensors, s.metadata).
struct OptimizerState {
  std::map<std::string, Tensor> tensors;        ///< "state.<i>.<field>", per parameter
  std::map<std::string, std::string> metadata;  ///< "optimizer" (the class name) and "param_groups" (JSON)
};

/// Parameters that share options (as one dict of PyTorch's param_groups).
template <class Options>
struct ParamGroup {
  std::vector<Tensor> params{};  ///< leaf tensors, floating, each in one group only
  Options options{};             ///< this group's learning rate, momentum, ...
};

/// The interface of every optimizer (SGD, Adam, ...) and what schedulers,
/// checkpoints and gradient clipping use; see the description of optimizer.h.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter that has a gradient.
  virtual void step() = 0;
  /// Drops (set_to_none, PyTorch 2's default; 1.13's was false) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true);

  virtual std::string name() const = 0;  ///< "Adam"
  /// The number of parameter groups.
  virtual std::size_t num_param_groups() const = 0;
  /// The parameters of a group. @throws tg::IndexError for a group out of range.
  virtual const std::vector<Tensor>& params(std::size_t group) const = 0;
  std::vector<Tensor> parameters() const;  ///< every group's, in order
  /// Adds a group of parameters with the optimizer's default options
  /// (PyTorch's add_param_group({"params": ...})); their state is made at
  /// their first update. Schedulers made before it do not schedule the new
  /// group (as PyTorch's). A state dict records the groups, so one saved
  /// after add_param_group loads into an optimizer with the same groups.
  /// OptimizerWithState also takes a group with its own options.
  /// @throws tg::ValueError naming the optimizer for a parameter already in a
  ///   group (or twice in `params`), or one that is not a floating leaf; LBFGS
  ///   (one group only, as PyTorch's) always.
  virtual void add_param_group(std::vector<Tensor> params) = 0;

  /// The learning rate of a group, which schedulers change.
  /// @throws tg::IndexError for a group out of range; set_lr tg::ValueError for a negative or NaN lr.
  ///@{
  virtual double lr(std::size_t group) const = 0;
  virtual void set_lr(std::size_t group, double lr) = 0;
  ///@}
  /// The lr schedulers count from. Set by the first scheduler made for this
  /// optimizer (from the lr at that time) and kept in state dicts, as
  /// PyTorch's group["initial_lr"].
  ///@{
  std::optional<double> initial_lr(std::size_t group) const;
  void set_initial_lr(std::size_t group, double lr);
  ///@}

  /// The momentum OneCycleLR and CyclicLR cycle: SGD's and RMSprop's momentum,
  /// the Adam family's beta1. Optimizers without one (has_momentum() false)
  /// throw tg::ValueError from momentum() and set_momentum().
  ///@{
  virtual bool has_momentum() const { return false; }
  virtual double momentum(std::size_t group) const;
  virtual void set_momentum(std::size_t group, double momentum);
  ///@}

  /// Options and per-parameter state, as tensors and metadata that tg::save can
  /// write (see the description of optimizer.h for the names).
  virtual OptimizerState state_dict() const = 0;
  /// Restores a state_dict(): all of it is checked against this optimizer
  /// (class, groups, parameter counts and shapes) before anything changes.
  /// @throws tg::ValueError or tg::FormatError naming the optimizer and what differs.
  virtual void load_state_dict(const OptimizerState& state) = 0;
  /// How many times load_state_dict() has succeeded on this optimizer. A
  /// scheduler's load leaves the lr alone when the optimizer was loaded
  /// after the scheduler was made: the optimizer's lr is then the saved one.
  std::uint64_t loads() const { return loads_; }

 protected:
  Optimizer() = default;
  /// Checks a parameter-group index for the per-group accessors.
  /// @throws tg::IndexError naming the optimizer when `group` is out of range.
  void check_group(std::size_t group) const;

  std::vector<std::optional<double>> initial_lrs_;  ///< per group, see initial_lr()
  std::uint64_t loads_ = 0;                         ///< see loads(); load_state_dict() counts itself
};

namespace detail {

/// An option as kept in a state dict.
using OptionValue = std::variant<double, bool>;

struct GroupRecord {
  std::vector<std::pair<std::string, OptionValue>> options;
  std::size_t num_params = 0;
  std::optional<double> initial_lr;
};

/// JSON for the "param_groups" metadata, and back. decode checks the
/// structure and throws FormatError naming `optimizer` and what is wrong.
std::string encode_param_groups(const std::vector<GroupRecord>& groups);
std::vector<GroupRecord> decode_param_groups(const std::string& optimizer, const std::string& json);

/// A parameter's data for an in-place update: the parameter itself when
/// contiguous, otherwise a contiguous copy written back by commit(); and its
/// gradient, contiguous, checked to match the parameter's dtype and shape.
class ParamUpdate {
 public:
  /// group and index name the parameter in error messages.
  ParamUpdate(const std::string& optimizer, std::size_t group, std::size_t index, const Tensor& param);
  /// Writes a copy back and bumps the version counter, as an in-place op does.
  void commit();
  Tensor data;
  Tensor grad;

 private:
  Tensor param_;
};

/// Checks for the parameters an optimizer is given: defined, floating, leaves,
/// not expanded (no elements sharing memory), each in one group only, and at
/// least one overall.
void check_params(const std::string& optimizer, const std::vector<std::vector<Tensor>>& groups);
/// add_param_group's checks of `params`, a group to follow `groups`: check_params,
/// and a ValueError naming the group that already holds a parameter.
void check_new_group(const std::string& optimizer, const std::vector<std::vector<Tensor>>& groups,
                     const std::vector<Tensor>& params);

/// A state tensor from a state dict, checked against its parameter (same
/// shape) and copied, so the optimizer never shares it. Floating state is cast
/// to the parameter's dtype, as PyTorch does, so a float32 checkpoint loads
/// into a float64 model.
Tensor load_state_tensor(const std::string& optimizer, const std::string& key, const Tensor& value,
                         const Tensor& param);
/// Before an update: a state tensor made for the parameter as it was. After
/// Module::to changed the parameter's dtype in place, the state follows it (as
/// PyTorch's state follows on load); a shape that no longer matches is a
/// ShapeError naming the optimizer, the parameter and the state.
void match_state(const std::string& optimizer, std::size_t group, std::size_t index, const char* field, Tensor& state,
                 const Tensor& param);
/// A step count of a state dict: one int64 in [0, 2^53].
/// @throws tg::FormatError naming `optimizer` and `key` otherwise.
std::int64_t load_step(const std::string& optimizer, const std::string& key, const Tensor& value);

[[noreturn]] void throw_bad_option(const std::string& optimizer, const std::string& what, double value);

/// A per-parameter number of the state that is not shaped like the parameter
/// (NAdam's mu_product), kept in a state dict as a float64 scalar.
double load_state_scalar(const std::string& optimizer, const std::string& key, const Tensor& value);

// What OptimizerWithState's state_dict and load_state_dict do that does not
// depend on the optimizer, compiled once rather than once per optimizer.

/// "state.<index>.<field>": the key of one part of parameter `index`'s state.
std::string state_key(std::size_t index, const char* field);
/// The parameter index and field of a state key.
/// @throws tg::FormatError naming `optimizer` for a key not made by state_key.
std::pair<std::size_t, std::string> split_state_key(const std::string& optimizer, const std::string& key);
/// The parameter groups a state dict records, checked against the optimizer
/// that loads it: its name and its groups' sizes.
/// @throws tg::ValueError or tg::FormatError naming `optimizer` and what differs.
std::vector<GroupRecord> load_param_groups(const std::string& optimizer, const OptimizerState& in,
                                           const std::vector<std::size_t>& group_sizes);
/// Throws tg::FormatError "<optimizer>::load_state_dict: <what>".
[[noreturn]] void throw_bad_state(const std::string& optimizer, const std::string& what);

/// Calls body(context, begin, end) on contiguous ranges that cover [0, n):
/// one range on the calling thread below parallel_threshold() elements, else
/// one per thread of a team, each thread flushing subnormals as tapegrad's
/// kernels do. The optimizers' updates are elementwise, so how [0, n) is cut
/// changes no result; a large model's step then uses every core, where the
/// update was the one serial part of a wide step at 2 threads (issue 13).
/// Adam and AdamW use it; the other optimizers' loops stay serial, since a
/// parallel copy of each cost the shared library more than it had to spare.
void for_each_range(std::int64_t n, void (*body)(const void* context, std::int64_t begin, std::int64_t end),
                    const void* context);

/// for_each_range with body(begin, end). Not a template all the way down, so
/// that each optimizer and dtype does not get an OpenMP region of its own.
template <class Body>
void for_each_range(std::int64_t n, const Body& body) {
  for_each_range(
      n,
      [](const void* context, std::int64_t begin, std::int64_t end) {
        (*static_cast<const Body*>(context))(begin, end);
      },
      &body);
}

/// Whether Adam and AdamW have their AVX2 loop in this build (x86-64): used
/// where the vector functions run on AVX2. For the test that keeps it there.
bool adam_has_avx2_loop();

/// out[i] = sqrt(v[i]) through the square root of Adam's AVX-512 loop, which
/// runs on the FMA units and must round as the divider's does; false (and
/// nothing written) where that loop is not in use. For its test.
bool adam_sqrt_avx512(const float* v, float* out, std::int64_t n);

/// Where Adam's float32 AVX-512 loop takes its square roots: -1 (the
/// default) as this CPU's vendor suits (optim/adam.cpp), 0 all on the
/// divider, 1 one in three on the FMA units. The bits are the same either
/// way; the tests run both on any CPU.
inline std::atomic<int> adam_fma_roots{-1};

/// Whether a state dict must hold State's tensor `field` for a parameter that
/// has any state, with options `o`: State::needs(o, field) where a State says
/// (Adam's max_exp_avg_sq only with amsgrad), else every tensor.
template <class State, class Options>
bool state_needs(const Options& o, std::string_view field) {
  if constexpr (requires { State::needs(o, field); }) return State::needs(o, field);
  else return true;
}

/// Checks that the fields `loaded` for parameter `index` include every one of `needed`.
/// @throws tg::ValueError "<optimizer>::load_state_dict: ..." naming the parameter and the missing key.
void check_state_complete(const std::string& optimizer, std::size_t index, const std::vector<std::string>& needed,
                          const std::set<std::string>& loaded);

/// Calls State::scalars(s, f) for a State that has such numbers.
template <class State, class F>
void state_scalars(State& s, F&& f) {
  if constexpr (requires { std::decay_t<State>::scalars(s, f); }) std::decay_t<State>::scalars(s, f);
}

}  // namespace detail

/// The groups, options and per-parameter state every optimizer has. Options
/// and State describe their fields to it:
/// @code
/// template <class Self, class F> static void fields(Self& o, F&& f);  // f(name, double& or bool&)
/// void validate(const std::string& optimizer) const;                  // Options only
/// template <class Self, class F> static void tensors(Self& s, F&& f); // State: f(name, Tensor&)
/// std::int64_t step;                                                  // State
/// template <class Self, class F> static void scalars(Self& s, F&& f); // optional: f(name, double&)
/// template <class O> static bool needs(const O& o, std::string_view name);
///     // optional: whether a state dict must hold tensor `name` (else every one)
/// @endcode
template <class Options, class State>
class OptimizerWithState : public Optimizer {
 public:
  /// The number of parameter groups.
  std::size_t num_param_groups() const override { return groups_.size(); }
  /// The parameters of a group. @throws tg::IndexError for a group out of range.
  const std::vector<Tensor>& params(std::size_t group) const override { return group_at(group).params; }
  /// A group's learning rate. @throws tg::IndexError for a group out of range.
  double lr(std::size_t group) const override { return group_at(group).options.lr; }
  /// Sets a group's learning rate.
  /// @throws tg::IndexError for a group out of range, tg::ValueError for a negative or NaN lr.
  void set_lr(std::size_t group, double lr) override {
    if (!(lr >= 0)) detail::throw_bad_option(name(), "learning rate", lr);
    group_at(group).options.lr = lr;
  }

  /// Every group with its options.
  const std::vector<ParamGroup<Options>>& param_groups() const { return groups_; }
  /// The options add_param_group(params) gives a new group: those of the first
  /// group when the optimizer was made (the options it was made with, when made
  /// from one list of parameters; PyTorch's defaults).
  const Options& defaults() const { return defaults_; }

  /// See Optimizer::add_param_group: a group with the default options.
  [[gnu::cold]] void add_param_group(std::vector<Tensor> params) override {
    add_param_group(ParamGroup<Options>{std::move(params), defaults_});
  }
  /// Adds a group with its own options (validated), as PyTorch's add_param_group({"params": ..., "lr": ...}).
  /// @throws tg::ValueError naming the optimizer for an invalid option, a parameter already in a group
  ///   (or twice in this one), or one that is not a floating leaf.
  [[gnu::cold]] void add_param_group(ParamGroup<Options> group) {
    const std::string who = name();
    group.options.validate(who);
    std::vector<std::vector<Tensor>> lists;
    for (const auto& g : groups_) lists.push_back(g.params);
    detail::check_new_group(who, lists, group.params);
    // Everything that can throw first, so a failure leaves the three lists as they were.
    std::vector<State> fresh(group.params.size());
    groups_.reserve(groups_.size() + 1);
    state_.reserve(state_.size() + 1);
    initial_lrs_.reserve(initial_lrs_.size() + 1);
    groups_.push_back(std::move(group));
    state_.push_back(std::move(fresh));
    initial_lrs_.push_back(std::nullopt);
  }
  /// A group's options. @throws tg::IndexError for a group out of range.
  const Options& options(std::size_t group) const { return group_at(group).options; }
  /// Replaces a group's options (validated).
  void set_options(std::size_t group, const Options& options) {
    options.validate(name());
    group_at(group).options = options;
  }
  /// The state of parameter `index` of `group` (step 0 and undefined tensors
  /// until its first update).
  const State& state(std::size_t group, std::size_t index) const { return state_.at(group).at(index); }

  /// See Optimizer::state_dict().
  [[gnu::cold]] OptimizerState state_dict() const override {
    OptimizerState out;
    std::vector<detail::GroupRecord> records;
    std::size_t index = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      detail::GroupRecord record;
      Options::fields(groups_[g].options, [&](const char* field, const auto& value) {
        record.options.emplace_back(field, detail::OptionValue(value));
      });
      record.num_params = groups_[g].params.size();
      record.initial_lr = initial_lrs_[g];
      records.push_back(std::move(record));
      for (std::size_t i = 0; i < state_[g].size(); ++i) {
        const State& s = state_[g][i];
        if (s.step > 0) {
          out.tensors[detail::state_key(index, "step")] = scalar_tensor(static_cast<double>(s.step), {.dtype = kInt64});
          State::tensors(s, [&](const char* field, const Tensor& t) {
            if (t.defined()) {
              out.tensors[detail::state_key(index, field)] = t.clone();
            } else if (detail::state_needs<State>(groups_[g].options, field)) {
              // Options changed since the last step (momentum or amsgrad
              // turned on): the next step would start this buffer at zeros,
              // so the state holds zeros, and load_state_dict, which wants
              // every buffer the options use, takes it back.
              const Tensor& p = groups_[g].params[i];
              out.tensors[detail::state_key(index, field)] = zeros(p.shape(), {.dtype = p.dtype()});
            }
          });
          detail::state_scalars(s, [&](const char* field, double v) {
            out.tensors[detail::state_key(index, field)] = scalar_tensor(v, {.dtype = kFloat64});
          });
        }
        ++index;
      }
    }
    out.metadata["optimizer"] = name();
    out.metadata["param_groups"] = detail::encode_param_groups(records);
    return out;
  }

  /// See Optimizer::load_state_dict().
  [[gnu::cold]] void load_state_dict(const OptimizerState& in) override {
    const std::string who = name();
    std::vector<std::size_t> group_sizes;
    for (const auto& group : groups_) group_sizes.push_back(group.params.size());
    const auto records = detail::load_param_groups(who, in, group_sizes);
    // Build everything first, so that a bad state changes nothing.
    std::vector<Options> options(groups_.size());
    std::vector<std::optional<double>> initial_lrs(groups_.size());
    std::vector<std::vector<State>> state(groups_.size());
    std::vector<std::pair<std::size_t, std::size_t>> where;  // global index -> (group, index)
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      options[g] = groups_[g].options;
      std::size_t found = 0;
      Options::fields(options[g], [&](const char* field, auto& value) {
        for (const auto& [key, stored] : records[g].options) {
          if (key != field) continue;
          using V = std::decay_t<decltype(value)>;
          if (!std::holds_alternative<V>(stored))
            detail::throw_bad_state(who, fmt::format("option \"{}\" of group {} has the wrong type", field, g));
          value = std::get<V>(stored);
          ++found;
        }
      });
      if (found != records[g].options.size())
        detail::throw_bad_state(who, fmt::format("group {} has options this optimizer lacks", g));
      options[g].validate(who);
      initial_lrs[g] = records[g].initial_lr;
      state[g].resize(groups_[g].params.size());
      for (std::size_t i = 0; i < groups_[g].params.size(); ++i) where.emplace_back(g, i);
    }
    std::vector<std::set<std::string>> loaded(where.size());  // the fields found for each parameter
    for (const auto& [key, value] : in.tensors) {
      const auto [index, field] = detail::split_state_key(who, key);
      if (index >= where.size())
        throw ValueError(fmt::format("{}::load_state_dict: \"{}\" names parameter {}, but there are {}", who, key,
                                     index, where.size()));
      const auto [g, i] = where[index];
      State& s = state[g][i];
      loaded[index].insert(field);
      if (field == "step") {
        s.step = detail::load_step(who, key, value);
        continue;
      }
      bool known = false;
      detail::state_scalars(s, [&, &key = key, &value = value, &field = field](const char* name, double& v) {
        if (field != name) return;
        v = detail::load_state_scalar(who, key, value);
        known = true;
      });
      // Init-captures: Clang before 16 cannot capture structured bindings directly.
      State::tensors(s, [&, &key = key, &value = value, &field = field, g = g, i = i](const char* name, Tensor& t) {
        if (field != name) return;
        t = detail::load_state_tensor(who, key, value, groups_[g].params[i]);
        known = true;
      });
      if (!known) detail::throw_bad_state(who, fmt::format("unknown state \"{}\"", key));
    }
    // A parameter's state is all or nothing: a part missing (exp_avg_sq, or step, which restarted
    // the bias correction) was a generic error at the next step(), or silently zeros.
    for (std::size_t index = 0; index < where.size(); ++index) {
      if (loaded[index].empty()) continue;
      const std::size_t g = where[index].first, i = where[index].second;
      std::vector<std::string> needed{"step"};
      State::tensors(state[g][i], [&](const char* field, const Tensor&) {
        if (detail::state_needs<State>(options[g], field)) needed.emplace_back(field);
      });
      detail::state_scalars(state[g][i], [&](const char* field, double) { needed.emplace_back(field); });
      detail::check_state_complete(who, index, needed, loaded[index]);
    }
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      groups_[g].options = options[g];
      initial_lrs_[g] = initial_lrs[g];
    }
    state_ = std::move(state);
    ++loads_;
  }

 protected:
  /// Keeps the groups; the derived constructor then calls init().
  explicit OptimizerWithState(std::vector<ParamGroup<Options>> groups) : groups_(std::move(groups)) {}
  /// Derived constructors call this (name() is virtual, so not from here).
  void init(const std::string& who) {
    if (!groups_.empty()) defaults_ = groups_[0].options;
    std::vector<std::vector<Tensor>> lists;
    for (const auto& g : groups_) {
      g.options.validate(who);
      lists.push_back(g.params);
    }
    detail::check_params(who, lists);
    state_.resize(groups_.size());
    for (std::size_t g = 0; g < groups_.size(); ++g) state_[g].resize(groups_[g].params.size());
    initial_lrs_.assign(groups_.size(), std::nullopt);
  }

  /// Calls update(options, state, ParamUpdate&) for every parameter with a
  /// gradient, with grad mode off.
  template <class Update>
  void for_each_update(Update update) {
    NoGradGuard no_grad;
    // Late in training g * g is subnormal; without FTZ/DAZ the update loops
    // ran 9x slower (issue 13). One guard per step, not per parameter.
    FlushDenormalGuard flush;
    const std::string who = name();
    for (std::size_t g = 0; g < groups_.size(); ++g)
      for (std::size_t i = 0; i < groups_[g].params.size(); ++i) {
        const Tensor& p = groups_[g].params[i];
        if (!p.grad().defined()) continue;
        detail::ParamUpdate u(who, g, i, p);
        State::tensors(state_[g][i],
                       [&](const char* field, Tensor& t) { detail::match_state(who, g, i, field, t, p); });
        update(groups_[g].options, state_[g][i], u);
        u.commit();
      }
  }

  /// A group, checked. @throws tg::IndexError for a group out of range.
  ParamGroup<Options>& group_at(std::size_t group) {
    check_group(group);
    return groups_[group];
  }
  /// A group, checked. @throws tg::IndexError for a group out of range.
  const ParamGroup<Options>& group_at(std::size_t group) const {
    check_group(group);
    return groups_[group];
  }

  std::vector<ParamGroup<Options>> groups_;  ///< the parameter groups
  std::vector<std::vector<State>> state_;    ///< state_[group][index], per parameter
  Options defaults_{};                       ///< see defaults()
};

}  // namespace tg::optim
