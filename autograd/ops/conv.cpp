// 2-D convolution by im2col + GEMM (kernels: core/kernels/conv.h), with its
// two gradients as ops of their own so that gradients of any order exist:
//
//   conv2d             y  = conv(x, W) + b      x [N,C,H,W], W [O,C,kh,kw], y [N,O,Ho,Wo]
//   conv2d_input_grad  dx = conv^T(dy, W)       (col = W^T @ dy, folded back by col2im)
//   conv2d_weight_grad dW = sum_n dy[n] @ col(x[n])^T
//
// All three are bilinear, and each one's derivatives are the other two, since
// for any u [N,C,H,W] and v [N,O,Ho,Wo]:
//   <u, conv^T(v, W)> = <conv(u, W), v> = <conv_weight_grad(u, v), W>.
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/conv.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

SavedTensor save_if(bool needed, const Tensor& t) { return needed ? SavedTensor(t, false) : SavedTensor(); }

Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& b, const kernel::Conv2dGeometry& g);
Tensor conv_input_grad(const Tensor& dy, const Tensor& w, const kernel::Conv2dGeometry& g);
Tensor conv_weight_grad(const Tensor& x, const Tensor& dy, const kernel::Conv2dGeometry& g);

Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& b, const kernel::Conv2dGeometry& g) {
  Tensor y = kernel::conv2d(x, w, b, g);
  if (autograd::needs_grad(x, w, b)) {
    const bool gx = autograd::requires_grad_of(x), gw = autograd::requires_grad_of(w);
    autograd::record("conv2d", {&x, &w, &b}, {&y}, [sx = save_if(gw, x), sw = save_if(gx, w), g](Backward& bw) {
      // y = conv(x, W) + b, x [N,C,H,W], W [O,C,kh,kw], b [O], y [N,O,Ho,Wo]:
      //   dx = conv^T(dy, W) [N,C,H,W],  dW = sum_n dy[n] @ col(x[n])^T [O,C,kh,kw],
      //   db = dy summed over N, Ho, Wo [O].
      const Tensor& dy = bw.grad();
      if (bw.needs(0)) bw.add(0, conv_input_grad(dy, bw.unpack(sw), g));
      if (bw.needs(1)) bw.add(1, conv_weight_grad(bw.unpack(sx), dy, g));
      if (bw.needs(2)) bw.add(2, tg::sum(dy, {0, 2, 3}));
    });
  }
  return y;
}

Tensor conv_input_grad(const Tensor& dy, const Tensor& w, const kernel::Conv2dGeometry& g) {
  Tensor dx = kernel::conv2d_input_grad(dy, w, g);
  if (autograd::needs_grad(dy, w)) {
    const bool gdy = autograd::requires_grad_of(dy), gw = autograd::requires_grad_of(w);
    autograd::record("conv2d_input_grad", {&dy, &w}, {&dx},
                     [sdy = save_if(gw, dy), sw = save_if(gdy, w), g](Backward& bw) {
                       // dx = conv^T(dy, W), dx [N,C,H,W]; with ddx its gradient:
                       //   d(dy) = conv(ddx, W) [N,O,Ho,Wo],  dW = conv_weight_grad(ddx, dy) [O,C,kh,kw]
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
                     [sx = save_if(gdy, x), sdy = save_if(gx, dy), g](Backward& bw) {
                       // dW = sum_n dy[n] @ col(x[n])^T, dW [O,C,kh,kw]; with ddW its gradient:
                       //   dx = conv^T(dy, ddW) [N,C,H,W],  d(dy) = conv(x, ddW) [N,O,Ho,Wo]
                       const Tensor& ddw = bw.grad();
                       if (bw.needs(0)) bw.add(0, conv_input_grad(bw.unpack(sdy), ddw, g));
                       if (bw.needs(1)) bw.add(1, conv_forward(bw.unpack(sx), ddw, Tensor(), g));
                     });
  }
  return dw;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding, Size2 dilation) {
  TG_PROFILE_OP("conv2d", x, weight, bias);
  if (x.dim() == 3) return tg::squeeze(conv2d(tg::unsqueeze(x, 0), weight, bias, stride, padding, dilation), 0);
  const kernel::Conv2dGeometry g = kernel::conv2d_geometry(x, weight, bias, stride, padding, dilation);
  return conv_forward(x, weight, bias, g);
}

}  // namespace tg
