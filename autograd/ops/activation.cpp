// Activations and clamp: relu, leaky_relu, sigmoid, tanh, gelu (exact and
// tanh forms), clamp.
//
// Dtypes, as PyTorch 1.13: leaky_relu and gelu take floating tensors only
// (check_dtype); relu refuses bool; sigmoid and tanh give float32 on integers
// and bool (tests/autograd/test_dtype_support.cpp holds them to torch's table).
//
// Each backward is one fused kernel (core/kernels/elementwise.h) instead of a
// chain of temporaries, since these run once per layer per training step. The
// fused gradients are ops themselves, recorded with their own backward, so
// create_graph still gives second derivatives.
#include <cmath>
#include <numbers>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/dtype_check.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

// The backwards of the piecewise-linear activations below are linear in dy,
// with a derivative in x (or y) of 0 almost everywhere. They still record x
// as an input, with that zero as its gradient, as PyTorch's
// threshold_backward does: a Hessian of a ReLU network then requires grad
// under create_graph (and differentiates again to zeros), where recording
// dy alone gave a result that did not, and strict functional calls refused.
// dx = kernel(dy, x), one node;  d(dy) = kernel(ddx, x),  d(x) = 0.
// (activation_functions.cpp's band_grad does the same for a where() mask.)
template <class Kernel>
Tensor piecewise_linear_grad(const char* name, const Tensor& dy, const Tensor& x, Kernel kernel) {
  Tensor dx = kernel(dy, x);
  if (autograd::needs_grad(dy, x))
    autograd::record(name, {&dy, &x}, {&dx}, [name, sx = SavedTensor(x, false), kernel](Backward& bw) {
      const Tensor x = bw.unpack(sx);
      if (bw.needs(0)) bw.add(0, piecewise_linear_grad(name, bw.grad(), x, kernel));
      if (bw.needs(1)) bw.add(1, zeros_like(x));
    });
  return dx;
}

// dx = dy [y > 0]
Tensor relu_grad(const Tensor& dy, const Tensor& y) {
  return piecewise_linear_grad("relu_backward", dy, y,
                               [](const Tensor& g, const Tensor& v) { return kernel::relu_backward(g, v); });
}

// dx = dy (x > 0 ? 1 : slope)
Tensor leaky_relu_grad(const Tensor& dy, const Tensor& x, double slope) {
  return piecewise_linear_grad("leaky_relu_backward", dy, x, [slope](const Tensor& g, const Tensor& v) {
    return kernel::leaky_relu_backward(g, v, slope);
  });
}

// dx = dy [min <= x <= max]
Tensor clamp_grad(const Tensor& dy, const Tensor& x, std::optional<double> min, std::optional<double> max) {
  return piecewise_linear_grad("clamp_backward", dy, x, [min, max](const Tensor& g, const Tensor& v) {
    return kernel::clamp_backward(g, v, min, max);
  });
}

Tensor sigmoid_grad(const Tensor& dy, const Tensor& y) {
  Tensor dx = kernel::sigmoid_backward(dy, y);
  if (autograd::needs_grad(dy, y))
    autograd::record("sigmoid_backward", {&dy, &y}, {&dx},
                     [sdy = autograd::requires_grad_of(y) ? SavedTensor(dy, false) : SavedTensor(),
                      sy = SavedTensor(y, false)](Backward& bw) {
                       // dx = dy y (1 - y);  d(dy) = ddx y (1 - y),  d(y) = ddx dy (1 - 2y)
                       const Tensor y = bw.unpack(sy);
                       if (bw.needs(0)) bw.add(0, sigmoid_grad(bw.grad(), y));
                       if (bw.needs(1)) bw.add(1, mul(mul(bw.grad(), bw.unpack(sdy)), rsub(mul(y, 2.0), 1.0)));
                     });
  return dx;
}

Tensor tanh_grad(const Tensor& dy, const Tensor& y) {
  Tensor dx = kernel::tanh_backward(dy, y);
  if (autograd::needs_grad(dy, y))
    autograd::record("tanh_backward", {&dy, &y}, {&dx},
                     [sdy = autograd::requires_grad_of(y) ? SavedTensor(dy, false) : SavedTensor(),
                      sy = SavedTensor(y, false)](Backward& bw) {
                       // dx = dy (1 - y^2);  d(dy) = ddx (1 - y^2),  d(y) = -2 ddx dy y
                       const Tensor y = bw.unpack(sy);
                       if (bw.needs(0)) bw.add(0, tanh_grad(bw.grad(), y));
                       if (bw.needs(1)) bw.add(1, mul(mul(bw.grad(), bw.unpack(sdy)), mul(y, -2.0)));
                     });
  return dx;
}

