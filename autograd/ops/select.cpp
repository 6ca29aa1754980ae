// Elementwise selection: maximum, minimum, where.
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

// maximum and minimum: the larger (smaller) input takes the gradient; ties
// split it half and half, as PyTorch (kernel::max_grad_weight gives the shares).
Tensor extremum(const Tensor& a, const Tensor& b, bool is_max) {
  Tensor y = is_max ? kernel::maximum(a, b) : kernel::minimum(a, b);
  if (autograd::needs_grad(a, b))
    autograd::record(is_max ? "maximum" : "minimum", {&a, &b}, {&y},
                     [sa = SavedTensor(a, false), sb = SavedTensor(b, false), is_max](Backward& bw) {
                       // y = max(a, b);  da = dy [a > b] + dy/2 [a == b],  db likewise
                       const Tensor a = bw.unpack(sa), b = bw.unpack(sb);
                       const Tensor& dy = bw.grad();
                       if (bw.needs(0))
                         bw.add(0, mul(dy, is_max ? kernel::max_grad_weight(a, b, dy.dtype())
                                                  : kernel::max_grad_weight(b, a, dy.dtype())));
                       if (bw.needs(1))
                         bw.add(1, mul(dy, is_max ? kernel::max_grad_weight(b, a, dy.dtype())
                                                  : kernel::max_grad_weight(a, b, dy.dtype())));
                     });
  return y;
}

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("maximum", a, b);
  return extremum(a, b, true);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("minimum", a, b);
  return extremum(a, b, false);
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("where", condition, a, b);
  Tensor y = kernel::where(condition, a, b);
  if (autograd::needs_grad(a, b))
    autograd::record("where", {&a, &b}, {&y}, [sc = SavedTensor(condition, false)](Backward& bw) {
      // y = c ? a : b;  da = c ? dy : 0,  db = c ? 0 : dy
      const Tensor c = bw.unpack(sc);
      if (bw.needs(0)) bw.add(0, where(c, bw.grad(), 0.0));
      if (bw.needs(1)) bw.add(1, where(c, 0.0, bw.grad()));
    });
  return y;
}

Tensor where(const Tensor& condition, const Tensor& a, double b) {
  TG_PROFILE_OP("where", condition, a);
  Tensor y = kernel::where(condition, a, b);
  if (autograd::needs_grad(a))
    autograd::record("where", {&a}, {&y}, [sc = SavedTensor(condition, false)](Backward& bw) {
      // y = c ? a : b;  da = c ? dy : 0
      bw.add(0, where(bw.unpack(sc), bw.grad(), 0.0));
    });
  return y;
}

Tensor where(const Tensor& condition, double a, const Tensor& b) {
  TG_PROFILE_OP("where", condition, b);
  Tensor y = kernel::where(condition, a, b);
  if (autograd::needs_grad(b))
    autograd::record("where", {&b}, {&y}, [sc = SavedTensor(condition, false)](Backward& bw) {
      // y = c ? a : b;  db = c ? 0 : dy
      bw.add(0, where(bw.unpack(sc), 0.0, bw.grad()));
    });
  return y;
}

}  // namespace tg
