// 2-D convolution by im2col + GEMM (kernels: core/kernels/conv.h), with its
// two gradients as ops of their own so that gradients of any order exist:
//
//   conv2d             y  = conv(x, W) + b      x [N,C,H,W], W [O,C/G,kh,kw], y [N,O,Ho,Wo]
//   conv2d_input_grad  dx = conv^T(dy, W)       (col = W^T @ dy, folded back by col2im)
//   conv2d_weight_grad dW = sum_n dy[n] @ col(x[n])^T
//
// All three are bilinear, and each one's derivatives are the other two, since
// for any u [N,C,H,W] and v [N,O,Ho,Wo]:
//   <u, conv^T(v, W)> = <conv(u, W), v> = <conv_weight_grad(u, v), W>.
//
// The rest are these three under other names: conv1d is conv2d on a height
// of 1 (views in and out), padding="same" with an odd total is one more zero
// after the end (a longer output, the same kernels), and a transposed convolution is the input
// gradient conv^T(x, W) of the convolution whose output x is, so its
// derivatives are conv (for x) and conv_weight_grad (for W) again.
#include <string>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/conv.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& b, const kernel::Conv2dGeometry& g);
Tensor conv_input_grad(const Tensor& dy, const Tensor& w, const kernel::Conv2dGeometry& g,
                       const char* name = "conv2d_input_grad");
Tensor conv_weight_grad(const Tensor& x, const Tensor& dy, const kernel::Conv2dGeometry& g);

Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& b, const kernel::Conv2dGeometry& g) {
  Tensor y = kernel::conv2d(x, w, b, g);
  if (autograd::needs_grad(x, w, b)) {
    const bool gx = autograd::requires_grad_of(x), gw = autograd::requires_grad_of(w);
    autograd::record("conv2d", {&x, &w, &b}, {&y},
                     [sx = SavedTensor::input_if(gw, x), sw = SavedTensor::input_if(gx, w), g](Backward& bw) {
                       // y = conv(x, W) + b, x [N,C,H,W], W [O,C/G,kh,kw], b [O], y [N,O,Ho,Wo]:
                       //   dx = conv^T(dy, W) [N,C,H,W],  dW = sum_n dy[n] @ col(x[n])^T [O,C/G,kh,kw],
                       //   db = dy summed over N, Ho, Wo [O].
                       const Tensor& dy = bw.grad();
                       if (bw.needs(0)) bw.add(0, conv_input_grad(dy, bw.unpack(sw), g));
                       if (bw.needs(1)) bw.add(1, conv_weight_grad(bw.unpack(sx), dy, g));
                       if (bw.needs(2)) bw.add(2, tg::sum(dy, {0, 2, 3}));
                     });
  }
  return y;
}

Tensor conv_input_grad(const Tensor& dy, const Tensor& w, const kernel::Conv2dGeometry& g, const char* name) {
  Tensor dx = kernel::conv2d_input_grad(dy, w, g);
  if (autograd::needs_grad(dy, w)) {
    const bool gdy = autograd::requires_grad_of(dy), gw = autograd::requires_grad_of(w);
    autograd::record(name, {&dy, &w}, {&dx},
                     [sdy = SavedTensor::input_if(gw, dy), sw = SavedTensor::input_if(gdy, w), g](Backward& bw) {
                       // dx = conv^T(dy, W), dx [N,C,H,W]; with ddx its gradient:
                       //   d(dy) = conv(ddx, W) [N,O,Ho,Wo],  dW = conv_weight_grad(ddx, dy) [O,C/G,kh,kw]
                       const Tensor& ddx = bw.grad();
                       if (bw.needs(0)) bw.add(0, conv_forward(ddx, bw.unpack(sw), Tensor(), g));
                       if (bw.needs(1)) bw.add(1, conv_weight_grad(ddx, bw.unpack(sdy), g));
                     });
  }
  return dx;
}

Tensor conv_weight_grad(const Tensor& x, const Tensor& dy, const kernel::Conv2dGeometry& g) {
  Tensor dw = kernel::conv2d_weight_grad(x, dy, g);
  if (autograd::needs_grad(x, dy)) {
    const bool gx = autograd::requires_grad_of(x), gdy = autograd::requires_grad_of(dy);
    autograd::record("conv2d_weight_grad", {&x, &dy}, {&dw},
                     [sx = SavedTensor::input_if(gdy, x), sdy = SavedTensor::input_if(gx, dy), g](Backward& bw) {
                       // dW = sum_n dy[n] @ col(x[n])^T, dW [O,C/G,kh,kw]; with ddW its gradient:
                       //   dx = conv^T(dy, ddW) [N,C,H,W],  d(dy) = conv(x, ddW) [N,O,Ho,Wo]
                       const Tensor& ddw = bw.grad();
                       if (bw.needs(0)) bw.add(0, conv_input_grad(bw.unpack(sdy), ddw, g));
                       if (bw.needs(1)) bw.add(1, conv_forward(bw.unpack(sx), ddw, Tensor(), g));
                     });
  }
  return dw;
}

// conv1d and conv_transpose1d run as their 2-D forms on a height of 1; the
// ranks are checked first so that those errors show the 1-D shapes.
void check_1d(const char* op, const Tensor& x, const Tensor& weight, const char* weight_layout) {
  if (weight.dim() != 3)
    throw ShapeError(fmt::format("{}: weight must be 3-D {}, got {}", op, weight_layout, shape_str(weight.sizes())));
  if (x.dim() != 2 && x.dim() != 3)
    throw ShapeError(fmt::format("{}: expected a 2-D [C, L] or 3-D [N, C, L] input, got {}", op, shape_str(x.sizes())));
}