// `d`, when defined, is gelu's derivative at x from the forward
// (kernel::gelu_with_derivative): dy * d then has gelu_backward's bits
// without computing Phi and phi again.
Tensor gelu_grad(const Tensor& dy, const Tensor& x, const Tensor& d) {
  Tensor dx = d.defined() ? kernel::mul(dy, d) : kernel::gelu_backward(dy, x);
  if (autograd::needs_grad(dy, x))
    autograd::record("gelu_backward", {&dy, &x}, {&dx},
                     [sdy = autograd::requires_grad_of(x) ? SavedTensor(dy, false) : SavedTensor(),
                      sx = SavedTensor(x, false), sd = SavedTensor(d, false)](Backward& bw) {
                       // dx = dy (Phi(x) + x phi(x));  d(dy) = ddx (Phi(x) + x phi(x)),
                       // d(x) = ddx dy (2 phi(x) + x phi'(x)) = ddx dy phi(x) (2 - x^2)
                       const Tensor x = bw.unpack(sx);
                       if (bw.needs(0)) bw.add(0, gelu_grad(bw.grad(), x, bw.unpack(sd)));
                       if (bw.needs(1)) {
                         const double inv_sqrt_2pi = std::numbers::inv_sqrtpi / std::numbers::sqrt2;
                         const Tensor x2 = mul(x, x);
                         const Tensor pdf = mul(exp(mul(x2, -0.5)), inv_sqrt_2pi);
                         bw.add(1, mul(mul(bw.grad(), bw.unpack(sdy)), mul(pdf, rsub(x2, 2.0))));
                       }
                     });
  return dx;
}

// gelu's tanh form, PyTorch's constants and order of operations (its CPU
// kernel's), so that float64 values agree to the last bits or so:
//   y = x/2 (1 + t),  t = tanh(u),  u = k (x + c x^3),  k = sqrt(2/pi), c = 0.044715.
constexpr double kGeluTanhK = std::numbers::sqrt2 * std::numbers::inv_sqrtpi;  // sqrt(2 / pi)
constexpr double kGeluTanhC = 0.044715;

// A 16-bit x computes in float32 and rounds once, as PyTorch's kernels (and
// this library's unary kernels): step by step in float16, 1 + t cancels
// near x = -3.6 and the result was off by thousands of ulp.
Tensor gelu_tanh(const Tensor& x) {
  const bool narrow = is_reduced_float(x.dtype());
  const TensorBase xc = narrow ? kernel::to(x, kFloat32) : TensorBase(x);
  const TensorBase inner =
      kernel::mul(kernel::add(xc, kernel::mul(kernel::mul(kernel::mul(xc, xc), xc), kGeluTanhC)), kGeluTanhK);
  const TensorBase yc = kernel::mul(kernel::mul(xc, 0.5), kernel::add(kernel::tanh(inner), 1.0));
  Tensor y(narrow ? kernel::to(yc, x.dtype()) : yc);
  if (autograd::needs_grad(x))
    autograd::record("gelu", {&x}, {&y}, [sx = SavedTensor(x, false), narrow](Backward& bw) {
      // dx = dy ((1 + t)/2 + x/2 (1 - t^2) k (1 + 3c x^2)), written with the
      // differentiable ops so that create_graph gives every higher order;
      // float32 for a 16-bit x, as the forward (Backward casts dx back).
      const Tensor x = narrow ? bw.unpack(sx).to(kFloat32) : bw.unpack(sx);
      const Tensor dy = narrow ? bw.grad().to(kFloat32) : bw.grad();
      const Tensor x2 = mul(x, x);
      const Tensor t = tanh(mul(add(x, mul(mul(x2, x), kGeluTanhC)), kGeluTanhK));
      const Tensor left = mul(add(t, 1.0), 0.5);
      const Tensor right =
          mul(mul(mul(x, 0.5), rsub(mul(t, t), 1.0)), mul(add(mul(x2, 3 * kGeluTanhC), 1.0), kGeluTanhK));
      bw.add(0, mul(dy, add(left, right)));
    });
  return y;
}

}  // namespace

