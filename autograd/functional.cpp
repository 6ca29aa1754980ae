#include <tapegrad/autograd/functional.h>

#include <string>
#include <string_view>

#include <fmt/format.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>

namespace tg::autograd {
namespace {

// The tensors fn is called with. Without create_graph they are fresh leaves
// (aliases of the inputs' data, cut from their history); with it, inputs that
// require grad are passed through an identity view so the results stay
// connected to their history.
std::vector<Tensor> prepare_inputs(const std::vector<Tensor>& inputs, bool create_graph, const char* op) {
  std::vector<Tensor> out;
  out.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) throw ValueError(fmt::format("{}: input {} is undefined", op, i));
    if (!t.is_floating_point())
      throw DTypeError(fmt::format("{}: input {} is {}; only floating-point inputs can be differentiated", op, i,
                                   dtype_name(t.dtype())));
    if (create_graph && t.requires_grad()) out.push_back(tg::view(t, t.shape()));
    else out.push_back(t.detach().set_requires_grad(true));
  }
  return out;
}

void check_outputs(const std::vector<Tensor>& outputs, const char* op) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].defined()) throw ValueError(fmt::format("{}: output {} of the function is undefined", op, i));
    if (!outputs[i].is_floating_point())
      throw DTypeError(
          fmt::format("{}: output {} of the function is {}; only floating-point outputs can be "
                      "differentiated",
                      op, i, dtype_name(outputs[i].dtype())));
  }
}

[[noreturn]] void throw_independent(const char* op, std::size_t output, std::size_t input) {
  throw AutogradError(
      fmt::format("{}: output {} of the function does not depend on input {}, which strict mode does not allow", op,
                  output, input));
}

// Strict mode with create_graph, as PyTorch: a part of the result that does
// not depend on the inputs' values (the function is linear in them, or
// quadratic for a Hessian) is refused, since the graph asked for could not
// differentiate it further. `what` names the part ("the Jacobian of output 0
// with respect to input 1").
void check_depends_on_inputs(const Tensor& part, const FunctionalOptions& opt, const char* op,
                             const std::string& what) {
  if (!opt.strict || !opt.create_graph || !part.defined() || part.requires_grad()) return;
  throw AutogradError(fmt::format(
      "{}: {} does not depend on the inputs' values, which strict mode with create_graph does not allow", op, what));
}

Tensor finish(const Tensor& t, bool create_graph) { return create_graph ? t : t.detach(); }

std::vector<Tensor> finish(std::vector<Tensor> ts, bool create_graph) {
  if (!create_graph)
    for (auto& t : ts) t = t.detach();
  return ts;
}

Tensor unit(const Tensor& like, std::int64_t flat) {
  Tensor g = zeros_like(like);
  dispatch_floating(g.dtype(), "jacobian", [&]<class T>() { g.data_ptr<T>()[flat] = T(1); });
  return g;
}

Dims concat(const Dims& a, const Dims& b) {
  Dims r = a;
  for (auto s : b) r.push_back(s);
  return r;
}

// Jacobian blocks of already computed outputs with respect to prepared inputs.
std::vector<std::vector<Tensor>> jacobian_of(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                                             FunctionalOptions opt, const char* op) {
  std::vector<std::vector<Tensor>> result(outputs.size(), std::vector<Tensor>(inputs.size()));
  // One backward pass per output element fills the blocks: a block that
  // cannot be counted or held is an error before that work, not after.
  for (const Tensor& out : outputs)
    for (const Tensor& in : inputs)
      check_allocation(static_cast<std::size_t>(checked_numel(concat(out.shape(), in.shape()), op)), in.element_size(),
                       op);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    std::vector<std::vector<Tensor>> rows(inputs.size());
    for (std::int64_t r = 0; r < out.numel(); ++r) {
      std::vector<Tensor> grads(inputs.size());
      if (out.requires_grad())
        grads = tg::grad({out}, inputs, {unit(out, r)},
                         {.retain_graph = true, .create_graph = opt.create_graph, .allow_unused = true});
      for (std::size_t j = 0; j < inputs.size(); ++j) {
        if (!grads[j].defined() && opt.strict) throw_independent(op, i, j);
        check_depends_on_inputs(grads[j], opt, op,
                                fmt::format("the {} of output {} with respect to input {}",
                                            std::string_view(op) == "hessian" ? "Hessian" : "Jacobian", i, j));
        rows[j].push_back(grads[j].defined() ? grads[j] : zeros_like(inputs[j]));
      }
    }
    for (std::size_t j = 0; j < inputs.size(); ++j) {
      const Dims shape = concat(out.shape(), inputs[j].shape());
      result[i][j] =
          rows[j].empty() ? zeros(shape, {.dtype = inputs[j].dtype()}) : tg::reshape(tg::stack(rows[j], 0), shape);
      result[i][j] = finish(result[i][j], opt.create_graph);
    }
  }
  return result;
}

