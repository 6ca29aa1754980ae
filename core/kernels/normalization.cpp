// layer_norm, rms_norm and batch_norm kernels (declared in normalization.h): one pass
// for the statistics, one for the output; backward likewise fused.
#include <tapegrad/core/kernels/normalization.h>

#include <cmath>
#include <type_traits>
#include <vector>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/core/parallel.h>

namespace tg::kernel {

namespace {

// batch norm's float16 and bfloat16 inputs compute in float32, where its
// sums accumulate anyway: the inputs widen exactly and the results round
// back once, so the library holds one copy of its loops per compute dtype
// (two 16-bit copies were 12 KB of the library).
TensorBase widened(const TensorBase& t) { return t.defined() ? widen(t) : t; }
TensorBase rounded(const TensorBase& t, DType dtype) { return t.defined() ? to(t, dtype) : t; }

}  // namespace

// ---- layer_norm: rows of length m (the normalised dims, innermost) --------------

LayerNormStats layer_norm(const TensorBase& x_in, const TensorBase& w_in, const TensorBase& b_in, std::int64_t m,
                          double eps) {
  if (is_reduced_float(x_in.dtype())) {  // computed in float32, rounded once (as batch_norm, below)
    const LayerNormStats wide = layer_norm(widen(x_in), widened(w_in), widened(b_in), m, eps);
    const DType dt = x_in.dtype();
    return {to(wide.y, dt), to(wide.mean, dt), to(wide.rstd, dt)};
  }
  const TensorBase x = contiguous(x_in);
  const TensorBase w = w_in.defined() ? contiguous(w_in) : w_in, b = b_in.defined() ? contiguous(b_in) : b_in;
  const std::int64_t rows = m == 0 ? 0 : x.numel() / m;
  LayerNormStats out{make_tensor(x.shape(), x.dtype()), make_tensor({rows}, x.dtype()), make_tensor({rows}, x.dtype())};
  dispatch_compute_floating(x.dtype(), "layer_norm", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
    T* yp = out.y.data_ptr<T>();
    T* mp = out.mean.data_ptr<T>();
    T* rp = out.rstd.data_ptr<T>();
    for_each_group(rows, x.numel(), [&](std::int64_t r) {
      const T* row = xp + r * m;
      if constexpr (std::is_same_v<T, float>)  // the same arithmetic with AVX2 (normalization_avx2.cpp)
        if (vec::layer_norm_row(row, wp, bp, m, eps, yp + r * m, mp + r, rp + r)) return;
      const double mean =
          lane_sum<double>(m, [row](std::int64_t j) { return static_cast<double>(row[j]); }) / static_cast<double>(m);
      const double squares = lane_sum<double>(m, [row, mean](std::int64_t j) {
        const double d = row[j] - mean;
        return d * d;
      });
      const double rstd = 1.0 / std::sqrt(squares / static_cast<double>(m) + eps);
      T* yr = yp + r * m;
      for (std::int64_t j = 0; j < m; ++j) {
        const T xhat = static_cast<T>((row[j] - mean) * rstd);
        yr[j] = (wp ? T(xhat * wp[j]) : xhat) + (bp ? bp[j] : T(0));
      }
      mp[r] = static_cast<T>(mean);
      rp[r] = static_cast<T>(rstd);
    });
  });
  return out;
}

