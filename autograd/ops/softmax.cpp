// softmax and log_softmax along one dim. Kernels: core/kernels/reduce.h.
// Each backward is one fused kernel, recorded as an op of its own (with its
// derivative below) so that create_graph gives higher derivatives.
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

// dx = y * (dy - sum(dy * y, d)): the softmax Jacobian, which is symmetric.
Tensor softmax_grad(const Tensor& dy, const Tensor& y, int d) {
  Tensor dx = kernel::softmax_backward(y, dy, d);
  if (autograd::needs_grad(dy, y))
    autograd::record(
        "softmax_backward", {&dy, &y}, {&dx},
        [sdy = SavedTensor::input_if(autograd::requires_grad_of(y), dy), sy = SavedTensor(y, false), d](Backward& bw) {
          // dx = y (dy - sum(dy y));  d(dy) = y (ddx - sum(ddx y)),
          //   d(y) = ddx (dy - sum(dy y)) - dy sum(ddx y)   (sums along d, kept)
          const Tensor y = bw.unpack(sy);
          const Tensor& ddx = bw.grad();
          if (bw.needs(0)) bw.add(0, softmax_grad(ddx, y, d));
          if (bw.needs(1)) {
            const Tensor dy = bw.unpack(sdy);
            const Tensor dy_y = tg::sum(tg::mul(dy, y), Dims{d}, /*keepdim=*/true);
            const Tensor ddx_y = tg::sum(tg::mul(ddx, y), Dims{d}, /*keepdim=*/true);
            bw.add(1, tg::sub(tg::mul(ddx, tg::sub(dy, dy_y)), tg::mul(dy, ddx_y)));
          }
        });
  return dx;
}

// dx = dy - exp(y) * sum(dy, d).
Tensor log_softmax_grad(const Tensor& dy, const Tensor& y, int d) {
  Tensor dx = kernel::log_softmax_backward(y, dy, d);
  if (autograd::needs_grad(dy, y))
    autograd::record(
        "log_softmax_backward", {&dy, &y}, {&dx},
        [sdy = SavedTensor::input_if(autograd::requires_grad_of(y), dy), sy = SavedTensor(y, false), d](Backward& bw) {
          // dx = dy - exp(y) sum(dy);  d(dy) = ddx - sum(ddx exp(y)),  d(y) = -ddx exp(y) sum(dy)
          const Tensor p = tg::exp(bw.unpack(sy));
          const Tensor& ddx = bw.grad();
          if (bw.needs(0)) bw.add(0, tg::sub(ddx, tg::sum(tg::mul(ddx, p), Dims{d}, /*keepdim=*/true)));
          if (bw.needs(1)) {
            const Tensor dy_sum = tg::sum(bw.unpack(sdy), Dims{d}, /*keepdim=*/true);
            bw.add(1, tg::neg(tg::mul(tg::mul(ddx, p), dy_sum)));
          }
        });
  return dx;
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("softmax", x);
  Tensor y = kernel::softmax(x, dim);
  if (autograd::needs_grad(x)) {
    const int d = wrap_dim(dim, x.dim(), "softmax");
    autograd::record("softmax", {&x}, {&y}, [sy = SavedTensor(y, true), d](Backward& bw) {
      // y = softmax(x) along d;  dx = y * (dy - sum(dy * y, d))
      bw.add(0, softmax_grad(bw.grad(), bw.unpack(sy), d));
    });
  }
  return y;
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("log_softmax", x);
  Tensor y = kernel::log_softmax(x, dim);
  if (autograd::needs_grad(x)) {
    const int d = wrap_dim(dim, x.dim(), "log_softmax");
    autograd::record("log_softmax", {&x}, {&y}, [sy = SavedTensor(y, true), d](Backward& bw) {
      // y = x - logsumexp(x, d);  dx = dy - exp(y) * sum(dy, d)
      bw.add(0, log_softmax_grad(bw.grad(), bw.unpack(sy), d));
    });
  }
  return y;
}

}  // namespace tg
