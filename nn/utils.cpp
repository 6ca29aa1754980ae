#include <tapegrad/nn/utils.h>

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/core/profiler.h>

namespace tg::nn::utils {

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  const bool inf_norm = std::isinf(norm_type) && norm_type > 0;
  if (!(norm_type > 0))
    throw ValueError(fmt::format("clip_grad_norm_: norm_type must be positive or inf, got {}", norm_type));
  // One pass over every gradient: the max of |g| (inf), or the sum of |g|^p
  // (for p = 2 over eight lanes: a single running total was a chain of
  // dependent adds, 1.4 % of the char-GPT step).
  double acc = 0;
  for (const Tensor& p : parameters) {
    if (!p.defined() || !p.grad().defined()) continue;
    if (!inf_norm) {
      if (!p.grad().is_floating_point())
        throw DTypeError(
            fmt::format("clip_grad_norm_: gradients must be floating point, got {}", dtype_name(p.grad().dtype())));
      acc += kernel::power_sum(p.grad(), norm_type);
      continue;
    }
    const Tensor g = kernel::contiguous(p.grad());
    dispatch_floating(g.dtype(), "clip_grad_norm_", [&]<class T>() {
      const T* d = g.data_ptr<T>();
      for (std::int64_t i = 0; i < g.numel(); ++i) {
        const double a = std::abs(static_cast<double>(d[i]));
        acc = std::isnan(a) || std::isnan(acc) ? std::numeric_limits<double>::quiet_NaN() : std::max(acc, a);
      }
    });
  }
  const double total = inf_norm || norm_type == 1 ? acc
                       : norm_type == 2           ? std::sqrt(acc)
                                                  : std::pow(acc, 1 / norm_type);
  if (error_if_nonfinite && !std::isfinite(total))
    throw ValueError(
        fmt::format("clip_grad_norm_: the total norm of order {} of the gradients is {}, so they cannot "
                    "be clipped",
                    norm_type, total));
  // PyTorch multiplies by min(coef, 1), which is NaN when the norm or
  // max_norm is NaN: every gradient becomes NaN rather than some staying large.
  const double coef = max_norm / (total + 1e-6);
  if (!(coef >= 1)) {
    NoGradGuard no_grad;
    for (Tensor p : parameters)  // a handle copy: mutable_grad() needs a non-const one
      if (p.defined() && p.grad().defined()) p.mutable_grad().mul_(coef);
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  if (!(clip_value >= 0))
    throw ValueError(fmt::format("clip_grad_value_: clip_value must be >= 0, got {}", clip_value));
  NoGradGuard no_grad;
  for (Tensor p : parameters)  // a handle copy: mutable_grad() needs a non-const one
    if (p.defined() && p.grad().defined()) p.mutable_grad().clamp_(-clip_value, clip_value);
}

Tensor parameters_to_vector(const std::vector<Tensor>& parameters) {
  TG_PROFILE_OP("parameters_to_vector", parameters);
  if (parameters.empty()) throw ValueError("parameters_to_vector: expected at least one parameter, got none");
  std::vector<Tensor> flat;
  flat.reserve(parameters.size());
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    if (!parameters[i].defined()) throw ValueError(fmt::format("parameters_to_vector: parameter {} is undefined", i));
    flat.push_back(tg::reshape(parameters[i], {-1}));
  }
  return tg::cat(flat, 0);
}

void vector_to_parameters(const Tensor& vec, const std::vector<Tensor>& parameters) {
  TG_PROFILE_OP("vector_to_parameters", vec, parameters);
  if (!vec.defined()) throw ValueError("vector_to_parameters: vec is undefined");
  if (vec.dim() != 1)
    throw ShapeError(fmt::format("vector_to_parameters: expected a 1-D vec, got shape {}", shape_str(vec.sizes())));
  // Count first, so that a wrong length changes nothing.
  std::int64_t total = 0;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    if (!parameters[i].defined()) throw ValueError(fmt::format("vector_to_parameters: parameter {} is undefined", i));
    total += parameters[i].numel();
  }
  if (total != vec.numel())
    throw ShapeError(fmt::format("vector_to_parameters: vec has {} elements but the {} parameters have {} together",
                                 vec.numel(), parameters.size(), total));
  NoGradGuard no_grad;
  // vec may share memory with the parameters (a flat buffer they are views
  // of, in another order): copying piece by piece would overwrite what a
  // later piece still has to read, so such a vec is read whole first.
  const bool aliased =
      std::any_of(parameters.begin(), parameters.end(), [&](const Tensor& p) { return p.storage() == vec.storage(); });
  const Tensor source = aliased ? vec.clone() : vec;
  std::int64_t offset = 0;
  for (Tensor p : parameters) {  // a handle copy: copy_ needs a non-const one
    const std::int64_t n = p.numel();
    p.copy_(tg::reshape(tg::narrow(source, 0, offset, n), p.shape()));
    offset += n;
  }
}

}  // namespace tg::nn::utils
