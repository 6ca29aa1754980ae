// Triangles, diagonals, tiling, flips and rolls, moving dims;
// scans (cumsum, cumprod, logcumsumexp, cummax, cummin); and order
// statistics (sort, argsort, topk, kthvalue, median, msort). Kernels and
// checks: core/kernels/sort.h. Values picked by an index (sort, cummax, ...)
// get their gradient scattered back to where they came from, as gather's.
#include <algorithm>
#include <limits>
#include <string>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/views.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/index.h>
#include <tapegrad/core/kernels/math.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/kernels/sort.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

Tensor undiagonal(const Tensor& grad, const Dims& shape, std::int64_t offset, int d1, int d2);

// diagonal and undiagonal (diagonal_backward) are each other's adjoint.
Tensor diagonal_view(const Tensor& x, std::int64_t offset, std::int64_t dim1, std::int64_t dim2) {
  Tensor y = kernel::diagonal(x, offset, dim1, dim2);
  if (autograd::needs_grad(x)) {
    const int a = wrap_dim(dim1, x.dim(), "diagonal"), b = wrap_dim(dim2, x.dim(), "diagonal");
    autograd::record("diagonal", {&x}, {&y}, [offset, a, b](Backward& bw) {
      // y = the diagonal `offset` of dims (a, b);  dx = zeros(x.shape) with dy written on it
      bw.add(0, undiagonal(bw.grad(), bw.input_shape(0), offset, a, b));
    });
  }
  autograd::track_view(x, y);
  return y;
}

Tensor undiagonal(const Tensor& grad, const Dims& shape, std::int64_t offset, int d1, int d2) {
  Tensor y = kernel::diagonal_backward(grad, shape, offset, d1, d2);
  if (autograd::needs_grad(grad))
    autograd::record("diagonal_backward", {&grad}, {&y}, [offset, d1, d2](Backward& bw) {
      // y = zeros(shape) with grad on the diagonal;  dgrad = diagonal(dy)
      bw.add(0, diagonal_view(bw.grad(), offset, d1, d2));
    });
  return y;
}

// y = x's elements at `index` along d (gather). Recorded as `name`, whose
// backward scatters dy back: dx = scatter_add(zeros(x.shape), d, index, dy).
Tensor take_along(const Tensor& x, int d, const Tensor& index, const char* name) {
  Tensor y = kernel::gather(x, d, index);
  if (autograd::needs_grad(x))
    autograd::record(name, {&x}, {&y}, [d, index = SavedTensor(index, false)](Backward& bw) {
      // y = gather(x, d, index);  dx = scatter_add(zeros(x.shape), d, index, dy)
      const Tensor& dy = bw.grad();
      bw.add(0, tg::scatter_add(zeros(bw.input_shape(0), {dy.dtype()}), d, bw.unpack(index), dy));
    });
  return y;
}

// topk, kthvalue, median and trace refuse bool, as PyTorch's do (refuse_bool, core/tensor.h).

// Reversed cumulative sum along d: r_k = sum_{j >= k} g_j. Differentiable.
Tensor reverse_cumsum(const Tensor& g, int d) { return tg::flip(tg::cumsum(tg::flip(g, {d}), d), {d}); }

// Runs f on x seen as 1-D when x is 0-d (PyTorch treats a 0-d tensor as one
// element along dim 0 or -1), reshaping every output back to 0-d.
template <class F>
auto as_1d_if_scalar(const Tensor& x, std::int64_t dim, const char* op, F f) {
  const int d = wrap_dim(dim, x.dim(), op);
  if (x.dim() != 0) return f(x, d);
  auto out = f(tg::reshape(x, {1}), 0);
  if constexpr (std::is_same_v<decltype(out), Tensor>) {
    return tg::reshape(out, {});
  } else {
    auto& [a, b] = out;
    return decltype(out){tg::reshape(a, {}), tg::reshape(b, {})};
  }
}

