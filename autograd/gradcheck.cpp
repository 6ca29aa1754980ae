#include <tapegrad/autograd/gradcheck.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/random.h>

namespace tg {
namespace {

// A dense Jacobian block d output / d input, rows = output elements.
struct Block {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> v;
  double& at(std::int64_t r, std::int64_t c) { return v[static_cast<std::size_t>(r * cols + c)]; }
};

std::vector<std::int64_t> unravel(std::int64_t flat, const Dims& shape) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(shape.size()));
  for (int d = shape.size() - 1; d >= 0; --d) {
    idx[static_cast<std::size_t>(d)] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

std::string index_str(const std::vector<std::int64_t>& idx) { return shape_str(idx); }

bool is_checked_output(const Tensor& t) { return t.defined() && t.is_floating_point(); }

// The first byte and one past the last byte of a tensor's elements in its
// storage, for a non-empty tensor.
std::pair<std::int64_t, std::int64_t> byte_span(const Tensor& t) {
  const auto item = static_cast<std::int64_t>(t.element_size());
  std::int64_t lo = t.storage_offset(), hi = t.storage_offset();
  for (int d = 0; d < t.dim(); ++d) {
    const std::int64_t reach = (t.size(d) - 1) * t.stride(d);
    (reach < 0 ? lo : hi) += reach;
  }
  return {lo * item, hi * item + item};
}

// The byte offsets in its storage at which a tensor's elements start, sorted.
std::vector<std::int64_t> element_starts(const Tensor& t) {
  const auto item = static_cast<std::int64_t>(t.element_size());
  std::vector<std::int64_t> starts;
  starts.reserve(static_cast<std::size_t>(t.numel()));
  std::vector<std::int64_t> index(static_cast<std::size_t>(t.dim()), 0);
  std::int64_t at = t.storage_offset();
  for (std::int64_t n = 0; n < t.numel(); ++n) {
    starts.push_back(at * item);
    for (int d = t.dim() - 1; d >= 0; --d) {  // the next index, last dim fastest
      auto& k = index[static_cast<std::size_t>(d)];
      at += t.stride(d);
      if (++k < t.size(d)) break;
      at -= k * t.stride(d);
      k = 0;
    }
  }
  std::sort(starts.begin(), starts.end());
  return starts;
}

// Whether two tensors of one storage have an element (or part of one) in
// common. Exact for any strides: when their byte spans meet (as those of
// interleaved columns W[:, ::2] and W[:, 1::2] do), every element is listed,
// which gradcheck's small inputs afford (the Jacobian costs more).
bool elements_overlap(const Tensor& a, const Tensor& b) {
  if (a.numel() == 0 || b.numel() == 0) return false;
  const auto [a_lo, a_hi] = byte_span(a);
  const auto [b_lo, b_hi] = byte_span(b);
  if (a_hi <= b_lo || b_hi <= a_lo) return false;
  const std::vector<std::int64_t> sa = element_starts(a), sb = element_starts(b);
  const auto la = static_cast<std::int64_t>(a.element_size()), lb = static_cast<std::int64_t>(b.element_size());
  // Two sorted lists of equal-length ranges: the one that ends first cannot
  // meet anything later in the other list.
  std::size_t i = 0, j = 0;
  while (i < sa.size() && j < sb.size()) {
    if (sa[i] + la <= sb[j]) ++i;
    else if (sb[j] + lb <= sa[i]) ++j;
    else return true;
  }
  return false;
}

void check_inputs(const std::vector<Tensor>& inputs, const char* op) {
  bool any = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) continue;
    if (t.is_floating_point() && t.dtype() != kFloat64)
      throw DTypeError(fmt::format(
          "{}: input {} (shape {}) is {}, but gradient checks need float64 inputs: finite differences in lower "
          "precision cannot be told from wrong gradients. Convert it with .to(tg::kFloat64)",
          op, i, shape_str(t.sizes()), dtype_name(t.dtype())));
    any = any || t.requires_grad();
  }
  if (!any) throw ValueError(fmt::format("{}: no input requires grad, so there is nothing to check", op));
  // Each checked input is perturbed in a copy of its own; two inputs reaching
  // the same elements (one tensor passed twice, or a tensor and a view of it)
  // would each see part of the change the analytic gradient counts. Disjoint
  // views of one storage (the rows of a weight) are independent inputs.
  for (std::size_t i = 0; i < inputs.size(); ++i)
    for (std::size_t j = i + 1; j < inputs.size(); ++j)
      if (inputs[i].defined() && inputs[j].defined() && inputs[i].requires_grad() && inputs[j].requires_grad() &&
          inputs[i].storage() == inputs[j].storage() && elements_overlap(inputs[i], inputs[j]))
        throw ValueError(
            fmt::format("{}: inputs {} and {} share memory: they reach the same elements (the same tensor, or "
                        "overlapping views of one); pass it once and use it twice inside fn",
                        op, i, j));
}

