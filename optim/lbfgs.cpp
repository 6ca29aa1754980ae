#include <tapegrad/optim/lbfgs.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tg::optim {

namespace {

using Vec = std::vector<double>;

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double max_abs(const Vec& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::abs(v));
  return m;
}

// The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2,
// clamped to bounds (by default [min(x1, x2), max(x1, x2)]); the bounds'
// midpoint when the cubic has no minimum. PyTorch's _cubic_interpolate.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds = std::nullopt) {
  const auto [lo, hi] = bounds ? *bounds : (x1 <= x2 ? std::pair{x1, x2} : std::pair{x2, x1});
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0) {
    const double d2 = std::sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return std::min(std::max(min_pos, lo), hi);
  }
  return (lo + hi) / 2.;
}

struct LineSearchResult {
  double f;
  Vec g;
  double t;
  std::int64_t func_evals;
};

// PyTorch's _strong_wolfe: a step t along d from x (loss f, gradient g, slope
// gtd = g.d < 0) with f(t) <= f + c1 t gtd and |g(t).d| <= -c2 gtd, found by
// bracketing (cubic extrapolation) and then zooming (cubic interpolation,
// kept 10 % of the bracket away from its ends after a step of little progress).
template <class Objective>
LineSearchResult strong_wolfe(Objective obj, double t, const Vec& d, double f, const Vec& g, double gtd,
                              double tolerance_change = 1e-9, double c1 = 1e-4, double c2 = 0.9, int max_ls = 25) {
  const double d_norm = max_abs(d);
  auto [f_new, g_new] = obj(t);
  std::int64_t evals = 1;
  double gtd_new = dot(g_new, d);

  // Bracket an interval holding a point that satisfies the conditions.
  double t_prev = 0, f_prev = f, gtd_prev = gtd;
  Vec g_prev = g;
  bool done = false;
  int ls_iter = 0;
  std::vector<double> bracket, bracket_f, bracket_gtd;
  std::vector<Vec> bracket_g;
  while (ls_iter < max_ls) {
    if (f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev)) {
      bracket = {t_prev, t}, bracket_f = {f_prev, f_new}, bracket_g = {g_prev, g_new};
      bracket_gtd = {gtd_prev, gtd_new};
      break;
    }
    if (std::abs(gtd_new) <= -c2 * gtd) {
      bracket = {t}, bracket_f = {f_new}, bracket_g = {g_new};
      done = true;
      break;
    }
    if (gtd_new >= 0) {
      bracket = {t_prev, t}, bracket_f = {f_prev, f_new}, bracket_g = {g_prev, g_new};
      bracket_gtd = {gtd_prev, gtd_new};
      break;
    }
    // Extrapolate, between 1.01 t and 10 t.
    const double min_step = t + 0.01 * (t - t_prev), max_step = t * 10;
    const double previous = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, std::pair{min_step, max_step});
    t_prev = previous, f_prev = f_new, g_prev = g_new, gtd_prev = gtd_new;
    std::tie(f_new, g_new) = obj(t);
    ++evals;
    gtd_new = dot(g_new, d);
    ++ls_iter;
  }
  if (ls_iter == max_ls) bracket = {0, t}, bracket_f = {f, f_new}, bracket_g = {g, g_new};

  // Zoom: shrink the bracket until a point satisfies the conditions.
  bool insufficient_progress = false;
  std::size_t low = bracket_f[0] <= bracket_f.back() ? 0 : 1, high = 1 - low;
  while (!done && ls_iter < max_ls) {
    if (std::abs(bracket[1] - bracket[0]) * d_norm < tolerance_change) break;
    t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]);
    const double top = std::max(bracket[0], bracket[1]), bottom = std::min(bracket[0], bracket[1]);
    const double eps = 0.1 * (top - bottom);
    if (std::min(top - t, t - bottom) < eps) {
      // Close to an end: move 10 % inside after a second such step, or when at or past an end.
      if (insufficient_progress || t >= top || t <= bottom) {
        t = std::abs(t - top) < std::abs(t - bottom) ? top - eps : bottom + eps;
        insufficient_progress = false;
      } else {
        insufficient_progress = true;
      }
    } else {
      insufficient_progress = false;
    }
    std::tie(f_new, g_new) = obj(t);
    ++evals;
    gtd_new = dot(g_new, d);
    ++ls_iter;
    if (f_new > f + c1 * t * gtd || f_new >= bracket_f[low]) {
      // Not a sufficient decrease, or not below the low end: the new high end.
      bracket[high] = t, bracket_f[high] = f_new, bracket_g[high] = g_new, bracket_gtd[high] = gtd_new;
      low = bracket_f[0] <= bracket_f[1] ? 0 : 1, high = 1 - low;
    } else {
      if (std::abs(gtd_new) <= -c2 * gtd) {
        done = true;
      } else if (gtd_new * (bracket[high] - bracket[low]) >= 0) {
        // The old low end becomes the high end.
        bracket[high] = bracket[low], bracket_f[high] = bracket_f[low];
        bracket_g[high] = bracket_g[low], bracket_gtd[high] = bracket_gtd[low];
      }
      bracket[low] = t, bracket_f[low] = f_new, bracket_g[low] = g_new, bracket_gtd[low] = gtd_new;
    }
  }
  return {bracket_f[low], bracket_g[low], bracket[low], evals};
}

