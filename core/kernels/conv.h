#pragma once
// 2-D convolution kernels: im2col + one GEMM per image and group, and the
// two gradients (col2im of W^T @ dy, and dy @ col(x)^T). autograd/ops/conv.cpp
// records them as three ops, each the others' derivative; conv1d (height 1)
// and the transposed convolutions (the input gradient) reuse them.
#include <cstdint>

#include <tapegrad/core/args.h>
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

struct Conv2dGeometry {
  std::int64_t n, c, h, w;  // input
  std::int64_t o, kh, kw;   // weight [o, c / groups, kh, kw]
  std::int64_t sh, sw, ph, pw, dh, dw;
  std::int64_t ho, wo;  // output
  std::int64_t groups = 1;
  std::int64_t col_rows() const { return c * kh * kw; }
  std::int64_t col_cols() const { return ho * wo; }
  // Group g reads rows [g * group_rows, (g + 1) * group_rows) of the column
  // matrix and writes output channels [g * group_out, (g + 1) * group_out).
  std::int64_t group_rows() const { return c / groups * kh * kw; }
  std::int64_t group_out() const { return o / groups; }
  // A 1x1 kernel with unit stride and no padding: the image already is its
  // own column matrix.
  bool is_pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// The shape rule: x [N, C, H, W], weight [O, C / groups, kh, kw], bias [O]
// or undefined, all one floating dtype; errors name `op` and the shapes.
// one_d: a 1-D op's tensors seen with a height of 1, and errors show the
// widths alone and the shapes without that height. extra_after: zeros past
// the end of each axis on top of `padding` (PyTorch's padding="same" with an
// odd total); they only lengthen the output, since the kernels read an
// output position's input at (out * stride - padding), zero outside.
Conv2dGeometry conv2d_geometry(const TensorBase& x, const TensorBase& weight, const TensorBase& bias, Size2 stride,
                               Size2 padding, Size2 dilation, std::int64_t groups = 1, const char* op = "conv2d",
                               bool one_d = false, Size2 extra_after = 0);

// The transposed convolution of x [N, Cin, H, W] by weight
// [Cin, Cout / groups, kh, kw] is the input gradient of the convolution
// whose output x is: the geometry returned is that convolution's (its input
// [N, Cout, Hout, Wout], Hout = (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1,
// its output [N, Cin, H, W]). output_padding must be below the stride or
// the dilation, as PyTorch.
Conv2dGeometry conv_transpose2d_geometry(const TensorBase& x, const TensorBase& weight, const TensorBase& bias,
                                         Size2 stride, Size2 padding, Size2 output_padding, Size2 dilation,
                                         std::int64_t groups, const char* op = "conv_transpose2d", bool one_d = false);

// y [N, O, Ho, Wo] = conv(x, w) + b (b may be undefined).
TensorBase conv2d(const TensorBase& x, const TensorBase& w, const TensorBase& b, const Conv2dGeometry& g);
// dx [N, C, H, W] = conv^T(dy, w).
TensorBase conv2d_input_grad(const TensorBase& dy, const TensorBase& w, const Conv2dGeometry& g);
// dw [O, C / groups, kh, kw] = sum_n dy[n] @ col(x[n])^T, per group.
TensorBase conv2d_weight_grad(const TensorBase& x, const TensorBase& dy, const Conv2dGeometry& g);

}  // namespace tg::kernel