// The gradient of fn, a scalar function, at prepared inputs, recorded so it
// can be differentiated again; fn's output goes to *value when asked.
std::vector<Tensor> gradient_of_scalar(const ScalarListFunction& fn, const std::vector<Tensor>& inputs,
                                       FunctionalOptions opt, const char* op, Tensor* value = nullptr) {
  Tensor y = fn(inputs);
  check_outputs({y}, op);
  if (y.numel() != 1)
    throw ShapeError(
        fmt::format("{}: the function must return a single-element tensor, got shape {}", op, shape_str(y.sizes())));
  std::vector<Tensor> grads(inputs.size());
  if (y.requires_grad())
    grads = tg::grad({y}, inputs, {}, {.retain_graph = true, .create_graph = true, .allow_unused = true});
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    if (!grads[j].defined() && opt.strict) throw_independent(op, 0, j);
    if (!grads[j].defined()) grads[j] = zeros_like(inputs[j]);
  }
  if (value) *value = y;
  return grads;
}

// The vectors jvp, hvp and vhp multiply by, one per input, checked against
// the (prepared) inputs; an omitted one is 1 for a single-element input.
std::vector<Tensor> vectors_for_inputs(const std::vector<Tensor>& v, const std::vector<Tensor>& in, const char* op) {
  if (!v.empty() && v.size() != in.size())
    throw ValueError(fmt::format("{}: {} inputs but v has {} tensors", op, in.size(), v.size()));
  std::vector<Tensor> out(in.size());
  for (std::size_t j = 0; j < in.size(); ++j) {
    Tensor t = v.empty() ? Tensor() : v[j];
    if (!t.defined()) {
      if (in[j].numel() != 1)
        throw ValueError(
            fmt::format("{}: v is needed for input {} of shape {} (only single-element inputs can go without)", op, j,
                        shape_str(in[j].sizes())));
      t = ones_like(in[j]);
    } else if (t.shape() != in[j].shape()) {
      throw ShapeError(fmt::format("{}: v[{}] has shape {} but input {} has shape {}", op, j, shape_str(t.sizes()), j,
                                   shape_str(in[j].sizes())));
    } else if (t.dtype() != in[j].dtype()) {
      // Checked here: tg::grad would refuse it too, but under its own name.
      throw AutogradError(fmt::format("{}: v[{}] has dtype {} but input {} has dtype {}", op, j, dtype_name(t.dtype()),
                                      j, dtype_name(in[j].dtype())));
    }
    out[j] = t;
  }
  return out;
}

// A product's part for input j that nothing produced: zeros, or with strict
// an error (the Hessian does not depend on that input).
void fill_independent(std::vector<Tensor>& parts, const std::vector<Tensor>& in, const FunctionalOptions& opt,
                      const char* op) {
  for (std::size_t j = 0; j < in.size(); ++j) {
    check_depends_on_inputs(parts[j], opt, op, fmt::format("the Hessian product for input {}", j));
    if (parts[j].defined()) continue;
    if (opt.strict)
      throw AutogradError(fmt::format(
          "{}: the Hessian of the function is independent of input {}, which strict mode does not allow", op, j));
    parts[j] = zeros_like(in[j]);
  }
}

}  // namespace

std::vector<std::vector<Tensor>> jacobian(const TensorListFunction& fn, const std::vector<Tensor>& inputs,
                                          FunctionalOptions options) {
  require_function(fn, "jacobian", "the function");
  EnableGradGuard grad_on;
  const auto in = prepare_inputs(inputs, options.create_graph, "jacobian");
  const auto out = fn(in);
  check_outputs(out, "jacobian");
  return jacobian_of(out, in, options, "jacobian");
}

Tensor jacobian(const TensorFunction& fn, const Tensor& input, FunctionalOptions options) {
  require_function(fn, "jacobian", "the function");
  return jacobian([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(in[0])}; },
                  std::vector<Tensor>{input}, options)[0][0];
}

std::vector<std::vector<Tensor>> hessian(const ScalarListFunction& fn, const std::vector<Tensor>& inputs,
                                         FunctionalOptions options) {
  require_function(fn, "hessian", "the function");
  EnableGradGuard grad_on;
  const auto in = prepare_inputs(inputs, options.create_graph, "hessian");
  const auto grads = gradient_of_scalar(fn, in, options, "hessian");
  return jacobian_of(grads, in, options, "hessian");
}

Tensor hessian(const TensorFunction& fn, const Tensor& input, FunctionalOptions options) {
  require_function(fn, "hessian", "the function");
  return hessian([&](const std::vector<Tensor>& in) { return fn(in[0]); }, std::vector<Tensor>{input}, options)[0][0];
}

