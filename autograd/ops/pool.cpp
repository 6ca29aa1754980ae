// 2-D max and average pooling over [N, C, H, W] (or [C, H, W]) inputs,
// adaptive or not. Kernels: core/kernels/pool.h.
//
// Each pooling is linear in its input once the windows (and, for max, each
// window's argmax) are fixed, so each has an adjoint, and the pair are each
// other's derivative: gradients of any order exist.
//   max_pool2d           y  = x read at idx           (idx: each window's first maximum)
//   max_pool2d_backward  dx = dy added at idx          (its derivative: read at idx again)
//   avg_pool2d           y  = mean of each window
//   avg_pool2d_backward  dx = dy / divisor spread over each window  (its derivative: avg_pool2d)
// Adaptive pooling is the same over other windows (the kernel's g.adaptive),
// ceil_mode only changes the output size (and so the last windows), and the
// 1-D forms are the 2-D ones on a height of 1.
#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/pool.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

using kernel::Pool2dGeometry;

// ---- max ----------------------------------------------------------------------

Tensor max_pool_scatter(const Tensor& dy, const Tensor& idx, const Pool2dGeometry& g);

// y = x read at idx (max_pool2d itself, and max_pool2d_backward's derivative).
Tensor max_pool_gather(const Tensor& x, Tensor y, const Tensor& idx, const Pool2dGeometry& g) {
  if (autograd::needs_grad(x))
    autograd::record(g.adaptive ? "adaptive_max_pool2d" : "max_pool2d", {&x}, {&y},
                     [sidx = SavedTensor(idx, false), g](Backward& bw) {
                       // y[n,c,o] = x[n,c,idx[n,c,o]] (idx flat over H*W), y [N,C,Ho,Wo]:
                       //   dx [N,C,H,W] = zeros with dy[n,c,o] added at idx[n,c,o].
                       bw.add(0, max_pool_scatter(bw.grad(), bw.unpack(sidx), g));
                     });
  return y;
}

Tensor max_pool_scatter(const Tensor& dy, const Tensor& idx, const Pool2dGeometry& g) {
  Tensor dx = kernel::max_pool2d_backward(dy, idx, g);
  if (autograd::needs_grad(dy))
    autograd::record(g.adaptive ? "adaptive_max_pool2d_backward" : "max_pool2d_backward", {&dy}, {&dx},
                     [sidx = SavedTensor(idx, false), g](Backward& bw) {
                       // dx [N,C,H,W] = zeros with dy[n,c,o] added at idx[n,c,o];  d(dy) [N,C,Ho,Wo] = ddx read at idx
                       const Tensor idx = bw.unpack(sidx);
                       const Tensor& ddx = bw.grad();
                       bw.add(0, max_pool_gather(ddx, kernel::max_pool2d_gather(ddx, idx, g), idx, g));
                     });
  return dx;
}

std::tuple<Tensor, Tensor> max_pool_forward(const Tensor& x, const Pool2dGeometry& g) {
  auto [y, idx] = std::pair<Tensor, Tensor>(kernel::max_pool2d(x, g));
  return {max_pool_gather(x, y, idx, g), idx};
}

// ---- average --------------------------------------------------------------------

Tensor avg_pool_backward(const Tensor& dy, const Pool2dGeometry& g);

Tensor avg_pool_forward(const Tensor& x, const Pool2dGeometry& g) {
  Tensor y = kernel::avg_pool2d(x, g);
  if (autograd::needs_grad(x))
    autograd::record(g.adaptive ? "adaptive_avg_pool2d" : "avg_pool2d", {&x}, {&y}, [g](Backward& bw) {
      // y [N,C,Ho,Wo] = mean of each window of x;  dx [N,C,H,W] = dy / divisor spread over each window
      bw.add(0, avg_pool_backward(bw.grad(), g));
    });
  return y;
}

Tensor avg_pool_backward(const Tensor& dy, const Pool2dGeometry& g) {
  Tensor dx = kernel::avg_pool2d_backward(dy, g);
  if (autograd::needs_grad(dy))
    autograd::record(g.adaptive ? "adaptive_avg_pool2d_backward" : "avg_pool2d_backward", {&dy}, {&dx},
                     [g](Backward& bw) {
                       // dx = avg_pool2d's adjoint applied to dy;  d(dy) = avg_pool2d(ddx) [N,C,Ho,Wo]
                       bw.add(0, avg_pool_forward(bw.grad(), g));
                     });
  return dx;
}

// The 1-D pools run as 2-D ones on a height of 1; the rank is checked first
// so that the error shows the 1-D shape.
void check_1d(const char* op, const Tensor& x) {
  if (x.dim() != 2 && x.dim() != 3)
    throw ShapeError(fmt::format("{}: expected a 2-D [C, L] or 3-D [N, C, L] input, got {}", op, shape_str(x.sizes())));
}

// The 1-D forms run [N, C, L] as [N, C, 1, L]; their indices (ih * L + iw
// with ih = 0) are then positions along L already.
std::tuple<Tensor, Tensor> squeeze_1d(const std::tuple<Tensor, Tensor>& pooled) {
  return {tg::squeeze(std::get<0>(pooled), 2), kernel::squeeze(std::get<1>(pooled), 2)};
}

}  // namespace

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel_size, OptionalSize2 stride,
                                                   Size2 padding, Size2 dilation, StrictBool ceil_mode) {
  TG_PROFILE_OP("max_pool2d_with_indices", x);
  if (x.dim() == 3) {
    auto [y, idx] = max_pool2d_with_indices(tg::unsqueeze(x, 0), kernel_size, stride, padding, dilation, ceil_mode);
    return {tg::squeeze(y, 0), kernel::squeeze(idx, 0)};
  }
  return max_pool_forward(x,
                          kernel::pool2d_geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode));
}

