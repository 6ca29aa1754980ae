// 2-D max and average pooling over [N, C, H, W] (or [C, H, W]) inputs, one
// input plane per loop iteration (planes run in parallel when large).
//
// max_pool2d remembers each window's argmax; its gradient scatters dy there.
// avg_pool2d is linear: its gradient is its adjoint (spreading dy / divisor
// over each window), and the adjoint's gradient is avg_pool2d again, so both
// are recorded ops and gradients of any order exist.
#include <cmath>
#include <limits>

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

struct PoolGeometry {
  std::int64_t n, c, h, w;
  std::int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  std::int64_t ho, wo;
  bool count_include_pad = true;
  std::int64_t planes() const { return n * c; }
};

PoolGeometry pool_geometry(const char* op, const Tensor& x, Size2 kernel, std::optional<Size2> stride_opt,
                           Size2 padding, Size2 dilation) {
  if (x.dim() != 4)
    throw ShapeError(fmt::format("{}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got {}", op,
                                 shape_str(x.sizes())));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("{}: expected a floating-point input, got {}", op, dtype_name(x.dtype())));
  const Size2 stride = stride_opt.value_or(kernel);
  if (kernel.h < 1 || kernel.w < 1 || stride.h < 1 || stride.w < 1 || dilation.h < 1 || dilation.w < 1)
    throw ValueError(fmt::format("{}: kernel size ({}, {}), stride ({}, {}) and dilation ({}, {}) must be positive", op,
                                 kernel.h, kernel.w, stride.h, stride.w, dilation.h, dilation.w));
  std::int64_t span_h = 0, span_w = 0;
  if (mul_overflows(dilation.h, kernel.h - 1, &span_h) || add_overflows(span_h, 1, &span_h) ||
      mul_overflows(dilation.w, kernel.w - 1, &span_w) || add_overflows(span_w, 1, &span_w))
    throw ShapeError(fmt::format("{}: kernel size ({}, {}) with dilation ({}, {}) spans more than int64 can count", op,
                                 kernel.h, kernel.w, dilation.h, dilation.w));
  if (padding.h < 0 || padding.w < 0 || padding.h > span_h / 2 || padding.w > span_w / 2)
    throw ValueError(fmt::format("{}: padding ({}, {}) must be between 0 and half the kernel size ({}, {})", op,
                                 padding.h, padding.w, span_h, span_w));
  PoolGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), kernel.h, kernel.w, stride.h, stride.w,
                 padding.h, padding.w, dilation.h, dilation.w, 0, 0};
  if (g.h + 2 * g.ph < span_h || g.w + 2 * g.pw < span_w)
    throw ShapeError(fmt::format("{}: input {} padded by ({}, {}) is smaller than the kernel ({}, {})", op,
                                 shape_str(x.sizes()), g.ph, g.pw, span_h, span_w));
  g.ho = (g.h + 2 * g.ph - span_h) / g.sh + 1;
  g.wo = (g.w + 2 * g.pw - span_w) / g.sw + 1;
  return g;
}

// Runs body(plane) for every plane, in parallel when there is enough work.
template <class Body>
void for_each_plane(const PoolGeometry& g, std::int64_t work_per_plane, Body body) {
  const bool parallel = g.planes() > 1 && g.planes() * work_per_plane >= kParallelThreshold && !in_parallel_region();
#pragma omp parallel if (parallel)
  {
    FlushDenormalGuard flush;  // in every thread: MXCSR is per thread
#pragma omp for schedule(static)
    for (std::int64_t p = 0; p < g.planes(); ++p) body(p);
  }
}

// ---- max ----------------------------------------------------------------------

