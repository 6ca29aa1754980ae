// Reductions: sum, mean, var, std, amax/amin, max/min, argmax/argmin,
// logsumexp, prod, norm. Kernels and checks: core/kernels/reduce.h.
// softmax and log_softmax are in softmax.cpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;
using kernel::DimMask;

namespace {

// The reduced dims of `mask` as a list, for calling reductions in backward.
Dims dims_of(DimMask mask, int ndim) {
  Dims dims;
  for (int d = 0; d < ndim; ++d)
    if (mask & (DimMask{1} << d)) dims.push_back(d);
  return dims;
}

// A reduction's result (or gradient) with the reduced dims back as size 1,
// so it broadcasts against the input. Differentiable.
Tensor keep_dims(const Tensor& t, const Dims& in_shape, DimMask mask, bool keepdim) {
  return keepdim ? t : tg::reshape(t, kernel::reduced_shape(in_shape, mask, true));
}

// Same, for constants used only as data in backward (no recording).
Tensor keep_dims_data(const Tensor& t, const Dims& in_shape, DimMask mask, bool keepdim) {
  if (keepdim) return t;
  Tensor c = kernel::contiguous(t);
  const Dims shape = kernel::reduced_shape(in_shape, mask, true);
  return make_view(c, shape, contiguous_strides(shape), c.storage_offset());
}

// The gradient of a reduction spread back over the reduced dims.
Tensor expand_back(const Tensor& g, const Dims& in_shape, DimMask mask, bool keepdim) {
  return tg::expand(keep_dims(g, in_shape, mask, keepdim), in_shape);
}

// amax/amin (and max/min over everything): ties share the gradient evenly, as PyTorch.
Tensor extreme(const Tensor& x, Dims dims, bool keepdim, bool is_max, const char* name) {
  Tensor y = is_max ? kernel::amax(x, dims, keepdim, name) : kernel::amin(x, dims, keepdim, name);
  if (autograd::needs_grad(x)) {
    const DimMask mask = kernel::reduction_mask(dims, x.dim(), name);
    autograd::record(
        name, {&x}, {&y}, [sx = SavedTensor(x, false), sy = SavedTensor(y, true), mask, keepdim](Backward& bw) {
          // y = max(x) over dims;  dx = dy * (x == y) / (number of ties)
          const Tensor x = bw.unpack(sx);
          const Dims& shape = bw.input_shape(0);
          const Tensor w = kernel::tie_weights(x, keep_dims_data(bw.unpack(sy), shape, mask, keepdim), mask);
          bw.add(0, tg::mul(keep_dims(bw.grad(), shape, mask, keepdim), w));
        });
  }
  return y;
}

std::tuple<Tensor, Tensor> extreme_dim(const Tensor& x, std::int64_t dim, bool keepdim, bool is_max, const char* name) {
  auto [values, indices] =
      std::tuple<Tensor, Tensor>(is_max ? kernel::max(x, dim, keepdim) : kernel::min(x, dim, keepdim));
  if (autograd::needs_grad(x)) {
    const int d = wrap_dim(dim, x.dim(), name);
    const DimMask mask = kernel::reduction_mask(Dims{d}, x.dim(), name);
    autograd::record(name, {&x}, {&values}, [si = SavedTensor(indices, false), d, mask, keepdim](Backward& bw) {
      // (y, i) = max(x, d);  dx = dy at index i along d, 0 elsewhere
      const Dims& shape = bw.input_shape(0);
      const Tensor at =
          kernel::index_mask(shape, d, keep_dims_data(bw.unpack(si), shape, mask, keepdim), bw.input_dtype(0));
      bw.add(0, tg::mul(keep_dims(bw.grad(), shape, mask, keepdim), at));
    });
  }
  return {values, indices};
}

// prod_{j != i} x_j over the reduced dims, for each i: the products before
// and after i in one flattened slice, from cumprod. No division and no case
// for zeros, and cumprod's backward is exact at every order when it is
// differentiated itself, so this is too: prod_over's formula below drops the
// product of three zeros or more from x_i's gradient (0 in value), and with
// it the third derivatives through them ([0, 0, 0, 0] for [4, 4, 4, 0] at
// [0, 0, 0, 2]).
Tensor prod_of_others(const Tensor& x, const Dims& dims) {
  if (x.dim() == 0) return tg::ones_like(x);
  Dims perm;
  for (int d = 0; d < x.dim(); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) perm.push_back(d);
  const int kept = perm.size();
  for (const auto d : dims) perm.push_back(d);
  const Tensor moved = tg::permute(x, perm);
  Dims flat;
  for (int i = 0; i < kept; ++i) flat.push_back(moved.size(i));
  std::int64_t n = 1;
  for (const auto d : dims) n *= x.size(d);
  flat.push_back(n);
  if (n == 0) return tg::zeros_like(x);
  const Tensor t = tg::reshape(moved, flat);
  const Tensor one = tg::ones_like(tg::narrow(t, kept, 0, 1));
  const auto before = [&](const Tensor& u) {
    return tg::cumprod(tg::cat({one, tg::narrow(u, kept, 0, n - 1)}, kept), kept);
  };
  const Tensor others = tg::mul(before(t), tg::flip(before(tg::flip(t, {kept})), {kept}));
  Dims inverse;
  inverse.resize(perm.size());
  for (int i = 0; i < perm.size(); ++i) inverse[static_cast<int>(perm[i])] = i;
  return tg::permute(tg::reshape(others, moved.shape()), inverse);
}

Tensor prod_over(const Tensor& x, Dims dims, bool keepdim) {
  Tensor y = kernel::prod(x, dims, keepdim);
  if (autograd::needs_grad(x)) {
    const DimMask mask = kernel::reduction_mask(dims, x.dim(), "prod");
    autograd::record("prod", {&x}, {&y}, [sx = SavedTensor(x, false), mask, keepdim](Backward& bw) {
      // y = prod(x);  dx_i = dy * prod_{j != i} x_j, without dividing by zero.
      // With p1 the product of the nonzeros and Z that of the zeros (1 if
      // none; else 0, kept as a function of them):
      //   x_i != 0:  dx_i = dy * p1 * Z / x_i;
      //   x_i == 0:  dx_i = dy * p1 * (the product of the other zeros): 1 with
      //              one zero, the other zero itself with two, 0 with three or
      //              more.
      // Every zero stays in the formula where it matters, so second
      // derivatives are right (the Hessian of a slice with two zeros is not
      // 0; PyTorch refuses that one). A slice with three zeros or more keeps
      // them in prod_of_others when the backward is differentiated itself.
      const Tensor x = bw.unpack(sx);
      const Dims& shape = bw.input_shape(0);
      const Dims dims = dims_of(mask, x.dim());
      // Zeros as the arithmetic below reads them (a subnormal too, while
      // kernels flush): else p1 / x_i divides 0 by a subnormal read as 0.
      const Tensor zero = kernel::reads_as_zero(x);
      const Tensor count = kernel::sum(zero, dims, /*keepdim=*/true);
      if (is_grad_enabled()) {  // create_graph: derivatives of every order must hold
        bool three_zeros = false;
        {
          NoGradGuard data;
          three_zeros = x.numel() > 0 && Tensor(kernel::amax(count, {}, false)).item<double>() >= 3;
        }
        if (three_zeros) {
          bw.add(0, tg::mul(keep_dims(bw.grad(), shape, mask, keepdim), prod_of_others(x, dims)));
          return;
        }
      }
      const Tensor x1 = tg::where(zero, 1.0, x);
      const Tensor p1 = prod_over(x1, dims, /*keepdim=*/true);
      const Tensor zeros_product = prod_over(tg::where(zero, x, 1.0), dims, /*keepdim=*/true);
      const Tensor zeros_sum = tg::sum(tg::where(zero, x, 0.0), dims, /*keepdim=*/true);
      const Tensor at_zero =
          tg::where(count == 1.0, p1, tg::where(count == 2.0, tg::mul(p1, tg::sub(zeros_sum, x)), 0.0));
      // A nonzero x_i of a slice with zeros gets Z * (p1 / x_i): exactly 0 in
      // value, with its derivative along the zeros kept. p1 / x_i is taken
      // only where finite there, so an infinite element makes no inf * 0 or
      // inf / inf: prod([inf, 0, 2]) gives [0, inf, 0] (PyTorch [0, inf, NaN],
      // its x_2 an inf * 0 of products). Without zeros it is the gradient.
      const Tensor ratio = tg::div(p1, x1);
      const Tensor others = tg::where(tg::logical_or(count == 0.0, tg::isfinite(ratio)), ratio, 0.0);
      const Tensor g = tg::where(zero, at_zero, tg::mul(others, zeros_product));
      bw.add(0, tg::mul(keep_dims(bw.grad(), shape, mask, keepdim), g));
    });
  }
  return y;
}

// The p-norm's gradient, dy already broadcast over the reduced dims.
Tensor norm_backward(const Tensor& dy, const Tensor& x, const Tensor& y, double p, DimMask mask) {
  if (p == 0) return tg::zeros_like(x);
  if (p == 1) return tg::mul(dy, tg::sign(x));
  if (std::isinf(p)) {
    // Like amax of |x|: the gradient goes to the largest (smallest) |x_i|,
    // shared evenly among ties, with x_i's sign.
    Tensor w;
    {
      NoGradGuard constant;  // w is piecewise constant in x
      w = tg::mul(kernel::tie_weights(tg::abs(x), y, mask), tg::sign(x));
    }
    return tg::mul(dy, w);
  }
  // 0 where the norm is 0, as PyTorch (the limit from most directions for p > 1).
  const Tensor y_is_zero = y == 0.0;
  if (p == 2) {
    // y = sqrt(sum x^2);  dx = dy * x / y
    const Tensor y_safe = tg::where(y_is_zero, std::numeric_limits<double>::infinity(), y);
    return tg::div(tg::mul(dy, x), y_safe);
  }
  // y = (sum |x|^p)^(1/p);  dx = dy * sign(x) * |x|^(p-1) / y^(p-1).
  if (p > 1) {
    // As dy * sign(x) * (|x| / y)^(p-1), the ratio at most 1, where
    // |x|^(p-1) and y^(1-p) apart would underflow or overflow (x = [1e-20f],
    // p = 3: 1e-40 flushed, 1e40 infinite) while the gradient does not.
    // y = 0 only where every |x_i| reads as 0: 0 there.
    const Tensor ratio = tg::div(tg::abs(x), tg::where(y_is_zero, 1.0, y));
    return tg::mul(dy, tg::mul(tg::sign(x), tg::pow(ratio, p - 1)));
  }
  // p < 1: |x_i| / y may underflow to 0 where |x_i|^(p-1) is finite
  // (x = [1e-36f, 1e10], p = 0.5), and a single zero makes y = 0 for p < 0:
  // the factors apart, 0 where y = 0 (as PyTorch). |x|^(p-1) is infinite at
  // 0, where PyTorch takes 0 (zero as the forward's sum read it: a subnormal
  // too while kernels flush).
  const Tensor scaled =
      tg::where(Tensor(kernel::reads_as_zero(x)), 0.0, tg::mul(tg::sign(x), tg::pow(tg::abs(x), p - 1)));
  const Tensor inv = tg::where(y_is_zero, 0.0, tg::pow(tg::where(y_is_zero, 1.0, y), 1 - p));
  return tg::mul(tg::mul(dy, scaled), inv);
}

}  // namespace