// An undefined output is a bug in fn (PyTorch's gradcheck cannot take a None
// output either); skipping it would let a check pass that checked nothing.
void check_outputs(const std::vector<Tensor>& outputs, const char* op) {
  for (std::size_t o = 0; o < outputs.size(); ++o)
    if (!outputs[o].defined())
      throw ValueError(fmt::format("{}: fn returned an undefined tensor as output {} (of {})", op, o, outputs.size()));
  // For the same reason: with no floating output there is no gradient to check.
  if (std::none_of(outputs.begin(), outputs.end(), is_checked_output))
    throw ValueError(fmt::format("{}: fn returned no floating-point output ({} outputs), so there is nothing to check",
                                 op, outputs.size()));
}

std::vector<std::vector<double>> values_of(const std::vector<Tensor>& outputs);

// fn's outputs at perturbed inputs, which must have the shapes of `outputs`
// (fn at the given inputs): an output whose size depends on the values
// (masked_select, nonzero) has no Jacobian to check, and reading it as if it
// had the reference's size would run past its end.
std::vector<std::vector<double>> perturbed_values(const GradcheckFunction& fn, const std::vector<Tensor>& args,
                                                  const std::vector<Tensor>& outputs, const char* op) {
  const std::vector<Tensor> got = fn(args);
  bool same = got.size() == outputs.size();
  for (std::size_t o = 0; same && o < got.size(); ++o) same = got[o].defined() && got[o].shape() == outputs[o].shape();
  if (!same)
    throw ValueError(
        fmt::format("{}: fn's outputs change shape when its inputs move by eps ({} outputs, the first "
                    "{} at the given inputs); gradients are checked only for outputs whose shapes do "
                    "not depend on the input values",
                    op, got.size(), outputs.empty() ? std::string("-") : shape_str(outputs.front().sizes())));
  return values_of(got);
}

// The output values flattened to doubles, one vector per output.
std::vector<std::vector<double>> values_of(const std::vector<Tensor>& outputs) {
  std::vector<std::vector<double>> out(outputs.size());
  for (std::size_t o = 0; o < outputs.size(); ++o)
    if (is_checked_output(outputs[o])) out[o] = outputs[o].to_vector<double>();
  return out;
}

Tensor one_hot_like(const Tensor& t, std::int64_t flat) {
  Tensor g = zeros_like(t);
  dispatch_floating(g.dtype(), "gradcheck", [&]<class T>() { g.data_ptr<T>()[flat] = T(1); });
  return g;
}

// A gradient must have its input's shape and dtype: never reshaped to fit.
void check_gradient_matches(const Tensor& g, const Tensor& input, std::size_t o, std::size_t i) {
  if (g.shape() != input.shape() || g.dtype() != input.dtype())
    throw AutogradError(fmt::format(
        "gradcheck: the gradient of output {} with respect to input {} has shape {} and dtype {}, but the "
        "input has shape {} and dtype {}",
        o, i, shape_str(g.sizes()), dtype_name(g.dtype()), shape_str(input.sizes()), dtype_name(input.dtype())));
}

// The indices of the inputs that require grad, and those inputs.
void differentiable_inputs(const std::vector<Tensor>& inputs, std::vector<Tensor>& diff,
                           std::vector<std::size_t>& diff_index) {
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) {
      diff.push_back(inputs[i]);
      diff_index.push_back(i);
    }
}

