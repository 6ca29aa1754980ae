// layer_norm and batch_norm (kernels and their shared formulas:
// core/kernels/normalization.h). Both normalise x over a set S of positions:
//   xhat = (x - mean_S(x)) * r,  r = 1 / sqrt(var_S(x) + eps),  y = xhat * w + b,
//   dx = r (g - mean_S(g) - xhat mean_S(g xhat))  with g = dy w  (call this N(g)),
//   dw = sum of dy xhat,  db = sum of dy.
// The fused backward is an op of its own. Its derivative, with G, H, B the
// gradients of dx, dw, db (means over S, H and B broadcast like w):
//   d(dy) = w N(G) + H xhat + B,   dw' = sum of N(G) dy,
//   dx'   = -r (xhat mean_S(G dx) + mean_S(G xhat) dx + mean_S(g xhat) N(G)) + N(H dy),
// where dx and N(.) are that same op again, so gradients of any order exist.
//
// rms_norm has no centring and no bias: y = x r w with r = 1 / sqrt(mean_S(x^2) + eps),
//   dx = r g - x r^3 mean_S(g x)  (g = dy w),  dw = sum of dy x r;
// its backward is written with the differentiable ops, so it is differentiable again.
// group_norm is layer_norm over [N, G, C/G * spatial] followed by a per-channel affine,
// built from those ops (layer_norm's fused backward gives its gradients of any order).
// instance_norm is the same with one group per channel (layer_norm over [N, C, spatial]),
// or batch_norm's fixed-statistics map when it uses the running statistics.
#include <array>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/half.h>
#include <tapegrad/core/kernels/normalization.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

void check_param(const char* op, const char* name, const Tensor& p, const Dims& shape, const Tensor& x) {
  if (!p.defined()) return;
  if (!(p.shape() == shape))
    throw ShapeError(
        fmt::format("{}: {} must have shape {}, got {}", op, name, shape_str(shape), shape_str(p.sizes())));
  if (p.dtype() != x.dtype())
    throw DTypeError(
        fmt::format("{}: {} is {} but the input is {}", op, name, dtype_name(p.dtype()), dtype_name(x.dtype())));
}

// [C] -> [1, C, 1, ...] for an input of `ndim` dims (differentiable).
Tensor per_channel(const Tensor& t, int ndim) {
  if (!t.defined()) return t;
  Dims shape = Dims::filled(ndim, 1);
  shape[1] = t.numel();
  return tg::reshape(t, shape);
}

// Which normalisation, and the dims of its formulas.
struct NormSpec {
  bool batch = false;  // batch_norm (per channel) or layer_norm (per row of the last dims)
  std::int64_t m = 0;  // layer_norm: the row length
  double eps = 0;
  Dims dims;         // the normalised dims of x (S)
  Dims param_dims;   // the dims dw and db sum over
  Dims param_shape;  // w's shape
  int ndim = 0;      // x's
  // w (or dw, db) broadcast against x.
  Tensor broadcast(const Tensor& p) const { return batch ? per_channel(p, ndim) : p; }
  // A tensor of x's shape summed to w's.
  Tensor reduce(const Tensor& t) const {
    return tg::reshape(param_dims.empty() ? t : tg::sum(t, param_dims), param_shape);
  }
};

Tensor accumulate(const Tensor& total, const Tensor& t) { return total.defined() ? tg::add(total, t) : t; }

