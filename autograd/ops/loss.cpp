// The fused losses: cross_entropy, nll_loss, binary_cross_entropy and
// binary_cross_entropy_with_logits (declared in nn/loss.h).
//
// Class-dim losses see their input [N, C, d1, ...] as [N, C, S] with
// S = d1 * ...; a row is one (n, s) pair and its C values sit S apart.
//
// Each backward has two paths. With grad mode off (the usual backward) a loop
// writes the gradient directly. With grad mode on (create_graph) the same
// formula is built from differentiable ops, so that second derivatives work.
#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/nn/loss.h>

namespace tg::nn::functional {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

struct ClassLayout {
  std::int64_t n = 1, c = 0, s = 1;
  Dims loss_shape;  // the input's shape without the class dim
  std::int64_t rows() const { return n * s; }
};

ClassLayout class_layout(const char* op, const Tensor& input) {
  if (input.dim() == 0) throw ShapeError(fmt::format("{}: input must have a class dim, got a scalar", op));
  if (!input.is_floating_point())
    throw DTypeError(fmt::format("{}: input must be float32 or float64, got {}", op, dtype_name(input.dtype())));
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
    throw ShapeError(fmt::format("{}: input of shape {} has no classes (its class dim has size 0)", op,
                                 shape_str(input.sizes())));
  return l;
}

// The class weights as a contiguous tensor of `dtype`, or undefined.
Tensor class_weight(const char* op, const Tensor& weight, const ClassLayout& l, DType dtype) {
  if (!weight.defined()) return {};
  if (weight.dim() != 1 || weight.size(0) != l.c)
    throw ShapeError(fmt::format("{}: weight must have shape [{}] (one value per class), got {}", op, l.c,
                                 shape_str(weight.sizes())));
  if (!weight.is_floating_point())
    throw DTypeError(fmt::format("{}: weight must be floating point, got {}", op, dtype_name(weight.dtype())));
  return kernel::contiguous(kernel::to(weight, dtype));
}

// Class indices must lie in [0, C) unless they equal ignore_index.
void check_class_indices(const char* op, const Tensor& target, std::int64_t classes, std::int64_t ignore_index) {
  const auto* t = target.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < target.numel(); ++i)
    if (t[i] != ignore_index && (t[i] < 0 || t[i] >= classes))
      throw IndexError(
          fmt::format("{}: target {} is out of bounds for {} classes (target element {})", op, t[i], classes, i));
}

// Per-row scale of the incoming gradient: dy[r] (no reduction) or dy / denom.
// `dy` is contiguous; `scale` is 1 / denominator for Mean, 1 otherwise.
template <class T>
struct RowGrad {
  const T* dy;
  bool per_row;
  double scale;
  double operator()(std::int64_t r) const { return static_cast<double>(per_row ? dy[r] : dy[0]) * scale; }
};

double reduction_scale(Reduction reduction, double denom) { return reduction == Reduction::Mean ? 1.0 / denom : 1.0; }

// The result from per-row losses: kept, summed, or summed and divided.
template <class T>
Tensor reduce_rows(const std::vector<double>& row_loss, const Dims& loss_shape, Reduction reduction, double denom) {
  if (reduction == Reduction::None) {
    Tensor out = make_tensor(loss_shape, dtype_of<T>());
    T* o = out.data_ptr<T>();
    for (std::size_t r = 0; r < row_loss.size(); ++r) o[r] = static_cast<T>(row_loss[r]);
    return out;
  }
  double total = 0;
  for (double v : row_loss) total += v;
  Tensor out = make_tensor(Dims{}, dtype_of<T>());
  *out.data_ptr<T>() = static_cast<T>(reduction == Reduction::Mean ? total / denom : total);
  return out;
}

// The gradient's per-row factor as a tensor broadcasting against [N, C, S],
// from differentiable ops (the create_graph path).
Tensor row_grad_tensor(const Tensor& dy, const ClassLayout& l, Reduction reduction, double denom) {
  if (reduction == Reduction::None) return tg::reshape(dy, {l.n, 1, l.s});
  return reduction == Reduction::Mean ? tg::div(dy, denom) : dy;
}