// cumprod's backward where x has zeros, O(n) per slice and without dividing
// by one: dx_k = sum_{j >= k} dy_j prod_{i <= j, i != k} x_i. Split each
// product into its nonzero factors, W_j / w_k with w = x with its zeros set
// to 1 and W = cumprod(w), and the product of the zeros among i <= j other
// than k. The latter is written out for as many zeros as first derivatives
// of dx can see: 1 with none, the zero itself with one, 0 with two or more
// (a product of two zeros and more has value and gradient 0). With z1 and z2
// the slice's first two zeros and c_j the number of zeros at or before j:
//   x_k != 0:  dx_k = sum_{j >= k} dy_j W_j Z_j / w_k,  Z_j = 1, x_z1, 0 for c_j = 0, 1, more;
//   k == z1:   dx_k = sum_{j >= k} dy_j W_j (1, x_z2, 0 for c_j = 1, 2, more);
//   k == z2:   dx_k = sum_{j >= k} dy_j W_j (x_z1, 0 for c_j = 2, more);
//   later zeros: 0.
// Each is exact, with its first derivatives, around x, so gradgradcheck holds;
// every step is a recorded op, so the second derivative comes from these.
Tensor cumprod_backward_zeros(const Tensor& dy, const Tensor& x, int d) {
  Tensor is_zero, count;
  {
    NoGradGuard masks;                   // piecewise constant: no gradient
    is_zero = kernel::reads_as_zero(x);  // as the divisions below read x
    count = tg::cumsum(kernel::to(is_zero, kInt64), d);
  }
  const Tensor c1 = count == 1.0, c2 = count == 2.0;
  const Tensor is_z1 = tg::logical_and(is_zero, c1), is_z2 = tg::logical_and(is_zero, c2);
  // The first and second zeros of each slice (0 if there is none), keeping
  // their gradient: each slice has at most one of each.
  const Tensor x_z1 = tg::sum(tg::where(is_z1, x, 0.0), {d}, /*keepdim=*/true);
  const Tensor x_z2 = tg::sum(tg::where(is_z2, x, 0.0), {d}, /*keepdim=*/true);
  const Tensor w = tg::where(is_zero, 1.0, x);
  const Tensor a = tg::mul(dy, tg::cumprod(w, d));  // dy_j W_j
  // W runs on past the zeros, where y stops at 0, and may overflow there
  // (2^j past j = 1023): a term times a zero x_z is 0 in value even then,
  // not inf * 0 (its derivative along x_z, infinite, is taken as 0).
  const Tensor a_finite = tg::where(tg::isfinite(a), a, 0.0);
  const Tensor x1 = tg::expand(x_z1, x.shape()), x2 = tg::expand(x_z2, x.shape());
  const Tensor none = count == 0.0;
  const Tensor t_nonzero = tg::where(none, a, tg::where(c1, tg::mul(a_finite, x1), 0.0));
  const Tensor t_first = tg::where(c1, a, tg::where(c2, tg::mul(a_finite, x2), 0.0));
  const Tensor t_second = tg::where(c2, tg::mul(a_finite, x1), 0.0);
  const Tensor at_nonzero = tg::div(reverse_cumsum(t_nonzero, d), w);
  const Tensor at_first = reverse_cumsum(t_first, d);
  const Tensor at_second = reverse_cumsum(t_second, d);
  return tg::where(tg::logical_not(is_zero), at_nonzero, tg::where(is_z1, at_first, tg::where(is_z2, at_second, 0.0)));
}

// t moved one place along d, `fill` in the place it leaves: towards the end
// (forward) or towards the start.
Tensor shift_one(const Tensor& t, int d, bool forward, double fill) {
  const std::int64_t n = t.size(d);
  const Tensor pad = tg::full_like(tg::narrow(t, d, 0, 1), fill);
  return forward ? tg::cat({pad, tg::narrow(t, d, 0, n - 1)}, d) : tg::cat({tg::narrow(t, d, 1, n - 1), pad}, d);
}

