// The losses (kernels: core/kernels/loss.h). cross_entropy and nll_loss share
// one class-dim op; cross_entropy on probabilities and binary_cross_entropy
// are fused ops; the others are built from the ops of autograd/ops.h.
//
// Cross-entropy per row, with p = softmax(x), log p = x - lse(x) and soft
// targets q_c:
//   loss = -sum_c q_c log p_c = sum_c q_c (lse - x_c)
// For class index y (weights w, smoothing eps, C classes), as PyTorch:
//   q_c = (1 - eps) w_y [c == y] + (eps / C) w_c
// For probabilities t: q_c = w_c ((1 - eps) t_c + eps / C).
// Since d lse / d x_j = p_j,
//   d loss / d x_j = sum_c q_c (p_j - [c == j]) = (sum_c q_c) p_j - q_j,
// i.e. softmax minus the (smoothed, weighted) one-hot; without weights, and
// with a distribution as target, sum_c q_c = 1 and it is p - q. Probabilities
// also get
//   d loss / d t_c = (1 - eps) w_c (lse - x_c).
// Each row's gradient is then scaled by g_r: dy (no reduction), dy (sum) or
// dy / denom (mean). nll_loss is the same with log p given (lse = 0, no
// smoothing): dx = -g_r w_y [c == y].
//
// Every fused backward is an op of its own: its derivative is written below
// with differentiable ops (or is the forward op again), so create_graph
// gives higher derivatives without a second formula for the first one.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/loss.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;
using kernel::ClassLayout;
using kernel::ClassLoss;