Tensor sum(const Tensor& x) {
  TG_PROFILE_OP("sum", x);
  return sum(x, Dims{}, false);
}

Tensor sum(const Tensor& x, DimList dims, StrictBool keepdim) {
  TG_PROFILE_OP("sum", x);
  Tensor y = kernel::sum(x, dims, keepdim);
  if (autograd::needs_grad(x)) {
    const DimMask mask = kernel::reduction_mask(dims, x.dim(), "sum");
    autograd::record("sum", {&x}, {&y}, [mask, keepdim](Backward& bw) {
      // y = sum(x) over dims;  dx = dy broadcast back over them
      bw.add(0, expand_back(bw.grad(), bw.input_shape(0), mask, keepdim));
    });
  }
  return y;
}

Tensor mean(const Tensor& x) {
  TG_PROFILE_OP("mean", x);
  return mean(x, Dims{}, false);
}

Tensor mean(const Tensor& x, DimList dims, StrictBool keepdim) {
  TG_PROFILE_OP("mean", x);
  Tensor y = kernel::mean(x, dims, keepdim);
  if (autograd::needs_grad(x)) {
    const DimMask mask = kernel::reduction_mask(dims, x.dim(), "mean");
    const auto n = static_cast<double>(kernel::reduced_count(x.shape(), mask));
    autograd::record("mean", {&x}, {&y}, [mask, keepdim, n](Backward& bw) {
      // y = sum(x) / n over dims;  dx = dy / n broadcast back over them
      bw.add(0, tg::div(expand_back(bw.grad(), bw.input_shape(0), mask, keepdim), n));
    });
  }
  return y;
}

