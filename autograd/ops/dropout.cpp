// dropout: y = x * mask, with mask 0 (probability p) or 1 / (1 - p), so the
// expected value of y is x. The mask is drawn in one pass under the
// generator's lock and is all that backward keeps.
#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/random.h>
#include <tapegrad/nn/functional.h>

namespace tg::nn::functional {

using autograd::Backward;
using autograd::SavedTensor;

Tensor dropout(const Tensor& x, double p, StrictBool training, Generator* generator) {
  if (!(p >= 0 && p <= 1))
    throw ValueError(fmt::format("dropout: probability has to be between 0 and 1, but got {}", p));
  if (!training || p == 0) return x;
  if (!x.is_floating_point())
    throw DTypeError(fmt::format("dropout: expected a floating-point input, got {}", dtype_name(x.dtype())));
  Tensor mask = make_tensor(x.shape(), x.dtype());
  Generator& gen = generator ? *generator : default_generator();
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    // p == 1 keeps nothing (uniform() < 1 always), so the scale is never used.
    const T keep_scale = p < 1 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    T* m = mask.data_ptr<T>();
    std::lock_guard lock(gen.mutex());
    for (std::int64_t i = 0; i < mask.numel(); ++i) m[i] = gen.uniform() < p ? T(0) : keep_scale;
  });
  Tensor y = kernel::mul(x, mask);
  if (autograd::needs_grad(x))
    autograd::record("dropout", {&x}, {&y}, [smask = SavedTensor(mask, false)](Backward& bw) {
      // y = x * mask;  dx = dy * mask
      bw.add(0, tg::mul(bw.grad(), bw.unpack(smask)));
    });
  return y;
}

}  // namespace tg::nn::functional
