#pragma once
// 2-D max, average and adaptive max and average pooling over [N, C, H, W],
// and their adjoints.
// autograd/ops/pool.cpp records them as ops.
#include <cstdint>
#include <optional>
#include <utility>

#include <tapegrad/core/args.h>
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

struct Pool2dGeometry {
  std::int64_t n, c, h, w;
  std::int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  std::int64_t ho, wo;
  bool count_include_pad = true;
  // Adaptive pooling: output row i pools input rows
  // [floor(i H / Ho), ceil((i + 1) H / Ho)), as PyTorch (and so for columns);
  // the kernel, stride, padding and dilation are unused.
  bool adaptive = false;
  std::int64_t planes() const { return n * c; }
};

// The shape rule of `op` (max_pool2d or avg_pool2d) for x [N, C, H, W]:
// stride defaults to the kernel, padding at most half the kernel (without
// its dilation, as PyTorch 1.13). The output size is PyTorch's
// pooling_output_shape: (H + 2 ph - dh (kh - 1) - 1) / sh + 1 rounded down,
// or up with ceil_mode, where a last window that would start in the right
// padding is dropped. one_d: x is a 1-D op's [N, C, L] seen as
// [N, C, 1, L], and errors show the widths alone and [N, C, L].
Pool2dGeometry pool2d_geometry(const char* op, const TensorBase& x, Size2 kernel, std::optional<Size2> stride,
                               Size2 padding, Size2 dilation, bool ceil_mode, bool one_d = false);

// y [N, C, Ho, Wo] and the flat index (ih * W + iw) of each window's first
// maximum (the last NaN wins); adaptive windows when g.adaptive. A window of
// padding only (possible with dilation) gives -inf and the index -1, which
// the two below treat as reading nothing.
std::pair<TensorBase, TensorBase> max_pool2d(const TensorBase& x, const Pool2dGeometry& g);
// dx [N, C, H, W]: zeros with each dy added at its window's argmax.
TensorBase max_pool2d_backward(const TensorBase& dy, const TensorBase& idx, const Pool2dGeometry& g);
// [N, C, Ho, Wo]: dx read at each window's argmax (the adjoint of the above).
TensorBase max_pool2d_gather(const TensorBase& dx, const TensorBase& idx, const Pool2dGeometry& g);

// adaptive_{avg,max}_pool2d's: x [N, C, H, W] with H, W > 0, output sizes >= 0.
Pool2dGeometry adaptive_pool2d_geometry(const char* op, const TensorBase& x, Size2 output_size, bool one_d = false);

// The mean of each window (adaptive ones when g.adaptive).
TensorBase avg_pool2d(const TensorBase& x, const Pool2dGeometry& g);
// The adjoint of avg_pool2d: dx[window] += dy / divisor.
TensorBase avg_pool2d_backward(const TensorBase& dy, const Pool2dGeometry& g);

}  // namespace tg::kernel