namespace {

// ---- the class-dim losses ------------------------------------------------------

// g_r, the per-row share of dy, as a tensor broadcasting against [N, C, S].
Tensor row_grad(const Tensor& dy, const ClassLoss& spec, double denom) {
  const ClassLayout& l = spec.layout;
  if (spec.reduction == Reduction::None) return tg::reshape(dy, {l.n, 1, l.s});
  return spec.reduction == Reduction::Mean ? tg::div(dy, denom) : dy;
}

// The adjoint of row_grad: per-row values h [N, 1, S] back to dy's shape.
Tensor reduce_row_grad(const Tensor& h, const ClassLoss& spec, double denom) {
  if (spec.reduction == Reduction::None) return tg::reshape(h, spec.layout.loss_shape);
  return spec.reduction == Reduction::Mean ? tg::div(tg::sum(h), denom) : tg::sum(h);
}

// The derivative of dx = g (qsum p - q) (p = softmax(x3) along the classes,
// x3 = x as [N, C, S], qsum = sum_c q) for a gradient G3 of dx:
//   h = sum_c G3 (qsum p - q) per row (towards dy),  dx = g qsum p (G3 - sum_c G3 p),  dq = g (sum_c G3 p - G3).
// dx and dq only when g is given.
struct SoftTargetGrads {
  Tensor h, dx, dq;
};
SoftTargetGrads soft_target_backward(const Tensor& g, const Tensor& p, const Tensor& q, const Tensor& qsum,
                                     const Tensor& G3) {
  SoftTargetGrads d{tg::sum(tg::mul(G3, tg::sub(tg::mul(qsum, p), q)), {1}, /*keepdim=*/true), {}, {}};
  if (g.defined()) {
    const Tensor Gp = tg::sum(tg::mul(G3, p), {1}, /*keepdim=*/true);
    d.dx = tg::mul(tg::mul(g, qsum), tg::mul(p, tg::sub(G3, Gp)));
    d.dq = tg::mul(g, tg::sub(Gp, G3));
  }
  return d;
}

Tensor class_index_grad(const Tensor& dy, const Tensor& x, const Dims& input_shape, const Tensor& target,
                        const Tensor& lse, const ClassLoss& spec, double denom);

// cross_entropy on class indices, or nll_loss (spec.log_probabilities).
Tensor class_index_forward(const Tensor& x, const Tensor& target, const ClassLoss& spec) {
  kernel::ClassLossResult r = kernel::class_index_loss(x, target, spec);
  Tensor loss = r.loss;
  if (autograd::needs_grad(x)) {
    const bool nll = spec.log_probabilities;
    autograd::record(nll ? "nll_loss" : "cross_entropy", {&x}, {&loss},
                     [sx = SavedTensor::input_if(!nll, x), target, lse = r.lse, spec, denom = r.denom,
                      shape = x.shape()](Backward& bw) {
                       // loss_r = sum_c q_rc (lse_r - x_rc);  dx_rc = g_r ((sum_c q_rc) p_rc - q_rc)   [N, C, S]
                       // (nll_loss: lse = 0 and no p term)
                       bw.add(0, class_index_grad(bw.grad(), bw.unpack(sx), shape, target, lse, spec, denom));
                     });
  }
  return loss;
}

Tensor class_index_grad(const Tensor& dy, const Tensor& x, const Dims& input_shape, const Tensor& target,
                        const Tensor& lse, const ClassLoss& spec, double denom) {
  Tensor dx = kernel::class_index_loss_backward(dy, x, input_shape, target, lse, spec, denom);
  if (autograd::needs_grad(dy, x)) {
    autograd::record(spec.log_probabilities ? "nll_loss_backward" : "cross_entropy_backward", {&dy, &x}, {&dx},
                     [sdy = SavedTensor::input_if(autograd::requires_grad_of(x), dy),
                      sx = SavedTensor::input_if(x.defined(), x), target, spec, denom](Backward& bw) {
                       // dx = g ((sum_c q) p - q), dx [N, C, S];  with G its gradient:
                       //   d(dy) = sum_c G (qsum p - q) per row, reduced as dy was spread;  d(x) = g qsum p (G - sum_c
                       //   G p)
                       // nll_loss: dx = -g q is linear in dy alone, and d(dy) = nll_loss(G) itself.
                       const ClassLayout& l = spec.layout;
                       if (spec.log_probabilities) {
                         bw.add(0, class_index_forward(bw.grad(), target, spec));
                         return;
                       }
                       const Tensor x = bw.unpack(sx);
                       auto [q, qsum] =
                           std::pair<Tensor, Tensor>(kernel::class_target_weights(target, spec, x.dtype()));
                       const Tensor p = tg::softmax(tg::reshape(x, {l.n, l.c, l.s}), 1);
                       const Tensor G3 = tg::reshape(bw.grad(), {l.n, l.c, l.s});
                       const Tensor g = bw.needs(1) ? row_grad(bw.unpack(sdy), spec, denom) : Tensor();
                       const SoftTargetGrads d = soft_target_backward(g, p, q, qsum, G3);
                       if (bw.needs(0)) bw.add(0, reduce_row_grad(d.h, spec, denom));
                       if (bw.needs(1)) bw.add(1, tg::reshape(d.dx, x.shape()));
                     });
  }
  return dx;
}

std::pair<Tensor, Tensor> probabilities_grad(const Tensor& dy, const Tensor& x, const Tensor& t, const Tensor& lse,
                                             const ClassLoss& spec, double denom, bool need_dx, bool need_dt) {
  auto [dx, dt] = std::pair<Tensor, Tensor>(
      kernel::cross_entropy_probabilities_backward(dy, x, t, lse, spec, denom, need_dx, need_dt));
  if (autograd::needs_grad(dy, x, t)) {
    autograd::record(
        "cross_entropy_backward", {&dy, &x, &t}, {dx.defined() ? &dx : nullptr, dt.defined() ? &dt : nullptr},
        [sdy = SavedTensor(dy, false), sx = SavedTensor(x, false), st = SavedTensor(t, false), spec,
         denom](Backward& bw) {
          // dx = g (qsum p - q), dt = -g (1 - eps) w log p, q = w ((1 - eps) t + eps / C)   [N, C, S];
          // with Gx, Gt their gradients (v = (1 - eps) w Gt):
          //   d(dy) = sum_c [Gx (qsum p - q) - v log p] per row, reduced as dy was spread,
          //   d(x) = g qsum p (Gx - sum_c Gx p) - g (v - p sum_c v),  d(t) = (1 - eps) w g (sum_c Gx p - Gx)
          const ClassLayout& l = spec.layout;
          const double eps = spec.label_smoothing;
          const Dims shape3{l.n, l.c, l.s};
          const Tensor x3 = tg::reshape(bw.unpack(sx), shape3);
          const Tensor g = row_grad(bw.unpack(sdy), spec, denom);
          const Tensor w3 = spec.weight.defined() ? tg::reshape(spec.weight, {1, l.c, 1}) : Tensor();
          auto weighted = [&](const Tensor& v) { return w3.defined() ? tg::mul(v, w3) : v; };
          const Tensor p = tg::softmax(x3, 1);
          Tensor h, d_x, d_t;
          if (bw.grad(0).defined()) {
            const Tensor q =
                weighted(tg::add(tg::mul(tg::reshape(bw.unpack(st), shape3), 1 - eps), eps / static_cast<double>(l.c)));
            const SoftTargetGrads d =
                soft_target_backward(g, p, q, tg::sum(q, {1}, /*keepdim=*/true), tg::reshape(bw.grad(0), shape3));
            h = d.h;
            d_x = d.dx;
            d_t = weighted(tg::mul(d.dq, 1 - eps));
          }
          if (bw.grad(1).defined()) {
            const Tensor v = weighted(tg::mul(tg::reshape(bw.grad(1), shape3), 1 - eps));
            const Tensor hv = tg::neg(tg::sum(tg::mul(v, tg::log_softmax(x3, 1)), {1}, /*keepdim=*/true));
            const Tensor dxv = tg::neg(tg::mul(g, tg::sub(v, tg::mul(p, tg::sum(v, {1}, /*keepdim=*/true)))));
            h = h.defined() ? tg::add(h, hv) : hv;
            d_x = d_x.defined() ? tg::add(d_x, dxv) : dxv;
          }
          if (bw.needs(0) && h.defined()) bw.add(0, reduce_row_grad(h, spec, denom));
          if (bw.needs(1) && d_x.defined()) bw.add(1, tg::reshape(d_x, bw.input_shape(1)));
          if (bw.needs(2) && d_t.defined()) bw.add(2, tg::reshape(d_t, bw.input_shape(2)));
        });
  }
  return {dx, dt};
}

Tensor probabilities_forward(const Tensor& x, const Tensor& t, const ClassLoss& spec) {
  kernel::ClassLossResult r = kernel::cross_entropy_probabilities(x, t, spec);
  Tensor loss = r.loss;
  if (autograd::needs_grad(x, t))
    autograd::record(
        "cross_entropy", {&x, &t}, {&loss},
        [sx = SavedTensor(x, false), st = SavedTensor(t, false), lse = r.lse, spec, denom = r.denom](Backward& bw) {
          // loss_r = sum_c q_rc (lse_r - x_rc), q_rc = w_c ((1 - eps) t_rc + eps / C)
          // dx_rc = g_r ((sum_c q_rc) p_rc - q_rc);  dt_rc = g_r (1 - eps) w_c (lse_r - x_rc)   [N, C, S]
          auto [dx, dt] =
              probabilities_grad(bw.grad(), bw.unpack(sx), bw.unpack(st), lse, spec, denom, bw.needs(0), bw.needs(1));
          if (dx.defined()) bw.add(0, dx);
          if (dt.defined()) bw.add(1, dt);
        });
  return loss;
}

// ---- elementwise losses ----------------------------------------------------------

// The target of an elementwise loss, checked to have the input's shape; an
// int64 or bool target is converted to the input's dtype, a floating one is
// left to promote with the input. Errors name `op` and both.
Tensor elementwise_loss_target(const char* op, const Tensor& input, const Tensor& target) {
  if (!input.is_floating_point())
    throw DTypeError(
        fmt::format("{}: input must be floating ({}), got {}", op, kFloatingDTypeNames, dtype_name(input.dtype())));
  if (target.shape() != input.shape())
    throw ShapeError(fmt::format("{}: target must have the input's shape {}, got {} {}", op, shape_str(input.sizes()),
                                 dtype_name(target.dtype()), shape_str(target.sizes())));
  // As PyTorch: an int64 or bool target is taken in the input's dtype, and a
  // floating one promotes with it in the ops that follow.
  return target.is_floating_point() ? target : tg::to_dtype(target, input.dtype());
}

// A weight that must broadcast to the input's shape without enlarging it.
Tensor elementwise_weight(const char* op, const char* name, const Tensor& weight, const Tensor& input) {
  if (!weight.defined()) return {};
  if (!weight.is_floating_point())
    throw DTypeError(fmt::format("{}: {} must be floating point, got {}", op, name, dtype_name(weight.dtype())));
  bool ok = weight.dim() <= input.dim();
  for (int d = 1; ok && d <= weight.dim(); ++d) {
    const std::int64_t w = weight.size(weight.dim() - d);
    ok = w == 1 || w == input.size(input.dim() - d);
  }
  if (!ok)
    throw ShapeError(fmt::format("{}: {} of shape {} does not broadcast to the input's shape {}", op, name,
                                 shape_str(weight.sizes()), shape_str(input.sizes())));
  return weight.dtype() == input.dtype() ? weight : tg::to_dtype(weight, input.dtype());
}

std::pair<Tensor, Tensor> binary_cross_entropy_grad(const Tensor& dy, const Tensor& x, const Tensor& t, bool need_dx,
                                                    bool need_dt) {
  auto [dx, dt] = std::pair<Tensor, Tensor>(kernel::binary_cross_entropy_backward(dy, x, t, need_dx, need_dt));
  if (autograd::needs_grad(dy, x, t))
    autograd::record(
        "binary_cross_entropy_backward", {&dy, &x, &t}, {dx.defined() ? &dx : nullptr, dt.defined() ? &dt : nullptr},
        [sdy = SavedTensor(dy, false), sx = SavedTensor(x, false), st = SavedTensor(t, false)](Backward& bw) {
          // dx = dy (x - t) / D, D = max(x (1 - x), 1e-12);  dt = dy (L1 - L0), L1 = max(log(1 - x), -100),
          // L0 = max(log x, -100). With Gx, Gt their gradients (each max passes the slope where it is not
          // clamped, as clamp does):
          //   d(dy) = Gx (x - t) / D + Gt (L1 - L0),  d(t) = -Gx dy / D,
          //   d(x) = Gx dy (D - (x - t) D') / D^2 + Gt dy (L1' - L0'),
          //   D' = 1 - 2x,  L1' = -1 / (1 - x),  L0' = 1 / x.
          const Tensor dy = bw.unpack(sdy), x = bw.unpack(sx), t = bw.unpack(st);
          const Tensor &Gx = bw.grad(0), &Gt = bw.grad(1);
          Tensor d_dy, d_x, d_t;
          auto accumulate = [](Tensor& total, const Tensor& v) { total = total.defined() ? tg::add(total, v) : v; };
          if (Gx.defined()) {
            const Tensor u = tg::mul(x, tg::rsub(x, 1));
            const Tensor D = tg::clamp(u, 1e-12, std::nullopt);
            const Tensor diff = tg::sub(x, t);
            accumulate(d_dy, tg::div(tg::mul(Gx, diff), D));
            d_t = tg::neg(tg::div(tg::mul(Gx, dy), D));
            const Tensor dD = tg::where(u.ge(1e-12), tg::rsub(tg::mul(x, 2.0), 1), 0.0);
            accumulate(d_x, tg::div(tg::mul(tg::mul(Gx, dy), tg::sub(D, tg::mul(diff, dD))), tg::mul(D, D)));
          }
          if (Gt.defined()) {
            const Tensor log_1mx = tg::log1p(tg::neg(x)), log_x = tg::log(x);
            accumulate(d_dy, tg::mul(Gt, tg::sub(tg::clamp(log_1mx, -100, std::nullopt),
                                                 tg::clamp(log_x, -100, std::nullopt))));
            const Tensor dl1 = tg::where(log_1mx.ge(-100.0), tg::neg(tg::rdiv(tg::rsub(x, 1), 1)), 0.0);
            // log keeps a subnormal x, the reciprocal reads it as 0 while
            // kernels flush: 0 there, as for log_x < -100.
            const Tensor dl0 =
                tg::where(tg::logical_and(log_x.ge(-100.0), tg::logical_not(Tensor(kernel::reads_as_zero(x)))),
                          tg::rdiv(x, 1), 0.0);
            accumulate(d_x, tg::mul(tg::mul(Gt, dy), tg::sub(dl1, dl0)));
          }
          if (bw.needs(0) && d_dy.defined()) bw.add(0, d_dy);
          if (bw.needs(1) && d_x.defined()) bw.add(1, d_x);
          if (bw.needs(2) && d_t.defined()) bw.add(2, d_t);
        });
  return {dx, dt};
}

// -(t max(log x, -100) + (1 - t) max(log(1 - x), -100)), elementwise.
Tensor binary_cross_entropy_terms(const Tensor& x, const Tensor& t) {
  Tensor out = kernel::binary_cross_entropy(x, t);
  if (autograd::needs_grad(x, t))
    autograd::record("binary_cross_entropy", {&x, &t}, {&out},
                     [sx = SavedTensor(x, false), st = SavedTensor(t, false)](Backward& bw) {
                       // l = -(t log x + (1 - t) log(1 - x))
                       // dx = dy (x - t) / (x (1 - x));  dt = dy (log(1 - x) - log x)
                       auto [dx, dt] =
                           binary_cross_entropy_grad(bw.grad(), bw.unpack(sx), bw.unpack(st), bw.needs(0), bw.needs(1));
                       if (dx.defined()) bw.add(0, dx);
                       if (dt.defined()) bw.add(1, dt);
                     });
  return out;
}

// softplus(z) = log(1 + exp(z)), without tg::softplus's linear cut-off above a
// threshold (the loss keeps every digit). Its derivative sigmoid(z) is smooth at 0,
// unlike the pieces of the stable formula, which is why it is one op.
Tensor softplus_exact(const Tensor& z) {
  Tensor out = kernel::softplus(z);
  if (autograd::needs_grad(z))
    autograd::record("softplus", {&z}, {&out}, [sz = SavedTensor(z, false)](Backward& bw) {
      // y = log(1 + exp(z));  dz = dy sigmoid(z)
      bw.add(0, tg::mul(bw.grad(), tg::sigmoid(bw.unpack(sz))));
    });
  return out;
}

// The options every class-dim loss shares, checked against the input.
// The weight is resolved by the caller, after the target is checked.
ClassLoss class_loss(const char* op, const Tensor& input, std::int64_t ignore_index, double label_smoothing,
                     Reduction reduction, bool log_probabilities) {
  return {.layout = kernel::class_layout(op, input),
          .weight = {},
          .ignore_index = ignore_index,
          .label_smoothing = label_smoothing,
          .reduction = reduction,
          .log_probabilities = log_probabilities};
}

}  // namespace