// relu(0) has gradient 0, as PyTorch (the mask is y > 0).
Tensor relu(const Tensor& x) {
  TG_PROFILE_OP("relu", x);
  Tensor y = kernel::relu(x);
  if (autograd::needs_grad(x))
    autograd::record("relu", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // y = max(x, 0);  dx = dy [y > 0]
      bw.add(0, relu_grad(bw.grad(), bw.unpack(sy)));
    });
  return y;
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  TG_PROFILE_OP("leaky_relu", x);
  check_dtype(x, "leaky_relu", DTypeClass::Floating);
  Tensor y = kernel::leaky_relu(x, negative_slope);
  if (autograd::needs_grad(x))
    autograd::record("leaky_relu", {&x}, {&y}, [sx = SavedTensor(x, false), negative_slope](Backward& bw) {
      // y = x > 0 ? x : slope x;  dx = dy (x > 0 ? 1 : slope)
      bw.add(0, leaky_relu_grad(bw.grad(), bw.unpack(sx), negative_slope));
    });
  return y;
}

Tensor sigmoid(const Tensor& x) {
  TG_PROFILE_OP("sigmoid", x);
  Tensor y = kernel::sigmoid(x);
  if (autograd::needs_grad(x))
    autograd::record("sigmoid", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // y = 1 / (1 + exp(-x));  dx = dy y (1 - y)
      bw.add(0, sigmoid_grad(bw.grad(), bw.unpack(sy)));
    });
  return y;
}

Tensor tanh(const Tensor& x) {
  TG_PROFILE_OP("tanh", x);
  Tensor y = kernel::tanh(x);
  if (autograd::needs_grad(x))
    autograd::record("tanh", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // y = tanh(x);  dx = dy (1 - y^2)
      bw.add(0, tanh_grad(bw.grad(), bw.unpack(sy)));
    });
  return y;
}

namespace {

// x Phi(x), x already checked.
Tensor gelu_exact(const Tensor& x) {
  if (!autograd::needs_grad(x)) return Tensor(kernel::gelu(x));
  // Training: the derivative comes from the forward's Phi and phi (one more
  // saved tensor), which halves what gelu costs a step.
  auto both = kernel::gelu_with_derivative(x);
  Tensor y(both ? std::move(both->first) : kernel::gelu(x));
  const Tensor d = both ? Tensor(std::move(both->second)) : Tensor();
  autograd::record("gelu", {&x}, {&y}, [sx = SavedTensor(x, false), sd = SavedTensor(d, false)](Backward& bw) {
    // y = x Phi(x);  dx = dy (Phi(x) + x phi(x))
    bw.add(0, gelu_grad(bw.grad(), bw.unpack(sx), bw.unpack(sd)));
  });
  return y;
}

}  // namespace

Tensor gelu(const Tensor& x) {
  TG_PROFILE_OP("gelu", x);
  check_dtype(x, "gelu", DTypeClass::Floating);
  return gelu_exact(x);
}

// "none" is the exact form above; "tanh" the approximation, as
// torch.nn.functional.gelu(approximate='tanh').
Tensor gelu(const Tensor& x, std::string_view approximate) {
  TG_PROFILE_OP("gelu", x);
  if (approximate != "none" && approximate != "tanh")
    throw ValueError(fmt::format("gelu: approximate must be \"none\" or \"tanh\", got \"{}\"", approximate));
  check_dtype(x, "gelu", DTypeClass::Floating);
  return approximate == "none" ? gelu_exact(x) : gelu_tanh(x);
}

// The gradient passes where min <= x <= max (bounds included), as PyTorch.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  TG_PROFILE_OP("clamp", x);
  Tensor y = kernel::clamp(x, min, max);
  if (autograd::needs_grad(x))
    autograd::record("clamp", {&x}, {&y}, [sx = SavedTensor(x, false), min, max](Backward& bw) {
      // y = min(max(x, lo), hi);  dx = dy [lo <= x <= hi]
      bw.add(0, clamp_grad(bw.grad(), bw.unpack(sx), min, max));
    });
  return y;
}

Tensor clamp_min(const Tensor& x, double min) {
  TG_PROFILE_OP("clamp_min", x);
  return clamp(x, min, std::nullopt);
}
Tensor clamp_max(const Tensor& x, double max) {
  TG_PROFILE_OP("clamp_max", x);
  return clamp(x, std::nullopt, max);
}

}  // namespace tg