// cumprod's backward where x has zeros, for a backward pass that will itself
// be differentiated (create_graph): cumprod_backward_zeros is exact with its
// first derivatives only, and a third derivative through two zeros was wrong
// ([1, 2, 1] for [2, 2, 2] at x = [0, 2, 0]). Here only recorded products
// and sums, with no division and no case for zeros, so derivatives of every
// order are exact:
//   dx_k = P_k S_k,  P_k = prod_{i < k} x_i,
//   S_k = sum_{j >= k} dy_j prod_{k < i <= j} x_i = dy_k + x_{k+1} S_{k+1},
// both scanned in log2(n) rounds of shifted operands (Hillis and Steele):
// P as products, S as the composition of the maps s -> dy_k + x_{k+1} s,
// run from the end on the flipped slices.
Tensor cumprod_backward_exact(const Tensor& dy, const Tensor& x, int d) {
  const std::int64_t n = x.size(d);
  if (n == 0) return tg::zeros_like(x);
  const auto head = [d](const Tensor& t, std::int64_t k) { return tg::narrow(t, d, 0, k); };
  const auto tail = [d, n](const Tensor& t, std::int64_t k) { return tg::narrow(t, d, k, n - k); };
  Tensor p = shift_one(x, d, /*forward=*/true, 1.0);
  for (std::int64_t k = 1; k < n; k *= 2) p = tg::cat({head(p, k), tg::mul(tail(p, k), head(p, n - k))}, d);
  // On the flipped slices: s_t = b_t + a_t s_{t-1}, with a_t = x_{k+1} for
  // t = n - 1 - k (0 at t = 0, where s_{-1} = 0 anyway).
  Tensor a = tg::flip(shift_one(x, d, /*forward=*/false, 0.0), {d});
  Tensor b = tg::flip(dy, {d});
  for (std::int64_t k = 1; k < n; k *= 2) {
    // (a, b)_t after (a, b)_{t-k}: s -> b_t + a_t (b_{t-k} + a_{t-k} s).
    const Tensor a_t = tail(a, k);
    b = tg::cat({head(b, k), tg::add(tail(b, k), tg::mul(a_t, head(b, n - k)))}, d);
    a = tg::cat({head(a, k), tg::mul(a_t, head(a, n - k))}, d);
  }
  // The scans multiply partial ranges in another order than the slice's, so
  // a range of large values may overflow where the true product is 0 or
  // finite; x's own inf or NaN makes no polynomial either. Those take the
  // first-order formula, whose values are right (higher orders through zeros
  // are then not).
  bool finite = false;
  {
    NoGradGuard check;
    finite = Tensor(kernel::isfinite(p)).all().item<bool>() && Tensor(kernel::isfinite(b)).all().item<bool>();
  }
  if (!finite) return cumprod_backward_zeros(dy, x, d);
  return tg::mul(p, tg::flip(b, {d}));
}

Tensor roll_one(const Tensor& x, std::int64_t shift, int d) {
  const std::int64_t n = x.size(d);
  if (n == 0) return tg::clone(x);
  const std::int64_t s = ((shift % n) + n) % n;
  if (s == 0) return tg::clone(x);
  return tg::cat({tg::narrow(x, d, n - s, s), tg::narrow(x, d, 0, n - s)}, d);
}

// dx_k = sum_{j >= k} dy_j e^{x_k - y_j}, summed in log space as PyTorch
// does, so that no exponential overflows however wide x's range: the positive
// and the negative parts of dy each give e^{x_k + log sum_{j >= k} e^{log|dy_j| - y_j}}.
// The masks keep log(0) out of every derivative. Differentiable (it calls
// logcumsumexp itself), so second derivatives come from the same formula.
//
// The masks cut the derivative with respect to dy where dy is exactly 0,
// though dx is linear in dy there too (d dx_k / d dy_j = e^{x_k - y_j}): a
// Hessian or hvp through a loss whose gradient has zeros (jvp's zero dummy
// gradient, a Cox likelihood's censored rows) came out wrong, without an
// error. So when the backward is itself recorded, the formula above takes
// dy detached (its derivatives in x and y), and a term is added whose value
// is exactly 0 and whose derivatives are dx's in dy: T(dy) - T(dy detached),
// with T(z) = e^{x + log sum e^{log(z + s) - y}} for a constant s > max|dy|,
// so z + s > 0 and no entry is masked. T(z) is dx(z) + dx(s), and dx(s)
// does not depend on dy, so the term carries every derivative in dy, mixed
// ones included, while the value comes from the formula above alone.
Tensor logcumsumexp_backward(const Tensor& dy_given, const Tensor& x, const Tensor& y, int d) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const auto reverse_lcse = [d](const Tensor& t) { return tg::flip(tg::logcumsumexp(tg::flip(t, {d}), d), {d}); };
  const auto part = [&](const Tensor& mask, const Tensor& magnitude) {
    // -inf where masked, and constant there: y must get no gradient through
    // those entries (-inf - y would pass it one).
    const Tensor terms = tg::where(mask, tg::sub(tg::log(tg::where(mask, magnitude, 1.0)), y), -inf);
    return tg::exp(tg::add(x, reverse_lcse(terms)));
  };
  const auto formula = [&](const Tensor& dy) { return tg::sub(part(dy > 0.0, dy), part(dy < 0.0, tg::neg(dy))); };
  // Not recorded, or nothing to differentiate in dy (a gradient penalty's
  // constant seed): the formula alone.
  if (!is_grad_enabled() || !autograd::requires_grad_of(dy_given) || dy_given.numel() == 0) return formula(dy_given);
  const Tensor dy = dy_given.detach();
  Tensor shift;
  {
    NoGradGuard constant;
    shift = tg::add(tg::mul(tg::amax(tg::abs(dy)), 2.0), 1.0);
  }
  // Where y is -inf (x's leading -inf: a masked or padded input, or the
  // masked terms above when this runs as their backward), so is every x_k
  // the term reaches, whose dx_k is 0: the term is a constant -inf there,
  // as in part(), instead of log(z + s) + inf.
  const Tensor y_neginf = kernel::isneginf(y);
  const auto shifted = [&](const Tensor& z) {
    return tg::exp(tg::add(x, reverse_lcse(tg::where(y_neginf, -inf, tg::sub(tg::log(tg::add(z, shift)), y)))));
  };
  const Tensor live = shifted(dy_given);
  // A non-finite T (an overflow) would make the 0 a NaN, and masking it would
  // not help, as its derivatives would be NaN times 0. The formula on dy
  // itself is kept there, as before: it lacks the derivative in dy only
  // where dy is 0.
  bool finite = false;
  {
    NoGradGuard check;
    finite = tg::isfinite(live).all().item<bool>();
  }
  if (!finite) return formula(dy_given);
  return tg::add(formula(dy), tg::sub(live, shifted(dy)));
}

}  // namespace

