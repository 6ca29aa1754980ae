// The parts of tg::optim::Optimizer that are not templates: gradients, group
// bookkeeping, parameter checks, and the JSON of the "param_groups" metadata.
#include <tapegrad/optim/optimizer.h>

#include <cmath>
#include <set>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/parallel.h>

namespace tg::optim {

void Optimizer::zero_grad(bool set_to_none) {
  for (std::size_t g = 0; g < num_param_groups(); ++g) autograd::zero_grad(params(g), set_to_none);
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> all;
  for (std::size_t g = 0; g < num_param_groups(); ++g) {
    const auto& ps = params(g);
    all.insert(all.end(), ps.begin(), ps.end());
  }
  return all;
}

std::optional<double> Optimizer::initial_lr(std::size_t group) const {
  check_group(group);
  return initial_lrs_[group];
}

void Optimizer::set_initial_lr(std::size_t group, double lr) {
  check_group(group);
  initial_lrs_[group] = lr;
}

double Optimizer::momentum(std::size_t) const { throw ValueError(fmt::format("{} has no momentum or beta1", name())); }

void Optimizer::set_momentum(std::size_t, double) {
  throw ValueError(fmt::format("{} has no momentum or beta1", name()));
}

void Optimizer::check_group(std::size_t group) const {
  if (group >= num_param_groups())
    throw IndexError(
        fmt::format("{}: parameter group {} does not exist (there are {})", name(), group, num_param_groups()));
}

namespace detail {

using nlohmann::json;

std::string encode_param_groups(const std::vector<GroupRecord>& groups) {
  json out = json::array();
  for (const auto& g : groups) {
    json options = json::object();
    for (const auto& [name, value] : g.options) std::visit([&, &name = name](auto v) { options[name] = v; }, value);
    json record = {{"options", options}, {"num_params", g.num_params}};
    if (g.initial_lr) record["initial_lr"] = *g.initial_lr;
    out.push_back(record);
  }
  return out.dump();
}

std::vector<GroupRecord> decode_param_groups(const std::string& optimizer, const std::string& text) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) {
    return FormatError(fmt::format("{}::load_state_dict: \"param_groups\" metadata {}", optimizer, what));
  };
  if (doc.is_discarded()) throw bad("is not valid JSON");
  if (!doc.is_array()) throw bad("is not a JSON array");
  std::vector<GroupRecord> groups;
  for (const auto& record : doc) {
    if (!record.is_object() || !record.contains("options") || !record["options"].is_object() ||
        !record.contains("num_params") || !record["num_params"].is_number_unsigned())
      throw bad("has a group without \"options\" and \"num_params\"");
    GroupRecord g;
    g.num_params = record["num_params"].get<std::size_t>();
    for (const auto& [name, value] : record["options"].items()) {
      if (value.is_boolean()) g.options.emplace_back(name, OptionValue(value.get<bool>()));
      else if (value.is_number() && std::isfinite(value.get<double>()))
        g.options.emplace_back(name, OptionValue(value.get<double>()));
      else throw bad(fmt::format("has option \"{}\" that is neither a finite number nor a boolean", name));
    }
    if (record.contains("initial_lr")) {
      if (!record["initial_lr"].is_number() || !(record["initial_lr"].get<double>() >= 0) ||
          !std::isfinite(record["initial_lr"].get<double>()))
        throw bad("has an \"initial_lr\" that is not a finite number >= 0");
      g.initial_lr = record["initial_lr"].get<double>();
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

ParamUpdate::ParamUpdate(const std::string& optimizer, std::size_t group, std::size_t index, const Tensor& param)
    : param_(param) {
  const Tensor& g = param.grad();
  if (g.dtype() != param.dtype() || g.shape() != param.shape()) {
    const auto message = fmt::format("{}: the gradient ({} {}) does not match parameter {} of group {} ({} {})",
                                     optimizer, dtype_name(g.dtype()), shape_str(g.sizes()), index, group,
                                     dtype_name(param.dtype()), shape_str(param.sizes()));
    if (g.shape() != param.shape()) throw ShapeError(message);
    throw DTypeError(message);
  }
  data = kernel::contiguous(param);
  grad = kernel::contiguous(g);
}

void ParamUpdate::commit() {
  if (!data.is_same(param_)) kernel::copy_(param_, data);
  param_.storage()->bump_version();
}

void for_each_range(std::int64_t n, void (*body)(const void* context, std::int64_t begin, std::int64_t end),
                    const void* context) {
  const int threads = n >= parallel_threshold() && !in_parallel_region() ? tg::detail::team_size() : 1;
  if (threads <= 1) {
    if (n > 0) body(context, 0, n);
    return;
  }
  // Parts of 16 elements: whole cache lines for float32, so two threads never
  // write one line (for 16-bit floats a part may share its last line with the
  // next one's first: slower, never wrong, as elements are never shared).
  const std::int64_t part = ((n + threads - 1) / threads + 15) & ~std::int64_t{15};
  kernel::parallel_for(threads, threads, [&](std::int64_t t) {
    const std::int64_t begin = t * part, end = std::min(n, begin + part);
    if (begin < end) body(context, begin, end);
  });
}

void check_params(const std::string& optimizer, const std::vector<std::vector<Tensor>>& groups) {
  std::set<const TensorImpl*> seen;
  std::size_t total = 0;
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (std::size_t i = 0; i < groups[g].size(); ++i) {
      const Tensor& p = groups[g][i];
      if (!p.defined()) throw ValueError(fmt::format("{}: parameter {} of group {} is undefined", optimizer, i, g));
      if (!p.is_floating_point())
        throw DTypeError(fmt::format("{}: parameter {} of group {} is {}, not a floating dtype ({})", optimizer, i, g,
                                     dtype_name(p.dtype()), kFloatingDTypeNames));
      if (!p.is_leaf())
        throw ValueError(
            fmt::format("{}: parameter {} of group {} is not a leaf (it was computed by an op); "
                        "optimize the tensor it came from",
                        optimizer, i, g));
      // An expanded tensor's elements share memory: the fused updates below
      // would write each shared element once per element (the last wins),
      // where an in-place op refuses such a tensor (kernel::check_writable).
      for (int d = 0; d < p.dim(); ++d)
        if (p.stride(d) == 0 && p.size(d) > 1)
          throw ValueError(
              fmt::format("{}: parameter {} of group {} (shape {}, strides {}) is expanded along dim {}, so several "
                          "of its elements share one memory location and an update would lose all but one of their "
                          "steps; optimize a tensor of its own (clone() or contiguous())",
                          optimizer, i, g, shape_str(p.sizes()), shape_str(p.strides()), d));
      if (!seen.insert(p.impl()).second)
        throw ValueError(fmt::format("{}: parameter {} of group {} appears more than once", optimizer, i, g));
      ++total;
    }
  if (total == 0) throw ValueError(fmt::format("{}: got an empty parameter list", optimizer));
}

void check_new_group(const std::string& optimizer, const std::vector<std::vector<Tensor>>& groups,
                     const std::vector<Tensor>& params) {
  for (std::size_t i = 0; i < params.size(); ++i)
    for (std::size_t g = 0; g < groups.size(); ++g)
      for (const Tensor& p : groups[g])
        if (params[i].defined() && p.is_same(params[i]))
          throw ValueError(fmt::format(
              "{}::add_param_group: parameter {} of the new group is already in group {} (a parameter can be in "
              "one group only)",
              optimizer, i, g));
  auto all = groups;
  all.push_back(params);
  check_params(optimizer, all);
}

Tensor load_state_tensor(const std::string& optimizer, const std::string& key, const Tensor& value,
                         const Tensor& param) {
  if (!value.defined()) throw ValueError(fmt::format("{}::load_state_dict: \"{}\" is undefined", optimizer, key));
  const auto message = [&] {
    return fmt::format("{}::load_state_dict: \"{}\" is {} {}, but its parameter is {} {}", optimizer, key,
                       dtype_name(value.dtype()), shape_str(value.sizes()), dtype_name(param.dtype()),
                       shape_str(param.sizes()));
  };
  if (value.shape() != param.shape()) throw ShapeError(message());
  if (value.dtype() == param.dtype()) return kernel::clone(value);
  if (!value.is_floating_point() || !param.is_floating_point()) throw DTypeError(message());
  return kernel::to(value, param.dtype());
}

void match_state(const std::string& optimizer, std::size_t group, std::size_t index, const char* field, Tensor& state,
                 const Tensor& param) {
  if (!state.defined() || (state.dtype() == param.dtype() && state.shape() == param.shape())) return;
  const auto message = fmt::format(
      "{}: state \"{}\" of parameter {} of group {} is {} {}, but the parameter is now {} {}", optimizer, field, index,
      group, dtype_name(state.dtype()), shape_str(state.sizes()), dtype_name(param.dtype()), shape_str(param.sizes()));
  if (state.shape() != param.shape())
    throw ShapeError(message + " (a parameter's shape cannot change under its optimizer; make a new optimizer)");
  if (!state.is_floating_point() || !param.is_floating_point()) throw DTypeError(message);
  state = kernel::to(state, param.dtype());
}

std::int64_t load_step(const std::string& optimizer, const std::string& key, const Tensor& value) {
  if (!value.defined() || value.numel() != 1 || value.dtype() != kInt64)
    throw FormatError(fmt::format("{}::load_state_dict: \"{}\" must be one int64", optimizer, key));
  const auto step = value.item<std::int64_t>();
  if (step < 0) throw FormatError(fmt::format("{}::load_state_dict: \"{}\" is negative ({})", optimizer, key, step));
  // Counters go up by one per step: one loaded near INT64_MAX overflowed (undefined) a few
  // steps later. 2^53, the integers a float64 (and PyTorch's step, a float) holds exactly, is
  // far past any real run.
  if (step > (std::int64_t{1} << 53))
    throw FormatError(fmt::format("{}::load_state_dict: \"{}\" is {}, past 2^53", optimizer, key, step));
  return step;
}

double load_state_scalar(const std::string& optimizer, const std::string& key, const Tensor& value) {
  if (!value.defined() || value.numel() != 1 || !value.is_floating_point())
    throw FormatError(fmt::format("{}::load_state_dict: \"{}\" must be one floating-point number", optimizer, key));
  const double v = kernel::to(value, kFloat64).item<double>();
  if (!std::isfinite(v))
    throw FormatError(fmt::format("{}::load_state_dict: \"{}\" is not finite ({})", optimizer, key, v));
  return v;
}

void throw_bad_option(const std::string& optimizer, const std::string& what, double value) {
  throw ValueError(fmt::format("{}: invalid {} {} (must be >= 0)", optimizer, what, value));
}

std::string state_key(std::size_t index, const char* field) { return fmt::format("state.{}.{}", index, field); }

std::pair<std::size_t, std::string> split_state_key(const std::string& optimizer, const std::string& key) {
  const std::string prefix = "state.";
  const auto dot = key.find('.', prefix.size());
  std::size_t index = 0;
  bool ok = key.compare(0, prefix.size(), prefix) == 0 && dot != std::string::npos && dot > prefix.size();
  for (std::size_t k = prefix.size(); ok && k < dot; ++k) {
    ok = key[k] >= '0' && key[k] <= '9' && index < (std::size_t{1} << 40);
    index = index * 10 + static_cast<std::size_t>(key[k] - '0');
  }
  if (!ok) throw_bad_state(optimizer, fmt::format("unexpected tensor \"{}\"", key));
  return {index, key.substr(dot + 1)};
}

std::vector<GroupRecord> load_param_groups(const std::string& optimizer, const OptimizerState& in,
                                           const std::vector<std::size_t>& group_sizes) {
  auto kind = in.metadata.find("optimizer");
  if (kind == in.metadata.end() || kind->second != optimizer)
    throw ValueError(fmt::format("{}::load_state_dict: the state is for {}", optimizer,
                                 kind == in.metadata.end() ? "an unnamed optimizer" : kind->second));
  auto groups_json = in.metadata.find("param_groups");
  if (groups_json == in.metadata.end()) throw_bad_state(optimizer, "no \"param_groups\" metadata");
  auto records = decode_param_groups(optimizer, groups_json->second);
  if (records.size() != group_sizes.size())
    throw ValueError(fmt::format("{}::load_state_dict: the state has {} parameter groups, this optimizer {}", optimizer,
                                 records.size(), group_sizes.size()));
  for (std::size_t g = 0; g < records.size(); ++g)
    if (records[g].num_params != group_sizes[g])
      throw ValueError(fmt::format("{}::load_state_dict: group {} of the state has {} parameters, this optimizer's {}",
                                   optimizer, g, records[g].num_params, group_sizes[g]));
  return records;
}

void check_state_complete(const std::string& optimizer, std::size_t index, const std::vector<std::string>& needed,
                          const std::set<std::string>& loaded) {
  for (const auto& field : needed)
    if (!loaded.contains(field))
      throw ValueError(fmt::format(
          "{}::load_state_dict: the state of parameter {} lacks \"{}\" (it has {}); a parameter's state must be "
          "complete or absent",
          optimizer, index, state_key(index, field.c_str()), fmt::join(loaded, ", ")));
}

void throw_bad_state(const std::string& optimizer, const std::string& what) {
  throw FormatError(fmt::format("{}::load_state_dict: {}", optimizer, what));
}

}  // namespace detail

}  // namespace tg::optim