// Dense soft targets for class indices: q[n, c, s] = (1 - eps) w[y] [c == y]
// + (eps / C) w[c], zero on ignored rows, and qsum[n, 1, s] = sum_c q.
std::pair<Tensor, Tensor> class_target_weights(const Tensor& target, const Tensor& weight, const ClassLayout& l,
                                               std::int64_t ignore_index, double eps, DType dtype) {
  Tensor q = make_tensor({l.n, l.c, l.s}, dtype);
  Tensor qsum = make_tensor({l.n, 1, l.s}, dtype);
  dispatch_floating(dtype, "cross_entropy", [&]<class T>() {
    const auto* y = target.data_ptr<std::int64_t>();
    const T* w = weight.defined() ? weight.data_ptr<T>() : nullptr;
    T* qd = q.data_ptr<T>();
    T* qs = qsum.data_ptr<T>();
    const double smooth = eps / static_cast<double>(l.c);
    for (std::int64_t i = 0; i < l.n; ++i)
      for (std::int64_t j = 0; j < l.s; ++j) {
        const std::int64_t r = i * l.s + j;
        T* row = qd + i * l.c * l.s + j;
        double total = 0;
        for (std::int64_t k = 0; k < l.c; ++k) {
          double v = 0;
          if (y[r] != ignore_index) {
            const double wk = w ? static_cast<double>(w[k]) : 1.0;
            v = smooth * wk + (k == y[r] ? (1 - eps) * wk : 0.0);
          }
          row[k * l.s] = static_cast<T>(v);
          total += v;
        }
        qs[r] = static_cast<T>(total);
      }
  });
  return {q, qsum};
}

std::string target_error(const char* op, const Tensor& input, const ClassLayout& l, const Tensor& target,
                         bool allow_probabilities) {
  std::string expected = fmt::format("int64 class indices of shape {}", shape_str(l.loss_shape));
  if (allow_probabilities) expected += fmt::format(" or float probabilities of shape {}", shape_str(input.sizes()));
  return fmt::format("{}: target must be {}, got {} {}", op, expected, dtype_name(target.dtype()),
                     shape_str(target.sizes()));
}

// ---- cross-entropy ---------------------------------------------------------
//
// Per row, with p = softmax(x), log p = x - lse(x) and soft targets q_c:
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
// Each row's gradient is then scaled by dy (no reduction), dy (sum) or
// dy / denom (mean). lse is found as max + log sum exp(x - max), so no
// exp overflows and logits of magnitude 1e4 give finite results.

