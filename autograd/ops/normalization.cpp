// layer_norm and batch_norm. Both normalise x over a set of positions S,
//   xhat = (x - mean_S(x)) * rstd,  rstd = 1 / sqrt(var_S(x) + eps)   (biased variance)
//   y = xhat * w + b,
// and share one gradient (with g = dy * w):
//   dx = rstd * (g - mean_S(g) - xhat * mean_S(g * xhat)),
//   dw = sum of dy * xhat,  db = sum of dy   (over everything but w's own dims).
// Forward and backward are fused loops (one pass for the statistics, one for
// the output). When backward itself is recorded (create_graph), the same
// formula is written with differentiable ops instead.
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/nn/functional.h>

namespace tg::nn::functional {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

// The composite gradient above, for create_graph. `dims` are the normalised
// dims of x; w_b and b_b are w and b broadcastable against x (or undefined);
// `param_dims` are the dims that dw and db sum over (empty: none).
void normalization_backward_graph(Backward& bw, const Tensor& x, const Tensor& w_b, const Dims& dims,
                                  const Dims& param_dims, double eps, const Dims& param_shape) {
  const Tensor& dy = bw.grad();
  const Tensor centered = tg::sub(x, tg::mean(x, dims, true));
  const Tensor rstd = tg::rsqrt(tg::add(tg::var(x, dims, 0, true), eps));
  const Tensor xhat = tg::mul(centered, rstd);
  auto reduce_param = [&](const Tensor& t) {
    return tg::reshape(param_dims.empty() ? t : tg::sum(t, param_dims), param_shape);
  };
  if (bw.needs(0)) {
    const Tensor g = w_b.defined() ? tg::mul(dy, w_b) : dy;
    const Tensor inner = tg::sub(tg::sub(g, tg::mean(g, dims, true)), tg::mul(xhat, tg::mean(tg::mul(g, xhat), dims, true)));
    bw.add(0, tg::mul(rstd, inner));
  }
  if (bw.needs(1)) bw.add(1, reduce_param(tg::mul(dy, xhat)));
  if (bw.needs(2)) bw.add(2, reduce_param(dy));
}

SavedTensor save_if(bool needed, const Tensor& t) { return needed ? SavedTensor(t, false) : SavedTensor(); }

void check_param(const char* op, const char* name, const Tensor& p, const Dims& shape, const Tensor& x) {
  if (!p.defined()) return;
  if (!(p.shape() == shape))
    throw ShapeError(fmt::format("{}: {} must have shape {}, got {}", op, name, shape_str(shape), shape_str(p.sizes())));
  if (p.dtype() != x.dtype())
    throw DTypeError(fmt::format("{}: {} is {} but the input is {}", op, name, dtype_name(p.dtype()),
                                 dtype_name(x.dtype())));
}

// ---- layer_norm: rows of length m (the normalised dims, innermost) --------------

struct LayerNormStats {
  Tensor y, mean, rstd;  // mean and rstd [rows]
};

LayerNormStats layer_norm_kernel(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, std::int64_t m,
                                 double eps) {
  const Tensor x = kernel::contiguous(x_in);
  const Tensor w = w_in.defined() ? Tensor(kernel::contiguous(w_in)) : w_in, b = b_in.defined() ? Tensor(kernel::contiguous(b_in)) : b_in;
  const std::int64_t rows = m == 0 ? 0 : x.numel() / m;
  LayerNormStats out{make_tensor(x.shape(), x.dtype()), make_tensor({rows}, x.dtype()), make_tensor({rows}, x.dtype())};
  dispatch_floating(x.dtype(), "layer_norm", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
    T* yp = out.y.data_ptr<T>();
    T* mp = out.mean.data_ptr<T>();
    T* rp = out.rstd.data_ptr<T>();
    const bool parallel = rows > 1 && x.numel() >= kParallelThreshold && !in_parallel_region();
#pragma omp parallel if (parallel)
    {
      FlushDenormalGuard flush;  // in every thread: MXCSR is per thread
#pragma omp for schedule(static)
      for (std::int64_t r = 0; r < rows; ++r) {
        const T* row = xp + r * m;
        double total = 0;
        for (std::int64_t j = 0; j < m; ++j) total += row[j];
        const double mean = total / static_cast<double>(m);
        double squares = 0;
        for (std::int64_t j = 0; j < m; ++j) squares += (row[j] - mean) * (row[j] - mean);
        const double rstd = 1.0 / std::sqrt(squares / static_cast<double>(m) + eps);
        T* yr = yp + r * m;
        for (std::int64_t j = 0; j < m; ++j) {
          const T xhat = static_cast<T>((row[j] - mean) * rstd);
          yr[j] = (wp ? xhat * wp[j] : xhat) + (bp ? bp[j] : T(0));
        }
        mp[r] = static_cast<T>(mean);
        rp[r] = static_cast<T>(rstd);
      }
    }
  });
  return out;
}

