// dropout: y = x * mask, with mask 0 (probability p) or 1 / (1 - p), so the
// expected value of y is x. The mask (core/kernels/dropout.h) is all that
// backward keeps.
#include <utility>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/dropout.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

Tensor dropout(const Tensor& x, double p, StrictBool training, Generator* generator) {
  TG_PROFILE_OP("dropout", x);
  // Checked here: out of training it returns x untouched.
  if (!x.defined()) throw ValueError("dropout: the input is undefined (default-constructed or reset)");
  if (!(p >= 0 && p <= 1))
    throw ValueError(fmt::format("dropout: probability has to be between 0 and 1, but got {}", p));
  if (!training || p == 0) return x;
  Generator& gen = generator ? *generator : default_generator();
  Tensor y, mask;
  if (auto fused = kernel::dropout_apply(x, p, gen)) {
    y = std::move(fused->first);
    mask = std::move(fused->second);
  } else {
    mask = kernel::dropout_mask(x, p, gen);
    y = kernel::mul(x, mask);
  }
  if (autograd::needs_grad(x))
    autograd::record("dropout", {&x}, {&y}, [smask = SavedTensor(mask, false)](Backward& bw) {
      // y = x * mask;  dx = dy * mask
      bw.add(0, tg::mul(bw.grad(), bw.unpack(smask)));
    });
  return y;
}

}  // namespace tg