Tensor cross_entropy_class(const Tensor& x, const Tensor& target_in, const Tensor& weight_in, std::int64_t ignore_index,
                           double eps, Reduction reduction, const ClassLayout& l) {
  const char* op = "cross_entropy";
  const Tensor target = kernel::contiguous(target_in);
  check_class_indices(op, target, l.c, ignore_index);
  const Tensor weight = class_weight(op, weight_in, l, x.dtype());
  const Tensor xc = kernel::contiguous(x);
  Tensor lse = make_tensor({l.rows()}, x.dtype());
  double denom = 0;
  Tensor out = dispatch_floating(x.dtype(), op, [&]<class T>() {
    const T* xd = xc.data_ptr<T>();
    const auto* y = target.data_ptr<std::int64_t>();
    const T* w = weight.defined() ? weight.data_ptr<T>() : nullptr;
    T* lse_d = lse.data_ptr<T>();
    std::vector<double> row_loss(static_cast<std::size_t>(l.rows()), 0.0);
    const double smooth = eps / static_cast<double>(l.c);
    for (std::int64_t i = 0; i < l.n; ++i)
      for (std::int64_t j = 0; j < l.s; ++j) {
        const std::int64_t r = i * l.s + j;
        lse_d[r] = 0;
        if (y[r] == ignore_index) continue;
        const T* row = xd + i * l.c * l.s + j;
        T m = row[0];
        for (std::int64_t k = 1; k < l.c; ++k) m = std::max(m, row[k * l.s]);
        double sum = 0;
        for (std::int64_t k = 0; k < l.c; ++k) sum += static_cast<double>(std::exp(row[k * l.s] - m));
        const double lse_r = static_cast<double>(m) + std::log(sum);
        lse_d[r] = static_cast<T>(lse_r);
        const double wy = w ? static_cast<double>(w[y[r]]) : 1.0;
        double loss = (1 - eps) * wy * (lse_r - static_cast<double>(row[y[r] * l.s]));
        if (eps > 0) {
          double smooth_sum = 0;  // each term is >= 0: no cancellation for large logits
          for (std::int64_t k = 0; k < l.c; ++k)
            smooth_sum += (w ? static_cast<double>(w[k]) : 1.0) * (lse_r - static_cast<double>(row[k * l.s]));
          loss += smooth * smooth_sum;
        }
        row_loss[static_cast<std::size_t>(r)] = loss;
        denom += wy;
      }
    return reduce_rows<T>(row_loss, l.loss_shape, reduction, denom);
  });

  if (autograd::needs_grad(x)) {
    autograd::record(
        "cross_entropy", {&x}, {&out},
        [sx = SavedTensor(x, false), st = SavedTensor(target, false), weight, lse, l, ignore_index, eps, reduction,
         denom](Backward& bw) {
          // loss_r = sum_c q_rc (lse_r - x_rc);  dx_rc = g_r ((sum_c q_rc) p_rc - q_rc)   [N, C, S]
          const Tensor x = bw.unpack(sx);
          const Tensor target = bw.unpack(st);
          const Tensor& dy = bw.grad();
          if (is_grad_enabled()) {
            auto [q, qsum] = class_target_weights(target, weight, l, ignore_index, eps, x.dtype());
            const Tensor p = tg::softmax(tg::reshape(x, {l.n, l.c, l.s}), 1);
            const Tensor dx = tg::mul(row_grad_tensor(dy, l, reduction, denom), tg::sub(tg::mul(qsum, p), q));
            bw.add(0, tg::reshape(dx, x.shape()));
            return;
          }
          const Tensor xc = kernel::contiguous(x);
          const Tensor dyc = kernel::contiguous(dy);
          Tensor dx = make_tensor(x.shape(), x.dtype());
          dispatch_floating(x.dtype(), "cross_entropy", [&]<class T>() {
            const T* xd = xc.data_ptr<T>();
            const auto* y = target.data_ptr<std::int64_t>();
            const T* w = weight.defined() ? weight.data_ptr<T>() : nullptr;
            const T* lse_d = lse.data_ptr<T>();
            T* dxd = dx.data_ptr<T>();
            const RowGrad<T> g{dyc.data_ptr<T>(), reduction == Reduction::None, reduction_scale(reduction, denom)};
            const double smooth = eps / static_cast<double>(l.c);
            double weight_total = static_cast<double>(l.c);
            if (w) {
              weight_total = 0;
              for (std::int64_t k = 0; k < l.c; ++k) weight_total += static_cast<double>(w[k]);
            }
            for (std::int64_t i = 0; i < l.n; ++i)
              for (std::int64_t j = 0; j < l.s; ++j) {
                const std::int64_t r = i * l.s + j;
                const T* row = xd + i * l.c * l.s + j;
                T* drow = dxd + i * l.c * l.s + j;
                if (y[r] == ignore_index) {
                  for (std::int64_t k = 0; k < l.c; ++k) drow[k * l.s] = 0;
                  continue;
                }
                const double wy = w ? static_cast<double>(w[y[r]]) : 1.0;
                const double qsum = (1 - eps) * wy + smooth * weight_total;
                const double gr = g(r);
                const T lse_r = lse_d[r];
                for (std::int64_t k = 0; k < l.c; ++k) {
                  const double p = static_cast<double>(std::exp(row[k * l.s] - lse_r));
                  double q = smooth * (w ? static_cast<double>(w[k]) : 1.0);
                  if (k == y[r]) q += (1 - eps) * wy;
                  drow[k * l.s] = static_cast<T>(gr * (qsum * p - q));
                }
              }
          });
          bw.add(0, dx);
        });
  }
  return out;
}