// blocks[o][i]: analytic Jacobian of output o with respect to input i (for
// inputs that require grad; others stay empty).
std::vector<std::vector<Block>> analytic_jacobian(const std::vector<Tensor>& inputs, const std::vector<Tensor>& diff,
                                                  const std::vector<std::size_t>& diff_index,
                                                  const std::vector<Tensor>& outputs) {
  std::vector<std::vector<Block>> blocks(outputs.size(), std::vector<Block>(inputs.size()));
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    if (!is_checked_output(outputs[o])) continue;
    const Tensor& out = outputs[o];
    for (std::size_t i : diff_index) {
      blocks[o][i] = {out.numel(), inputs[i].numel(), {}};
      std::int64_t entries = 0;
      if (mul_overflows(out.numel(), inputs[i].numel(), &entries))
        throw ShapeError(
            fmt::format("gradcheck: the Jacobian of output {} ({} elements) with respect to input {} ({} "
                        "elements) has more entries than an int64 can count",
                        o, out.numel(), i, inputs[i].numel()));
      check_allocation(static_cast<std::size_t>(entries), sizeof(double), "gradcheck");
      blocks[o][i].v.assign(static_cast<std::size_t>(entries), 0.0);
    }
    if (!out.requires_grad()) continue;  // a constant output: its Jacobian is zero
    for (std::int64_t r = 0; r < out.numel(); ++r) {
      auto grads = tg::grad({out}, diff, {one_hot_like(out, r)}, {.retain_graph = true, .allow_unused = true});
      for (std::size_t k = 0; k < diff.size(); ++k) {
        const Tensor& g = grads[k];
        if (!g.defined()) continue;
        const std::size_t i = diff_index[k];
        check_gradient_matches(g, inputs[i], o, i);
        const auto row = g.to_vector<double>();
        for (std::int64_t c = 0; c < static_cast<std::int64_t>(row.size()); ++c)
          blocks[o][i].at(r, c) = row[static_cast<std::size_t>(c)];
      }
    }
  }
  return blocks;
}

std::string output_name(const Tensor& out) {
  auto fn = out.grad_fn();
  if (fn) return fmt::format("grad_fn {}", fn->name());
  return out.requires_grad() ? "a leaf" : "does not require grad";
}

// Compares analytic with numeric for input i and output o. Counts a
// mismatch, and returns true when it is the worst so far (which `result`
// then describes; the caller adds the element indices).
bool record_mismatch(GradcheckResult& result, double& worst_excess, const GradcheckOptions& opt, std::size_t i,
                     std::size_t o, double analytic, double numeric) {
  const double gap = std::abs(analytic - numeric);
  const double tolerance = opt.atol + opt.rtol * std::abs(numeric);
  if (gap <= tolerance) return false;
  ++result.mismatches;
  const double excess = std::isnan(gap) ? INFINITY : gap - tolerance;
  if (excess <= worst_excess) return false;
  worst_excess = excess;
  result.ok = false;
  result.input_index = static_cast<int>(i);
  result.output_index = static_cast<int>(o);
  result.analytic = analytic;
  result.numeric = numeric;
  return true;
}

// The worst mismatch's values and the tolerance it broke, for the messages.
std::string mismatch_values(const GradcheckResult& r, const GradcheckOptions& opt) {
  return fmt::format("analytic {:.10g}, numeric {:.10g} (|difference| {:.3g} > atol {:g} + rtol {:g} * |numeric|)",
                     r.analytic, r.numeric, std::abs(r.analytic - r.numeric), opt.atol, opt.rtol);
}

// A unit vector of n fixed-seed normal draws (all zero when n is 0).
std::vector<double> unit_direction(std::int64_t n, Generator& gen) {
  std::vector<double> u = randn({n}, {.dtype = kFloat64}, &gen).to_vector<double>();
  double norm = 0;
  for (double x : u) norm += x * x;
  norm = std::sqrt(norm);
  if (norm > 0)
    for (double& x : u) x /= norm;
  return u;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}

