// The activations beyond relu/sigmoid/tanh/gelu: softplus, silu, elu, selu,
// celu, mish, hardtanh, relu6, hardswish, hardsigmoid, logsigmoid, softsign,
// glu, prelu.
// The forward is one fused kernel (core/kernels/math.h); each backward is
// written with the differentiable ops, so create_graph gives second
// derivatives. Masks of the piecewise ones are computed off the tape: they
// are piecewise constant.
#include <cstdint>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/dtype_check.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/math.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

// SELU's constants (Klambauer et al. 2017), as PyTorch.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// f(dy, x) for a backward, computed in float32 for float16 and bfloat16 and
// rounded once into dy's dtype, as PyTorch's opmath kernels and as the
// forwards (core's param_t): in the 16-bit dtype, softplus's beta x and
// sigmoid and elu's scale were each rounded to 8 bits (bfloat16 softplus(0.5,
// beta 0.3) with dy 100 gave 54, PyTorch 53.75). The conversions are
// recorded, so higher derivatives pass through them.
template <class F>
Tensor opmath_backward(const Tensor& dy, const Tensor& x, F f) {
  if (!is_reduced_float(dy.dtype())) return f(dy, x);
  return f(dy.to(kFloat32), x.to(kFloat32)).to(dy.dtype());
}

Tensor elu_op(const char* name, const Tensor& x, double alpha, double scale, double input_scale) {
  Tensor y = kernel::elu(x, alpha, scale, input_scale, name);
  if (autograd::needs_grad(x))
    autograd::record(name, {&x}, {&y}, [sx = SavedTensor(x, false), alpha, scale, input_scale](Backward& bw) {
      // dx = dy scale for x > 0, else dy scale alpha input_scale exp(input_scale x).
      // The exp reads min(x, 0): where() gives the branch it does not pick a
      // zero gradient, and at second order a zero times an exp that
      // overflowed (x past 88 in float32, 8.9 for celu's alpha 0.1) is NaN.
      bw.add(0, opmath_backward(bw.grad(), bw.unpack(sx), [&](const Tensor& dy, const Tensor& x) {
               return where(
                   kernel::gt(x, 0.0), mul(dy, scale),
                   mul(dy, mul(exp(mul(clamp(x, std::nullopt, 0.0), input_scale)), alpha * scale * input_scale)));
             }));
    });
  return y;
}

// dx = dy / divisor where lo < x < hi, else 0: linear in dy, of derivative
// 0 in x almost everywhere. x is still recorded as an input, with that 0 as
// its gradient, as PyTorch's hardtanh_backward and hardsigmoid_backward
// record self (and relu_grad in activation.cpp): a Hessian through them then
// requires grad under create_graph, and differentiates again to zeros.
Tensor band_grad(const char* name, const Tensor& dy, const Tensor& x, double lo, double hi, double divisor) {
  const Tensor inside = kernel::logical_and(kernel::gt(x, lo), kernel::lt(x, hi));
  Tensor dx;
  {
    NoGradGuard one_node;  // recorded below
    dx = where(inside, divisor == 1 ? dy : div(dy, divisor), 0.0);
  }
  if (autograd::needs_grad(dy, x))
    autograd::record(name, {&dy, &x}, {&dx}, [name, sx = SavedTensor(x, false), lo, hi, divisor](Backward& bw) {
      const Tensor x = bw.unpack(sx);
      if (bw.needs(0)) bw.add(0, band_grad(name, bw.grad(), x, lo, hi, divisor));
      if (bw.needs(1)) bw.add(1, zeros_like(x));
    });
  return dx;
}

}  // namespace

Tensor softplus(const Tensor& x, double beta, double threshold) {
  TG_PROFILE_OP("softplus", x);
  Tensor y = kernel::softplus(x, beta, threshold);
  if (autograd::needs_grad(x))
    autograd::record("softplus", {&x}, {&y}, [sx = SavedTensor(x, false), beta, threshold](Backward& bw) {
      // dx = dy sigmoid(beta x), or dy where beta x > threshold (the linear part)
      bw.add(0, opmath_backward(bw.grad(), bw.unpack(sx), [&](const Tensor& dy, const Tensor& x) {
               const Tensor bx = mul(x, beta);
               return where(kernel::gt(bx, threshold), dy, mul(dy, sigmoid(bx)));
             }));
    });
  return y;
}