// y and the flat index (ih * W + iw) of each window's first maximum; NaN wins.
std::pair<Tensor, Tensor> max_pool_kernel(const Tensor& x_in, const PoolGeometry& g) {
  const Tensor x = kernel::contiguous(x_in);
  Tensor y = make_tensor({g.n, g.c, g.ho, g.wo}, x.dtype());
  Tensor idx = make_tensor({g.n, g.c, g.ho, g.wo}, kInt64);
  dispatch_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    std::int64_t* ip = idx.data_ptr<std::int64_t>();
    for_each_plane(g, g.ho * g.wo * g.kh * g.kw, [&](std::int64_t p) {
      const T* in = xp + p * g.h * g.w;
      T* out = yp + p * g.ho * g.wo;
      std::int64_t* arg = ip + p * g.ho * g.wo;
      for (std::int64_t oh = 0; oh < g.ho; ++oh) {
        for (std::int64_t ow = 0; ow < g.wo; ++ow) {
          T best = -std::numeric_limits<T>::infinity();
          std::int64_t best_at = -1;
          for (std::int64_t i = 0; i < g.kh; ++i) {
            const std::int64_t ih = oh * g.sh - g.ph + i * g.dh;
            if (ih < 0 || ih >= g.h) continue;
            for (std::int64_t j = 0; j < g.kw; ++j) {
              const std::int64_t iw = ow * g.sw - g.pw + j * g.dw;
              if (iw < 0 || iw >= g.w) continue;
              const T v = in[ih * g.w + iw];
              if (best_at < 0 || v > best || (std::isnan(v) && !std::isnan(best))) {
                best = v;
                best_at = ih * g.w + iw;
              }
            }
          }
          out[oh * g.wo + ow] = best;
          arg[oh * g.wo + ow] = best_at;
        }
      }
    });
  });
  return {y, idx};
}

// dx [N, C, H, W]: each dy added at its window's argmax.
Tensor max_pool_backward_kernel(const Tensor& dy_in, const Tensor& idx, const PoolGeometry& g) {
  const Tensor dy = kernel::contiguous(dy_in);
  Tensor dx = make_tensor({g.n, g.c, g.h, g.w}, dy.dtype());
  dispatch_floating(dy.dtype(), "max_pool2d", [&]<class T>() {
    const T* gp = dy.data_ptr<T>();
    const std::int64_t* ip = idx.data_ptr<std::int64_t>();
    T* dp = dx.data_ptr<T>();
    std::fill(dp, dp + dx.numel(), T(0));
    const std::int64_t out_plane = g.ho * g.wo, in_plane = g.h * g.w;
    for_each_plane(g, out_plane, [&](std::int64_t p) {
      for (std::int64_t k = 0; k < out_plane; ++k) dp[p * in_plane + ip[p * out_plane + k]] += gp[p * out_plane + k];
    });
  });
  return dx;
}

std::tuple<Tensor, Tensor> max_pool_forward(const Tensor& x, const PoolGeometry& g) {
  auto [y, idx] = max_pool_kernel(x, g);
  if (autograd::needs_grad(x)) {
    autograd::record("max_pool2d", {&x}, {&y}, [sidx = SavedTensor(idx, false), g](Backward& bw) {
      // y[n,c,o] = x[n,c,idx[n,c,o]] (idx flat over H*W), y [N,C,Ho,Wo]:
      //   dx [N,C,H,W] = zeros with dy[n,c,o] added at idx[n,c,o].
      const Tensor idx = bw.unpack(sidx);
      if (!is_grad_enabled()) {
        bw.add(0, max_pool_backward_kernel(bw.grad(), idx, g));
        return;
      }
      // Recorded (create_graph): the same scatter as differentiable ops.
      const Tensor dy = tg::reshape(bw.grad(), {g.n, g.c, g.ho * g.wo});
      const Tensor flat = tg::scatter_add(zeros({g.n, g.c, g.h * g.w}, {dy.dtype()}), 2,
                                          idx.reshape({g.n, g.c, g.ho * g.wo}), dy);
      bw.add(0, tg::reshape(flat, {g.n, g.c, g.h, g.w}));
    });
  }
  return {y, idx};
}

// ---- average --------------------------------------------------------------------

// The window of output (oh, ow) clipped to the input, and its divisor.
struct Window {
  std::int64_t h0, h1, w0, w1;
  double divisor;
};

Window window_at(const PoolGeometry& g, std::int64_t oh, std::int64_t ow) {
  const std::int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  // With the output size rounded down a window never reaches past the padding.
  const std::int64_t h1 = std::min(h0 + g.kh, g.h + g.ph), w1 = std::min(w0 + g.kw, g.w + g.pw);
  const std::int64_t padded = (h1 - h0) * (w1 - w0);
  Window win{std::max<std::int64_t>(h0, 0), std::min(h1, g.h), std::max<std::int64_t>(w0, 0), std::min(w1, g.w), 0};
  win.divisor = static_cast<double>(g.count_include_pad ? padded : (win.h1 - win.h0) * (win.w1 - win.w0));
  return win;
}