Tensor cross_entropy_probabilities(const Tensor& x, const Tensor& t, const Tensor& weight_in, double eps,
                                   Reduction reduction, const ClassLayout& l) {
  const char* op = "cross_entropy";
  const Tensor weight = class_weight(op, weight_in, l, x.dtype());
  const Tensor xc = kernel::contiguous(x);
  const Tensor tc = kernel::contiguous(t);
  Tensor lse = make_tensor({l.rows()}, x.dtype());
  const double denom = static_cast<double>(l.rows());
  Tensor out = dispatch_floating(x.dtype(), op, [&]<class T>() {
    const T* xd = xc.data_ptr<T>();
    const T* td = tc.data_ptr<T>();
    const T* w = weight.defined() ? weight.data_ptr<T>() : nullptr;
    T* lse_d = lse.data_ptr<T>();
    std::vector<double> row_loss(static_cast<std::size_t>(l.rows()), 0.0);
    const double smooth = eps / static_cast<double>(l.c);
    for (std::int64_t i = 0; i < l.n; ++i)
      for (std::int64_t j = 0; j < l.s; ++j) {
        const std::int64_t r = i * l.s + j;
        const std::int64_t base = i * l.c * l.s + j;
        T m = xd[base];
        for (std::int64_t k = 1; k < l.c; ++k) m = std::max(m, xd[base + k * l.s]);
        double sum = 0;
        for (std::int64_t k = 0; k < l.c; ++k) sum += static_cast<double>(std::exp(xd[base + k * l.s] - m));
        const double lse_r = static_cast<double>(m) + std::log(sum);
        lse_d[r] = static_cast<T>(lse_r);
        double loss = 0;
        for (std::int64_t k = 0; k < l.c; ++k) {
          const double q =
              (w ? static_cast<double>(w[k]) : 1.0) * ((1 - eps) * static_cast<double>(td[base + k * l.s]) + smooth);
          loss += q * (lse_r - static_cast<double>(xd[base + k * l.s]));
        }
        row_loss[static_cast<std::size_t>(r)] = loss;
      }
    return reduce_rows<T>(row_loss, l.loss_shape, reduction, denom);
  });

  if (autograd::needs_grad(x, t)) {
    autograd::record(
        "cross_entropy", {&x, &t}, {&out},
        [sx = SavedTensor(x, false), st = SavedTensor(t, false), weight, lse, l, eps, reduction, denom](Backward& bw) {
          // loss_r = sum_c q_rc (lse_r - x_rc), q_rc = w_c ((1 - eps) t_rc + eps / C)
          // dx_rc = g_r ((sum_c q_rc) p_rc - q_rc);  dt_rc = g_r (1 - eps) w_c (lse_r - x_rc)   [N, C, S]
          const Tensor x = bw.unpack(sx);
          const Tensor t = bw.unpack(st);
          const Tensor& dy = bw.grad();
          if (is_grad_enabled()) {
            const Tensor x3 = tg::reshape(x, {l.n, l.c, l.s});
            const Tensor g = row_grad_tensor(dy, l, reduction, denom);
            const Tensor w3 = weight.defined() ? tg::reshape(weight, {1, l.c, 1}) : Tensor();
            if (bw.needs(0)) {
              Tensor q = tg::add(tg::mul(tg::reshape(t, {l.n, l.c, l.s}), 1 - eps), eps / static_cast<double>(l.c));
              if (w3.defined()) q = tg::mul(q, w3);
              const Tensor qsum = tg::sum(q, {1}, /*keepdim=*/true);
              const Tensor dx = tg::mul(g, tg::sub(tg::mul(qsum, tg::softmax(x3, 1)), q));
              bw.add(0, tg::reshape(dx, x.shape()));
            }
            if (bw.needs(1)) {
              Tensor dt = tg::mul(tg::mul(g, -(1 - eps)), tg::log_softmax(x3, 1));
              if (w3.defined()) dt = tg::mul(dt, w3);
              bw.add(1, tg::reshape(dt, t.shape()));
            }
            return;
          }
          const Tensor xc = kernel::contiguous(x);
          const Tensor tc = kernel::contiguous(t);
          const Tensor dyc = kernel::contiguous(dy);
          Tensor dx = bw.needs(0) ? make_tensor(x.shape(), x.dtype()) : Tensor();
          Tensor dt = bw.needs(1) ? make_tensor(x.shape(), x.dtype()) : Tensor();
          dispatch_floating(x.dtype(), "cross_entropy", [&]<class T>() {
            const T* xd = xc.data_ptr<T>();
            const T* td = tc.data_ptr<T>();
            const T* w = weight.defined() ? weight.data_ptr<T>() : nullptr;
            const T* lse_d = lse.data_ptr<T>();
            T* dxd = dx.defined() ? dx.data_ptr<T>() : nullptr;
            T* dtd = dt.defined() ? dt.data_ptr<T>() : nullptr;
            const RowGrad<T> g{dyc.data_ptr<T>(), reduction == Reduction::None, reduction_scale(reduction, denom)};
            const double smooth = eps / static_cast<double>(l.c);
            for (std::int64_t i = 0; i < l.n; ++i)
              for (std::int64_t j = 0; j < l.s; ++j) {
                const std::int64_t r = i * l.s + j;
                const std::int64_t base = i * l.c * l.s + j;
                const double gr = g(r);
                const T lse_r = lse_d[r];
                double qsum = 0;
                for (std::int64_t k = 0; k < l.c; ++k)
                  qsum += (w ? static_cast<double>(w[k]) : 1.0) *
                          ((1 - eps) * static_cast<double>(td[base + k * l.s]) + smooth);
                for (std::int64_t k = 0; k < l.c; ++k) {
                  const std::int64_t e = base + k * l.s;
                  const double wk = w ? static_cast<double>(w[k]) : 1.0;
                  if (dxd) {
                    const double p = static_cast<double>(std::exp(xd[e] - lse_r));
                    const double q = wk * ((1 - eps) * static_cast<double>(td[e]) + smooth);
                    dxd[e] = static_cast<T>(gr * (qsum * p - q));
                  }
                  if (dtd) dtd[e] = static_cast<T>(gr * (1 - eps) * wk * static_cast<double>(lse_r - xd[e]));
                }
              }
          });
          if (dx.defined()) bw.add(0, dx);
          if (dt.defined()) bw.add(1, dt);
        });
  }
  return out;
}