// dx, dw, db (each only when asked) from the fused kernel, recorded with the
// derivative at the top of this file. mean and rstd are the kernel's cache
// of x's statistics; the derivative recomputes them from x.
std::array<Tensor, 3> normalization_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Tensor& mean,
                                             const Tensor& rstd, const NormSpec& s, bool need_dx, bool need_dw,
                                             bool need_db) {
  auto [dx, dw, db] = std::tuple<Tensor, Tensor, Tensor>(
      s.batch ? kernel::batch_norm_backward(dy, x, mean, rstd, w, need_dx, need_dw, need_db)
              : kernel::layer_norm_backward(dy, x, mean, rstd, w, s.m, need_dx, need_dw, need_db));
  if (dw.defined()) dw = kernel::view(dw, s.param_shape);
  if (db.defined()) db = kernel::view(db, s.param_shape);
  if (autograd::needs_grad(dy, x, w)) {
    autograd::record(s.batch ? "batch_norm_backward" : "layer_norm_backward", {&dy, &x, &w},
                     {dx.defined() ? &dx : nullptr, dw.defined() ? &dw : nullptr, db.defined() ? &db : nullptr},
                     [sdy = SavedTensor(dy, false), sx = SavedTensor(x, false),
                      sw = SavedTensor::input_if(w.defined(), w), mean, rstd, s](Backward& bw) {
                       // (dx, dw, db) of the top of this file; with G, H, B their gradients:
                       //   d(dy), dx', dw' as given there, shapes of dy, x, w.
                       const Tensor dy = bw.unpack(sdy), x = bw.unpack(sx), w = bw.unpack(sw);
                       const Tensor &G = bw.grad(0), &H = bw.grad(1), &B = bw.grad(2);
                       auto mean_s = [&](const Tensor& t) { return tg::mean(t, s.dims, /*keepdim=*/true); };
                       auto N = [&](const Tensor& v) {
                         return normalization_backward(v, x, Tensor(), mean, rstd, s, true, false, false)[0];
                       };
                       const Tensor w_b = s.broadcast(w);
                       Tensor xhat, r;
                       if (bw.needs(1) || H.defined()) {
                         r = tg::rsqrt(tg::add(tg::var(x, s.dims, 0, /*keepdim=*/true), s.eps));
                         xhat = tg::mul(tg::sub(x, mean_s(x)), r);
                       }
                       Tensor d_dy, d_x, d_w;
                       if (G.defined()) {
                         const Tensor NG = N(G);
                         if (bw.needs(0)) d_dy = w_b.defined() ? tg::mul(w_b, NG) : NG;
                         if (bw.needs(2)) d_w = s.reduce(tg::mul(NG, dy));
                         if (bw.needs(1)) {
                           const Tensor dx = normalization_backward(dy, x, w, mean, rstd, s, true, false, false)[0];
                           const Tensor g = w_b.defined() ? tg::mul(dy, w_b) : dy;
                           const Tensor inner = tg::add(
                               tg::add(tg::mul(xhat, mean_s(tg::mul(G, dx))), tg::mul(mean_s(tg::mul(G, xhat)), dx)),
                               tg::mul(mean_s(tg::mul(g, xhat)), NG));
                           d_x = tg::neg(tg::mul(r, inner));
                         }
                       }
                       if (H.defined()) {
                         const Tensor H_b = s.broadcast(H);
                         if (bw.needs(0)) d_dy = accumulate(d_dy, tg::mul(H_b, xhat));
                         if (bw.needs(1)) d_x = accumulate(d_x, N(tg::mul(H_b, dy)));
                       }
                       if (B.defined() && bw.needs(0))
                         d_dy = d_dy.defined() ? tg::add(d_dy, s.broadcast(B)) : tg::expand(s.broadcast(B), dy.shape());
                       if (d_dy.defined()) bw.add(0, d_dy);
                       if (d_x.defined()) bw.add(1, d_x);
                       if (d_w.defined()) bw.add(2, d_w);
                     });
  }
  return {dx, dw, db};
}

}  // namespace

Tensor layer_norm(const Tensor& x, Dims normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
  TG_PROFILE_OP("layer_norm", x, weight, bias);
  const int k = normalized_shape.size();
  if (k == 0)
    throw ShapeError(fmt::format("layer_norm: normalized_shape must name at least one dim, got [] (input {})",
                                 shape_str(x.sizes())));
  bool matches = x.dim() >= k;
  for (int i = 0; matches && i < k; ++i) matches = x.size(x.dim() - k + i) == normalized_shape[i];
  if (!matches)
    throw ShapeError(fmt::format("layer_norm: input {} does not end with the normalized shape {}", shape_str(x.sizes()),
                                 shape_str(normalized_shape)));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("layer_norm: expected a floating-point input, got {}", dtype_name(x.dtype())));
  check_param("layer_norm", "weight", weight, normalized_shape, x);
  check_param("layer_norm", "bias", bias, normalized_shape, x);
  NormSpec s{.batch = false,
             .m = normalized_shape.product(),
             .eps = eps,
             .dims = {},
             .param_dims = {},
             .param_shape = normalized_shape,
             .ndim = x.dim()};
  kernel::LayerNormStats stats = kernel::layer_norm(x, weight, bias, s.m, eps);
  Tensor y = stats.y;
  if (autograd::needs_grad(x, weight, bias)) {
    for (int d = 0; d < x.dim(); ++d) (d < x.dim() - k ? s.param_dims : s.dims).push_back(d);
    const bool gx = autograd::requires_grad_of(x);
    autograd::record("layer_norm", {&x, &weight, &bias}, {&y},
                     [sx = SavedTensor(x, false), sw = SavedTensor::input_if(gx && weight.defined(), weight),
                      mean = stats.mean, rstd = stats.rstd, s](Backward& bw) {
                       // y = xhat * w + b over the last dims (see the top of this file); x [..., *shape],
                       // w, b [*shape]: dx [..., *shape], dw = sum of dy * xhat, db = sum of dy [*shape].
                       auto [dx, dw, db] = normalization_backward(bw.grad(), bw.unpack(sx), bw.unpack(sw), mean, rstd,
                                                                  s, bw.needs(0), bw.needs(1), bw.needs(2));
                       if (bw.needs(0)) bw.add(0, dx);
                       if (bw.needs(1)) bw.add(1, dw);
                       if (bw.needs(2)) bw.add(2, db);
                     });
  }
  return y;
}