// An integer option of a state dict, where options are JSON numbers (doubles): a whole number
// in int64's range, since casting 1e300 or 2.5 changes it (1e300 became INT64_MIN). The range
// is then the constructor's check.
std::int64_t whole_option(const std::string& who, const std::string& field, double v) {
  if (!(v >= -0x1p63 && v < 0x1p63) || v != std::floor(v))
    throw ValueError(fmt::format("{}::load_state_dict: option \"{}\" must be a whole number in int64's range, got {}",
                                 who, field, v));
  return static_cast<std::int64_t>(v);
}

}  // namespace

void LBFGSOptions::validate(const std::string& optimizer) const {
  if (!(lr >= 0)) detail::throw_bad_option(optimizer, "learning rate", lr);
  if (max_iter < 1) throw ValueError(fmt::format("{}: max_iter must be at least 1, got {}", optimizer, max_iter));
  if (max_eval && *max_eval < 1)
    throw ValueError(fmt::format("{}: max_eval must be at least 1, got {}", optimizer, *max_eval));
  if (history_size < 1)
    throw ValueError(fmt::format("{}: history_size must be at least 1, got {}", optimizer, history_size));
  if (!(tolerance_grad >= 0)) detail::throw_bad_option(optimizer, "tolerance_grad", tolerance_grad);
  if (!(tolerance_change >= 0)) detail::throw_bad_option(optimizer, "tolerance_change", tolerance_change);
  if (line_search_fn && *line_search_fn != "strong_wolfe")
    throw ValueError(
        fmt::format("{}: only line_search_fn \"strong_wolfe\" is supported, got \"{}\"", optimizer, *line_search_fn));
}

LBFGS::LBFGS(std::vector<Tensor> params, LBFGSOptions options) : params_(std::move(params)), options_(options) {
  const std::string who = name();
  options_.validate(who);
  // PyTorch's max_iter * 5 // 4, as max_iter + max_iter / 4: max_iter * 5 overflowed int64 for a
  // max_iter above INT64_MAX / 5, where the sum saturates instead.
  if (!options_.max_eval) {
    std::int64_t max_eval = 0;
    if (__builtin_add_overflow(options_.max_iter, options_.max_iter / 4, &max_eval))
      max_eval = std::numeric_limits<std::int64_t>::max();
    options_.max_eval = max_eval;
  }
  detail::check_params(who, {params_});
  for (const Tensor& p : params_) numel_ += p.numel();
  initial_lrs_.assign(1, std::nullopt);
}

const std::vector<Tensor>& LBFGS::params(std::size_t group) const {
  check_group(group);
  return params_;
}

double LBFGS::lr(std::size_t group) const {
  check_group(group);
  return options_.lr;
}