// ---- shape --------------------------------------------------------------------

Tensor tril(const Tensor& x, std::int64_t diagonal) {
  TG_PROFILE_OP("tril", x);
  Tensor y = kernel::tril(x, diagonal);
  if (autograd::needs_grad(x))
    autograd::record("tril", {&x}, {&y}, [diagonal](Backward& bw) {
      // y = x below and on the diagonal, 0 above;  dx = tril(dy)
      bw.add(0, tg::tril(bw.grad(), diagonal));
    });
  return y;
}

Tensor triu(const Tensor& x, std::int64_t diagonal) {
  TG_PROFILE_OP("triu", x);
  Tensor y = kernel::triu(x, diagonal);
  if (autograd::needs_grad(x))
    autograd::record("triu", {&x}, {&y}, [diagonal](Backward& bw) {
      // y = x above and on the diagonal, 0 below;  dx = triu(dy)
      bw.add(0, tg::triu(bw.grad(), diagonal));
    });
  return y;
}

Tensor diagonal(const Tensor& x, std::int64_t offset, std::int64_t dim1, std::int64_t dim2) {
  TG_PROFILE_OP("diagonal", x);
  return diagonal_view(x, offset, dim1, dim2);
}

Tensor diag(const Tensor& x, std::int64_t diagonal) {
  TG_PROFILE_OP("diag", x);
  if (x.dim() == 1) {
    // A square matrix with x on its diagonal `diagonal` (the adjoint of taking that diagonal).
    // INT64_MIN has no negation: refused with the other diagonals too far out.
    const bool lowest = diagonal == std::numeric_limits<std::int64_t>::min();
    const std::int64_t k = lowest ? 0 : diagonal < 0 ? -diagonal : diagonal;
    std::int64_t n = 0;
    if (lowest || add_overflows(x.size(0), k, &n))
      throw ShapeError(
          fmt::format("diag: diagonal {} is too large for a vector of shape {}", diagonal, shape_str(x.sizes())));
    return undiagonal(x, {n, n}, diagonal, 0, 1);
  }
  if (x.dim() == 2) return tg::clone(diagonal_view(x, diagonal, 0, 1));  // a copy, as PyTorch's
  throw ShapeError(fmt::format("diag: expected a 1-D or 2-D tensor, got shape {}", shape_str(x.sizes())));
}

Tensor trace(const Tensor& x) {
  TG_PROFILE_OP("trace", x);
  refuse_bool(x, "trace");
  if (x.dim() != 2) throw ShapeError(fmt::format("trace: expected a 2-D tensor, got shape {}", shape_str(x.sizes())));
  return tg::sum(diagonal_view(x, 0, 0, 1));
}