Tensor reduce_loss(const Tensor& loss, Reduction reduction) {
  TG_PROFILE_OP("reduce_loss", loss);
  switch (reduction) {
    case Reduction::None:
      return loss;
    case Reduction::Mean:
      return tg::mean(loss);
    case Reduction::Sum:
      return tg::sum(loss);
  }
  throw ValueError("reduce_loss: unknown reduction");
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options) {
  TG_PROFILE_OP("cross_entropy", input, target);
  const char* op = "cross_entropy";
  ClassLoss spec = class_loss(op, input, options.ignore_index, options.label_smoothing, options.reduction,
                              /*log_probabilities=*/false);
  if (!(options.label_smoothing >= 0 && options.label_smoothing <= 1))
    throw ValueError(fmt::format("{}: label_smoothing must be in [0, 1], got {}", op, options.label_smoothing));
  autograd::refuse_requires_grad(op, "weight", options.weight);
  if (target.dtype() == kInt64 && target.shape() == spec.layout.loss_shape) {
    const Tensor indices = kernel::class_indices(op, input, spec.layout, target, options.ignore_index, true);
    spec.weight = kernel::class_weight(op, options.weight, spec.layout, input.dtype());
    return class_index_forward(input, indices, spec);
  }
  if (target.is_floating_point() && target.shape() == input.shape()) {
    // Probabilities promote with the input, as PyTorch (float32 with float64
    // gives float64); to_dtype's backward casts each gradient back.
    const DType dt = promote_types(input.dtype(), target.dtype());
    spec.weight = kernel::class_weight(op, options.weight, spec.layout, dt);
    return probabilities_forward(tg::to_dtype(input, dt), tg::to_dtype(target, dt), spec);
  }
  kernel::throw_class_target_error(op, input, spec.layout, target, /*allow_probabilities=*/true);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options) {
  TG_PROFILE_OP("nll_loss", input, target);
  const char* op = "nll_loss";
  ClassLoss spec = class_loss(op, input, options.ignore_index, 0, options.reduction, /*log_probabilities=*/true);
  autograd::refuse_requires_grad(op, "weight", options.weight);
  const Tensor indices = kernel::class_indices(op, input, spec.layout, target, options.ignore_index, false);
  spec.weight = kernel::class_weight(op, options.weight, spec.layout, input.dtype());
  return class_index_forward(input, indices, spec);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options) {
  TG_PROFILE_OP("mse_loss", input, target);
  const Tensor d = tg::sub(input, elementwise_loss_target("mse_loss", input, target));
  return reduce_loss(tg::mul(d, d), options.reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options) {
  TG_PROFILE_OP("l1_loss", input, target);
  const Tensor d = tg::sub(input, elementwise_loss_target("l1_loss", input, target));
  return reduce_loss(tg::abs(d), options.reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options) {
  TG_PROFILE_OP("huber_loss", input, target);
  const double delta = options.delta;
  if (!(delta > 0)) throw ValueError(fmt::format("huber_loss: delta must be positive, got {}", delta));
  // Unlike mse and l1, PyTorch's huber_loss computes in the input's dtype.
  const Tensor d = tg::sub(input, tg::to_dtype(elementwise_loss_target("huber_loss", input, target), input.dtype()));
  const Tensor a = tg::abs(d);
  // The branches meet with equal value and slope at |d| = delta.
  const Tensor quadratic = tg::mul(tg::mul(d, d), 0.5);
  const Tensor linear = tg::mul(tg::sub(a, 0.5 * delta), delta);
  return reduce_loss(tg::where(a.lt(delta), quadratic, linear), options.reduction);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target_in, const BCELossOptions& options) {
  TG_PROFILE_OP("binary_cross_entropy", input, target_in);
  const char* op = "binary_cross_entropy";
  const Tensor target = elementwise_loss_target(op, input, target_in);
  // PyTorch does not promote here: "Found dtype Double but expected Float".
  if (target_in.dtype() != input.dtype())
    throw DTypeError(fmt::format("{}: target is {} but input is {}; they must have the same dtype", op,
                                 dtype_name(target_in.dtype()), dtype_name(input.dtype())));
  kernel::check_probabilities(op, input);
  Tensor loss = binary_cross_entropy_terms(input, target);
  const Tensor weight = elementwise_weight(op, "weight", options.weight, input);
  if (weight.defined()) loss = tg::mul(loss, weight);
  return reduce_loss(loss, options.reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target_in,
                                        const BCEWithLogitsLossOptions& options) {
  TG_PROFILE_OP("binary_cross_entropy_with_logits", input, target_in);
  // l = (1 - t) x + L softplus(-x), L = 1 + (pos_weight - 1) t: for t in {0, 1}
  // this is -[pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))].
  const char* op = "binary_cross_entropy_with_logits";
  const Tensor t = elementwise_loss_target(op, input, target_in);
  const Tensor weight = elementwise_weight(op, "weight", options.weight, input);
  const Tensor pos_weight = elementwise_weight(op, "pos_weight", options.pos_weight, input);
  Tensor neg_log_sigmoid = softplus_exact(tg::neg(input));
  if (pos_weight.defined())
    neg_log_sigmoid = tg::mul(tg::add(tg::mul(tg::sub(pos_weight, 1.0), t), 1.0), neg_log_sigmoid);
  Tensor loss = tg::add(tg::mul(tg::rsub(t, 1.0), input), neg_log_sigmoid);
  if (weight.defined()) loss = tg::mul(loss, weight);
  return reduce_loss(loss, options.reduction);
}

// ---- more losses, each composed of differentiable ops --------------------------

namespace {

// Mean, sum or none, for a loss whose reduction was already checked.
Tensor reduce_kl(const Tensor& loss, const Tensor& input, KLDivReduction reduction) {
  switch (reduction) {
    case KLDivReduction::None:
      return loss;
    case KLDivReduction::Mean:
      return tg::mean(loss);
    case KLDivReduction::Sum:
      return tg::sum(loss);
    case KLDivReduction::BatchMean:
      // As PyTorch: a 0-d input is one sample.
      return input.dim() == 0 ? tg::sum(loss) : tg::div(tg::sum(loss), static_cast<double>(input.size(0)));
  }
  throw ValueError("kl_div: unknown reduction");
}

void check_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  if (a.shape() != b.shape())
    throw ShapeError(fmt::format("{}: {} and {} must have one shape, got {} and {}", op, a_name, b_name,
                                 shape_str(a.sizes()), shape_str(b.sizes())));
}

void check_floating(const char* op, const char* name, const Tensor& t) {
  if (!t.is_floating_point())
    throw DTypeError(
        fmt::format("{}: {} must be floating ({}), got {}", op, name, kFloatingDTypeNames, dtype_name(t.dtype())));
}

// A target of any dtype taken in the dtype of `like` (int64 labels such as
// -1 and 1 are common), a floating one left to promote.
Tensor as_floating(const Tensor& t, const Tensor& like) {
  return t.is_floating_point() ? t : tg::to_dtype(t, like.dtype());
}

// t log t, 0 at t = 0 (xlogy(t, t)); its gradient there is 0, where PyTorch's
// xlogy gives NaN. Zero as the arithmetic reads t: a subnormal t too while
// the kernels flush, whose gradient would otherwise divide a flushed product
// by it (0 / 0).
Tensor t_log_t(const Tensor& t) {
  const Tensor zero = kernel::reads_as_zero(t);
  return tg::where(zero, 0.0, tg::mul(t, tg::log(tg::where(zero, 1.0, t))));
}

}  // namespace

Tensor kl_div(const Tensor& input, const Tensor& target_in, const KLDivLossOptions& options) {
  TG_PROFILE_OP("kl_div", input, target_in);
  const Tensor target = elementwise_loss_target("kl_div", input, target_in);
  const Tensor loss = options.log_target ? tg::mul(tg::exp(target), tg::sub(target, input))
                                         : tg::sub(t_log_t(target), tg::mul(target, input));
  return reduce_kl(loss, input, options.reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& options) {
  TG_PROFILE_OP("smooth_l1_loss", input, target);
  const double beta = options.beta;
  if (!(beta >= 0)) throw ValueError(fmt::format("smooth_l1_loss: beta must be non-negative, got {}", beta));
  const Tensor d = tg::sub(input, elementwise_loss_target("smooth_l1_loss", input, target));
  const Tensor a = tg::abs(d);
  // beta = 0 would divide by zero in the quadratic branch, which never applies.
  if (beta == 0) return reduce_loss(a, options.reduction);
  const Tensor quadratic = tg::mul(tg::mul(d, d), 0.5 / beta);
  return reduce_loss(tg::where(a.lt(beta), quadratic, tg::sub(a, 0.5 * beta)), options.reduction);
}

Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target_in,
                             const CosineEmbeddingLossOptions& options) {
  TG_PROFILE_OP("cosine_embedding_loss", input1, input2, target_in);
  const char* op = "cosine_embedding_loss";
  check_floating(op, "input1", input1);
  check_floating(op, "input2", input2);
  check_same_shape(op, "input1", input1, "input2", input2);
  if (input1.dim() != 1 && input1.dim() != 2)
    throw ShapeError(fmt::format("{}: inputs must be [N, D] or [D], got {}", op, shape_str(input1.sizes())));
  const Dims rows = input1.dim() == 2 ? Dims{input1.size(0)} : Dims{};
  if (target_in.shape() != rows)
    throw ShapeError(fmt::format("{}: target must be {} for inputs of shape {}, got {}", op, shape_str(rows),
                                 shape_str(input1.sizes()), shape_str(target_in.sizes())));
  const Tensor target = as_floating(target_in, input1);
  constexpr double kEpsilon = 1e-12;  // PyTorch's, added to each squared norm
  const std::int64_t d = input1.dim() - 1;
  const Tensor dot = tg::sum(tg::mul(input1, input2), {d});
  const Tensor sq1 = tg::add(tg::sum(tg::mul(input1, input1), {d}), kEpsilon);
  const Tensor sq2 = tg::add(tg::sum(tg::mul(input2, input2), {d}), kEpsilon);
  const Tensor cos = tg::div(dot, tg::sqrt(tg::mul(sq1, sq2)));
  const Tensor pos = tg::where(target.eq(1.0), tg::rsub(cos, 1.0), 0.0);
  const Tensor neg = tg::where(target.eq(-1.0), tg::clamp(tg::sub(cos, options.margin), 0.0, std::nullopt), 0.0);
  return reduce_loss(tg::add(pos, neg), options.reduction);
}

Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target_in,
                           const MarginRankingLossOptions& options) {
  TG_PROFILE_OP("margin_ranking_loss", input1, input2, target_in);
  const char* op = "margin_ranking_loss";
  check_floating(op, "input1", input1);
  check_floating(op, "input2", input2);
  check_same_shape(op, "input1", input1, "input2", input2);
  check_same_shape(op, "input1", input1, "target", target_in);
  const Tensor target = as_floating(target_in, input1);
  const Tensor z = tg::add(tg::neg(tg::mul(target, tg::sub(input1, input2))), options.margin);
  return reduce_loss(tg::clamp(z, 0.0, std::nullopt), options.reduction);
}

Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           const TripletMarginLossOptions& options) {
  TG_PROFILE_OP("triplet_margin_loss", anchor, positive, negative);
  const char* op = "triplet_margin_loss";
  check_floating(op, "anchor", anchor);
  check_floating(op, "positive", positive);
  check_floating(op, "negative", negative);
  check_same_shape(op, "anchor", anchor, "positive", positive);
  check_same_shape(op, "anchor", anchor, "negative", negative);
  if (anchor.dim() < 1)
    throw ShapeError(
        fmt::format("{}: inputs must have at least 1 dim ([N, D] or [D]), got {}", op, shape_str(anchor.sizes())));
  // p <= 0 is no distance (PyTorch computes a count of nonzeros or worse).
  if (!(options.p > 0)) throw ValueError(fmt::format("{}: p must be positive, got {}", op, options.p));
  const std::int64_t last = anchor.dim() - 1;
  const auto distance = [&](const Tensor& x, const Tensor& y) {
    return tg::norm(tg::add(tg::sub(x, y), options.eps), options.p, {last});
  };
  const Tensor d_pos = distance(anchor, positive);
  Tensor d_neg = distance(anchor, negative);
  if (options.swap) d_neg = tg::minimum(d_neg, distance(positive, negative));
  const Tensor z = tg::sub(tg::add(d_pos, options.margin), d_neg);
  return reduce_loss(tg::clamp(z, 0.0, std::nullopt), options.reduction);
}