void LBFGS::set_lr(std::size_t group, double lr) {
  check_group(group);
  if (!(lr >= 0)) detail::throw_bad_option(name(), "learning rate", lr);
  options_.lr = lr;
}

void LBFGS::add_param_group(std::vector<Tensor>) {
  throw ValueError(
      "LBFGS::add_param_group: LBFGS has one parameter group only (it does not support per-parameter "
      "options; PyTorch's accepts the group and then fails at its next step)");
}

void LBFGS::step() {
  throw ValueError(
      "LBFGS: step() needs a closure that recomputes the loss and the gradients and returns the loss, "
      "as step([&] { opt.zero_grad(); Tensor loss = ...; loss.backward(); return loss; })");
}

LBFGS::Vec LBFGS::gather_flat_grad() const {
  Vec flat;
  flat.reserve(static_cast<std::size_t>(numel_));
  for (const Tensor& p : params_) {
    const Tensor g = p.grad();
    if (!g.defined()) {
      flat.insert(flat.end(), static_cast<std::size_t>(p.numel()), 0.0);
      continue;
    }
    if (g.shape() != p.shape())
      throw ShapeError(fmt::format("LBFGS: a gradient of shape {} for a parameter of shape {}", shape_str(g.sizes()),
                                   shape_str(p.sizes())));
    const Vec v = g.to_vector<double>();
    flat.insert(flat.end(), v.begin(), v.end());
  }
  return flat;
}

void LBFGS::add_to_params(double step_size, const Vec& direction) {
  NoGradGuard no_grad;
  DType direction_dtype = params_.front().dtype();
  for (const Tensor& p : params_) direction_dtype = promote_types(direction_dtype, p.dtype());
  std::size_t offset = 0;
  for (Tensor p : params_) {
    const auto n = static_cast<std::size_t>(p.numel());
    const Vec part(direction.begin() + static_cast<std::ptrdiff_t>(offset),
                   direction.begin() + static_cast<std::ptrdiff_t>(offset + n));
    // In the dtype PyTorch's flat direction has, the parameters' dtypes
    // promoted: float32 for a float32 model; float64, added into a float32
    // parameter with one rounding, when they mix float32 and float64.
    p.add_(tg::tensor(part, p.shape(), {.dtype = kFloat64}).to(direction_dtype), step_size);
    offset += n;
  }
}

double LBFGS::evaluate(const Closure& closure) {
  Tensor loss;
  {
    EnableGradGuard grad;
    loss = closure();
  }
  if (!loss.defined() || loss.numel() != 1)
    throw ValueError("LBFGS: the closure must return the loss, a tensor of one element");
  return loss.item<double>();
}

std::pair<double, LBFGS::Vec> LBFGS::directional_evaluate(const Closure& closure, const std::vector<Tensor>& x,
                                                          double t, const Vec& d) {
  add_to_params(t, d);
  const double loss = evaluate(closure);
  Vec flat_grad = gather_flat_grad();
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) Tensor(params_[i]).copy_(x[i]);
  return {loss, std::move(flat_grad)};
}