// dx, dw, db of layer_norm (each only when asked).
std::tuple<TensorBase, TensorBase, TensorBase> layer_norm_backward(const TensorBase& dy_in, const TensorBase& x_in,
                                                                   const TensorBase& mean, const TensorBase& rstd,
                                                                   const TensorBase& w_in, std::int64_t m, bool need_dx,
                                                                   bool need_dw, bool need_db) {
  if (is_reduced_float(x_in.dtype())) {
    const auto [dx, dw, db] = layer_norm_backward(widen(dy_in), widen(x_in), widen(mean), widen(rstd), widened(w_in), m,
                                                  need_dx, need_dw, need_db);
    const DType dt = x_in.dtype();
    return {rounded(dx, dt), rounded(dw, dt), rounded(db, dt)};
  }
  const TensorBase dy = contiguous(dy_in), x = contiguous(x_in);
  const TensorBase w = w_in.defined() ? contiguous(w_in) : w_in;
  const std::int64_t rows = mean.numel();
  TensorBase dx = need_dx ? make_tensor(x.shape(), x.dtype()) : TensorBase();
  TensorBase dw = need_dw ? make_tensor({m}, x.dtype()) : TensorBase();
  TensorBase db = need_db ? make_tensor({m}, x.dtype()) : TensorBase();
  dispatch_compute_floating(x.dtype(), "layer_norm", [&]<class T>() {
    const T* gp = dy.data_ptr<T>();
    const T* xp = x.data_ptr<T>();
    const T* mp = mean.data_ptr<T>();
    const T* rp = rstd.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    if (need_dx) {
      T* dxp = dx.data_ptr<T>();
      // Without a weight, a row of ones: gr[j] * 1 is gr[j] exactly, and one
      // loop without a test of the weight inside the sums (they then
      // vectorise) serves both cases.
      std::vector<T> ones;
      if (!wp) ones.assign(static_cast<std::size_t>(m), T(1));
      const T* weight = wp ? wp : ones.data();
      for_each_group(rows, x.numel(), [&](std::int64_t r) {
        const T* xr = xp + r * m;
        const T* gr = gp + r * m;
        T* dxr = dxp + r * m;
        // Locals, not mp[r] and rp[r]: the compiler cannot tell that dxr aliases neither.
        const T mean_r = mp[r], rstd_r = rp[r];
        if constexpr (std::is_same_v<T, float>)
          if (vec::layer_norm_backward_row(xr, gr, weight, mean_r, rstd_r, m, dxr)) return;
        const auto g_at = [gr, weight](std::int64_t j) { return static_cast<double>(gr[j] * weight[j]); };
        const double mean_g = lane_sum<double>(m, g_at) / static_cast<double>(m);
        const double mean_gx =
            lane_sum<double>(m, [&](std::int64_t j) { return g_at(j) * (xr[j] - mean_r) * rstd_r; }) /
            static_cast<double>(m);
        for (std::int64_t j = 0; j < m; ++j) {
          const double xhat = (xr[j] - mean_r) * rstd_r;
          dxr[j] = static_cast<T>(rstd_r * (g_at(j) - mean_g - xhat * mean_gx));
        }
      });
    }
    if (need_dw || need_db) {
      std::vector<double> sw(static_cast<std::size_t>(m), 0.0), sb(static_cast<std::size_t>(m), 0.0);
      for (std::int64_t r = 0; r < rows; ++r) {
        if constexpr (std::is_same_v<T, float>)
          if (vec::layer_norm_param_grads_row(xp + r * m, gp + r * m, mp[r], rp[r], m, sw.data(), sb.data())) continue;
        for (std::int64_t j = 0; j < m; ++j) {
          const double g = gp[r * m + j];
          sw[static_cast<std::size_t>(j)] += g * (xp[r * m + j] - mp[r]) * rp[r];
          sb[static_cast<std::size_t>(j)] += g;
        }
      }
      for (std::int64_t j = 0; j < m; ++j) {
        if (need_dw) dw.data_ptr<T>()[j] = static_cast<T>(sw[static_cast<std::size_t>(j)]);
        if (need_db) db.data_ptr<T>()[j] = static_cast<T>(sb[static_cast<std::size_t>(j)]);
      }
    }
  });
  return {dx, dw, db};
}

// ---- rms_norm: rows of length m -------------------------------------------------

RMSNormStats rms_norm(const TensorBase& x_in, const TensorBase& w_in, std::int64_t m, double eps) {
  if (is_reduced_float(x_in.dtype())) {
    const RMSNormStats wide = rms_norm(widen(x_in), widened(w_in), m, eps);
    const DType dt = x_in.dtype();
    return {to(wide.y, dt), to(wide.rstd, dt)};
  }
  const TensorBase x = contiguous(x_in);
  const TensorBase w = w_in.defined() ? contiguous(w_in) : w_in;
  const std::int64_t rows = m == 0 ? 0 : x.numel() / m;
  RMSNormStats out{make_tensor(x.shape(), x.dtype()), make_tensor({rows}, x.dtype())};
  dispatch_compute_floating(x.dtype(), "rms_norm", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    T* yp = out.y.data_ptr<T>();
    T* rp = out.rstd.data_ptr<T>();
    for_each_group(rows, x.numel(), [&](std::int64_t r) {
      const T* row = xp + r * m;
      const double squares = lane_sum<double>(
          m, [row](std::int64_t j) { return static_cast<double>(row[j]) * static_cast<double>(row[j]); });
      const double rstd = 1.0 / std::sqrt(squares / static_cast<double>(m) + eps);
      T* yr = yp + r * m;
      for (std::int64_t j = 0; j < m; ++j) {
        const T xhat = static_cast<T>(row[j] * rstd);
        yr[j] = wp ? T(xhat * wp[j]) : xhat;
      }
      rp[r] = static_cast<T>(rstd);
    });
  });
  return out;
}

