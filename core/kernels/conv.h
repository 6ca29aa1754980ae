#pragma once
// 2-D convolution kernels: im2col + one GEMM per image, and the two
// gradients (col2im of W^T @ dy, and dy @ col(x)^T). autograd/ops/conv.cpp
// records them as three ops, each the others' derivative.
#include <cstdint>

#include <tapegrad/core/args.h>
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

struct Conv2dGeometry {
  std::int64_t n, c, h, w;  // input
  std::int64_t o, kh, kw;   // weight
  std::int64_t sh, sw, ph, pw, dh, dw;
  std::int64_t ho, wo;  // output
  std::int64_t col_rows() const { return c * kh * kw; }
  std::int64_t col_cols() const { return ho * wo; }
  // A 1x1 kernel with unit stride and no padding: the image already is its
  // own column matrix.
  bool is_pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// The shape rule: x [N, C, H, W], weight [O, C, kh, kw], bias [O] or
// undefined, all one floating dtype; errors name conv2d and the shapes.
Conv2dGeometry conv2d_geometry(const TensorBase& x, const TensorBase& weight, const TensorBase& bias, Size2 stride,
                               Size2 padding, Size2 dilation);

// y [N, O, Ho, Wo] = conv(x, w) + b (b may be undefined).
TensorBase conv2d(const TensorBase& x, const TensorBase& w, const TensorBase& b, const Conv2dGeometry& g);
// dx [N, C, H, W] = conv^T(dy, w).
TensorBase conv2d_input_grad(const TensorBase& dy, const TensorBase& w, const Conv2dGeometry& g);
// dw [O, C, kh, kw] = sum_n dy[n] @ col(x[n])^T.
TensorBase conv2d_weight_grad(const TensorBase& x, const TensorBase& dy, const Conv2dGeometry& g);

}  // namespace tg::kernel