// dx, dw, db of layer_norm (each only when asked).
std::tuple<Tensor, Tensor, Tensor> layer_norm_backward_kernel(const Tensor& dy_in, const Tensor& x_in,
                                                              const Tensor& mean, const Tensor& rstd,
                                                              const Tensor& w_in, std::int64_t m, bool need_dx,
                                                              bool need_dw, bool need_db) {
  const Tensor dy = kernel::contiguous(dy_in), x = kernel::contiguous(x_in);
  const Tensor w = w_in.defined() ? Tensor(kernel::contiguous(w_in)) : w_in;
  const std::int64_t rows = mean.numel();
  Tensor dx = need_dx ? make_tensor(x.shape(), x.dtype()) : Tensor();
  Tensor dw = need_dw ? make_tensor({m}, x.dtype()) : Tensor();
  Tensor db = need_db ? make_tensor({m}, x.dtype()) : Tensor();
  dispatch_floating(x.dtype(), "layer_norm", [&]<class T>() {
    const T* gp = dy.data_ptr<T>();
    const T* xp = x.data_ptr<T>();
    const T* mp = mean.data_ptr<T>();
    const T* rp = rstd.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    if (need_dx) {
      T* dxp = dx.data_ptr<T>();
      const bool parallel = rows > 1 && x.numel() >= kParallelThreshold && !in_parallel_region();
#pragma omp parallel if (parallel)
      {
        FlushDenormalGuard flush;  // in every thread: MXCSR is per thread
#pragma omp for schedule(static)
        for (std::int64_t r = 0; r < rows; ++r) {
          const T* xr = xp + r * m;
          const T* gr = gp + r * m;
          double sum_g = 0, sum_gx = 0;
          for (std::int64_t j = 0; j < m; ++j) {
            const double g = wp ? gr[j] * wp[j] : gr[j];
            sum_g += g;
            sum_gx += g * (xr[j] - mp[r]) * rp[r];
          }
          const double mean_g = sum_g / static_cast<double>(m), mean_gx = sum_gx / static_cast<double>(m);
          for (std::int64_t j = 0; j < m; ++j) {
            const double g = wp ? gr[j] * wp[j] : gr[j];
            const double xhat = (xr[j] - mp[r]) * rp[r];
            dxp[r * m + j] = static_cast<T>(rp[r] * (g - mean_g - xhat * mean_gx));
          }
        }
      }
    }
    if (need_dw || need_db) {
      std::vector<double> sw(static_cast<std::size_t>(m), 0.0), sb(static_cast<std::size_t>(m), 0.0);
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t j = 0; j < m; ++j) {
          const double g = gp[r * m + j];
          sw[static_cast<std::size_t>(j)] += g * (xp[r * m + j] - mp[r]) * rp[r];
          sb[static_cast<std::size_t>(j)] += g;
        }
      for (std::int64_t j = 0; j < m; ++j) {
        if (need_dw) dw.data_ptr<T>()[j] = static_cast<T>(sw[static_cast<std::size_t>(j)]);
        if (need_db) db.data_ptr<T>()[j] = static_cast<T>(sb[static_cast<std::size_t>(j)]);
      }
    }
  });
  return {dx, dw, db};
}

