#pragma once
// layer_norm and batch_norm kernels. Both normalise x over a set of positions S,
//   xhat = (x - mean_S(x)) * rstd,  rstd = 1 / sqrt(var_S(x) + eps)   (biased variance)
//   y = xhat * w + b,
// and share one gradient (with g = dy * w):
//   dx = rstd * (g - mean_S(g) - xhat * mean_S(g * xhat)),
//   dw = sum of dy * xhat,  db = sum of dy   (over everything but w's own dims).
// w and b may be undefined; the backward kernels compute only what is asked.
#include <cstdint>
#include <tuple>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// ---- layer_norm: rows of length m (the normalised dims, innermost) ----------
struct LayerNormStats {
  TensorBase y, mean, rstd;  // mean and rstd [rows]
};
LayerNormStats layer_norm(const TensorBase& x, const TensorBase& w, const TensorBase& b, std::int64_t m, double eps);
// dx [x's shape], dw, db [m].
std::tuple<TensorBase, TensorBase, TensorBase> layer_norm_backward(const TensorBase& dy, const TensorBase& x,
                                                                   const TensorBase& mean, const TensorBase& rstd,
                                                                   const TensorBase& w, std::int64_t m, bool need_dx,
                                                                   bool need_dw, bool need_db);

// ---- rms_norm: rows of length m (the normalised dims, innermost) -------------
//   y = x * rstd * w,  rstd = 1 / sqrt(mean(x^2) + eps)   (no centring, no bias)
struct RMSNormStats {
  TensorBase y, rstd;  // rstd [rows]
};
RMSNormStats rms_norm(const TensorBase& x, const TensorBase& w, std::int64_t m, double eps);

// ---- batch_norm: x seen as [N, C, S], statistics per channel over N and S ----
struct BatchNormStats {
  TensorBase y, mean, var, rstd;  // [C]; var is biased
};
// Training mode: the batch's own statistics.
BatchNormStats batch_norm_train(const TensorBase& x, const TensorBase& w, const TensorBase& b, double eps);
// dx [x's shape], dw, db [C].
std::tuple<TensorBase, TensorBase, TensorBase> batch_norm_backward(const TensorBase& dy, const TensorBase& x,
                                                                   const TensorBase& mean, const TensorBase& rstd,
                                                                   const TensorBase& w, bool need_dx, bool need_dw,
                                                                   bool need_db);

}  // namespace tg::kernel
