// Loss kernels (declared in loss.h). The class-dim losses share one row
// skeleton: rows of [N, C, S], ignored rows skipped, per-row losses reduced.
// lse is found as max + log sum exp(x - max), so no exp overflows and logits
// of magnitude 1e4 give finite results.
#include <tapegrad/core/kernels/loss.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/vector_math.h>

namespace tg::kernel {

namespace {

// Per-row scale of the incoming gradient: dy[r] (no reduction) or dy / denom.
// `dy` is contiguous; `scale` is 1 / denominator for Mean, 1 otherwise.
template <class T>
struct RowGrad {
  const T* dy;
  bool per_row;
  double scale;
  double operator()(std::int64_t r) const { return static_cast<double>(per_row ? dy[r] : dy[0]) * scale; }
};

template <class T>
RowGrad<T> row_grad(const TensorBase& dy, Reduction reduction, double denom) {
  return {dy.data_ptr<T>(), reduction == Reduction::None, reduction == Reduction::Mean ? 1.0 / denom : 1.0};
}

// The result from per-row losses: kept, summed, or summed and divided.
template <class T>
TensorBase reduce_rows(const std::vector<double>& row_loss, const Dims& loss_shape, Reduction reduction, double denom) {
  if (reduction == Reduction::None) {
    TensorBase out = make_tensor(loss_shape, dtype_of<T>());
    T* o = out.data_ptr<T>();
    for (std::size_t r = 0; r < row_loss.size(); ++r) o[r] = static_cast<T>(row_loss[r]);
    return out;
  }
  double total = 0;
  for (double v : row_loss) total += v;
  TensorBase out = make_tensor(Dims{}, dtype_of<T>());
  *out.data_ptr<T>() = static_cast<T>(reduction == Reduction::Mean ? total / denom : total);
  return out;
}

// exp(row[k * stride] - shift) for k in [k0, k0 + n) into out, n <= kExpRun:
// vec::exp's vector loops for float and double (a strided row gathered into
// out first, so the values do not depend on the layout), the C library's exp
// for 16-bit floats.
constexpr std::int64_t kExpRun = 256;

template <class T>
void row_exp(const T* row, std::int64_t stride, std::int64_t k0, std::int64_t n, T shift, T* out) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (stride == 1) return vec::exp_shifted(row + k0, out, n, shift);
    for (std::int64_t k = 0; k < n; ++k) out[k] = row[(k0 + k) * stride];
    return vec::exp_shifted(out, out, n, shift);
  } else {
    for (std::int64_t k = 0; k < n; ++k) out[k] = std::exp(row[(k0 + k) * stride] - shift);
  }
}

// The largest of a row's c classes (the shift that keeps its exps finite).
template <class T>
T row_max(const T* row, std::int64_t c, std::int64_t stride) {
  T m = row[0];
  for (std::int64_t k = 1; k < c; ++k) m = std::max(m, row[k * stride]);
  return m;
}

// Calls body(i, j, r, base) for every row r = i * S + j, whose classes start at
// base = i * C * S + j.
template <class Body>
void for_each_row(const ClassLayout& l, Body body) {
  for (std::int64_t i = 0; i < l.n; ++i)
    for (std::int64_t j = 0; j < l.s; ++j) body(i * l.s + j, i * l.c * l.s + j);
}

// Rows of at most kExpRun adjacent classes (s = 1) take their exps from
// vec::exp a block of rows at a time, up to kExpBlock elements: one call per
// row made 64 calls of 10 exps for a 10-class cross-entropy on a batch of 32,
// forward and backward (about 3 % of the seed model's training step: 56.5 ->
// 54.8 us). Each element is exp(x - shift) in T either way, so the bits do
// not change.
constexpr std::int64_t kExpBlock = 2048;
static_assert(kExpRun <= kExpBlock, "a block holds at least one row");