// ---- batch_norm: x seen as [N, C, S], statistics per channel over N and S ----------

struct BatchStats {
  Tensor y, mean, var, rstd;  // [C]; var is biased
};

BatchStats batch_norm_train_kernel(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, double eps) {
  const Tensor x = kernel::contiguous(x_in);
  const Tensor w = w_in.defined() ? Tensor(kernel::contiguous(w_in)) : w_in, b = b_in.defined() ? Tensor(kernel::contiguous(b_in)) : b_in;
  const std::int64_t n = x.size(0), c = x.size(1), s = c == 0 || n == 0 ? 0 : x.numel() / (n * c);
  BatchStats out{make_tensor(x.shape(), x.dtype()), make_tensor({c}, x.dtype()), make_tensor({c}, x.dtype()),
                 make_tensor({c}, x.dtype())};
  dispatch_floating(x.dtype(), "batch_norm", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
    T* yp = out.y.data_ptr<T>();
    T* mean_out = out.mean.data_ptr<T>();
    T* var_out = out.var.data_ptr<T>();
    T* rstd_out = out.rstd.data_ptr<T>();
    const double count = static_cast<double>(n * s);
    const bool parallel = c > 1 && x.numel() >= kParallelThreshold && !in_parallel_region();
#pragma omp parallel if (parallel)
    {
      FlushDenormalGuard flush;  // in every thread: MXCSR is per thread
#pragma omp for schedule(static)
      for (std::int64_t ch = 0; ch < c; ++ch) {
        double total = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          const T* run = xp + (i * c + ch) * s;
          for (std::int64_t k = 0; k < s; ++k) total += run[k];
        }
        const double mean = total / count;
        double squares = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          const T* run = xp + (i * c + ch) * s;
          for (std::int64_t k = 0; k < s; ++k) squares += (run[k] - mean) * (run[k] - mean);
        }
        const double var = squares / count, rstd = 1.0 / std::sqrt(var + eps);
        const double scale = rstd * (wp ? static_cast<double>(wp[ch]) : 1.0);
        const double shift = (bp ? static_cast<double>(bp[ch]) : 0.0) - mean * scale;
        for (std::int64_t i = 0; i < n; ++i) {
          const T* run = xp + (i * c + ch) * s;
          T* yr = yp + (i * c + ch) * s;
          for (std::int64_t k = 0; k < s; ++k) yr[k] = static_cast<T>(run[k] * scale + shift);
        }
        mean_out[ch] = static_cast<T>(mean);
        var_out[ch] = static_cast<T>(var);
        rstd_out[ch] = static_cast<T>(rstd);
      }
    }
  });
  return out;
}