Tensor silu(const Tensor& x) {
  TG_PROFILE_OP("silu", x);
  Tensor y = kernel::silu(x);
  if (autograd::needs_grad(x))
    autograd::record("silu", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // y = x s, s = sigmoid(x);  dx = dy s (1 + x (1 - s))
      bw.add(0, opmath_backward(bw.grad(), bw.unpack(sx), [](const Tensor& dy, const Tensor& x) {
               const Tensor s = sigmoid(x);
               return mul(dy, mul(s, add(mul(x, rsub(s, 1.0)), 1.0)));
             }));
    });
  return y;
}

Tensor elu(const Tensor& x, double alpha) {
  TG_PROFILE_OP("elu", x);
  return elu_op("elu", x, alpha, 1, 1);
}
Tensor selu(const Tensor& x) {
  TG_PROFILE_OP("selu", x);
  return elu_op("selu", x, kSeluAlpha, kSeluScale, 1);
}
Tensor celu(const Tensor& x, double alpha) {
  TG_PROFILE_OP("celu", x);
  if (alpha == 0) throw ValueError("celu: alpha must not be 0 (the negative part divides by it)");
  return elu_op("celu", x, alpha, 1, 1 / alpha);
}

Tensor mish(const Tensor& x) {
  TG_PROFILE_OP("mish", x);
  Tensor y = kernel::mish(x);
  if (autograd::needs_grad(x))
    autograd::record("mish", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // y = x tanh(softplus(x));  dx = dy (t + x sigmoid(x) (1 - t^2)), t = tanh(softplus(x))
      bw.add(0, opmath_backward(bw.grad(), bw.unpack(sx), [](const Tensor& dy, const Tensor& x) {
               const Tensor t = tanh(softplus(x));
               return mul(dy, add(t, mul(mul(x, sigmoid(x)), rsub(mul(t, t), 1.0))));
             }));
    });
  return y;
}

// Unlike clamp, the gradient stops at the bounds themselves, as PyTorch.
Tensor hardtanh(const Tensor& x, double min_val, double max_val) {
  TG_PROFILE_OP("hardtanh", x);
  Tensor y = kernel::hardtanh(x, min_val, max_val);
  if (autograd::needs_grad(x))
    autograd::record("hardtanh", {&x}, {&y}, [sx = SavedTensor(x, false), min_val, max_val](Backward& bw) {
      // dx = dy where min < x < max, else 0
      bw.add(0, band_grad("hardtanh_backward", bw.grad(), bw.unpack(sx), min_val, max_val, 1));
    });
  return y;
}

// hardtanh(x, 0, 6), as PyTorch's relu6 (which is that hardtanh): the
// gradient stops at 0 and 6 themselves, and integer dtypes are kept. The
// dtype check is its own so that a refusal names relu6, not hardtanh.
Tensor relu6(const Tensor& x) {
  TG_PROFILE_OP("relu6", x);
  check_dtype(x, "relu6", DTypeClass::Numeric);
  return hardtanh(x, 0, 6);
}

Tensor hardswish(const Tensor& x) {
  TG_PROFILE_OP("hardswish", x);
  Tensor y = kernel::hardswish(x);
  if (autograd::needs_grad(x))
    autograd::record("hardswish", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = 0 for x < -3, dy (x / 3 + 1/2) for -3 <= x <= 3, dy above
      bw.add(0, opmath_backward(bw.grad(), bw.unpack(sx), [](const Tensor& dy, const Tensor& x) {
               const Tensor middle = mul(dy, add(div(x, 3.0), 0.5));
               return where(kernel::lt(x, -3.0), 0.0, where(kernel::le(x, 3.0), middle, dy));
             }));
    });
  return y;
}

Tensor hardsigmoid(const Tensor& x) {
  TG_PROFILE_OP("hardsigmoid", x);
  Tensor y = kernel::hardsigmoid(x);
  if (autograd::needs_grad(x))
    autograd::record("hardsigmoid", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy / 6 for -3 < x < 3, else 0
      bw.add(0, band_grad("hardsigmoid_backward", bw.grad(), bw.unpack(sx), -3.0, 3.0, 6));
    });
  return y;
}