// body(r, base, k0, n, p, shift_r) for every row r (classes from base) and
// every run [k0, k0 + n) of its classes, rows in order, with p[j] =
// exp(x[base + (k0 + j) * s] - shift_r) and shift_r = shift(r, base). Rows
// for which skip(r) holds (ignore_index) get one call body(r, base, 0, c,
// nullptr, 0) and no exps.
template <class T, class Skip, class Shift, class Body>
void for_each_row_exps(const T* x, const ClassLayout& l, Skip skip, Shift shift, Body body) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (l.s == 1 && l.c > 0 && l.c <= kExpRun) {  // (an empty batch may have no classes)
      const std::int64_t c = l.c, per = kExpBlock / c;
      T buf[kExpBlock];
      T shifts[kExpBlock];
      for (std::int64_t r0 = 0; r0 < l.rows(); r0 += per) {
        const std::int64_t nr = std::min(per, l.rows() - r0);
        std::int64_t packed = 0;  // rows in buf, in order
        for (std::int64_t r = r0; r < r0 + nr; ++r) {
          if (skip(r)) continue;
          const T* row = x + r * c;
          shifts[packed] = shift(r, r * c);
          for (std::int64_t k = 0; k < c; ++k) buf[packed * c + k] = row[k] - shifts[packed];
          ++packed;
        }
        vec::exp(buf, buf, packed * c);
        packed = 0;
        for (std::int64_t r = r0; r < r0 + nr; ++r) {
          if (skip(r)) {
            body(r, r * c, std::int64_t{0}, c, static_cast<const T*>(nullptr), T(0));
            continue;
          }
          body(r, r * c, std::int64_t{0}, c, static_cast<const T*>(buf + packed * c), shifts[packed]);
          ++packed;
        }
      }
      return;
    }
  }
  T p[kExpRun];
  for_each_row(l, [&](std::int64_t r, std::int64_t base) {
    if (skip(r)) {
      body(r, base, std::int64_t{0}, l.c, static_cast<const T*>(nullptr), T(0));
      return;
    }
    const T sh = shift(r, base);
    for (std::int64_t k0 = 0; k0 < l.c; k0 += kExpRun) {
      const std::int64_t n = std::min(kExpRun, l.c - k0);
      row_exp(x + base, l.s, k0, n, sh, p);
      body(r, base, k0, n, static_cast<const T*>(p), sh);
    }
  });
}

// Every row's log sum_k exp(x[k]): body(r, base, lse_r) once per row, in
// order; skipped rows get 0 and compute nothing.
template <class T, class Skip, class Body>
void for_each_row_lse(const T* x, const ClassLayout& l, Skip skip, Body body) {
  double sum = 0;
  for_each_row_exps(
      x, l, skip, [&](std::int64_t, std::int64_t base) { return row_max(x + base, l.c, l.s); },
      [&](std::int64_t r, std::int64_t base, std::int64_t k0, std::int64_t n, const T* p, T m) {
        if (!p) return body(r, base, 0.0);
        if (k0 == 0) sum = 0;
        sum += lane_sum<double>(n, [p](std::int64_t k) { return static_cast<double>(p[k]); });
        if (k0 + n == l.c) body(r, base, static_cast<double>(m) + std::log(sum));
      });
}

// The skip predicate for rows that are never skipped.
constexpr auto kNoRowSkipped = [](std::int64_t) { return false; };

}  // namespace

ClassLayout class_layout(const char* op, const TensorBase& input) {
  if (input.dim() == 0) throw ShapeError(fmt::format("{}: input must have a class dim, got a scalar", op));
  if (!input.is_floating_point())
    throw DTypeError(
        fmt::format("{}: input must be floating ({}), got {}", op, kFloatingDTypeNames, dtype_name(input.dtype())));
  ClassLayout l;
  if (input.dim() == 1) {
    l.c = input.size(0);
  } else {
    l.n = input.size(0);
    l.c = input.size(1);
    l.loss_shape.push_back(l.n);
    for (int d = 2; d < input.dim(); ++d) {
      l.s *= input.size(d);
      l.loss_shape.push_back(input.size(d));
    }
  }
  // Each row reads its first class: rows without classes have no loss.
  if (l.c == 0 && l.rows() > 0)
    throw ShapeError(
        fmt::format("{}: input of shape {} has no classes (its class dim has size 0)", op, shape_str(input.sizes())));
  return l;
}