Tensor var(const Tensor& x) {
  TG_PROFILE_OP("var", x);
  return detail::var_dims(x, DimList{}, 1, false);
}
Tensor var(const Tensor& x, DimList dims) {
  TG_PROFILE_OP("var", x);
  return detail::var_dims(x, dims, 1, false);
}

Tensor detail::var_dims(const Tensor& x, const DimList& dims, double correction, bool keepdim) {
  Tensor y = kernel::var(x, dims, correction, keepdim);
  if (autograd::needs_grad(x)) {
    const DimMask mask = kernel::reduction_mask(dims, x.dim(), "var");
    const auto n = static_cast<double>(kernel::reduced_count(x.shape(), mask));
    autograd::record("var", {&x}, {&y}, [sx = SavedTensor(x, false), mask, keepdim, n, correction](Backward& bw) {
      // y = sum((x - m)^2) / (n - c), m = mean(x);  dx = dy * 2 (x - m) / (n - c)
      // (the m term's own gradient sums to zero).
      const Tensor x = bw.unpack(sx);
      const Tensor centered = tg::sub(x, tg::mean(x, dims_of(mask, x.dim()), /*keepdim=*/true));
      const double scale = 2.0 / std::max(0.0, n - correction);
      bw.add(0, tg::mul(tg::mul(keep_dims(bw.grad(), bw.input_shape(0), mask, keepdim), scale), centered));
    });
  }
  return y;
}