Tensor repeat(const Tensor& x, Dims repeats) {
  TG_PROFILE_OP("repeat", x);
  const int n = repeats.size();
  if (n < x.dim())
    throw ShapeError(fmt::format("repeat: {} repeats {} for a tensor of shape {}; give at least one per dimension", n,
                                 shape_str(repeats), shape_str(x.sizes())));
  if (n > kMaxDims)
    throw ShapeError(fmt::format("repeat: {} repeats {} exceed the {} dimensions a tensor may have", n,
                                 shape_str(repeats), kMaxDims));
  // x's shape with leading 1s up to n dims, and the result's.
  Dims padded, out;
  for (int i = 0; i < n; ++i) {
    if (repeats[i] < 0)
      throw ValueError(fmt::format("repeat: repeats {} hold the negative count {}", shape_str(repeats), repeats[i]));
    const int xd = i - (n - x.dim());
    const std::int64_t s = xd < 0 ? 1 : x.size(xd);
    padded.push_back(s);
    std::int64_t m = 0;
    if (mul_overflows(repeats[i], s, &m))
      throw ShapeError(
          fmt::format("repeat: repeats {} of shape {} overflow int64", shape_str(repeats), shape_str(x.sizes())));
    out.push_back(m);
  }
  kernel::check_output_size("repeat", out);
  if (2 * n > kMaxDims) {
    // Past 4 dims the pairs below would need more than kMaxDims: one dim at
    // a time, as r copies side by side (none: an empty slice).
    Tensor y = tg::reshape(x, padded);
    bool copied = false;  // as PyTorch's, the result never shares x's memory
    for (int i = 0; i < n; ++i) {
      if (repeats[i] == 1) continue;
      y = repeats[i] == 0 ? tg::narrow(y, i, 0, 0) : tg::cat(std::vector<Tensor>(repeats[i], y), i);
      copied = repeats[i] != 0;
    }
    return copied ? y : tg::clone(y);
  }
  // Each dim s becomes [r, s] expanded from [1, s], then merged: out[i] = x[i mod s].
  Dims pairs, expanded;
  for (int i = 0; i < n; ++i) {
    pairs.push_back(1);
    pairs.push_back(padded[i]);
    expanded.push_back(repeats[i]);
    expanded.push_back(padded[i]);
  }
  return tg::reshape(tg::expand(tg::reshape(x, pairs), expanded), out);
}

Tensor flip(const Tensor& x, Dims dims) {
  TG_PROFILE_OP("flip", x);
  Tensor y = kernel::flip(x, dims);
  if (autograd::needs_grad(x))
    autograd::record("flip", {&x}, {&y}, [dims](Backward& bw) {
      // y = x reversed along dims;  dx = dy reversed along them
      bw.add(0, tg::flip(bw.grad(), dims));
    });
  return y;
}

Tensor roll(const Tensor& x, Dims shifts, Dims dims) {
  TG_PROFILE_OP("roll", x);
  if (dims.empty()) {
    if (shifts.size() != 1)
      throw ShapeError(fmt::format("roll: without dims, expected one shift, got {} (tensor of shape {})",
                                   shape_str(shifts), shape_str(x.sizes())));
    return tg::reshape(roll_one(tg::flatten(x), shifts[0], 0), x.shape());
  }
  if (shifts.size() != dims.size())
    throw ShapeError(fmt::format("roll: {} shifts {} but {} dims {} (tensor of shape {}); they must pair up",
                                 shifts.size(), shape_str(shifts), dims.size(), shape_str(dims), shape_str(x.sizes())));
  Tensor y = x;
  for (int i = 0; i < dims.size(); ++i) {
    if (x.dim() == 0) {
      wrap_dim(dims[i], 0, "roll");
      y = tg::clone(y);
      continue;
    }
    y = roll_one(y, shifts[i], wrap_dim(dims[i], x.dim(), "roll"));
  }
  return y;
}

Tensor movedim(const Tensor& x, Dims source, Dims destination) {
  TG_PROFILE_OP("movedim", x);
  const int n = x.dim();
  if (source.size() != destination.size())
    throw ShapeError(fmt::format("movedim: {} source dims {} but {} destination dims {} (tensor of shape {})",
                                 source.size(), shape_str(source), destination.size(), shape_str(destination),
                                 shape_str(x.sizes())));
  std::array<int, kMaxDims> order{};
  std::array<bool, kMaxDims> src_used{}, dst_used{};
  order.fill(-1);
  for (int i = 0; i < source.size(); ++i) {
    const int s = wrap_dim(source[i], n, "movedim"), t = wrap_dim(destination[i], n, "movedim");
    if (src_used[static_cast<std::size_t>(s)] || dst_used[static_cast<std::size_t>(t)])
      throw ValueError(fmt::format("movedim: repeated dim in source {} or destination {} (tensor of shape {})",
                                   shape_str(source), shape_str(destination), shape_str(x.sizes())));
    src_used[static_cast<std::size_t>(s)] = dst_used[static_cast<std::size_t>(t)] = true;
    order[static_cast<std::size_t>(t)] = s;
  }
  if (n == 0) return tg::reshape(x, {});  // a view of the one element, as PyTorch
  // The other dims fill the free places in their order.
  int next = 0;
  Dims perm;
  for (int t = 0; t < n; ++t) {
    if (order[static_cast<std::size_t>(t)] < 0) {
      while (src_used[static_cast<std::size_t>(next)]) ++next;
      order[static_cast<std::size_t>(t)] = next++;
    }
    perm.push_back(order[static_cast<std::size_t>(t)]);
  }
  return tg::permute(x, perm);
}