std::tuple<Tensor, Tensor, Tensor> batch_norm_backward_kernel(const Tensor& dy_in, const Tensor& x_in,
                                                              const Tensor& mean, const Tensor& rstd,
                                                              const Tensor& w_in, bool need_dx, bool need_dw,
                                                              bool need_db) {
  const Tensor dy = kernel::contiguous(dy_in), x = kernel::contiguous(x_in);
  const Tensor w = w_in.defined() ? Tensor(kernel::contiguous(w_in)) : w_in;
  const std::int64_t n = x.size(0), c = x.size(1), s = c == 0 || n == 0 ? 0 : x.numel() / (n * c);
  Tensor dx = need_dx ? make_tensor(x.shape(), x.dtype()) : Tensor();
  Tensor dw = need_dw ? make_tensor({c}, x.dtype()) : Tensor();
  Tensor db = need_db ? make_tensor({c}, x.dtype()) : Tensor();
  dispatch_floating(x.dtype(), "batch_norm", [&]<class T>() {
    const T* gp = dy.data_ptr<T>();
    const T* xp = x.data_ptr<T>();
    const T* mp = mean.data_ptr<T>();
    const T* rp = rstd.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    T* dxp = need_dx ? dx.data_ptr<T>() : nullptr;
    T* dwp = need_dw ? dw.data_ptr<T>() : nullptr;
    T* dbp = need_db ? db.data_ptr<T>() : nullptr;
    const double count = static_cast<double>(n * s);
    const bool parallel = c > 1 && x.numel() >= kParallelThreshold && !in_parallel_region();
#pragma omp parallel if (parallel)
    {
      FlushDenormalGuard flush;  // in every thread: MXCSR is per thread
#pragma omp for schedule(static)
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const double mu = mp[ch], r = rp[ch];
        double sum_dy = 0, sum_dy_xhat = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          const T* xr = xp + (i * c + ch) * s;
          const T* gr = gp + (i * c + ch) * s;
          for (std::int64_t k = 0; k < s; ++k) {
            sum_dy += gr[k];
            sum_dy_xhat += gr[k] * (xr[k] - mu) * r;
          }
        }
        if (dwp) dwp[ch] = static_cast<T>(sum_dy_xhat);
        if (dbp) dbp[ch] = static_cast<T>(sum_dy);
        if (!dxp) continue;
        // g = dy * w[ch], so mean(g) and mean(g * xhat) are w[ch] times the sums above.
        const double wc = wp ? static_cast<double>(wp[ch]) : 1.0;
        const double mean_dy = sum_dy / count, mean_dy_xhat = sum_dy_xhat / count;
        for (std::int64_t i = 0; i < n; ++i) {
          const T* xr = xp + (i * c + ch) * s;
          const T* gr = gp + (i * c + ch) * s;
          T* dr = dxp + (i * c + ch) * s;
          for (std::int64_t k = 0; k < s; ++k)
            dr[k] = static_cast<T>(r * wc * (gr[k] - mean_dy - (xr[k] - mu) * r * mean_dy_xhat));
        }
      }
    }
  });
  return {dx, dw, db};
}

// [C] -> [1, C, 1, ...] for an input of `ndim` dims (differentiable).
Tensor per_channel(const Tensor& t, int ndim) {
  if (!t.defined()) return t;
  Dims shape = Dims::filled(ndim, 1);
  shape[1] = t.numel();
  return tg::reshape(t, shape);
}

}  // namespace