TensorBase class_weight(const char* op, const TensorBase& weight, const ClassLayout& l, DType dtype) {
  if (!weight.defined()) return {};
  if (weight.dim() != 1 || weight.size(0) != l.c)
    throw ShapeError(fmt::format("{}: weight must have shape [{}] (one value per class), got {}", op, l.c,
                                 shape_str(weight.sizes())));
  if (!weight.is_floating_point())
    throw DTypeError(fmt::format("{}: weight must be floating point, got {}", op, dtype_name(weight.dtype())));
  return contiguous(to(weight, dtype));
}

void throw_class_target_error(const char* op, const TensorBase& input, const ClassLayout& l, const TensorBase& target,
                              bool allow_probabilities) {
  std::string expected = fmt::format("int64 class indices of shape {}", shape_str(l.loss_shape));
  if (allow_probabilities) expected += fmt::format(" or float probabilities of shape {}", shape_str(input.sizes()));
  const std::string message = fmt::format("{}: target must be {}, got {} {}", op, expected, dtype_name(target.dtype()),
                                          shape_str(target.sizes()));
  // A target of an accepted shape is wrong only in its dtype (PyTorch: "expected
  // scalar type Long"); any other is wrong in its shape.
  const bool shape_ok = target.shape() == l.loss_shape || (allow_probabilities && target.shape() == input.shape());
  if (shape_ok) throw DTypeError(message);
  throw ShapeError(message);
}

TensorBase class_indices(const char* op, const TensorBase& input, const ClassLayout& l, const TensorBase& target_in,
                         std::int64_t ignore_index, bool allow_probabilities) {
  if (target_in.dtype() != kInt64 || target_in.shape() != l.loss_shape)
    throw_class_target_error(op, input, l, target_in, allow_probabilities);
  const TensorBase target = contiguous(target_in);
  const auto* t = target.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < target.numel(); ++i)
    if (t[i] != ignore_index && (t[i] < 0 || t[i] >= l.c))
      throw IndexError(
          fmt::format("{}: target {} is out of bounds for {} classes (target element {})", op, t[i], l.c, i));
  return target;
}

// ---- class indices -------------------------------------------------------------

ClassLossResult class_index_loss(const TensorBase& x, const TensorBase& target, const ClassLoss& spec) {
  const ClassLayout& l = spec.layout;
  const double eps = spec.label_smoothing;
  const TensorBase xc = contiguous(x);
  ClassLossResult result{TensorBase(), spec.log_probabilities ? TensorBase() : make_tensor({l.rows()}, x.dtype()), 0.0};
  result.loss = dispatch_floating(x.dtype(), spec.log_probabilities ? "nll_loss" : "cross_entropy", [&]<class T>() {
    const T* xd = xc.data_ptr<T>();
    const auto* y = target.data_ptr<std::int64_t>();
    const T* w = spec.weight.defined() ? spec.weight.data_ptr<T>() : nullptr;
    T* lse_d = result.lse.defined() ? result.lse.data_ptr<T>() : nullptr;
    std::vector<double> row_loss(static_cast<std::size_t>(l.rows()), 0.0);
    const double smooth = eps / static_cast<double>(l.c);
    // One row's loss given its log-sum-exp (unused with log-probabilities).
    const auto row_loss_at = [&](std::int64_t r, std::int64_t base, double lse_r) {
      if (lse_d) lse_d[r] = 0;
      if (y[r] == spec.ignore_index) return;
      const T* row = xd + base;
      const double wy = w ? static_cast<double>(w[y[r]]) : 1.0;
      result.denom += wy;
      if (spec.log_probabilities) {
        row_loss[static_cast<std::size_t>(r)] = -wy * static_cast<double>(row[y[r] * l.s]);
        return;
      }
      lse_d[r] = static_cast<T>(lse_r);
      double loss = (1 - eps) * wy * (lse_r - static_cast<double>(row[y[r] * l.s]));
      if (eps > 0) {
        double smooth_sum = 0;  // each term is >= 0: no cancellation for large logits
        for (std::int64_t k = 0; k < l.c; ++k)
          smooth_sum += (w ? static_cast<double>(w[k]) : 1.0) * (lse_r - static_cast<double>(row[k * l.s]));
        loss += smooth * smooth_sum;
      }
      row_loss[static_cast<std::size_t>(r)] = loss;
    };
    if (spec.log_probabilities) for_each_row(l, [&](std::int64_t r, std::int64_t base) { row_loss_at(r, base, 0.0); });
    else
      for_each_row_lse(
          xd, l, [&](std::int64_t r) { return y[r] == spec.ignore_index; }, row_loss_at);
    return reduce_rows<T>(row_loss, l.loss_shape, spec.reduction, result.denom);
  });
  return result;
}