Tensor LBFGS::step(const Closure& closure) {
  if (!closure) step();
  const LBFGSOptions& o = options_;
  NoGradGuard no_grad;

  Tensor orig_loss;
  {
    EnableGradGuard grad;
    orig_loss = closure();
  }
  if (!orig_loss.defined() || orig_loss.numel() != 1)
    throw ValueError("LBFGS: the closure must return the loss, a tensor of one element");
  double loss = orig_loss.item<double>();
  std::int64_t current_evals = 1;
  ++func_evals_;

  Vec flat_grad = gather_flat_grad();
  bool opt_cond = max_abs(flat_grad) <= o.tolerance_grad;
  if (opt_cond) return orig_loss;  // already at a stationary point

  for (std::int64_t n_iter = 1; n_iter <= o.max_iter; ++n_iter) {
    ++n_iter_;
    // The direction d = -H g.
    if (n_iter_ == 1) {
      d_.resize(flat_grad.size());
      for (std::size_t i = 0; i < d_.size(); ++i) d_[i] = -flat_grad[i];
      old_dirs_.clear(), old_stps_.clear(), ro_.clear();
      h_diag_ = 1;
    } else {
      // The newest pair: y = g - g_prev, s = t d; kept only when the curvature y.s is positive.
      Vec y(flat_grad.size()), s(flat_grad.size());
      for (std::size_t i = 0; i < y.size(); ++i) y[i] = flat_grad[i] - prev_flat_grad_[i], s[i] = d_[i] * t_;
      const double ys = dot(y, s);
      if (ys > 1e-10) {
        if (static_cast<std::int64_t>(old_dirs_.size()) == o.history_size) {
          old_dirs_.erase(old_dirs_.begin()), old_stps_.erase(old_stps_.begin()), ro_.erase(ro_.begin());
        }
        ro_.push_back(1. / ys);
        h_diag_ = ys / dot(y, y);
        old_dirs_.push_back(std::move(y)), old_stps_.push_back(std::move(s));
      }
      // Two-loop recursion: q = -g; for i newest to oldest: a_i = ro_i s_i.q, q -= a_i y_i;
      // r = H0 q; for i oldest to newest: b_i = ro_i y_i.r, r += (a_i - b_i) s_i.
      const std::size_t num_old = old_dirs_.size();
      Vec al(num_old);
      Vec q(flat_grad.size());
      for (std::size_t i = 0; i < q.size(); ++i) q[i] = -flat_grad[i];
      for (std::size_t k = num_old; k-- > 0;) {
        al[k] = dot(old_stps_[k], q) * ro_[k];
        for (std::size_t i = 0; i < q.size(); ++i) q[i] += old_dirs_[k][i] * -al[k];
      }
      for (std::size_t i = 0; i < q.size(); ++i) d_[i] = q[i] * h_diag_;
      for (std::size_t k = 0; k < num_old; ++k) {
        const double be_i = dot(old_dirs_[k], d_) * ro_[k];
        for (std::size_t i = 0; i < d_.size(); ++i) d_[i] += old_stps_[k][i] * (al[k] - be_i);
      }
    }
    prev_flat_grad_ = flat_grad;
    prev_loss_ = loss;
    started_ = true;

    // The step length: the first ever is scaled down by the gradient's 1-norm.
    if (n_iter_ == 1) {
      double l1 = 0;
      for (double g : flat_grad) l1 += std::abs(g);
      t_ = std::min(1., 1. / l1) * o.lr;
    } else {
      t_ = o.lr;
    }
    const double gtd = dot(flat_grad, d_);
    if (gtd > -o.tolerance_change) break;  // not a descent direction

    std::int64_t ls_func_evals = 0;
    if (o.line_search_fn) {
      std::vector<Tensor> x_init;
      for (const Tensor& p : params_) x_init.push_back(p.clone());
      auto obj = [&](double t) { return directional_evaluate(closure, x_init, t, d_); };
      // PyTorch 1.13 calls _strong_wolfe without tolerance_change, so the line search keeps its
      // default 1e-9 whatever the option says (the option bounds the iterations only).
      LineSearchResult r = strong_wolfe(obj, t_, d_, loss, flat_grad, gtd);
      loss = r.f, flat_grad = std::move(r.g), t_ = r.t, ls_func_evals = r.func_evals;
      add_to_params(t_, d_);
      opt_cond = max_abs(flat_grad) <= o.tolerance_grad;
    } else {
      add_to_params(t_, d_);
      if (n_iter != o.max_iter) {
        // Re-evaluate for the next iteration (the next step() evaluates anyway after the last).
        loss = evaluate(closure);
        flat_grad = gather_flat_grad();
        opt_cond = max_abs(flat_grad) <= o.tolerance_grad;
        ls_func_evals = 1;
      }
    }
    current_evals += ls_func_evals;
    func_evals_ += ls_func_evals;

    if (n_iter == o.max_iter || current_evals >= *o.max_eval || opt_cond) break;
    double step_max = 0;
    for (double v : d_) step_max = std::max(step_max, std::abs(v * t_));
    if (step_max <= o.tolerance_change) break;                    // the parameters no longer move
    if (std::abs(loss - prev_loss_) < o.tolerance_change) break;  // nor does the loss
  }
  return orig_loss;
}