// ---- elementwise pieces of the binary losses ---------------------------------

// -(t max(log x, -100) + (1 - t) max(log(1 - x), -100)), elementwise.
// dx = dy (x - t) / max(x (1 - x), 1e-12)   (PyTorch's clamp of the denominator)
// dt = dy (max(log(1 - x), -100) - max(log x, -100))
Tensor binary_cross_entropy_terms(const Tensor& x, const Tensor& t) {
  Tensor out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "binary_cross_entropy", [&]<class T>() {
    kernel::map2<T, T, T>(out, x, t, [](T xv, T tv) {
      const T log_x = std::max(std::log(xv), T(-100));
      const T log_1mx = std::max(std::log1p(-xv), T(-100));
      return -(tv * log_x + (1 - tv) * log_1mx);
    });
  });
  if (autograd::needs_grad(x, t)) {
    autograd::record("binary_cross_entropy", {&x, &t}, {&out},
                     [sx = SavedTensor(x, false), st = SavedTensor(t, false)](Backward& bw) {
                       // l = -(t log x + (1 - t) log(1 - x))
                       // dx = dy (x - t) / (x (1 - x));  dt = dy (log(1 - x) - log x)
                       const Tensor x = bw.unpack(sx);
                       const Tensor t = bw.unpack(st);
                       const Tensor& dy = bw.grad();
                       if (is_grad_enabled()) {
                         if (bw.needs(0))
                           bw.add(0, tg::div(tg::mul(dy, tg::sub(x, t)),
                                             tg::clamp(tg::mul(x, tg::rsub(x, 1)), 1e-12, std::nullopt)));
                         if (bw.needs(1))
                           bw.add(1, tg::mul(dy, tg::sub(tg::clamp(tg::log1p(tg::neg(x)), -100, std::nullopt),
                                                         tg::clamp(tg::log(x), -100, std::nullopt))));
                         return;
                       }
                       dispatch_floating(x.dtype(), "binary_cross_entropy", [&]<class T>() {
                         if (bw.needs(0)) {
                           Tensor dx = make_tensor(x.shape(), x.dtype());
                           kernel::map3<T, T, T, T>(dx, x, t, dy, [](T xv, T tv, T g) {
                             return g * (xv - tv) / std::max(xv * (1 - xv), T(1e-12));
                           });
                           bw.add(0, dx);
                         }
                         if (bw.needs(1)) {
                           Tensor dt = make_tensor(x.shape(), x.dtype());
                           kernel::map2<T, T, T>(dt, x, dy, [](T xv, T g) {
                             return g * (std::max(std::log1p(-xv), T(-100)) - std::max(std::log(xv), T(-100)));
                           });
                           bw.add(1, dt);
                         }
                       });
                     });
  }
  return out;
}