// ---- batch_norm: x seen as [N, C, S], statistics per channel over N and S ----------

BatchNormStats batch_norm_train(const TensorBase& x_in, const TensorBase& w_in, const TensorBase& b_in, double eps) {
  if (is_reduced_float(x_in.dtype())) {
    const BatchNormStats wide = batch_norm_train(widen(x_in), widened(w_in), widened(b_in), eps);
    const DType dt = x_in.dtype();
    return {to(wide.y, dt), to(wide.mean, dt), to(wide.var, dt), to(wide.rstd, dt)};
  }
  const TensorBase x = contiguous(x_in);
  const TensorBase w = w_in.defined() ? contiguous(w_in) : w_in, b = b_in.defined() ? contiguous(b_in) : b_in;
  const std::int64_t n = x.size(0), c = x.size(1), s = c == 0 || n == 0 ? 0 : x.numel() / (n * c);
  BatchNormStats out{make_tensor(x.shape(), x.dtype()), make_tensor({c}, x.dtype()), make_tensor({c}, x.dtype()),
                     make_tensor({c}, x.dtype())};
  dispatch_compute_floating(x.dtype(), "batch_norm", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
    T* yp = out.y.data_ptr<T>();
    T* mean_out = out.mean.data_ptr<T>();
    T* var_out = out.var.data_ptr<T>();
    T* rstd_out = out.rstd.data_ptr<T>();
    const double count = static_cast<double>(n * s);
    for_each_group(c, x.numel(), [&](std::int64_t ch) {
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
    });
  });
  return out;
}

std::tuple<TensorBase, TensorBase, TensorBase> batch_norm_backward(const TensorBase& dy_in, const TensorBase& x_in,
                                                                   const TensorBase& mean, const TensorBase& rstd,
                                                                   const TensorBase& w_in, bool need_dx, bool need_dw,
                                                                   bool need_db) {
  if (is_reduced_float(x_in.dtype())) {
    auto [dx, dw, db] = batch_norm_backward(widen(dy_in), widen(x_in), widen(mean), widen(rstd), widened(w_in), need_dx,
                                            need_dw, need_db);
    const DType dt = x_in.dtype();
    return {rounded(dx, dt), rounded(dw, dt), rounded(db, dt)};
  }
  const TensorBase dy = contiguous(dy_in), x = contiguous(x_in);
  const TensorBase w = w_in.defined() ? contiguous(w_in) : w_in;
  const std::int64_t n = x.size(0), c = x.size(1), s = c == 0 || n == 0 ? 0 : x.numel() / (n * c);
  TensorBase dx = need_dx ? make_tensor(x.shape(), x.dtype()) : TensorBase();
  TensorBase dw = need_dw ? make_tensor({c}, x.dtype()) : TensorBase();
  TensorBase db = need_db ? make_tensor({c}, x.dtype()) : TensorBase();
  dispatch_compute_floating(x.dtype(), "batch_norm", [&]<class T>() {
    const T* gp = dy.data_ptr<T>();
    const T* xp = x.data_ptr<T>();
    const T* mp = mean.data_ptr<T>();
    const T* rp = rstd.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    T* dxp = need_dx ? dx.data_ptr<T>() : nullptr;
    T* dwp = need_dw ? dw.data_ptr<T>() : nullptr;
    T* dbp = need_db ? db.data_ptr<T>() : nullptr;
    const double count = static_cast<double>(n * s);
    for_each_group(c, x.numel(), [&](std::int64_t ch) {
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
      if (!dxp) return;
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
    });
  });
  return {dx, dw, db};
}

}  // namespace tg::kernel