// GradcheckOptions::fast_mode: for each checked input i and output o, v_o^T J
// u_i from backward against the central difference of f along u_i, projected
// on v_o. `copies` are the contiguous leaf copies, perturbed in place and
// restored exactly (the next input's evaluations see the others unmoved).
GradcheckResult check_projections(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                                  const std::vector<Tensor>& diff, const std::vector<std::size_t>& diff_index,
                                  const std::vector<Tensor>& outputs, std::vector<Tensor>& copies,
                                  const GradcheckOptions& opt, const char* op) {
  Generator gen(20240612);
  std::vector<std::vector<double>> u(inputs.size()), v(outputs.size());
  for (std::size_t i : diff_index) u[i] = unit_direction(inputs[i].numel(), gen);
  for (std::size_t o = 0; o < outputs.size(); ++o)
    if (is_checked_output(outputs[o])) v[o] = unit_direction(outputs[o].numel(), gen);

  // analytic[o][i] = v_o^T J u_i, one backward per output.
  std::vector<std::vector<double>> analytic(outputs.size(), std::vector<double>(inputs.size(), 0.0));
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    if (!is_checked_output(outputs[o]) || !outputs[o].requires_grad()) continue;
    const Tensor seed = tensor(v[o], {static_cast<std::int64_t>(v[o].size())}, {.dtype = outputs[o].dtype()})
                            .reshape(outputs[o].shape());
    auto grads = tg::grad({outputs[o]}, diff, {seed}, {.retain_graph = true, .allow_unused = true});
    for (std::size_t k = 0; k < diff.size(); ++k) {
      if (!grads[k].defined()) continue;
      check_gradient_matches(grads[k], inputs[diff_index[k]], o, diff_index[k]);
      analytic[o][diff_index[k]] = dot(grads[k].to_vector<double>(), u[diff_index[k]]);
    }
  }

  GradcheckResult result;
  double worst_excess = -1;
  for (std::size_t i : diff_index) {
    double* data = copies[i].data_ptr<double>();
    const std::vector<double> original(data, data + copies[i].numel());
    auto evaluate = [&](double step) {
      for (std::size_t c = 0; c < original.size(); ++c) data[c] = original[c] + step * u[i][c];
      return perturbed_values(fn, copies, outputs, op);
    };
    const auto plus = evaluate(opt.eps);
    const auto minus = evaluate(-opt.eps);
    std::copy(original.begin(), original.end(), data);
    for (std::size_t o = 0; o < outputs.size(); ++o) {
      if (!is_checked_output(outputs[o])) continue;
      double numeric = 0;
      for (std::size_t r = 0; r < v[o].size(); ++r) numeric += v[o][r] * (plus[o][r] - minus[o][r]) / (2 * opt.eps);
      record_mismatch(result, worst_excess, opt, i, o, analytic[o][i], numeric);
    }
  }
  if (result.ok) return result;
  const auto o = static_cast<std::size_t>(result.output_index);
  std::size_t projections = 0;
  for (const auto& w : v) projections += w.empty() ? 0 : diff_index.size();
  result.message = fmt::format(
      "{} (fast mode): the projection v^T J u of output {} ({}) with respect to input {} does not match: {}; {} of {} "
      "projections are out of tolerance. Run without fast_mode to see which Jacobian entries differ",
      op, o, output_name(outputs[o]), result.input_index, mismatch_values(result, opt), result.mismatches, projections);
  return result;
}