Tensor avg_pool_kernel(const Tensor& x_in, const PoolGeometry& g) {
  const Tensor x = kernel::contiguous(x_in);
  Tensor y = make_tensor({g.n, g.c, g.ho, g.wo}, x.dtype());
  dispatch_floating(x.dtype(), "avg_pool2d", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    for_each_plane(g, g.ho * g.wo * g.kh * g.kw, [&](std::int64_t p) {
      const T* in = xp + p * g.h * g.w;
      T* out = yp + p * g.ho * g.wo;
      for (std::int64_t oh = 0; oh < g.ho; ++oh)
        for (std::int64_t ow = 0; ow < g.wo; ++ow) {
          const Window win = window_at(g, oh, ow);
          T total = 0;
          for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
            for (std::int64_t iw = win.w0; iw < win.w1; ++iw) total += in[ih * g.w + iw];
          out[oh * g.wo + ow] = static_cast<T>(total / static_cast<T>(win.divisor));
        }
    });
  });
  return y;
}

// The adjoint of avg_pool_kernel: dx[window] += dy / divisor.
Tensor avg_pool_backward_kernel(const Tensor& dy_in, const PoolGeometry& g) {
  const Tensor dy = kernel::contiguous(dy_in);
  Tensor dx = make_tensor({g.n, g.c, g.h, g.w}, dy.dtype());
  dispatch_floating(dy.dtype(), "avg_pool2d", [&]<class T>() {
    const T* gp = dy.data_ptr<T>();
    T* dp = dx.data_ptr<T>();
    std::fill(dp, dp + dx.numel(), T(0));
    for_each_plane(g, g.ho * g.wo * g.kh * g.kw, [&](std::int64_t p) {
      const T* in = gp + p * g.ho * g.wo;
      T* out = dp + p * g.h * g.w;
      for (std::int64_t oh = 0; oh < g.ho; ++oh)
        for (std::int64_t ow = 0; ow < g.wo; ++ow) {
          const Window win = window_at(g, oh, ow);
          const T share = static_cast<T>(in[oh * g.wo + ow] / static_cast<T>(win.divisor));
          for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
            for (std::int64_t iw = win.w0; iw < win.w1; ++iw) out[ih * g.w + iw] += share;
        }
    });
  });
  return dx;
}

Tensor avg_pool_backward(const Tensor& dy, const PoolGeometry& g);

Tensor avg_pool_forward(const Tensor& x, const PoolGeometry& g) {
  Tensor y = avg_pool_kernel(x, g);
  if (autograd::needs_grad(x))
    autograd::record("avg_pool2d", {&x}, {&y}, [g](Backward& bw) {
      // y [N,C,Ho,Wo] = mean of each window of x;  dx [N,C,H,W] = dy / divisor spread over each window
      bw.add(0, avg_pool_backward(bw.grad(), g));
    });
  return y;
}

Tensor avg_pool_backward(const Tensor& dy, const PoolGeometry& g) {
  Tensor dx = avg_pool_backward_kernel(dy, g);
  if (autograd::needs_grad(dy))
    autograd::record("avg_pool2d_backward", {&dy}, {&dx}, [g](Backward& bw) {
      // dx = avg_pool2d's adjoint applied to dy;  d(dy) = avg_pool2d(ddx) [N,C,Ho,Wo]
      bw.add(0, avg_pool_forward(bw.grad(), g));
    });
  return dx;
}

}  // namespace

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride,
                                                   Size2 padding, Size2 dilation) {
  if (x.dim() == 3) {
    auto [y, idx] = max_pool2d_with_indices(tg::unsqueeze(x, 0), kernel_size, stride, padding, dilation);
    return {tg::squeeze(y, 0), idx.squeeze(0)};
  }
  return max_pool_forward(x, pool_geometry("max_pool2d", x, kernel_size, stride, padding, dilation));
}

Tensor max_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride, Size2 padding, Size2 dilation) {
  return std::get<0>(max_pool2d_with_indices(x, kernel_size, stride, padding, dilation));
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride, Size2 padding,
                  StrictBool count_include_pad) {
  if (x.dim() == 3) return tg::squeeze(avg_pool2d(tg::unsqueeze(x, 0), kernel_size, stride, padding, count_include_pad), 0);
  PoolGeometry g = pool_geometry("avg_pool2d", x, kernel_size, stride, padding, 1);
  g.count_include_pad = count_include_pad;
  return avg_pool_forward(x, g);
}

}  // namespace tg::nn::functional