namespace {

// torch.finfo(dtype).eps: rms_norm's eps when none is given.
double machine_epsilon(DType dtype) {
  switch (dtype) {
    case kFloat64:
      return std::numeric_limits<double>::epsilon();
    case kFloat16:
      return static_cast<double>(std::numeric_limits<Half>::epsilon());
    case kBFloat16:
      return static_cast<double>(std::numeric_limits<BFloat16>::epsilon());
    default:
      return std::numeric_limits<float>::epsilon();
  }
}

}  // namespace

Tensor rms_norm(const Tensor& x, Dims normalized_shape, const Tensor& weight, std::optional<double> eps_opt) {
  TG_PROFILE_OP("rms_norm", x, weight);
  const int k = normalized_shape.size();
  if (k == 0)
    throw ShapeError(
        fmt::format("rms_norm: normalized_shape must name at least one dim, got [] (input {})", shape_str(x.sizes())));
  bool matches = x.dim() >= k;
  for (int i = 0; matches && i < k; ++i) matches = x.size(x.dim() - k + i) == normalized_shape[i];
  if (!matches)
    throw ShapeError(fmt::format("rms_norm: input {} does not end with the normalized shape {}", shape_str(x.sizes()),
                                 shape_str(normalized_shape)));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("rms_norm: expected a floating-point input, got {}", dtype_name(x.dtype())));
  check_param("rms_norm", "weight", weight, normalized_shape, x);
  const double eps = eps_opt.value_or(machine_epsilon(x.dtype()));
  kernel::RMSNormStats stats = kernel::rms_norm(x, weight, normalized_shape.product(), eps);
  Tensor y = stats.y;
  if (autograd::needs_grad(x, weight)) {
    Dims dims, leading;  // the normalised dims, and the dims dw sums over
    for (int d = 0; d < x.dim(); ++d) (d < x.dim() - k ? leading : dims).push_back(d);
    Dims kept = x.shape();  // rstd broadcast against x
    for (int d : dims) kept[d] = 1;
    // Rows of no elements (a normalized shape with a 0): the kernel, which
    // sees only the row length, returns no rstd at all, not one per row.
    const bool empty_rows = normalized_shape.product() == 0;
    autograd::record("rms_norm", {&x, &weight}, {&y},
                     [sx = SavedTensor(x, false), sw = SavedTensor::input_if(weight.defined(), weight),
                      rstd = Tensor(stats.rstd), dims, leading, kept, normalized_shape, eps, empty_rows](Backward& bw) {
                       // y = x r w over the last dims; x [..., *shape], w [*shape]:
                       //   dx = r g - x r^3 mean_S(g x) with g = dy w,  dw = sum over the leading dims of dy x r.
                       const Tensor x = bw.unpack(sx), w = bw.unpack(sw), dy = bw.grad();
                       // With create_graph r must depend on x; otherwise the forward's is exact.
                       const Tensor r = is_grad_enabled() || empty_rows
                                            ? tg::rsqrt(tg::add(tg::mean(tg::mul(x, x), dims, /*keepdim=*/true), eps))
                                            : Tensor(kernel::view(rstd, kept));
                       if (bw.needs(0)) {
                         const Tensor g = w.defined() ? tg::mul(dy, w) : dy;
                         const Tensor mean_gx = tg::mean(tg::mul(g, x), dims, /*keepdim=*/true);
                         bw.add(0, tg::sub(tg::mul(r, g), tg::mul(tg::mul(x, tg::pow(r, 3.0)), mean_gx)));
                       }
                       if (bw.needs(1)) {
                         const Tensor t = tg::mul(tg::mul(dy, x), r);
                         bw.add(1, tg::reshape(leading.empty() ? t : tg::sum(t, leading), normalized_shape));
                       }
                     });
  }
  return y;
}