Tensor std(const Tensor& x) {
  TG_PROFILE_OP("std", x);
  return detail::std_dims(x, DimList{}, 1, false);
}
Tensor std(const Tensor& x, DimList dims) {
  TG_PROFILE_OP("std", x);
  return detail::std_dims(x, dims, 1, false);
}

Tensor detail::std_dims(const Tensor& x, const DimList& dims, double correction, bool keepdim) {
  Tensor y = kernel::std(x, dims, correction, keepdim);
  if (autograd::needs_grad(x)) {
    const DimMask mask = kernel::reduction_mask(dims, x.dim(), "std");
    const auto n = static_cast<double>(kernel::reduced_count(x.shape(), mask));
    autograd::record(
        "std", {&x}, {&y},
        [sx = SavedTensor(x, false), sy = SavedTensor(y, true), mask, keepdim, n, correction](Backward& bw) {
          // y = sqrt(var(x));  dx = dy * (x - m) / ((n - c) * y), and 0 where y == 0 (as PyTorch)
          const Tensor x = bw.unpack(sx);
          const Dims& shape = bw.input_shape(0);
          const Tensor y = keep_dims(bw.unpack(sy), shape, mask, keepdim);
          // Dividing by an infinite y gives the 0 without a NaN in any derivative.
          const Tensor y_safe = tg::where(y == 0.0, std::numeric_limits<double>::infinity(), y);
          const Tensor centered = tg::sub(x, tg::mean(x, dims_of(mask, x.dim()), /*keepdim=*/true));
          const double scale = 1.0 / std::max(0.0, n - correction);
          const Tensor g = tg::div(tg::mul(keep_dims(bw.grad(), shape, mask, keepdim), scale), y_safe);
          bw.add(0, tg::mul(g, centered));
        });
  }
  return y;
}