Tensor movedim(const Tensor& x, std::int64_t source, std::int64_t destination) {
  TG_PROFILE_OP("movedim", x);
  return movedim(x, Dims{source}, Dims{destination});
}

Tensor unflatten(const Tensor& x, std::int64_t dim, Dims sizes) {
  TG_PROFILE_OP("unflatten", x);
  if (x.dim() == 0) throw ShapeError("unflatten: cannot unflatten a 0-d tensor");
  const int d = wrap_dim(dim, x.dim(), "unflatten");
  if (sizes.empty())
    throw ShapeError(
        fmt::format("unflatten: sizes must be non-empty (dimension {} of shape {})", d, shape_str(x.sizes())));
  if (x.dim() - 1 + sizes.size() > kMaxDims)
    throw ShapeError(fmt::format("unflatten: shape {} with dimension {} split into {} has too many dimensions",
                                 shape_str(x.sizes()), d, shape_str(sizes)));
  Dims inner;
  try {
    inner = kernel::infer_size(sizes, x.size(d), "unflatten");
  } catch (const ShapeError& e) {
    throw ShapeError(fmt::format("unflatten: sizes {} do not hold dimension {} of shape {} ({})", shape_str(sizes), d,
                                 shape_str(x.sizes()), e.what()));
  }
  Dims shape;
  for (int i = 0; i < d; ++i) shape.push_back(x.size(i));
  for (int i = 0; i < inner.size(); ++i) shape.push_back(inner[i]);
  for (int i = d + 1; i < x.dim(); ++i) shape.push_back(x.size(i));
  return tg::reshape(x, shape);
}

std::vector<Tensor> meshgrid(const std::vector<Tensor>& tensors, std::string_view indexing) {
  TG_PROFILE_OP("meshgrid", tensors);
  if (indexing != "ij" && indexing != "xy")
    throw ValueError(fmt::format("meshgrid: indexing must be \"ij\" or \"xy\", got \"{}\"", indexing));
  if (tensors.empty()) throw ValueError("meshgrid: expected a non-empty list of tensors");
  const int n = static_cast<int>(tensors.size());
  if (n > kMaxDims)
    throw ShapeError(
        fmt::format("meshgrid: {} tensors make more dimensions than the {} a tensor may have", n, kMaxDims));
  for (int i = 0; i < n; ++i) {
    if (tensors[static_cast<std::size_t>(i)].dim() > 1)
      throw ShapeError(fmt::format("meshgrid: tensor {} has shape {}; expected 0-d or 1-D tensors", i,
                                   shape_str(tensors[static_cast<std::size_t>(i)].sizes())));
    if (tensors[static_cast<std::size_t>(i)].dtype() != tensors[0].dtype())
      throw DTypeError(fmt::format("meshgrid: tensor {} is {} but tensor 0 is {}; all must have one dtype", i,
                                   dtype_name(tensors[static_cast<std::size_t>(i)].dtype()),
                                   dtype_name(tensors[0].dtype())));
  }
  // "xy" swaps the roles of the first two: tensor 0 varies along dim 1.
  auto place = [&](int i) { return indexing == "xy" && n >= 2 && i < 2 ? 1 - i : i; };
  Dims shape = Dims::filled(n, 1);
  for (int i = 0; i < n; ++i) shape[place(i)] = tensors[static_cast<std::size_t>(i)].numel();
  std::vector<Tensor> out;
  for (int i = 0; i < n; ++i) {
    Dims one = Dims::filled(n, 1);
    one[place(i)] = shape[place(i)];
    out.push_back(tg::expand(tg::reshape(tensors[static_cast<std::size_t>(i)], one), shape));
  }
  return out;
}

// ---- scans --------------------------------------------------------------------

Tensor cumsum(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("cumsum", x);
  Tensor y = kernel::cumsum(x, dim);
  if (autograd::needs_grad(x)) {
    const int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), "cumsum");
    autograd::record("cumsum", {&x}, {&y}, [d](Backward& bw) {
      // y_k = sum_{i <= k} x_i;  dx_k = sum_{j >= k} dy_j
      bw.add(0, reverse_cumsum(bw.grad(), d));
    });
  }
  return y;
}