OptimizerState LBFGS::state_dict() const {
  OptimizerState out;
  detail::GroupRecord record;
  const LBFGSOptions& o = options_;
  record.options = {{"lr", o.lr},
                    {"max_iter", static_cast<double>(o.max_iter)},
                    {"max_eval", static_cast<double>(*o.max_eval)},
                    {"tolerance_grad", o.tolerance_grad},
                    {"tolerance_change", o.tolerance_change},
                    {"history_size", static_cast<double>(o.history_size)},
                    {"strong_wolfe", o.line_search_fn.has_value()}};
  record.num_params = params_.size();
  record.initial_lr = initial_lrs_.at(0);
  out.metadata["optimizer"] = name();
  out.metadata["param_groups"] = detail::encode_param_groups({record});
  if (func_evals_ == 0) return out;
  auto count = [](std::int64_t v) { return scalar_tensor(static_cast<double>(v), {.dtype = kInt64}); };
  auto number = [](double v) { return scalar_tensor(v, {.dtype = kFloat64}); };
  auto vector = [](const Vec& v) { return tg::tensor(v, {static_cast<std::int64_t>(v.size())}, {.dtype = kFloat64}); };
  auto matrix = [&](const std::vector<Vec>& rows) {
    Vec all;
    for (const Vec& r : rows) all.insert(all.end(), r.begin(), r.end());
    return tg::tensor(all, {static_cast<std::int64_t>(rows.size()), numel_}, {.dtype = kFloat64});
  };
  out.tensors["state.0.func_evals"] = count(func_evals_);
  out.tensors["state.0.n_iter"] = count(n_iter_);
  if (!started_) return out;
  out.tensors["state.0.d"] = vector(d_);
  out.tensors["state.0.t"] = number(t_);
  out.tensors["state.0.old_dirs"] = matrix(old_dirs_);
  out.tensors["state.0.old_stps"] = matrix(old_stps_);
  out.tensors["state.0.ro"] = vector(ro_);
  out.tensors["state.0.H_diag"] = number(h_diag_);
  out.tensors["state.0.prev_flat_grad"] = vector(prev_flat_grad_);
  out.tensors["state.0.prev_loss"] = number(prev_loss_);
  return out;
}