// softplus(z) = log(1 + exp(z)), computed as max(z, 0) + log1p(exp(-|z|)) so
// that no exp overflows. Its derivative sigmoid(z) is smooth at 0, unlike the
// pieces of that formula, which is why it is one op.
Tensor softplus(const Tensor& z) {
  Tensor out = make_tensor(z.shape(), z.dtype());
  dispatch_floating(z.dtype(), "softplus", [&]<class T>() {
    kernel::map1<T, T>(out, z, [](T v) { return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))); });
  });
  if (autograd::needs_grad(z))
    autograd::record("softplus", {&z}, {&out}, [sz = SavedTensor(z, false)](Backward& bw) {
      // y = log(1 + exp(z));  dz = dy sigmoid(z)
      bw.add(0, tg::mul(bw.grad(), tg::sigmoid(bw.unpack(sz))));
    });
  return out;
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

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options) {
  const char* op = "cross_entropy";
  const ClassLayout l = class_layout(op, input);
  if (!(options.label_smoothing >= 0 && options.label_smoothing <= 1))
    throw ValueError(fmt::format("{}: label_smoothing must be in [0, 1], got {}", op, options.label_smoothing));
  if (target.dtype() == kInt64 && target.shape() == l.loss_shape)
    return cross_entropy_class(input, target, options.weight, options.ignore_index, options.label_smoothing,
                               options.reduction, l);
  if (target.is_floating_point() && target.shape() == input.shape()) {
    // Probabilities promote with the input, as PyTorch (float32 with float64
    // gives float64); to_dtype's backward casts each gradient back.
    const DType dt = promote_types(input.dtype(), target.dtype());
    return cross_entropy_probabilities(tg::to_dtype(input, dt), tg::to_dtype(target, dt), options.weight,
                                       options.label_smoothing, options.reduction, l);
  }
  throw ShapeError(target_error(op, input, l, target, /*allow_probabilities=*/true));
}