Tensor max_pool2d(const Tensor& x, Size2 kernel_size, OptionalSize2 stride, Size2 padding, Size2 dilation,
                  StrictBool ceil_mode) {
  TG_PROFILE_OP("max_pool2d", x);
  return std::get<0>(max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode));
}

std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& x, std::int64_t kernel_size,
                                                   std::optional<std::int64_t> stride, std::int64_t padding,
                                                   std::int64_t dilation, StrictBool ceil_mode) {
  TG_PROFILE_OP("max_pool1d_with_indices", x);
  check_1d("max_pool1d", x);
  if (x.dim() == 2) {
    auto [y, idx] = max_pool1d_with_indices(tg::unsqueeze(x, 0), kernel_size, stride, padding, dilation, ceil_mode);
    return {tg::squeeze(y, 0), kernel::squeeze(idx, 0)};
  }
  const Tensor x2 = tg::unsqueeze(x, 2);
  return squeeze_1d(max_pool_forward(
      x2, kernel::pool2d_geometry("max_pool1d", x2, {1, kernel_size}, Size2(1, stride.value_or(kernel_size)),
                                  {0, padding}, {1, dilation}, ceil_mode, /*one_d=*/true)));
}

Tensor max_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride, std::int64_t padding,
                  std::int64_t dilation, StrictBool ceil_mode) {
  TG_PROFILE_OP("max_pool1d", x);
  return std::get<0>(max_pool1d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode));
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, OptionalSize2 stride, Size2 padding, StrictBool count_include_pad,
                  StrictBool ceil_mode) {
  TG_PROFILE_OP("avg_pool2d", x);
  if (x.dim() == 3)
    return tg::squeeze(avg_pool2d(tg::unsqueeze(x, 0), kernel_size, stride, padding, count_include_pad, ceil_mode), 0);
  Pool2dGeometry g = kernel::pool2d_geometry("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode);
  g.count_include_pad = count_include_pad;
  return avg_pool_forward(x, g);
}

Tensor avg_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride, std::int64_t padding,
                  StrictBool count_include_pad, StrictBool ceil_mode) {
  TG_PROFILE_OP("avg_pool1d", x);
  check_1d("avg_pool1d", x);
  if (x.dim() == 2)
    return tg::squeeze(avg_pool1d(tg::unsqueeze(x, 0), kernel_size, stride, padding, count_include_pad, ceil_mode), 0);
  const Tensor x2 = tg::unsqueeze(x, 2);
  Pool2dGeometry g = kernel::pool2d_geometry("avg_pool1d", x2, {1, kernel_size}, Size2(1, stride.value_or(kernel_size)),
                                             {0, padding}, 1, ceil_mode, /*one_d=*/true);
  g.count_include_pad = count_include_pad;
  return tg::squeeze(avg_pool_forward(x2, g), 2);
}

std::tuple<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x, Size2 output_size) {
  TG_PROFILE_OP("adaptive_max_pool2d_with_indices", x);
  if (x.dim() == 3) {
    auto [y, idx] = adaptive_max_pool2d_with_indices(tg::unsqueeze(x, 0), output_size);
    return {tg::squeeze(y, 0), kernel::squeeze(idx, 0)};
  }
  return max_pool_forward(x, kernel::adaptive_pool2d_geometry("adaptive_max_pool2d", x, output_size));
}

Tensor adaptive_max_pool2d(const Tensor& x, Size2 output_size) {
  TG_PROFILE_OP("adaptive_max_pool2d", x);
  return std::get<0>(adaptive_max_pool2d_with_indices(x, output_size));
}

std::tuple<Tensor, Tensor> adaptive_max_pool1d_with_indices(const Tensor& x, std::int64_t output_size) {
  TG_PROFILE_OP("adaptive_max_pool1d_with_indices", x);
  check_1d("adaptive_max_pool1d", x);
  if (x.dim() == 2) {
    auto [y, idx] = adaptive_max_pool1d_with_indices(tg::unsqueeze(x, 0), output_size);
    return {tg::squeeze(y, 0), kernel::squeeze(idx, 0)};
  }
  const Tensor x2 = tg::unsqueeze(x, 2);
  return squeeze_1d(max_pool_forward(
      x2, kernel::adaptive_pool2d_geometry("adaptive_max_pool1d", x2, {1, output_size}, /*one_d=*/true)));
}

Tensor adaptive_max_pool1d(const Tensor& x, std::int64_t output_size) {
  TG_PROFILE_OP("adaptive_max_pool1d", x);
  return std::get<0>(adaptive_max_pool1d_with_indices(x, output_size));
}

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  TG_PROFILE_OP("adaptive_avg_pool2d", x);
  if (x.dim() == 3) return tg::squeeze(adaptive_avg_pool2d(tg::unsqueeze(x, 0), output_size), 0);
  return avg_pool_forward(x, kernel::adaptive_pool2d_geometry("adaptive_avg_pool2d", x, output_size));
}

Tensor adaptive_avg_pool1d(const Tensor& x, std::int64_t output_size) {
  TG_PROFILE_OP("adaptive_avg_pool1d", x);
  check_1d("adaptive_avg_pool1d", x);
  if (x.dim() == 2) return tg::squeeze(adaptive_avg_pool1d(tg::unsqueeze(x, 0), output_size), 0);
  const Tensor x2 = tg::unsqueeze(x, 2);
  return tg::squeeze(avg_pool_forward(x2, kernel::adaptive_pool2d_geometry("adaptive_avg_pool1d", x2, {1, output_size},
                                                                           /*one_d=*/true)),
                     2);
}

}  // namespace tg