// The padding of one axis: before (also after), and one more after.
struct AxisPadding {
  std::int64_t before = 0, extra_after = 0;
};

// PyTorch's padding strings for one axis of kernel k and dilation d: "valid"
// pads nothing; "same" pads d (k - 1) in all, half of it (rounded down)
// before and the rest after, so that a stride-1 output is as long as the
// input (torch pads the input by the odd one on the right, as here).
// A non-positive kernel or dilation pads nothing here: conv2d_geometry then
// refuses it with its own error; so does it a dilated kernel past int64.
AxisPadding named_padding(const std::string& name, std::int64_t kernel, std::int64_t dilation) {
  std::int64_t total = 0;
  if (name == "valid" || kernel < 1 || dilation < 1 || mul_overflows(dilation, kernel - 1, &total)) return {};
  return {total / 2, total % 2};
}

}  // namespace

void detail::check_conv_padding_name(const char* who, const std::string& name, bool strided,
                                     const std::string& stride) {
  if (name != "same" && name != "valid")
    throw ValueError(fmt::format("{}: padding must be numbers, \"same\" or \"valid\", got \"{}\"", who, name));
  if (name == "same" && strided)
    throw ValueError(
        fmt::format("{}: padding=\"same\" is not supported for strided convolutions (stride {})", who, stride));
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, ConvPadding2 padding,
              Size2 dilation, std::int64_t groups) {
  TG_PROFILE_OP("conv2d", x, weight, bias);
  if (x.dim() == 3) return tg::squeeze(conv2d(tg::unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups), 0);
  Size2 before = padding.size, extra_after = 0;
  if (padding.named) {
    detail::check_conv_padding_name("conv2d", padding.name, stride.h != 1 || stride.w != 1,
                                    fmt::format("({}, {})", stride.h, stride.w));
    // A weight of another rank: conv2d_geometry's error, with no padding to compute.
    if (weight.dim() == 4) {
      const AxisPadding h = named_padding(padding.name, weight.size(2), dilation.h);
      const AxisPadding w = named_padding(padding.name, weight.size(3), dilation.w);
      before = {h.before, w.before};
      extra_after = {h.extra_after, w.extra_after};
    } else {
      before = 0;
    }
  }
  const kernel::Conv2dGeometry g =
      kernel::conv2d_geometry(x, weight, bias, stride, before, dilation, groups, "conv2d", false, extra_after);
  return conv_forward(x, weight, bias, g);
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride, ConvPadding1 padding,
              std::int64_t dilation, std::int64_t groups) {
  TG_PROFILE_OP("conv1d", x, weight, bias);
  check_1d("conv1d", x, weight, "[out_channels, in_channels / groups, k]");
  if (x.dim() == 2) return tg::squeeze(conv1d(tg::unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups), 0);
  AxisPadding pad{padding.size, 0};
  if (padding.named) {
    detail::check_conv_padding_name("conv1d", padding.name, stride != 1, fmt::format("{}", stride));
    pad = named_padding(padding.name, weight.size(2), dilation);
  }
  const Tensor x2 = tg::unsqueeze(x, 2), w2 = tg::unsqueeze(weight, 2);
  const kernel::Conv2dGeometry g = kernel::conv2d_geometry(x2, w2, bias, {1, stride}, {0, pad.before}, {1, dilation},
                                                           groups, "conv1d", /*one_d=*/true, {0, pad.extra_after});
  return tg::squeeze(conv_forward(x2, w2, bias, g), 2);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding,
                        Size2 output_padding, std::int64_t groups, Size2 dilation) {
  TG_PROFILE_OP("conv_transpose2d", x, weight, bias);
  if (x.dim() == 3)
    return tg::squeeze(
        conv_transpose2d(tg::unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups, dilation), 0);
  const kernel::Conv2dGeometry g =
      kernel::conv_transpose2d_geometry(x, weight, bias, stride, padding, output_padding, dilation, groups);
  Tensor y = conv_input_grad(x, weight, g, "conv_transpose2d");
  return bias.defined() ? tg::add(y, tg::reshape(bias, {1, bias.size(0), 1, 1})) : y;
}

Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
                        std::int64_t padding, std::int64_t output_padding, std::int64_t groups, std::int64_t dilation) {
  TG_PROFILE_OP("conv_transpose1d", x, weight, bias);
  check_1d("conv_transpose1d", x, weight, "[in_channels, out_channels / groups, k]");
  if (x.dim() == 2)
    return tg::squeeze(
        conv_transpose1d(tg::unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups, dilation), 0);
  const Tensor x2 = tg::unsqueeze(x, 2), w2 = tg::unsqueeze(weight, 2);
  const kernel::Conv2dGeometry g =
      kernel::conv_transpose2d_geometry(x2, w2, bias, {1, stride}, {0, padding}, {0, output_padding}, {1, dilation},
                                        groups, "conv_transpose1d", /*one_d=*/true);
  Tensor y = tg::squeeze(conv_input_grad(x2, w2, g, "conv_transpose1d"), 2);
  return bias.defined() ? tg::add(y, tg::reshape(bias, {1, bias.size(0), 1})) : y;
}

}  // namespace tg
