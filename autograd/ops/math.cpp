// Elementwise real functions: exp, log, log1p, sqrt, rsqrt, abs, sign.
// Where the derivative is a function of the output, the output is saved
// instead of the input (exp' = exp).
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

Tensor exp(const Tensor& x) {
  TG_PROFILE_OP("exp", x);
  Tensor y = kernel::exp(x);
  if (autograd::needs_grad(x))
    autograd::record("exp", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // y = exp(x);  dx = dy y
      bw.add(0, mul(bw.grad(), bw.unpack(sy)));
    });
  return y;
}

Tensor log(const Tensor& x) {
  TG_PROFILE_OP("log", x);
  Tensor y = kernel::log(x);
  if (autograd::needs_grad(x))
    autograd::record("log", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // y = log(x);  dx = dy / x
      bw.add(0, div(bw.grad(), bw.unpack(sx)));
    });
  return y;
}

Tensor log1p(const Tensor& x) {
  TG_PROFILE_OP("log1p", x);
  Tensor y = kernel::log1p(x);
  if (autograd::needs_grad(x))
    autograd::record("log1p", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // y = log(1 + x);  dx = dy / (1 + x)
      bw.add(0, div(bw.grad(), add(bw.unpack(sx), 1.0)));
    });
  return y;
}

Tensor sqrt(const Tensor& x) {
  TG_PROFILE_OP("sqrt", x);
  Tensor y = kernel::sqrt(x);
  if (autograd::needs_grad(x))
    autograd::record("sqrt", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // y = sqrt(x);  dx = dy / (2 y)
      bw.add(0, div(bw.grad(), mul(bw.unpack(sy), 2.0)));
    });
  return y;
}

Tensor rsqrt(const Tensor& x) {
  TG_PROFILE_OP("rsqrt", x);
  Tensor y = kernel::rsqrt(x);
  if (autograd::needs_grad(x))
    autograd::record("rsqrt", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // y = x^(-1/2);  dx = -dy x^(-3/2) / 2 = -dy y^3 / 2
      bw.add(0, mul(bw.grad(), mul(pow(bw.unpack(sy), 3.0), -0.5)));
    });
  return y;
}

Tensor abs(const Tensor& x) {
  TG_PROFILE_OP("abs", x);
  Tensor y = kernel::abs(x);
  if (autograd::needs_grad(x))
    autograd::record("abs", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // y = |x|;  dx = dy sign(x)  (0 at x = 0, as PyTorch)
      bw.add(0, mul(bw.grad(), sign(bw.unpack(sx))));
    });
  return y;
}

// Recorded although its derivative is 0 everywhere, so that gradients through
// sign are zeros rather than missing, as in PyTorch.
Tensor sign(const Tensor& x) {
  TG_PROFILE_OP("sign", x);
  Tensor y = kernel::sign(x);
  if (autograd::needs_grad(x))
    autograd::record("sign", {&x}, {&y}, [](Backward& bw) {
      // y = sign(x);  dx = 0
      bw.add(0, zeros_like(bw.grad()));
    });
  return y;
}

}  // namespace tg