std::pair<std::vector<Tensor>, std::vector<Tensor>> vjp(const TensorListFunction& fn, const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& v, FunctionalOptions options) {
  require_function(fn, "vjp", "the function");
  EnableGradGuard grad_on;
  const auto in = prepare_inputs(inputs, options.create_graph, "vjp");
  const auto out = fn(in);
  check_outputs(out, "vjp");
  if (!v.empty() && v.size() != out.size())
    throw ValueError(fmt::format("vjp: the function returned {} outputs but v has {} tensors", out.size(), v.size()));
  std::vector<Tensor> roots, seeds;
  for (std::size_t i = 0; i < out.size(); ++i) {
    Tensor seed = v.empty() ? Tensor() : v[i];
    if (!seed.defined()) {
      if (out[i].numel() != 1)
        throw ValueError(
            fmt::format("vjp: v is needed for output {} of shape {} (only single-element outputs can "
                        "go without)",
                        i, shape_str(out[i].sizes())));
      seed = ones_like(out[i]);
    } else if (seed.shape() != out[i].shape()) {
      throw ShapeError(fmt::format("vjp: v[{}] has shape {} but output {} has shape {}", i, shape_str(seed.sizes()), i,
                                   shape_str(out[i].sizes())));
    } else if (seed.dtype() != out[i].dtype()) {
      // Checked here: tg::grad would refuse it too, but under its own name.
      throw AutogradError(fmt::format("vjp: v[{}] has dtype {} but output {} has dtype {}", i, dtype_name(seed.dtype()),
                                      i, dtype_name(out[i].dtype())));
    }
    if (!out[i].requires_grad()) continue;
    roots.push_back(out[i]);
    seeds.push_back(seed);
  }
  std::vector<Tensor> grads(in.size());
  if (!roots.empty())
    grads =
        tg::grad(roots, in, seeds,
                 {.retain_graph = options.create_graph, .create_graph = options.create_graph, .allow_unused = true});
  for (std::size_t j = 0; j < in.size(); ++j) {
    if (!grads[j].defined() && options.strict)
      throw AutogradError(
          fmt::format("vjp: no output of the function depends on input {}, which strict mode does "
                      "not allow",
                      j));
    check_depends_on_inputs(grads[j], options, "vjp", fmt::format("the product for input {}", j));
    if (!grads[j].defined()) grads[j] = zeros_like(in[j]);
  }
  return {finish(out, options.create_graph), finish(grads, options.create_graph)};
}

std::pair<Tensor, Tensor> vjp(const TensorFunction& fn, const Tensor& input, const Tensor& v,
                              FunctionalOptions options) {
  require_function(fn, "vjp", "the function");
  auto [out, grads] = vjp([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(in[0])}; },
                          std::vector<Tensor>{input}, std::vector<Tensor>{v}, options);
  return {out[0], grads[0]};
}

std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp(const TensorListFunction& fn, const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& v, FunctionalOptions options) {
  require_function(fn, "jvp", "the function");
  EnableGradGuard grad_on;
  const auto in = prepare_inputs(inputs, options.create_graph, "jvp");
  const std::vector<Tensor> tangents = vectors_for_inputs(v, in, "jvp");
  const auto out = fn(in);
  check_outputs(out, "jvp");

  // g(u) = J^T u for dummy cotangents u; J v = d<g(u), v>/du.
  std::vector<Tensor> roots, dummies;
  for (const auto& o : out)
    if (o.requires_grad()) {
      roots.push_back(o);
      dummies.push_back(zeros_like(o).set_requires_grad(true));
    }
  std::vector<Tensor> g_roots, g_seeds;
  if (!roots.empty()) {
    auto g = tg::grad(roots, in, dummies, {.retain_graph = true, .create_graph = true, .allow_unused = true});
    for (std::size_t j = 0; j < in.size(); ++j) {
      if (!g[j].defined() && options.strict)
        throw AutogradError(
            fmt::format("jvp: no output of the function depends on input {}, which strict mode "
                        "does not allow",
                        j));
      if (g[j].defined() && g[j].requires_grad()) {
        g_roots.push_back(g[j]);
        g_seeds.push_back(tangents[j]);
      }
    }
  }
  std::vector<Tensor> jv_roots;
  if (!g_roots.empty())
    jv_roots =
        tg::grad(g_roots, dummies, g_seeds,
                 {.retain_graph = options.create_graph, .create_graph = options.create_graph, .allow_unused = true});
  std::vector<Tensor> result(out.size());
  for (std::size_t i = 0, k = 0; i < out.size(); ++i) {
    if (out[i].requires_grad()) {
      result[i] = k < jv_roots.size() ? jv_roots[k] : Tensor();
      ++k;
    }
    if (!result[i].defined() && options.strict)
      throw AutogradError(
          fmt::format("jvp: output {} of the function does not depend on the inputs, which strict "
                      "mode does not allow",
                      i));
    check_depends_on_inputs(result[i], options, "jvp", fmt::format("the product for output {}", i));
    if (!result[i].defined()) result[i] = zeros_like(out[i]);
  }
  return {finish(out, options.create_graph), finish(result, options.create_graph)};
}