GradcheckResult check(const GradcheckFunction& fn, const std::vector<Tensor>& inputs, GradcheckOptions opt,
                      const char* op) {
  check_inputs(inputs, op);
  if (!(opt.eps > 0)) throw ValueError(fmt::format("{}: eps must be positive, got {}", op, opt.eps));
  if (!(opt.atol >= 0) || !(opt.rtol >= 0))
    throw ValueError(
        fmt::format("{}: atol and rtol must be non-negative numbers, got {} and {}", op, opt.atol, opt.rtol));
  EnableGradGuard grad_on;

  const std::vector<Tensor> outputs = fn(inputs);
  check_outputs(outputs, op);
  std::vector<Tensor> diff;
  std::vector<std::size_t> diff_index;
  differentiable_inputs(inputs, diff, diff_index);
  std::vector<std::vector<Block>> analytic;
  if (!opt.fast_mode) analytic = analytic_jacobian(inputs, diff, diff_index, outputs);
  const auto reference = values_of(outputs);

  // Contiguous leaf copies of the checked inputs, perturbed in place below.
  std::vector<Tensor> copies = inputs;
  for (std::size_t i : diff_index) copies[i] = Tensor(kernel::clone(inputs[i])).set_requires_grad(true);

  GradcheckResult result;
  auto fail = [&](std::string message) {
    result.ok = false;
    result.message = std::move(message);
    return result;
  };

  // The forward on contiguous copies must agree with the forward on the inputs as given.
  // When every input already was a contiguous tensor of its own, only a
  // forward that is random or keeps state can disagree.
  const bool any_strided = std::any_of(diff_index.begin(), diff_index.end(), [&](std::size_t i) {
    return !inputs[i].is_contiguous() || inputs[i].storage_offset() != 0 ||
           inputs[i].storage()->nbytes() != static_cast<std::size_t>(inputs[i].numel()) * inputs[i].element_size();
  });
  const char* const disagreement = any_strided ? "the forward mishandles strided inputs"
                                               : "the forward is not deterministic (random, or keeping state "
                                                 "between calls), so its gradient cannot be checked";
  const auto on_copies = perturbed_values(fn, copies, outputs, op);
  for (std::size_t o = 0; o < outputs.size(); ++o)
    for (std::size_t k = 0; k < reference[o].size(); ++k) {
      const double a = reference[o][k], b = on_copies[o][k];
      if (!(std::abs(a - b) <= opt.atol + opt.rtol * std::abs(b)) && !(std::isnan(a) && std::isnan(b)))
        return fail(fmt::format(
            "{}: output {} ({}) differs between the inputs as given and contiguous copies of them, at element {}: "
            "{} vs {}; {}",
            op, o, output_name(outputs[o]), index_str(unravel(static_cast<std::int64_t>(k), outputs[o].shape())), a, b,
            disagreement));
    }
  if (opt.fast_mode) return check_projections(fn, inputs, diff, diff_index, outputs, copies, opt, op);

  double worst_excess = -1;
  for (std::size_t i : diff_index) {
    double* data = copies[i].data_ptr<double>();
    for (std::int64_t c = 0; c < copies[i].numel(); ++c) {
      const double original = data[c];
      data[c] = original + opt.eps;
      const auto plus = perturbed_values(fn, copies, outputs, op);
      data[c] = original - opt.eps;
      const auto minus = perturbed_values(fn, copies, outputs, op);
      data[c] = original;
      for (std::size_t o = 0; o < outputs.size(); ++o) {
        if (!is_checked_output(outputs[o])) continue;
        for (std::int64_t r = 0; r < outputs[o].numel(); ++r) {
          const auto rr = static_cast<std::size_t>(r);
          const double numeric = (plus[o][rr] - minus[o][rr]) / (2 * opt.eps);
          const double a = analytic[o][i].v[static_cast<std::size_t>(r * copies[i].numel() + c)];
          if (!record_mismatch(result, worst_excess, opt, i, o, a, numeric)) continue;
          result.input_element = unravel(c, inputs[i].shape());
          result.output_element = unravel(r, outputs[o].shape());
        }
      }
    }
  }
  if (result.ok) return result;
  std::int64_t entries = 0;
  for (std::size_t o = 0; o < outputs.size(); ++o)
    for (std::size_t i = 0; i < inputs.size(); ++i) entries += static_cast<std::int64_t>(analytic[o][i].v.size());
  const auto o = static_cast<std::size_t>(result.output_index);
  result.message = fmt::format(
      "{}: Jacobian mismatch for output {} ({}) with respect to input {}, at output element {} and input element "
      "{}: {}; {} of {} Jacobian entries are out of tolerance",
      op, o, output_name(outputs[o]), result.input_index, index_str(result.output_element),
      index_str(result.input_element), mismatch_values(result, opt), result.mismatches, entries);
  return result;
}

