// 2-D max and average pooling kernels, adaptive or not (declared in pool.h), one input plane
// per loop iteration (planes run in parallel when large).
#include <tapegrad/core/kernels/pool.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/parallel.h>

namespace tg::kernel {

namespace {

// Runs body(plane) for every plane, in parallel when there is enough work.
template <class Body>
void for_each_plane(const Pool2dGeometry& g, std::int64_t work_per_plane, Body body) {
  const bool parallel = g.planes() > 1 && g.planes() * work_per_plane >= parallel_threshold() && !in_parallel_region();
  parallel_for(g.planes(), parallel ? detail::team_size() : 1, body);
}

// The window of output (oh, ow) clipped to the input, and its divisor.
struct Window {
  std::int64_t h0, h1, w0, w1;
  double divisor;
};

Window window_at(const Pool2dGeometry& g, std::int64_t oh, std::int64_t ow) {
  const std::int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  // With ceil_mode the last window may reach past the right padding: PyTorch
  // 1.13 clips it there before counting the divisor (count_include_pad
  // counts the padding, not what lies beyond it).
  const std::int64_t h1 = std::min(h0 + g.kh, g.h + g.ph), w1 = std::min(w0 + g.kw, g.w + g.pw);
  const std::int64_t padded = (h1 - h0) * (w1 - w0);
  Window win{std::max<std::int64_t>(h0, 0), std::min(h1, g.h), std::max<std::int64_t>(w0, 0), std::min(w1, g.w), 0};
  win.divisor = static_cast<double>(g.count_include_pad ? padded : (win.h1 - win.h0) * (win.w1 - win.w0));
  return win;
}

// Adaptive bins: [floor(i * in / out), ceil((i + 1) * in / out)); the
// products fit int64 (adaptive_pool2d_geometry checks out * in).
Window adaptive_window_at(const Pool2dGeometry& g, std::int64_t oh, std::int64_t ow) {
  Window win{oh * g.h / g.ho, ((oh + 1) * g.h + g.ho - 1) / g.ho, ow * g.w / g.wo, ((ow + 1) * g.w + g.wo - 1) / g.wo,
             0};
  win.divisor = static_cast<double>((win.h1 - win.h0) * (win.w1 - win.w0));
  return win;
}

Window average_window(const Pool2dGeometry& g, std::int64_t oh, std::int64_t ow) {
  return g.adaptive ? adaptive_window_at(g, oh, ow) : window_at(g, oh, ow);
}

// The work of one plane: every output reads its window (adaptive windows
// together cover the plane about once), max or average.
std::int64_t window_work(const Pool2dGeometry& g) {
  return g.adaptive ? std::max(g.h * g.w, g.ho * g.wo) : g.ho * g.wo * g.kh * g.kw;
}

// The 1-D ops run as 2-D ones on a height of 1; their errors show what the
// caller passed: single numbers, and the input without that height.
std::string sizes(Size2 s, bool one_d) { return one_d ? fmt::format("{}", s.w) : fmt::format("({}, {})", s.h, s.w); }

std::string input_shape(const TensorBase& x, bool one_d) {
  if (!one_d || x.dim() != 4) return shape_str(x.sizes());
  return shape_str(Dims{x.size(0), x.size(1), x.size(3)});
}

// PyTorch's pooling_output_shape along one axis: `padded` is the input with
// its padding on both sides, `span` the dilated kernel. Rounded down, or up
// with ceil_mode; then a last window that would start at or past the end of
// the input (in its right padding or beyond) is dropped. May be <= 0.
std::int64_t pooled_size(std::int64_t size, std::int64_t padded, std::int64_t span, std::int64_t stride,
                         std::int64_t pad, bool ceil_mode) {
  // padded - span + stride - 1 overflows only for sizes no tensor has:
  // saturate rather than wrap.
  std::int64_t numerator = padded - span;
  if (ceil_mode && add_overflows(numerator, stride - 1, &numerator))
    numerator = std::numeric_limits<std::int64_t>::max();
  // Floor division (the numerator may be negative).
  std::int64_t out = numerator / stride - (numerator % stride != 0 && numerator < 0 ? 1 : 0) + 1;
  if (ceil_mode && out > 0 && (out - 1) * stride >= size + pad) --out;
  return out;
}

}  // namespace

Pool2dGeometry pool2d_geometry(const char* op, const TensorBase& x, Size2 kernel, std::optional<Size2> stride_opt,
                               Size2 padding, Size2 dilation, bool ceil_mode, bool one_d) {
  if (x.dim() != 4)
    throw ShapeError(
        fmt::format("{}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got {}", op, shape_str(x.sizes())));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("{}: expected a floating-point input, got {}", op, dtype_name(x.dtype())));
  const Size2 stride = stride_opt.value_or(kernel);
  if (kernel.h < 1 || kernel.w < 1 || stride.h < 1 || stride.w < 1 || dilation.h < 1 || dilation.w < 1)
    throw ValueError(fmt::format("{}: kernel size {}, stride {} and dilation {} must be positive", op,
                                 sizes(kernel, one_d), sizes(stride, one_d), sizes(dilation, one_d)));
  std::int64_t span_h = 0, span_w = 0;
  if (mul_overflows(dilation.h, kernel.h - 1, &span_h) || add_overflows(span_h, 1, &span_h) ||
      mul_overflows(dilation.w, kernel.w - 1, &span_w) || add_overflows(span_w, 1, &span_w))
    throw ShapeError(fmt::format("{}: kernel size {} with dilation {} spans more than int64 can count", op,
                                 sizes(kernel, one_d), sizes(dilation, one_d)));
  // PyTorch 1.13 bounds the padding by half the kernel size without its
  // dilation (max_pool2d and avg_pool2d alike). Even so, a dilated window can
  // hold only padding (kernel 2, padding 1, dilation 3 on a 2 x 2 input):
  // max_pool2d gives such windows -inf and the index -1.
  if (padding.h < 0 || padding.w < 0 || padding.h > kernel.h / 2 || padding.w > kernel.w / 2)
    throw ValueError(fmt::format("{}: padding {} must be between 0 and half the kernel size {}", op,
                                 sizes(padding, one_d), sizes(kernel, one_d)));
  Pool2dGeometry g{x.size(0), x.size(1), x.size(2), x.size(3),  kernel.h,   kernel.w, stride.h,
                   stride.w,  padding.h, padding.w, dilation.h, dilation.w, 0,        0};
  // The padding is at most half the kernel, which may be near 2^63.
  std::int64_t padded_h = 0, padded_w = 0;
  if (mul_overflows(g.ph, 2, &padded_h) || add_overflows(padded_h, g.h, &padded_h) ||
      mul_overflows(g.pw, 2, &padded_w) || add_overflows(padded_w, g.w, &padded_w))
    throw ShapeError(fmt::format("{}: input {} padded by {} is past what int64 can count", op, input_shape(x, one_d),
                                 sizes(padding, one_d)));
  g.ho = pooled_size(g.h, padded_h, span_h, g.sh, g.ph, ceil_mode);
  g.wo = pooled_size(g.w, padded_w, span_w, g.sw, g.pw, ceil_mode);
  // Rounding down, an output size below 1 means an input smaller than the
  // kernel. Rounding up, PyTorch takes a kernel past the padded input as long
  // as one window starts inside it (kernel 3 over 2 elements: one window).
  if (g.ho < 1 || g.wo < 1) {
    if (padded_h < span_h || padded_w < span_w)
      throw ShapeError(fmt::format("{}: input {} padded by {} is smaller than the kernel {}{}", op,
                                   input_shape(x, one_d), sizes(padding, one_d), sizes({span_h, span_w}, one_d),
                                   ceil_mode ? " even with ceil_mode" : ""));
    throw ShapeError(fmt::format("{}: input {} padded by {} with kernel {} and stride {} gives the output size {}", op,
                                 input_shape(x, one_d), sizes(padding, one_d), sizes({span_h, span_w}, one_d),
                                 sizes(stride, one_d), sizes({g.ho, g.wo}, one_d)));
  }
  return g;
}