Tensor layer_norm(const Tensor& x, Dims normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
  const int k = normalized_shape.size();
  bool matches = k >= 1 && x.dim() >= k;
  for (int i = 0; matches && i < k; ++i) matches = x.size(x.dim() - k + i) == normalized_shape[i];
  if (!matches)
    throw ShapeError(fmt::format("layer_norm: input {} does not end with the normalized shape {}",
                                 shape_str(x.sizes()), shape_str(normalized_shape)));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("layer_norm: expected a floating-point input, got {}", dtype_name(x.dtype())));
  check_param("layer_norm", "weight", weight, normalized_shape, x);
  check_param("layer_norm", "bias", bias, normalized_shape, x);
  const std::int64_t m = normalized_shape.product();
  LayerNormStats stats = layer_norm_kernel(x, weight, bias, m, eps);
  Tensor& y = stats.y;
  if (autograd::needs_grad(x, weight, bias)) {
    Dims dims, leading;
    for (int d = 0; d < x.dim(); ++d) (d < x.dim() - k ? leading : dims).push_back(d);
    const bool gx = autograd::requires_grad_of(x);
    autograd::record("layer_norm", {&x, &weight, &bias}, {&y},
                     [sx = SavedTensor(x, false), sw = save_if(gx && weight.defined(), weight),
                      smean = SavedTensor(stats.mean, false), srstd = SavedTensor(stats.rstd, false), m, eps, dims,
                      leading, normalized_shape](Backward& bw) {
                       // y = xhat * w + b over the last dims (see the top of this file); x [..., *shape],
                       // w, b [*shape]: dx [..., *shape], dw = sum of dy * xhat, db = sum of dy [*shape].
                       const Tensor x = bw.unpack(sx);
                       const Tensor w = bw.unpack(sw);
                       if (is_grad_enabled()) {
                         normalization_backward_graph(bw, x, w, dims, leading, eps, normalized_shape);
                         return;
                       }
                       auto [dx, dw, db] = layer_norm_backward_kernel(bw.grad(), x, bw.unpack(smean),
                                                                      bw.unpack(srstd), w, m, bw.needs(0),
                                                                      bw.needs(1), bw.needs(2));
                       if (bw.needs(0)) bw.add(0, dx);
                       if (bw.needs(1)) bw.add(1, dw.view(normalized_shape));
                       if (bw.needs(2)) bw.add(2, db.view(normalized_shape));
                     });
  }
  return y;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, StrictBool training, double momentum, double eps) {
  if (x.dim() < 2)
    throw ShapeError(fmt::format("batch_norm: expected an input [N, C, ...] with at least 2 dims, got {}",
                                 shape_str(x.sizes())));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("batch_norm: expected a floating-point input, got {}", dtype_name(x.dtype())));
  const Dims channels{x.size(1)};
  check_param("batch_norm", "weight", weight, channels, x);
  check_param("batch_norm", "bias", bias, channels, x);
  check_param("batch_norm", "running_mean", running_mean, channels, x);
  check_param("batch_norm", "running_var", running_var, channels, x);
  if (running_mean.defined() != running_var.defined())
    throw ValueError("batch_norm: running_mean and running_var must be given together");

  const bool use_batch_stats = training || !running_mean.defined();
  if (!use_batch_stats) {
    // Fixed statistics: an affine map per channel, left to the elementwise ops.
    const Tensor rstd = tg::rsqrt(tg::add(running_var.detach(), eps));
    Tensor y = tg::mul(tg::sub(x, per_channel(running_mean.detach(), x.dim())), per_channel(rstd, x.dim()));
    if (weight.defined()) y = tg::mul(y, per_channel(weight, x.dim()));
    if (bias.defined()) y = tg::add(y, per_channel(bias, x.dim()));
    return y;
  }

  const std::int64_t count = x.numel() / std::max<std::int64_t>(x.size(1), 1);
  if (count <= 1)
    throw ValueError(fmt::format("batch_norm: expected more than 1 value per channel when training, got input {}",
                                 shape_str(x.sizes())));
  BatchStats stats = batch_norm_train_kernel(x, weight, bias, eps);
  if (training && running_mean.defined()) {
    // running = (1 - momentum) * running + momentum * batch, variance unbiased.
    NoGradGuard no_grad;
    const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
    Tensor mean = running_mean, var = running_var;
    mean.mul_(1 - momentum).add_(stats.mean, momentum);
    var.mul_(1 - momentum).add_(stats.var, momentum * unbias);
  }
  Tensor& y = stats.y;
  if (autograd::needs_grad(x, weight, bias)) {
    Dims dims{0}, param_dims{0};
    for (int d = 2; d < x.dim(); ++d) {
      dims.push_back(d);
      param_dims.push_back(d);
    }
    const bool gx = autograd::requires_grad_of(x);
    autograd::record("batch_norm", {&x, &weight, &bias}, {&y},
                     [sx = SavedTensor(x, false), sw = save_if(gx && weight.defined(), weight),
                      smean = SavedTensor(stats.mean, false), srstd = SavedTensor(stats.rstd, false), eps, dims,
                      param_dims, c = x.size(1), ndim = x.dim()](Backward& bw) {
                       // y = xhat * w + b per channel, statistics over N and the spatial dims (see the top of
                       // this file); x [N, C, ...], w, b [C]: dx [N, C, ...], dw, db [C].
                       const Tensor x = bw.unpack(sx);
                       const Tensor w = bw.unpack(sw);
                       if (is_grad_enabled()) {
                         normalization_backward_graph(bw, x, per_channel(w, ndim), dims, param_dims, eps, Dims{c});
                         return;
                       }
                       auto [dx, dw, db] = batch_norm_backward_kernel(bw.grad(), x, bw.unpack(smean),
                                                                      bw.unpack(srstd), w, bw.needs(0), bw.needs(1),
                                                                      bw.needs(2));
                       if (bw.needs(0)) bw.add(0, dx);
                       if (bw.needs(1)) bw.add(1, dw);
                       if (bw.needs(2)) bw.add(2, db);
                     });
  }
  return y;
}

}  // namespace tg::nn::functional