Tensor cumprod(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("cumprod", x);
  Tensor y = kernel::cumprod(x, dim);
  if (autograd::needs_grad(x)) {
    const int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), "cumprod");
    autograd::record("cumprod", {&x}, {&y}, [d, sx = SavedTensor(x, false), sy = SavedTensor(y, true)](Backward& bw) {
      // y_j = prod_{i <= j} x_i;  dx_k = sum_{j >= k} dy_j prod_{i <= j, i != k} x_i
      const Tensor& dy = bw.grad();
      const Tensor x = bw.unpack(sx);
      if (x.dim() == 0) {
        bw.add(0, dy);
        return;
      }
      bool has_zero = false;
      {
        NoGradGuard data;
        // As the division by x reads it: a subnormal is a zero while kernels flush.
        has_zero = Tensor(kernel::reads_as_zero(x)).any().item<bool>();
      }
      if (!has_zero) {
        // Without zeros: dx_k = (sum_{j >= k} dy_j y_j) / x_k.
        bw.add(0, tg::div(reverse_cumsum(tg::mul(dy, bw.unpack(sy)), d), x));
        return;
      }
      bw.add(0, is_grad_enabled() ? cumprod_backward_exact(dy, x, d) : cumprod_backward_zeros(dy, x, d));
    });
  }
  return y;
}

Tensor logcumsumexp(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("logcumsumexp", x);
  Tensor y = kernel::logcumsumexp(x, dim);
  if (autograd::needs_grad(x)) {
    const int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), "logcumsumexp");
    autograd::record("logcumsumexp", {&x}, {&y},
                     [d, sx = SavedTensor(x, false), sy = SavedTensor(y, true)](Backward& bw) {
                       // y_j = log sum_{i <= j} e^{x_i};  dx_k = sum_{j >= k} dy_j e^{x_k - y_j}
                       bw.add(0, logcumsumexp_backward(bw.grad(), bw.unpack(sx), bw.unpack(sy), d));
                     });
  }
  return y;
}

namespace {

std::tuple<Tensor, Tensor> cumulative_extreme(const Tensor& x, std::int64_t dim, bool is_max, const char* name) {
  auto [values, indices] = is_max ? kernel::cummax(x, dim) : kernel::cummin(x, dim);
  Tensor v = values, i = indices;
  if (autograd::needs_grad(x)) {
    const int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), name);
    autograd::record(name, {&x}, {&v}, [d, si = SavedTensor(i, false)](Backward& bw) {
      // y_j = x_{i_j};  dx = scatter_add(zeros(x.shape), d, i, dy)
      const Tensor& dy = bw.grad();
      if (dy.dim() == 0) {
        bw.add(0, dy);
        return;
      }
      bw.add(0, tg::scatter_add(zeros(bw.input_shape(0), {dy.dtype()}), d, bw.unpack(si), dy));
    });
  }
  return {v, i};
}

}  // namespace

std::tuple<Tensor, Tensor> cummax(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("cummax", x);
  return cumulative_extreme(x, dim, true, "cummax");
}
std::tuple<Tensor, Tensor> cummin(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("cummin", x);
  return cumulative_extreme(x, dim, false, "cummin");
}

// ---- order statistics ---------------------------------------------------------

std::tuple<Tensor, Tensor> sort(const Tensor& x, std::int64_t dim, StrictBool descending, StrictBool stable) {
  TG_PROFILE_OP("sort", x);
  (void)stable;  // every sort here is stable, which satisfies both
  return as_1d_if_scalar(x, dim, "sort", [&](const Tensor& t, int d) {
    const Tensor idx = kernel::sort_indices(t, d, descending);
    return std::tuple<Tensor, Tensor>{take_along(t, d, idx, "sort"), idx};
  });
}

Tensor argsort(const Tensor& x, std::int64_t dim, StrictBool descending, StrictBool stable) {
  TG_PROFILE_OP("argsort", x);
  (void)stable;
  wrap_dim(dim, x.dim(), "argsort");
  return kernel::sort_indices(x, dim, descending);
}

Tensor msort(const Tensor& x) {
  TG_PROFILE_OP("msort", x);
  return std::get<0>(sort(x, 0));
}

std::tuple<Tensor, Tensor> topk(const Tensor& x, std::int64_t k, std::int64_t dim, StrictBool largest,
                                StrictBool sorted) {
  TG_PROFILE_OP("topk", x);
  (void)sorted;  // always sorted, which PyTorch's sorted=false allows
  refuse_bool(x, "topk");
  // A 0-d tensor cannot hold zero elements: PyTorch 1.13 gives its k = 0 the
  // value and index 0, as k = 1 (and the gradient with them), not an error.
  if (x.dim() == 0 && k == 0) k = 1;
  return as_1d_if_scalar(x, dim, "topk", [&](const Tensor& t, int d) {
    if (k < 0 || k > t.size(d))
      throw IndexError(fmt::format("topk: k = {} is out of range for dimension {} of size {} (shape {})", k, d,
                                   t.size(d), shape_str(x.sizes())));
    const Tensor idx = kernel::sorted_range_indices(t, d, 0, k, largest);
    return std::tuple<Tensor, Tensor>{take_along(t, d, idx, "topk"), idx};
  });
}