TensorBase class_index_loss_backward(const TensorBase& dy, const TensorBase& x, const Dims& input_shape,
                                     const TensorBase& target, const TensorBase& lse, const ClassLoss& spec,
                                     double denom) {
  const ClassLayout& l = spec.layout;
  const double eps = spec.label_smoothing;
  const TensorBase xc = spec.log_probabilities ? TensorBase() : contiguous(x);
  const TensorBase dyc = contiguous(dy);
  TensorBase dx = make_tensor(input_shape, dy.dtype());
  dispatch_floating(dy.dtype(), spec.log_probabilities ? "nll_loss" : "cross_entropy", [&]<class T>() {
    const T* xd = xc.defined() ? xc.data_ptr<T>() : nullptr;
    const auto* y = target.data_ptr<std::int64_t>();
    const T* w = spec.weight.defined() ? spec.weight.data_ptr<T>() : nullptr;
    const T* lse_d = lse.defined() ? lse.data_ptr<T>() : nullptr;
    T* dxd = dx.data_ptr<T>();
    const RowGrad<T> g = row_grad<T>(dyc, spec.reduction, denom);
    const double smooth = eps / static_cast<double>(l.c);
    double weight_total = static_cast<double>(l.c);
    if (w) {
      weight_total = 0;
      for (std::int64_t k = 0; k < l.c; ++k) weight_total += static_cast<double>(w[k]);
    }
    if (spec.log_probabilities) {
      for_each_row(l, [&](std::int64_t r, std::int64_t base) {
        T* drow = dxd + base;
        for (std::int64_t k = 0; k < l.c; ++k) drow[k * l.s] = 0;
        if (y[r] != spec.ignore_index)
          drow[y[r] * l.s] = static_cast<T>(-g(r) * (w ? static_cast<double>(w[y[r]]) : 1.0));
      });
      return;
    }
    // softmax(x) = exp(x - lse) per run of classes, then the gradient.
    for_each_row_exps(
        xd, l, [&](std::int64_t r) { return y[r] == spec.ignore_index; },
        [&](std::int64_t r, std::int64_t) { return lse_d[r]; },
        [&](std::int64_t r, std::int64_t base, std::int64_t k0, std::int64_t n, const T* p, T) {
          T* drow = dxd + base;
          if (!p) {  // an ignored row
            for (std::int64_t k = 0; k < l.c; ++k) drow[k * l.s] = 0;
            return;
          }
          const double gr = g(r);
          if (!w && eps == 0) {  // q is one-hot and sums to 1: the general loop's values, without its branches
            for (std::int64_t j = 0; j < n; ++j) drow[(k0 + j) * l.s] = static_cast<T>(gr * static_cast<double>(p[j]));
            if (y[r] >= k0 && y[r] < k0 + n)
              drow[y[r] * l.s] = static_cast<T>(gr * (static_cast<double>(p[y[r] - k0]) - 1.0));
            return;
          }
          const double wy = w ? static_cast<double>(w[y[r]]) : 1.0;
          const double qsum = (1 - eps) * wy + smooth * weight_total;
          for (std::int64_t j = 0; j < n; ++j) {
            const std::int64_t k = k0 + j;
            double q = smooth * (w ? static_cast<double>(w[k]) : 1.0);
            if (k == y[r]) q += (1 - eps) * wy;
            drow[k * l.s] = static_cast<T>(gr * (qsum * static_cast<double>(p[j]) - q));
          }
        });
  });
  return dx;
}