Tensor poisson_nll_loss(const Tensor& input, const Tensor& target_in, const PoissonNLLLossOptions& options) {
  TG_PROFILE_OP("poisson_nll_loss", input, target_in);
  const Tensor target = elementwise_loss_target("poisson_nll_loss", input, target_in);
  Tensor loss = options.log_input ? tg::sub(tg::exp(input), tg::mul(target, input))
                                  : tg::sub(input, tg::mul(target, tg::log(tg::add(input, options.eps))));
  if (options.full) {
    // Stirling's approximation of log(t!), 0 where t <= 1; the masked entries
    // see t = 2 so that their (unused) branch stays finite, gradient included.
    const Tensor big = target.gt(1.0);
    const Tensor t = tg::where(big, target, 2.0);
    const Tensor stirling = tg::add(tg::sub(t_log_t(t), t), tg::mul(tg::log(tg::mul(t, 2 * std::numbers::pi)), 0.5));
    loss = tg::add(loss, tg::where(big, stirling, 0.0));
  }
  return reduce_loss(loss, options.reduction);
}

Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target_in, const Tensor& var_in,
                         const GaussianNLLLossOptions& options) {
  TG_PROFILE_OP("gaussian_nll_loss", input, target_in, var_in);
  const char* op = "gaussian_nll_loss";
  const Tensor target = elementwise_loss_target(op, input, target_in);
  check_floating(op, "var", var_in);
  Tensor var = var_in;
  if (var.shape() != input.shape()) {
    const auto in = input.sizes();
    const auto v = var.sizes();
    const bool no_last = input.dim() >= 1 && std::equal(in.begin(), in.end() - 1, v.begin(), v.end());
    const bool last_one = input.dim() >= 1 && var.dim() == input.dim() && v.back() == 1 &&
                          std::equal(in.begin(), in.end() - 1, v.begin(), v.end() - 1);
    if (no_last) var = tg::unsqueeze(var, -1);
    else if (!last_one)
      throw ShapeError(
          fmt::format("{}: var of shape {} fits neither the input's shape {}, nor it without its last "
                      "dim, nor it with a last dim of 1",
                      op, shape_str(var.sizes()), shape_str(input.sizes())));
  }
  const double smallest = var.numel() == 0 ? 0.0 : tg::min(var.detach()).item<double>();
  if (smallest < 0) throw ValueError(fmt::format("{}: var has negative entries (the smallest is {})", op, smallest));
  // As PyTorch's no_grad clamp_ of a clone: the value is clamped at eps, the
  // gradient passes as though it were not (c + (v - v) is exactly c).
  var = tg::add(tg::clamp(var, options.eps, std::nullopt).detach(), tg::sub(var, var.detach()));
  const Tensor d = tg::sub(input, target);
  Tensor loss = tg::mul(tg::add(tg::log(var), tg::div(tg::mul(d, d), var)), 0.5);
  if (options.full) loss = tg::add(loss, 0.5 * std::log(2 * std::numbers::pi));
  return reduce_loss(loss, options.reduction);
}

Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target_in,
                                   const MultiLabelSoftMarginLossOptions& options) {
  TG_PROFILE_OP("multilabel_soft_margin_loss", input, target_in);
  const char* op = "multilabel_soft_margin_loss";
  const Tensor t = elementwise_loss_target(op, input, target_in);
  if (input.dim() < 1)
    throw ShapeError(
        fmt::format("{}: the input needs a class dim ([N, C] or [C]), got {}", op, shape_str(input.sizes())));
  // -(t log sigmoid(x) + (1 - t) log sigmoid(-x)) = t softplus(-x) + (1 - t) softplus(x)
  Tensor loss = tg::add(tg::mul(t, softplus_exact(tg::neg(input))), tg::mul(tg::rsub(t, 1.0), softplus_exact(input)));
  const Tensor weight = elementwise_weight(op, "weight", options.weight, input);
  if (weight.defined()) loss = tg::mul(loss, weight);
  const std::int64_t c = input.dim() - 1;
  loss = tg::div(tg::sum(loss, {c}), static_cast<double>(input.size(c)));
  return reduce_loss(loss, options.reduction);
}

}  // namespace tg