Tensor group_norm(const Tensor& x, std::int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  TG_PROFILE_OP("group_norm", x, weight, bias);
  if (x.dim() < 2)
    throw ShapeError(
        fmt::format("group_norm: expected an input [N, C, ...] with at least 2 dims, got {}", shape_str(x.sizes())));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("group_norm: expected a floating-point input, got {}", dtype_name(x.dtype())));
  const std::int64_t channels = x.size(1);
  if (num_groups <= 0) throw ValueError(fmt::format("group_norm: num_groups must be positive, got {}", num_groups));
  if (channels % num_groups != 0)
    throw ShapeError(fmt::format("group_norm: the {} channels of input {} are not divisible by num_groups {}", channels,
                                 shape_str(x.sizes()), num_groups));
  check_param("group_norm", "weight", weight, Dims{channels}, x);
  check_param("group_norm", "bias", bias, Dims{channels}, x);
  // Each (sample, group) is one row of layer_norm: its channels and all positions.
  const std::int64_t n = x.size(0), row = n * num_groups == 0 ? 0 : x.numel() / (n * num_groups);
  Tensor y = tg::reshape(tg::layer_norm(tg::reshape(x, {n, num_groups, row}), {row}, {}, {}, eps), x.shape());
  if (weight.defined()) y = tg::mul(y, per_channel(weight, x.dim()));
  if (bias.defined()) y = tg::add(y, per_channel(bias, x.dim()));
  return y;
}