std::pair<TensorBase, TensorBase> class_target_weights(const TensorBase& target, const ClassLoss& spec, DType dtype) {
  const ClassLayout& l = spec.layout;
  const double eps = spec.label_smoothing;
  TensorBase q = make_tensor({l.n, l.c, l.s}, dtype);
  TensorBase qsum = make_tensor({l.n, 1, l.s}, dtype);
  dispatch_floating(dtype, "cross_entropy", [&]<class T>() {
    const auto* y = target.data_ptr<std::int64_t>();
    const T* w = spec.weight.defined() ? spec.weight.data_ptr<T>() : nullptr;
    T* qd = q.data_ptr<T>();
    T* qs = qsum.data_ptr<T>();
    const double smooth = eps / static_cast<double>(l.c);
    for_each_row(l, [&](std::int64_t r, std::int64_t base) {
      T* row = qd + base;
      double total = 0;
      for (std::int64_t k = 0; k < l.c; ++k) {
        double v = 0;
        if (y[r] != spec.ignore_index) {
          const double wk = w ? static_cast<double>(w[k]) : 1.0;
          v = smooth * wk + (k == y[r] ? (1 - eps) * wk : 0.0);
        }
        row[k * l.s] = static_cast<T>(v);
        total += v;
      }
      qs[r] = static_cast<T>(total);
    });
  });
  return {q, qsum};
}

// ---- probabilities ---------------------------------------------------------------

ClassLossResult cross_entropy_probabilities(const TensorBase& x, const TensorBase& t, const ClassLoss& spec) {
  const ClassLayout& l = spec.layout;
  const double eps = spec.label_smoothing;
  const TensorBase xc = contiguous(x);
  const TensorBase tc = contiguous(t);
  ClassLossResult result{TensorBase(), make_tensor({l.rows()}, x.dtype()), static_cast<double>(l.rows())};
  result.loss = dispatch_floating(x.dtype(), "cross_entropy", [&]<class T>() {
    const T* xd = xc.data_ptr<T>();
    const T* td = tc.data_ptr<T>();
    const T* w = spec.weight.defined() ? spec.weight.data_ptr<T>() : nullptr;
    T* lse_d = result.lse.data_ptr<T>();
    std::vector<double> row_loss(static_cast<std::size_t>(l.rows()), 0.0);
    const double smooth = eps / static_cast<double>(l.c);
    for_each_row_lse(xd, l, kNoRowSkipped, [&](std::int64_t r, std::int64_t base, double lse_r) {
      lse_d[r] = static_cast<T>(lse_r);
      double loss = 0;
      for (std::int64_t k = 0; k < l.c; ++k) {
        const double q =
            (w ? static_cast<double>(w[k]) : 1.0) * ((1 - eps) * static_cast<double>(td[base + k * l.s]) + smooth);
        loss += q * (lse_r - static_cast<double>(xd[base + k * l.s]));
      }
      row_loss[static_cast<std::size_t>(r)] = loss;
    });
    return reduce_rows<T>(row_loss, l.loss_shape, spec.reduction, result.denom);
  });
  return result;
}

