// softmax and log_softmax along one dim. Kernels: core/kernels/reduce.h.
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/reduce.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

Tensor softmax(const Tensor& x, std::int64_t dim) {
  Tensor y = kernel::softmax(x, dim);
  if (autograd::needs_grad(x)) {
    const int d = wrap_dim(dim, x.dim(), "softmax");
    autograd::record("softmax", {&x}, {&y}, [sy = SavedTensor(y, true), d](Backward& bw) {
      // y = softmax(x) along d;  dx = y * (dy - sum(dy * y, d))
      const Tensor y = bw.unpack(sy);
      const Tensor& dy = bw.grad();
      // Grad mode is off unless the backward itself is being recorded
      // (create_graph): then the formula must be made of differentiable ops.
      if (!is_grad_enabled()) {
        bw.add(0, kernel::softmax_backward(y, dy, d));
        return;
      }
      bw.add(0, tg::mul(y, tg::sub(dy, tg::sum(tg::mul(dy, y), Dims{d}, /*keepdim=*/true))));
    });
  }
  return y;
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  Tensor y = kernel::log_softmax(x, dim);
  if (autograd::needs_grad(x)) {
    const int d = wrap_dim(dim, x.dim(), "log_softmax");
    autograd::record("log_softmax", {&x}, {&y}, [sy = SavedTensor(y, true), d](Backward& bw) {
      // y = x - logsumexp(x, d);  dx = dy - exp(y) * sum(dy, d)
      const Tensor y = bw.unpack(sy);
      const Tensor& dy = bw.grad();
      if (!is_grad_enabled()) {
        bw.add(0, kernel::log_softmax_backward(y, dy, d));
        return;
      }
      bw.add(0, tg::sub(dy, tg::mul(tg::exp(y), tg::sum(dy, Dims{d}, /*keepdim=*/true))));
    });
  }
  return y;
}

}  // namespace tg