Pool2dGeometry adaptive_pool2d_geometry(const char* op, const TensorBase& x, Size2 output_size, bool one_d) {
  if (x.dim() != 4)
    throw ShapeError(
        fmt::format("{}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got {}", op, shape_str(x.sizes())));
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("{}: expected a floating-point input, got {}", op, dtype_name(x.dtype())));
  if (x.size(2) == 0 || x.size(3) == 0)
    throw ShapeError(fmt::format("{}: the input's spatial sizes must be positive, got {}", op, input_shape(x, one_d)));
  if (output_size.h < 0 || output_size.w < 0)
    throw ValueError(fmt::format("{}: output size {} must not be negative", op, sizes(output_size, one_d)));
  std::int64_t product = 0;
  if (add_overflows(output_size.h, 1, &product) || mul_overflows(product, x.size(2), &product) ||
      add_overflows(output_size.w, 1, &product) || mul_overflows(product, x.size(3), &product))
    throw ShapeError(fmt::format("{}: output size {} for input {} is past what int64 can index", op,
                                 sizes(output_size, one_d), input_shape(x, one_d)));
  Pool2dGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), 0, 0, 0, 0, 0, 0, 0, 0, output_size.h, output_size.w};
  g.adaptive = true;
  check_output_size(op, one_d ? Dims{g.n, g.c, g.wo} : Dims{g.n, g.c, g.ho, g.wo});
  return g;
}