std::pair<TensorBase, TensorBase> cross_entropy_probabilities_backward(const TensorBase& dy, const TensorBase& x,
                                                                       const TensorBase& t, const TensorBase& lse,
                                                                       const ClassLoss& spec, double denom,
                                                                       bool need_dx, bool need_dt) {
  const ClassLayout& l = spec.layout;
  const double eps = spec.label_smoothing;
  const TensorBase xc = contiguous(x);
  const TensorBase tc = contiguous(t);
  const TensorBase dyc = contiguous(dy);
  TensorBase dx = need_dx ? make_tensor(x.shape(), x.dtype()) : TensorBase();
  TensorBase dt = need_dt ? make_tensor(x.shape(), x.dtype()) : TensorBase();
  dispatch_floating(x.dtype(), "cross_entropy", [&]<class T>() {
    const T* xd = xc.data_ptr<T>();
    const T* td = tc.data_ptr<T>();
    const T* w = spec.weight.defined() ? spec.weight.data_ptr<T>() : nullptr;
    const T* lse_d = lse.data_ptr<T>();
    T* dxd = dx.defined() ? dx.data_ptr<T>() : nullptr;
    T* dtd = dt.defined() ? dt.data_ptr<T>() : nullptr;
    const RowGrad<T> g = row_grad<T>(dyc, spec.reduction, denom);
    const double smooth = eps / static_cast<double>(l.c);
    // The q's sum per row, then the gradients per run of classes (with
    // softmax(x) = exp(x - lse) when x gets one).
    const auto qsum_of = [&](std::int64_t base) {
      double qsum = 0;
      for (std::int64_t k = 0; k < l.c; ++k)
        qsum += (w ? static_cast<double>(w[k]) : 1.0) * ((1 - eps) * static_cast<double>(td[base + k * l.s]) + smooth);
      return qsum;
    };
    const auto grads = [&](std::int64_t r, std::int64_t base, std::int64_t k0, std::int64_t n, const T* p,
                           double qsum) {
      const double gr = g(r);
      const T lse_r = lse_d[r];
      for (std::int64_t j = 0; j < n; ++j) {
        const std::int64_t e = base + (k0 + j) * l.s;
        const double wk = w ? static_cast<double>(w[k0 + j]) : 1.0;
        if (dxd) {
          const double q = wk * ((1 - eps) * static_cast<double>(td[e]) + smooth);
          dxd[e] = static_cast<T>(gr * (qsum * static_cast<double>(p[j]) - q));
        }
        if (dtd) dtd[e] = static_cast<T>(gr * (1 - eps) * wk * static_cast<double>(lse_r - xd[e]));
      }
    };
    if (dxd) {
      double qsum = 0;
      for_each_row_exps(
          xd, l, kNoRowSkipped, [&](std::int64_t r, std::int64_t) { return lse_d[r]; },
          [&](std::int64_t r, std::int64_t base, std::int64_t k0, std::int64_t n, const T* p, T) {
            if (k0 == 0) qsum = qsum_of(base);
            grads(r, base, k0, n, p, qsum);
          });
    } else {
      for_each_row(l, [&](std::int64_t r, std::int64_t base) { grads(r, base, 0, l.c, nullptr, 0.0); });
    }
  });
  return {dx, dt};
}

// ---- binary losses ------------------------------------------------------------------

void check_probabilities(const char* op, const TensorBase& x) {
  dispatch_floating(x.dtype(), op, [&]<class T>() {
    const TensorBase xc = contiguous(x);
    const T* xd = xc.data_ptr<T>();
    for (std::int64_t i = 0; i < xc.numel(); ++i)
      if (!(xd[i] >= 0 && xd[i] <= 1))
        throw ValueError(
            fmt::format("{}: input values must be probabilities in [0, 1], got {} (element {})", op, xd[i], i));
  });
}

TensorBase binary_cross_entropy(const TensorBase& x, const TensorBase& t) {
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "binary_cross_entropy", [&]<class T>() {
    map2<T, T, T>(out, x, t, [](T xv, T tv) {
      const T log_x = std::max(T(std::log(xv)), T(-100));
      const T log_1mx = std::max(T(std::log1p(-xv)), T(-100));
      return -(tv * log_x + (1 - tv) * log_1mx);
    });
  });
  return out;
}

std::pair<TensorBase, TensorBase> binary_cross_entropy_backward(const TensorBase& dy, const TensorBase& x,
                                                                const TensorBase& t, bool need_dx, bool need_dt) {
  TensorBase dx, dt;
  dispatch_floating(x.dtype(), "binary_cross_entropy", [&]<class T>() {
    if (need_dx) {
      dx = make_tensor(x.shape(), x.dtype());
      map3<T, T, T, T>(dx, x, t, dy,
                       [](T xv, T tv, T g) { return g * (xv - tv) / std::max(T(xv * (1 - xv)), T(1e-12)); });
    }
    if (need_dt) {
      dt = make_tensor(x.shape(), x.dtype());
      map2<T, T, T>(dt, x, dy, [](T xv, T g) {
        return g * (std::max(T(std::log1p(-xv)), T(-100)) - std::max(T(std::log(xv)), T(-100)));
      });
    }
  });
  return {dx, dt};
}

TensorBase softplus(const TensorBase& z) {
  TensorBase out = make_tensor(z.shape(), z.dtype());
  dispatch_floating(z.dtype(), "softplus", [&]<class T>() {
    map1<T, T>(out, z, [](T v) { return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))); });
  });
  return out;
}

}  // namespace tg::kernel