Tensor amax(const Tensor& x, DimList dims, StrictBool keepdim) {
  TG_PROFILE_OP("amax", x);
  return extreme(x, dims.dims(), keepdim, true, "amax");
}
Tensor amin(const Tensor& x, DimList dims, StrictBool keepdim) {
  TG_PROFILE_OP("amin", x);
  return extreme(x, dims.dims(), keepdim, false, "amin");
}
Tensor max(const Tensor& x) {
  TG_PROFILE_OP("max", x);
  return extreme(x, Dims{}, false, true, "max");
}
Tensor min(const Tensor& x) {
  TG_PROFILE_OP("min", x);
  return extreme(x, Dims{}, false, false, "min");
}

std::tuple<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, StrictBool keepdim) {
  TG_PROFILE_OP("max", x);
  return extreme_dim(x, dim, keepdim, true, "max");
}
std::tuple<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, StrictBool keepdim) {
  TG_PROFILE_OP("min", x);
  return extreme_dim(x, dim, keepdim, false, "min");
}

// Indices have no gradient: these never record.
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim, StrictBool keepdim) {
  TG_PROFILE_OP("argmax", x);
  return kernel::argmax(x, dim, keepdim);
}
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim, StrictBool keepdim) {
  TG_PROFILE_OP("argmin", x);
  return kernel::argmin(x, dim, keepdim);
}

Tensor logsumexp(const Tensor& x, DimList dims, StrictBool keepdim) {
  TG_PROFILE_OP("logsumexp", x);
  Tensor y = kernel::logsumexp(x, dims, keepdim);
  if (autograd::needs_grad(x)) {
    const DimMask mask = kernel::reduction_mask(dims, x.dim(), "logsumexp");
    autograd::record(
        "logsumexp", {&x}, {&y}, [sx = SavedTensor(x, false), sy = SavedTensor(y, true), mask, keepdim](Backward& bw) {
          // y = log(sum(exp(x)));  dx = dy * exp(x - y), the softmax of x
          const Dims& shape = bw.input_shape(0);
          const Tensor y = keep_dims(bw.unpack(sy), shape, mask, keepdim);
          bw.add(0, tg::mul(keep_dims(bw.grad(), shape, mask, keepdim), tg::exp(tg::sub(bw.unpack(sx), y))));
        });
  }
  return y;
}

Tensor prod(const Tensor& x) {
  TG_PROFILE_OP("prod", x);
  return prod_over(x, Dims{}, false);
}
Tensor prod(const Tensor& x, std::int64_t dim, StrictBool keepdim) {
  TG_PROFILE_OP("prod", x);
  return prod_over(x, Dims{wrap_dim(dim, x.dim(), "prod")}, keepdim);
}

Tensor norm(const Tensor& x) {
  TG_PROFILE_OP("norm", x);
  return detail::norm_dims(x, 2, DimList{}, false);
}
Tensor norm(const Tensor& x, DimList dims) {
  TG_PROFILE_OP("norm", x);
  return detail::norm_dims(x, 2, dims, false);
}

Tensor detail::norm_dims(const Tensor& x, double p, const DimList& dims, bool keepdim, const char* op) {
  Tensor y = kernel::norm(x, p, dims, keepdim, op);
  if (autograd::needs_grad(x)) {
    const DimMask mask = kernel::reduction_mask(dims, x.dim(), op);
    autograd::record("norm", {&x}, {&y},
                     [sx = SavedTensor(x, false), sy = SavedTensor(y, true), p, mask, keepdim](Backward& bw) {
                       // See norm_backward for each p.
                       const Dims& shape = bw.input_shape(0);
                       bw.add(0, norm_backward(keep_dims(bw.grad(), shape, mask, keepdim), bw.unpack(sx),
                                               keep_dims(bw.unpack(sy), shape, mask, keepdim), p, mask));
                     });
  }
  return y;
}

}  // namespace tg