// y and the flat index (ih * W + iw) of each window's first maximum; NaN wins.
std::pair<TensorBase, TensorBase> max_pool2d(const TensorBase& x_in, const Pool2dGeometry& g) {
  // A selection: subnormals compare as IEEE says, not all as -0, so the
  // window's maximum is picked among them too (float_mode.h).
  const KeepDenormalsGuard exact;
  const TensorBase x = contiguous(x_in);
  TensorBase y = make_tensor({g.n, g.c, g.ho, g.wo}, x.dtype());
  TensorBase idx = make_tensor({g.n, g.c, g.ho, g.wo}, kInt64);
  dispatch_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    std::int64_t* ip = idx.data_ptr<std::int64_t>();
    for_each_plane(g, window_work(g), [&](std::int64_t p) {
      const T* in = xp + p * g.h * g.w;
      T* out = yp + p * g.ho * g.wo;
      std::int64_t* arg = ip + p * g.ho * g.wo;
      for (std::int64_t oh = 0; oh < g.ho; ++oh) {
        for (std::int64_t ow = 0; ow < g.wo; ++ow) {
          T best = -std::numeric_limits<T>::infinity();
          std::int64_t best_at = -1;
          const auto visit = [&](std::int64_t ih, std::int64_t iw) {
            const T v = in[ih * g.w + iw];
            // The first maximum, or the last NaN (PyTorch's rule, adaptive or not).
            if (best_at < 0 || v > best || std::isnan(v)) {
              best = v;
              best_at = ih * g.w + iw;
            }
          };
          if (g.adaptive) {
            // Adaptive bins are never empty (H, W > 0): every output has an index.
            const Window win = adaptive_window_at(g, oh, ow);
            for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
              for (std::int64_t iw = win.w0; iw < win.w1; ++iw) visit(ih, iw);
          } else {
            for (std::int64_t i = 0; i < g.kh; ++i) {
              const std::int64_t ih = oh * g.sh - g.ph + i * g.dh;
              if (ih < 0 || ih >= g.h) continue;
              for (std::int64_t j = 0; j < g.kw; ++j) {
                const std::int64_t iw = ow * g.sw - g.pw + j * g.dw;
                if (iw >= 0 && iw < g.w) visit(ih, iw);
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
TensorBase max_pool2d_backward(const TensorBase& dy_in, const TensorBase& idx, const Pool2dGeometry& g) {
  const TensorBase dy = contiguous(dy_in);
  TensorBase dx = make_tensor({g.n, g.c, g.h, g.w}, dy.dtype());
  dispatch_floating(dy.dtype(), "max_pool2d", [&]<class T>() {
    const T* gp = dy.data_ptr<T>();
    const std::int64_t* ip = idx.data_ptr<std::int64_t>();
    T* dp = dx.data_ptr<T>();
    std::fill(dp, dp + dx.numel(), T(0));
    const std::int64_t out_plane = g.ho * g.wo, in_plane = g.h * g.w;
    for_each_plane(g, out_plane, [&](std::int64_t p) {
      for (std::int64_t k = 0; k < out_plane; ++k) {
        // A window of padding only (index -1) read no input: it passes no gradient.
        const std::int64_t at = ip[p * out_plane + k];
        if (at >= 0) dp[p * in_plane + at] += gp[p * out_plane + k];
      }
    });
  });
  return dx;
}

// out[p, k] = dx[p, idx[p, k]]: the adjoint of max_pool2d_backward.
TensorBase max_pool2d_gather(const TensorBase& dx_in, const TensorBase& idx, const Pool2dGeometry& g) {
  const TensorBase dx = contiguous(dx_in);
  TensorBase out = make_tensor({g.n, g.c, g.ho, g.wo}, dx.dtype());
  dispatch_floating(dx.dtype(), "max_pool2d", [&]<class T>() {
    const T* dp = dx.data_ptr<T>();
    const std::int64_t* ip = idx.data_ptr<std::int64_t>();
    T* op = out.data_ptr<T>();
    const std::int64_t out_plane = g.ho * g.wo, in_plane = g.h * g.w;
    for_each_plane(g, out_plane, [&](std::int64_t p) {
      for (std::int64_t k = 0; k < out_plane; ++k) {
        // A window of padding only (index -1) is constant (-inf): its derivative is 0.
        const std::int64_t at = ip[p * out_plane + k];
        op[p * out_plane + k] = at >= 0 ? dp[p * in_plane + at] : T(0);
      }
    });
  });
  return out;
}

TensorBase avg_pool2d(const TensorBase& x_in, const Pool2dGeometry& g) {
  const TensorBase x = contiguous(x_in);
  TensorBase y = make_tensor({g.n, g.c, g.ho, g.wo}, x.dtype());
  dispatch_floating(x.dtype(), "avg_pool2d", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    for_each_plane(g, window_work(g), [&](std::int64_t p) {
      const T* in = xp + p * g.h * g.w;
      T* out = yp + p * g.ho * g.wo;
      for (std::int64_t oh = 0; oh < g.ho; ++oh)
        for (std::int64_t ow = 0; ow < g.wo; ++ow) {
          const Window win = average_window(g, oh, ow);
          T total = 0;
          for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
            for (std::int64_t iw = win.w0; iw < win.w1; ++iw) total += in[ih * g.w + iw];
          // A window of padding only (a zero-width input with padding) has
          // no element to count: PyTorch writes 0 rather than 0 / 0.
          out[oh * g.wo + ow] = win.divisor > 0 ? static_cast<T>(total / static_cast<T>(win.divisor)) : T(0);
        }
    });
  });
  return y;
}

// The adjoint of avg_pool2d: dx[window] += dy / divisor.
TensorBase avg_pool2d_backward(const TensorBase& dy_in, const Pool2dGeometry& g) {
  const TensorBase dy = contiguous(dy_in);
  TensorBase dx = make_tensor({g.n, g.c, g.h, g.w}, dy.dtype());
  dispatch_floating(dy.dtype(), "avg_pool2d", [&]<class T>() {
    const T* gp = dy.data_ptr<T>();
    T* dp = dx.data_ptr<T>();
    std::fill(dp, dp + dx.numel(), T(0));
    for_each_plane(g, window_work(g), [&](std::int64_t p) {
      const T* in = gp + p * g.ho * g.wo;
      T* out = dp + p * g.h * g.w;
      for (std::int64_t oh = 0; oh < g.ho; ++oh)
        for (std::int64_t ow = 0; ow < g.wo; ++ow) {
          const Window win = average_window(g, oh, ow);
          const T share = static_cast<T>(in[oh * g.wo + ow] / static_cast<T>(win.divisor));
          for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
            for (std::int64_t iw = win.w0; iw < win.w1; ++iw) out[ih * g.w + iw] += share;
        }
    });
  });
  return dx;
}

}  // namespace tg::kernel