void LBFGS::load_state_dict(const OptimizerState& in) {
  const std::string who = name();
  auto meta = [&](const std::string& key) -> const std::string& {
    const auto it = in.metadata.find(key);
    if (it == in.metadata.end()) throw FormatError(fmt::format("{}::load_state_dict: no \"{}\" metadata", who, key));
    return it->second;
  };
  if (meta("optimizer") != who)
    throw ValueError(fmt::format("{}::load_state_dict: the state is for {}", who, meta("optimizer")));
  const auto groups = detail::decode_param_groups(who, meta("param_groups"));
  if (groups.size() != 1 || groups[0].num_params != params_.size())
    throw ValueError(
        fmt::format("{}::load_state_dict: the state is not for one group of {} parameters", who, params_.size()));
  // Build everything first, so that a bad state changes nothing.
  LBFGSOptions o = options_;
  for (const auto& [field, value] : groups[0].options) {
    const double* v = std::get_if<double>(&value);
    if (field == "strong_wolfe" && std::holds_alternative<bool>(value)) {
      o.line_search_fn = std::get<bool>(value) ? std::optional<std::string>("strong_wolfe") : std::nullopt;
      continue;
    }
    if (!v) throw FormatError(fmt::format("{}::load_state_dict: option \"{}\" has the wrong type", who, field));
    if (field == "lr") o.lr = *v;
    else if (field == "max_iter") o.max_iter = whole_option(who, field, *v);
    else if (field == "max_eval") o.max_eval = whole_option(who, field, *v);
    else if (field == "tolerance_grad") o.tolerance_grad = *v;
    else if (field == "tolerance_change") o.tolerance_change = *v;
    else if (field == "history_size") o.history_size = whole_option(who, field, *v);
    else throw FormatError(fmt::format("{}::load_state_dict: unknown option \"{}\"", who, field));
  }
  // The constructor's checks: history_size 0 made step() erase from an empty history.
  o.validate(who + "::load_state_dict");
  for (const auto& [key, value] : in.tensors) {
    static const std::vector<std::string> known{
        "func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss"};
    if (key.rfind("state.0.", 0) != 0 || std::find(known.begin(), known.end(), key.substr(8)) == known.end())
      throw FormatError(fmt::format("{}::load_state_dict: unknown state \"{}\"", who, key));
  }
  auto get = [&](const std::string& field) -> const Tensor* {
    const auto it = in.tensors.find("state.0." + field);
    return it == in.tensors.end() ? nullptr : &it->second;
  };
  auto vector = [&](const std::string& field, std::int64_t size) {
    const Tensor* t = get(field);
    if (!t) throw FormatError(fmt::format("{}::load_state_dict: no \"state.0.{}\"", who, field));
    if (t->dim() != 1 || (size >= 0 && t->numel() != size))
      throw ShapeError(fmt::format("{}::load_state_dict: \"state.0.{}\" is {}, expected [{}]", who, field,
                                   shape_str(t->sizes()), size));
    return t->to_vector<double>();
  };
  auto matrix = [&](const std::string& field, std::int64_t rows) {
    const Tensor* t = get(field);
    if (!t || t->dim() != 2 || t->size(0) != rows || t->size(1) != numel_)
      throw ShapeError(fmt::format("{}::load_state_dict: \"state.0.{}\" must be [{}, {}]", who, field, rows, numel_));
    const Vec all = t->to_vector<double>();
    std::vector<Vec> out;
    for (std::int64_t r = 0; r < rows; ++r) out.emplace_back(all.begin() + r * numel_, all.begin() + (r + 1) * numel_);
    return out;
  };
  auto number = [&](const std::string& field) {
    return detail::load_state_scalar(who, "state.0." + field, *get(field));
  };
  const std::int64_t func_evals =
      get("func_evals") ? detail::load_step(who, "state.0.func_evals", *get("func_evals")) : 0;
  const std::int64_t n_iter = get("n_iter") ? detail::load_step(who, "state.0.n_iter", *get("n_iter")) : 0;
  const bool started = get("d") != nullptr;
  Vec d, prev_flat_grad, ro;
  std::vector<Vec> old_dirs, old_stps;
  double t = 0, h_diag = 1, prev_loss = 0;
  if (started) {
    for (const char* field : {"t", "H_diag", "prev_loss"})
      if (!get(field)) throw FormatError(fmt::format("{}::load_state_dict: no \"state.0.{}\"", who, field));
    d = vector("d", numel_);
    prev_flat_grad = vector("prev_flat_grad", numel_);
    ro = vector("ro", -1);
    // step() drops the oldest pair when the history is full (size == history_size): a longer one would never shrink.
    if (static_cast<std::int64_t>(ro.size()) > o.history_size)
      throw ValueError(fmt::format("{}::load_state_dict: the state holds {} (s, y) pairs, more than history_size {}",
                                   who, ro.size(), o.history_size));
    old_dirs = matrix("old_dirs", static_cast<std::int64_t>(ro.size()));
    old_stps = matrix("old_stps", static_cast<std::int64_t>(ro.size()));
    t = number("t"), h_diag = number("H_diag"), prev_loss = number("prev_loss");
  }
  options_ = o;
  initial_lrs_[0] = groups[0].initial_lr;
  func_evals_ = func_evals, n_iter_ = n_iter, started_ = started;
  d_ = std::move(d), prev_flat_grad_ = std::move(prev_flat_grad), ro_ = std::move(ro);
  old_dirs_ = std::move(old_dirs), old_stps_ = std::move(old_stps);
  t_ = t, h_diag_ = h_diag, prev_loss_ = prev_loss;
  ++loads_;
}

}  // namespace tg::optim