std::tuple<Tensor, Tensor> kthvalue(const Tensor& x, std::int64_t k, std::int64_t dim, StrictBool keepdim) {
  TG_PROFILE_OP("kthvalue", x);
  refuse_bool(x, "kthvalue");
  return as_1d_if_scalar(x, dim, "kthvalue", [&](const Tensor& t, int d) {
    if (k < 1 || k > t.size(d))
      throw IndexError(
          fmt::format("kthvalue: k = {} is out of range for dimension {} of size {} (shape {}); "
                      "expected 1 <= k <= {}",
                      k, d, t.size(d), shape_str(x.sizes()), t.size(d)));
    const Tensor idx = kernel::sorted_range_indices(t, d, k - 1, k, false);
    Tensor v = take_along(t, d, idx, "kthvalue");
    if (keepdim || x.dim() == 0) return std::tuple<Tensor, Tensor>{v, idx};
    return std::tuple<Tensor, Tensor>{tg::squeeze(v, d), kernel::squeeze(idx, d)};
  });
}

namespace {

// The lower median's index along d (keepdim), or the first NaN's, as PyTorch.
Tensor median_index(const Tensor& t, int d) {
  const std::int64_t lower = (t.size(d) - 1) / 2;
  Tensor idx = kernel::sorted_range_indices(t, d, lower, lower + 1, false);
  if (!t.is_floating_point()) return idx;
  // argmax of isnan is the first NaN's index, or 0 in a slice without NaN.
  const TensorBase nan = kernel::to(tg::isnan(t), kInt64);
  const TensorBase first_nan = kernel::argmax(nan, d, true);
  const Tensor any_nan = kernel::to(kernel::gather(nan, d, first_nan), kBool);
  return tg::where(any_nan, kernel::to(first_nan, kFloat64), kernel::to(idx, kFloat64)).to(kInt64);
}

}  // namespace

Tensor median(const Tensor& x) {
  TG_PROFILE_OP("median", x);
  refuse_bool(x, "median");
  if (x.numel() == 0) {
    if (!x.is_floating_point())
      throw IndexError(fmt::format("median: cannot take the median of an empty {} tensor of shape {}",
                                   dtype_name(x.dtype()), shape_str(x.sizes())));
    // NaN, recorded as PyTorch's: a backward through it gives x (empty) its gradient.
    return tg::mul(tg::sum(x), std::numeric_limits<double>::quiet_NaN());
  }
  // As PyTorch's, the gradient of the median of everything is shared evenly
  // among the elements equal to it (NaN among the NaNs), as max()'s is; the
  // median along a dim sends it to the returned index only.
  const TensorBase flat = kernel::reshape(x, {-1});
  Tensor y = kernel::reshape(kernel::gather(flat, 0, median_index(flat, 0)), {});
  if (autograd::needs_grad(x))
    autograd::record("median", {&x}, {&y}, [sx = SavedTensor(x, false), sy = SavedTensor(y, true)](Backward& bw) {
      // y = the median of x;  dx = dy * (x == y) / (number of elements equal to y)
      const Tensor x = bw.unpack(sx);
      const TensorBase y_kept = kernel::reshape(bw.unpack(sy), Dims::filled(x.dim(), 1));
      const kernel::DimMask all = kernel::reduction_mask(Dims{}, x.dim(), "median");
      bw.add(0, tg::mul(bw.grad(), Tensor(kernel::tie_weights(x, y_kept, all))));
    });
  return y;
}

std::tuple<Tensor, Tensor> median(const Tensor& x, std::int64_t dim, StrictBool keepdim) {
  TG_PROFILE_OP("median", x);
  refuse_bool(x, "median");
  return as_1d_if_scalar(x, dim, "median", [&](const Tensor& t, int d) {
    if (t.size(d) == 0)
      throw IndexError(
          fmt::format("median: dimension {} of shape {} is empty; there is no median", d, shape_str(x.sizes())));
    const Tensor idx = median_index(t, d);
    Tensor v = take_along(t, d, idx, "median");
    if (keepdim || x.dim() == 0) return std::tuple<Tensor, Tensor>{v, idx};
    return std::tuple<Tensor, Tensor>{tg::squeeze(v, d), kernel::squeeze(idx, d)};
  });
}

}  // namespace tg