// fn's inputs followed by one grad_output per output -> the gradients of fn's
// outputs with respect to its inputs that require grad, with create_graph.
GradcheckFunction first_derivative(const GradcheckFunction& fn, std::size_t num_inputs) {
  return [fn, num_inputs](const std::vector<Tensor>& all) {
    const std::vector<Tensor> inputs(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(num_inputs));
    const std::vector<Tensor> outputs = fn(inputs);
    std::vector<Tensor> diff_inputs, roots, seeds;
    std::vector<std::size_t> diff_index;
    differentiable_inputs(inputs, diff_inputs, diff_index);
    for (std::size_t o = 0; o < outputs.size(); ++o)
      if (is_checked_output(outputs[o]) && outputs[o].requires_grad()) {
        roots.push_back(outputs[o]);
        seeds.push_back(all[num_inputs + o]);
      }
    std::vector<Tensor> grads(diff_inputs.size());
    if (!roots.empty())
      // retain_graph: the graph of the gradient runs back through these nodes.
      grads = tg::grad(roots, diff_inputs, seeds, {.retain_graph = true, .create_graph = true, .allow_unused = true});
    for (std::size_t k = 0; k < grads.size(); ++k)
      if (!grads[k].defined()) grads[k] = zeros_like(diff_inputs[k]);
    return grads;
  };
}

}  // namespace

GradcheckResult gradcheck_result(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                                 GradcheckOptions options) {
  require_function(fn, "gradcheck", "the function");
  return check(fn, inputs, options, "gradcheck");
}

bool gradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs, GradcheckOptions options) {
  auto result = gradcheck_result(fn, inputs, options);
  if (!result.ok) throw AutogradError(result.message);
  return true;
}

GradcheckResult gradgradcheck_result(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                                     const std::vector<Tensor>& grad_outputs, GradcheckOptions options) {
  require_function(fn, "gradgradcheck", "the function");
  check_inputs(inputs, "gradgradcheck");
  std::vector<Tensor> outputs;
  {
    EnableGradGuard grad_on;
    outputs = fn(inputs);
  }
  check_outputs(outputs, "gradgradcheck");
  std::vector<Tensor> seeds = grad_outputs;
  if (seeds.empty()) {
    Generator gen(20240611);
    for (const auto& out : outputs)
      seeds.push_back(is_checked_output(out) ? randn(out.shape(), {.dtype = kFloat64, .requires_grad = true}, &gen)
                                             : Tensor());
  } else if (seeds.size() != outputs.size()) {
    throw ValueError(fmt::format("gradgradcheck: fn returned {} outputs but {} grad_outputs were given", outputs.size(),
                                 seeds.size()));
  }
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    if (!is_checked_output(outputs[o])) continue;
    // Named as the caller passed it, before check() calls it input k.
    if (seeds[o].defined() && seeds[o].is_floating_point() && seeds[o].dtype() != kFloat64)
      throw DTypeError(fmt::format(
          "gradgradcheck: grad_outputs[{}] (shape {}) is {}, but gradient checks need float64: convert it with "
          ".to(tg::kFloat64)",
          o, shape_str(seeds[o].sizes()), dtype_name(seeds[o].dtype())));
    if (!seeds[o].defined() || seeds[o].shape() != outputs[o].shape())
      throw ShapeError(fmt::format("gradgradcheck: grad_output {} has shape {} but output {} has shape {}", o,
                                   seeds[o].defined() ? shape_str(seeds[o].sizes()) : "undefined", o,
                                   shape_str(outputs[o].sizes())));
  }
  outputs.clear();
  std::vector<Tensor> all = inputs;
  all.insert(all.end(), seeds.begin(), seeds.end());
  return check(first_derivative(fn, inputs.size()), all, options, "gradgradcheck");
}

bool gradgradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                   const std::vector<Tensor>& grad_outputs, GradcheckOptions options) {
  auto result = gradgradcheck_result(fn, inputs, grad_outputs, options);
  if (!result.ok) throw AutogradError(result.message);
  return true;
}

}  // namespace tg