Tensor nll_loss(const Tensor& input, const Tensor& target_in, const NLLLossOptions& options) {
  const char* op = "nll_loss";
  const ClassLayout l = class_layout(op, input);
  if (target_in.dtype() != kInt64 || target_in.shape() != l.loss_shape)
    throw ShapeError(target_error(op, input, l, target_in, /*allow_probabilities=*/false));
  const Tensor target = kernel::contiguous(target_in);
  check_class_indices(op, target, l.c, options.ignore_index);
  const Tensor weight = class_weight(op, options.weight, l, input.dtype());
  const Tensor xc = kernel::contiguous(input);
  const std::int64_t ignore_index = options.ignore_index;
  const Reduction reduction = options.reduction;
  double denom = 0;
  Tensor out = dispatch_floating(input.dtype(), op, [&]<class T>() {
    const T* xd = xc.data_ptr<T>();
    const auto* y = target.data_ptr<std::int64_t>();
    const T* w = weight.defined() ? weight.data_ptr<T>() : nullptr;
    std::vector<double> row_loss(static_cast<std::size_t>(l.rows()), 0.0);
    for (std::int64_t i = 0; i < l.n; ++i)
      for (std::int64_t j = 0; j < l.s; ++j) {
        const std::int64_t r = i * l.s + j;
        if (y[r] == ignore_index) continue;
        const double wy = w ? static_cast<double>(w[y[r]]) : 1.0;
        row_loss[static_cast<std::size_t>(r)] = -wy * static_cast<double>(xd[(i * l.c + y[r]) * l.s + j]);
        denom += wy;
      }
    return reduce_rows<T>(row_loss, l.loss_shape, reduction, denom);
  });

  if (autograd::needs_grad(input)) {
    autograd::record(
        "nll_loss", {&input}, {&out},
        [st = SavedTensor(target, false), weight, l, ignore_index, reduction, denom](Backward& bw) {
          // loss_r = -w_y x_{r,y};  dx_{r,c} = -g_r w_y [c == y]   [N, C, S]
          const Tensor target = bw.unpack(st);
          const Tensor& dy = bw.grad();
          const DType dtype = bw.input_dtype(0);
          if (is_grad_enabled()) {
            const Tensor q = class_target_weights(target, weight, l, ignore_index, 0, dtype).first;
            const Tensor dx = tg::neg(tg::mul(row_grad_tensor(dy, l, reduction, denom), q));
            bw.add(0, tg::reshape(dx, bw.input_shape(0)));
            return;
          }
          const Tensor dyc = kernel::contiguous(dy);
          Tensor dx = zeros(bw.input_shape(0), {.dtype = dtype});
          dispatch_floating(dtype, "nll_loss", [&]<class T>() {
            const auto* y = target.data_ptr<std::int64_t>();
            const T* w = weight.defined() ? weight.data_ptr<T>() : nullptr;
            T* dxd = dx.data_ptr<T>();
            const RowGrad<T> g{dyc.data_ptr<T>(), reduction == Reduction::None, reduction_scale(reduction, denom)};
            for (std::int64_t i = 0; i < l.n; ++i)
              for (std::int64_t j = 0; j < l.s; ++j) {
                const std::int64_t r = i * l.s + j;
                if (y[r] == ignore_index) continue;
                const double wy = w ? static_cast<double>(w[y[r]]) : 1.0;
                dxd[(i * l.c + y[r]) * l.s + j] = static_cast<T>(-g(r) * wy);
              }
          });
          bw.add(0, dx);
        });
  }
  return out;
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target_in, const BCELossOptions& options) {
  const char* op = "binary_cross_entropy";
  const Tensor target = detail::elementwise_loss_target(op, input, target_in);
  // PyTorch does not promote here: "Found dtype Double but expected Float".
  if (target_in.dtype() != input.dtype())
    throw DTypeError(fmt::format("{}: target is {} but input is {}; they must have the same dtype", op,
                                 dtype_name(target_in.dtype()), dtype_name(input.dtype())));
  dispatch_floating(input.dtype(), op, [&]<class T>() {
    const Tensor xc = kernel::contiguous(input);
    const T* x = xc.data_ptr<T>();
    for (std::int64_t i = 0; i < xc.numel(); ++i)
      if (!(x[i] >= 0 && x[i] <= 1))
        throw ValueError(
            fmt::format("{}: input values must be probabilities in [0, 1], got {} (element {})", op, x[i], i));
  });
  Tensor loss = binary_cross_entropy_terms(input, target);
  const Tensor weight = elementwise_weight(op, "weight", options.weight, input);
  if (weight.defined()) loss = tg::mul(loss, weight);
  return reduce_loss(loss, options.reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target_in,
                                        const BCEWithLogitsLossOptions& options) {
  // l = (1 - t) x + L softplus(-x), L = 1 + (pos_weight - 1) t: for t in {0, 1}
  // this is -[pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))].
  const char* op = "binary_cross_entropy_with_logits";
  const Tensor t = detail::elementwise_loss_target(op, input, target_in);
  const Tensor weight = elementwise_weight(op, "weight", options.weight, input);
  const Tensor pos_weight = elementwise_weight(op, "pos_weight", options.pos_weight, input);
  Tensor neg_log_sigmoid = softplus(tg::neg(input));
  if (pos_weight.defined())
    neg_log_sigmoid = tg::mul(tg::add(tg::mul(tg::sub(pos_weight, 1.0), t), 1.0), neg_log_sigmoid);
  Tensor loss = tg::add(tg::mul(tg::rsub(t, 1.0), input), neg_log_sigmoid);
  if (weight.defined()) loss = tg::mul(loss, weight);
  return reduce_loss(loss, options.reduction);
}

}  // namespace tg::nn::functional