Tensor logsigmoid(const Tensor& x) {
  TG_PROFILE_OP("logsigmoid", x);
  Tensor y = kernel::logsigmoid(x);
  if (autograd::needs_grad(x))
    autograd::record("logsigmoid", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // y = -softplus(-x);  dx = dy sigmoid(-x)
      bw.add(0, opmath_backward(bw.grad(), bw.unpack(sx),
                                [](const Tensor& dy, const Tensor& x) { return mul(dy, sigmoid(neg(x))); }));
    });
  return y;
}

Tensor softsign(const Tensor& x) {
  TG_PROFILE_OP("softsign", x);
  Tensor y = kernel::softsign(x);
  if (autograd::needs_grad(x))
    autograd::record("softsign", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // y = x / (1 + |x|);  dx = dy / (1 + |x|)^2
      bw.add(0, opmath_backward(bw.grad(), bw.unpack(sx), [](const Tensor& dy, const Tensor& x) {
               const Tensor d = add(abs(x), 1.0);
               return div(dy, mul(d, d));
             }));
    });
  return y;
}

// a sigmoid(b) for the two halves a, b of x along dim; recorded as the
// narrow/sigmoid/mul it is made of.
Tensor glu(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("glu", x);
  check_dtype(x, "glu", DTypeClass::Floating);
  if (x.dim() == 0) throw ShapeError("glu: does not support 0-d tensors (it halves a dimension)");
  const std::int64_t d = dim < 0 ? dim + x.dim() : dim;
  if (d < 0 || d >= x.dim())
    throw IndexError(fmt::format("glu: dim {} is out of range for a tensor of shape {}", dim, shape_str(x.shape())));
  const std::int64_t n = x.size(d);
  if (n % 2 != 0)
    throw ShapeError(fmt::format("glu: halving dimension must be even, but dimension {} of shape {} is size {}", d,
                                 shape_str(x.shape()), n));
  return mul(narrow(x, d, 0, n / 2), sigmoid(narrow(x, d, n / 2, n / 2)));
}

// x where x > 0, else weight * x, weight [C] along dim 1 (or one weight for
// every element), as torch.nn.functional.prelu. Recorded as the where/mul it
// is made of: the mask x > 0 is piecewise constant and computed off the tape,
// so gradients of every order come from mul's and where's. At x = 0 the
// gradient of x is the weight's branch, as PyTorch's prelu_backward.
Tensor prelu(const Tensor& x, const Tensor& weight) {
  TG_PROFILE_OP("prelu", x, weight);
  check_dtype(x, "prelu", DTypeClass::Floating);
  if (!weight.defined()) throw ValueError(fmt::format("prelu: weight is undefined (input {})", shape_str(x.shape())));
  if (weight.dim() > 1)
    throw ShapeError(
        fmt::format("prelu: expected weight to be a scalar or 1-D tensor, got shape {}", shape_str(weight.shape())));
  if (weight.dtype() != x.dtype())
    throw DTypeError(
        fmt::format("prelu: weight is {} but the input is {}", dtype_name(weight.dtype()), dtype_name(x.dtype())));
  // Below 2 dims there is no channel dim: one weight for all, as PyTorch.
  const std::int64_t channels = x.dim() >= 2 ? x.size(1) : 1;
  const std::int64_t n = weight.numel();
  if (n != 1 && x.dim() < 2)
    throw ShapeError(fmt::format("prelu: input {} has no channel dim (dim 1), so weight must have 1 element, got {}",
                                 shape_str(x.shape()), n));
  if (n != 1 && n != channels)
    throw ShapeError(fmt::format("prelu: weight has {} elements but input {} has {} channels (dim 1); expected 1 or {}",
                                 n, shape_str(x.shape()), channels, channels));
  Tensor w;
  if (n == 1) {
    w = reshape(weight, Dims{});
  } else {
    Dims shape = Dims::filled(x.dim(), 1);
    shape[1] = n;
    w = reshape(weight, shape);
  }
  return where(Tensor(kernel::gt(x, 0.0)), x, mul(w, x));
}

}  // namespace tg