Tensor instance_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                     const Tensor& bias, StrictBool use_input_stats, double momentum, double eps) {
  TG_PROFILE_OP("instance_norm", x, running_mean, running_var, weight, bias);
  if (x.dim() < 2)
    throw ShapeError(
        fmt::format("instance_norm: expected an input [N, C, ...] with at least 2 dims, got {}", shape_str(x.sizes())));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("instance_norm: expected a floating-point input, got {}", dtype_name(x.dtype())));
  const Dims channels{x.size(1)};
  check_param("instance_norm", "weight", weight, channels, x);
  check_param("instance_norm", "bias", bias, channels, x);
  check_param("instance_norm", "running_mean", running_mean, channels, x);
  check_param("instance_norm", "running_var", running_var, channels, x);
  if (running_mean.defined() != running_var.defined())
    throw ValueError("instance_norm: running_mean and running_var must be given together");
  autograd::refuse_requires_grad("instance_norm", "running_mean", running_mean);
  autograd::refuse_requires_grad("instance_norm", "running_var", running_var);
  if (!use_input_stats) {
    if (!running_mean.defined())
      throw ValueError("instance_norm: without use_input_stats, running_mean and running_var must be given");
    return tg::batch_norm(x, running_mean, running_var, weight, bias, false, momentum, eps);
  }
  // Positions per instance, counted without dividing numel (0 with no channels).
  std::int64_t positions = 1;
  Dims spatial;
  for (int d = 2; d < x.dim(); ++d) {
    if (mul_overflows(positions, x.size(d), &positions)) positions = std::numeric_limits<std::int64_t>::max();
    spatial.push_back(d);
  }
  // As PyTorch's _verify_spatial_size: one position has variance 0 (0/0 unbiased).
  if (positions == 1)
    throw ValueError(
        fmt::format("instance_norm: expected more than 1 spatial element when using input statistics, "
                    "got input {}",
                    shape_str(x.sizes())));
  if (running_mean.defined() && x.numel() > 0) {
    // As PyTorch: each instance updates its copy of the running statistics,
    // and the copies' mean over the batch is kept (the variance unbiased).
    NoGradGuard no_grad;
    const Tensor detached = x.detach();
    Tensor mean = running_mean, var = running_var;
    mean.mul_(1 - momentum).add_(tg::mean(tg::mean(detached, spatial), 0), momentum);
    var.mul_(1 - momentum).add_(tg::mean(tg::var(detached, spatial, 1), 0), momentum);
  }
  const std::int64_t n = x.size(0), c = x.size(1);
  Tensor y = tg::reshape(tg::layer_norm(tg::reshape(x, {n, c, positions}), {positions}, {}, {}, eps), x.shape());
  if (weight.defined()) y = tg::mul(y, per_channel(weight, x.dim()));
  if (bias.defined()) y = tg::add(y, per_channel(bias, x.dim()));
  return y;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, StrictBool training, double momentum, double eps) {
  TG_PROFILE_OP("batch_norm", x, running_mean, running_var, weight, bias);
  if (x.dim() < 2)
    throw ShapeError(
        fmt::format("batch_norm: expected an input [N, C, ...] with at least 2 dims, got {}", shape_str(x.sizes())));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("batch_norm: expected a floating-point input, got {}", dtype_name(x.dtype())));
  const Dims channels{x.size(1)};
  check_param("batch_norm", "weight", weight, channels, x);
  check_param("batch_norm", "bias", bias, channels, x);
  check_param("batch_norm", "running_mean", running_mean, channels, x);
  check_param("batch_norm", "running_var", running_var, channels, x);
  if (running_mean.defined() != running_var.defined())
    throw ValueError("batch_norm: running_mean and running_var must be given together");
  autograd::refuse_requires_grad("batch_norm", "running_mean", running_mean);
  autograd::refuse_requires_grad("batch_norm", "running_var", running_var);

  const bool use_batch_stats = training || !running_mean.defined();
  if (!use_batch_stats) {
    // Fixed statistics: an affine map per channel, left to the elementwise ops.
    const Tensor rstd = tg::rsqrt(tg::add(running_var.detach(), eps));
    Tensor y = tg::mul(tg::sub(x, per_channel(running_mean.detach(), x.dim())), per_channel(rstd, x.dim()));
    if (weight.defined()) y = tg::mul(y, per_channel(weight, x.dim()));
    if (bias.defined()) y = tg::add(y, per_channel(bias, x.dim()));
    return y;
  }

  // Values per channel: N times the spatial sizes, counted without dividing
  // numel by C (which is 0 with no channels). As PyTorch only exactly one
  // value is refused (its variance is 0/0 unbiased); an empty input gives an
  // empty output and leaves the running statistics as they are.
  std::int64_t count = x.size(0);
  for (int d = 2; d < x.dim(); ++d)
    if (mul_overflows(count, x.size(d), &count)) count = std::numeric_limits<std::int64_t>::max();
  if (count == 1)
    throw ValueError(fmt::format("batch_norm: expected more than 1 value per channel when training, got input {}",
                                 shape_str(x.sizes())));
  kernel::BatchNormStats stats = kernel::batch_norm_train(x, weight, bias, eps);
  if (training && running_mean.defined() && x.numel() > 0) {
    // running = (1 - momentum) * running + momentum * batch, variance unbiased.
    NoGradGuard no_grad;
    const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
    Tensor mean = running_mean, var = running_var;
    mean.mul_(1 - momentum).add_(stats.mean, momentum);
    var.mul_(1 - momentum).add_(stats.var, momentum * unbias);
  }
  Tensor y = stats.y;
  if (autograd::needs_grad(x, weight, bias)) {
    NormSpec s{
        .batch = true, .m = 0, .eps = eps, .dims = {0}, .param_dims = {}, .param_shape = channels, .ndim = x.dim()};
    for (int d = 2; d < x.dim(); ++d) s.dims.push_back(d);
    s.param_dims = s.dims;
    const bool gx = autograd::requires_grad_of(x);
    autograd::record("batch_norm", {&x, &weight, &bias}, {&y},
                     [sx = SavedTensor(x, false), sw = SavedTensor::input_if(gx && weight.defined(), weight),
                      mean = stats.mean, rstd = stats.rstd, s](Backward& bw) {
                       // y = xhat * w + b per channel, statistics over N and the spatial dims (see the top of
                       // this file); x [N, C, ...], w, b [C]: dx [N, C, ...], dw, db [C].
                       auto [dx, dw, db] = normalization_backward(bw.grad(), bw.unpack(sx), bw.unpack(sw), mean, rstd,
                                                                  s, bw.needs(0), bw.needs(1), bw.needs(2));
                       if (bw.needs(0)) bw.add(0, dx);
                       if (bw.needs(1)) bw.add(1, dw);
                       if (bw.needs(2)) bw.add(2, db);
                     });
  }
  return y;
}

}  // namespace tg