std::pair<Tensor, Tensor> jvp(const TensorFunction& fn, const Tensor& input, const Tensor& v,
                              FunctionalOptions options) {
  require_function(fn, "jvp", "the function");
  auto [out, d] = jvp([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(in[0])}; },
                      std::vector<Tensor>{input}, std::vector<Tensor>{v}, options);
  return {out[0], d[0]};
}

std::pair<Tensor, std::vector<Tensor>> vhp(const ScalarListFunction& fn, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v, FunctionalOptions options) {
  require_function(fn, "vhp", "the function");
  EnableGradGuard grad_on;
  const auto in = prepare_inputs(inputs, options.create_graph, "vhp");
  const std::vector<Tensor> vs = vectors_for_inputs(v, in, "vhp");
  Tensor y;
  const auto g = gradient_of_scalar(fn, in, options, "vhp", &y);
  // v^T H = d<grad fn, v>/dx: one more reverse pass, seeded with v.
  std::vector<Tensor> roots, seeds;
  for (std::size_t j = 0; j < in.size(); ++j)
    if (g[j].requires_grad()) {
      roots.push_back(g[j]);
      seeds.push_back(vs[j]);
    }
  std::vector<Tensor> result(in.size());
  if (!roots.empty())
    result =
        tg::grad(roots, in, seeds,
                 {.retain_graph = options.create_graph, .create_graph = options.create_graph, .allow_unused = true});
  fill_independent(result, in, options, "vhp");
  return {finish(y, options.create_graph), finish(result, options.create_graph)};
}

std::pair<Tensor, std::vector<Tensor>> hvp(const ScalarListFunction& fn, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v, FunctionalOptions options) {
  require_function(fn, "hvp", "the function");
  EnableGradGuard grad_on;
  const auto in = prepare_inputs(inputs, options.create_graph, "hvp");
  const std::vector<Tensor> vs = vectors_for_inputs(v, in, "hvp");
  Tensor y;
  const auto g = gradient_of_scalar(fn, in, options, "hvp", &y);
  // H v is the Jacobian of the gradient times v: jvp's double-vjp trick on
  // g. With dummies u_j for g_j, h(u) = J_g^T u is linear in u, and
  // d<h(u), v>/du_j = sum_k (d g_j / d x_k) v_k = (H v)_j.
  std::vector<std::size_t> which;  // the input each dummy stands for
  std::vector<Tensor> roots, dummies;
  for (std::size_t j = 0; j < in.size(); ++j)
    if (g[j].requires_grad()) {
      which.push_back(j);
      roots.push_back(g[j]);
      dummies.push_back(zeros_like(g[j]).set_requires_grad(true));
    }
  std::vector<Tensor> result(in.size());
  if (!roots.empty()) {
    const auto h = tg::grad(roots, in, dummies, {.retain_graph = true, .create_graph = true, .allow_unused = true});
    std::vector<Tensor> h_roots, h_seeds;
    for (std::size_t k = 0; k < in.size(); ++k)
      if (h[k].defined() && h[k].requires_grad()) {
        h_roots.push_back(h[k]);
        h_seeds.push_back(vs[k]);
      }
    if (!h_roots.empty()) {
      const auto hv =
          tg::grad(h_roots, dummies, h_seeds,
                   {.retain_graph = options.create_graph, .create_graph = options.create_graph, .allow_unused = true});
      for (std::size_t d = 0; d < which.size(); ++d) result[which[d]] = hv[d];
    }
  }
  fill_independent(result, in, options, "hvp");
  return {finish(y, options.create_graph), finish(result, options.create_graph)};
}

std::pair<Tensor, Tensor> hvp(const TensorFunction& fn, const Tensor& input, const Tensor& v,
                              FunctionalOptions options) {
  require_function(fn, "hvp", "the function");
  auto [y, hv] = hvp([&](const std::vector<Tensor>& in) { return fn(in[0]); }, std::vector<Tensor>{input},
                     std::vector<Tensor>{v}, options);
  return {y, hv[0]};
}

std::pair<Tensor, Tensor> vhp(const TensorFunction& fn, const Tensor& input, const Tensor& v,
                              FunctionalOptions options) {
  require_function(fn, "vhp", "the function");
  auto [y, vh] = vhp([&](const std::vector<Tensor>& in) { return fn(in[0]); }, std::vector<Tensor>{input},
                     std::vector<Tensor>{v}, options);
  return {y, vh[0]};
}

}  // namespace tg::autograd
