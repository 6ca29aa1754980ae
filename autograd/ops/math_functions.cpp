// The everyday math functions: trigonometric and hyperbolic functions and
// their inverses, erf/erfc/erfinv, expm1, log2, log10, exp2, reciprocal,
// rounding, atan2, hypot, fmod, remainder, lerp, clamp with tensor bounds,
// nan_to_num and the non-finite tests. Kernels and dtype rules:
// core/kernels/math.h. Each backward is written with the differentiable ops,
// so create_graph gives second derivatives.
#include <cmath>
#include <numbers>
#include <optional>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/math.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::requires_grad_of;
using autograd::SavedTensor;

namespace {

// An op whose derivative is 0 wherever it exists (floor, ceil, round, trunc):
// recorded so that gradients through it are zeros rather than missing, as PyTorch.
Tensor zero_grad_op(const char* name, const Tensor& x, Tensor y) {
  if (autograd::needs_grad(x))
    autograd::record(name, {&x}, {&y}, [](Backward& bw) { bw.add(0, zeros_like(bw.grad())); });
  return y;
}

}  // namespace

// ---- trigonometric and hyperbolic ----------------------------------------------------

Tensor sin(const Tensor& x) {
  TG_PROFILE_OP("sin", x);
  Tensor y = kernel::sin(x);
  if (autograd::needs_grad(x))
    autograd::record("sin", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy cos(x)
      bw.add(0, mul(bw.grad(), cos(bw.unpack(sx))));
    });
  return y;
}

Tensor cos(const Tensor& x) {
  TG_PROFILE_OP("cos", x);
  Tensor y = kernel::cos(x);
  if (autograd::needs_grad(x))
    autograd::record("cos", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = -dy sin(x)
      bw.add(0, mul(bw.grad(), neg(sin(bw.unpack(sx)))));
    });
  return y;
}

Tensor tan(const Tensor& x) {
  TG_PROFILE_OP("tan", x);
  Tensor y = kernel::tan(x);
  if (autograd::needs_grad(x))
    autograd::record("tan", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // dx = dy (1 + y^2)
      const Tensor y = bw.unpack(sy);
      bw.add(0, mul(bw.grad(), add(mul(y, y), 1.0)));
    });
  return y;
}

Tensor asin(const Tensor& x) {
  TG_PROFILE_OP("asin", x);
  Tensor y = kernel::asin(x);
  if (autograd::needs_grad(x))
    autograd::record("asin", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy / sqrt(1 - x^2)
      const Tensor x = bw.unpack(sx);
      bw.add(0, div(bw.grad(), sqrt(rsub(mul(x, x), 1.0))));
    });
  return y;
}

Tensor acos(const Tensor& x) {
  TG_PROFILE_OP("acos", x);
  Tensor y = kernel::acos(x);
  if (autograd::needs_grad(x))
    autograd::record("acos", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = -dy / sqrt(1 - x^2)
      const Tensor x = bw.unpack(sx);
      bw.add(0, neg(div(bw.grad(), sqrt(rsub(mul(x, x), 1.0)))));
    });
  return y;
}

Tensor atan(const Tensor& x) {
  TG_PROFILE_OP("atan", x);
  Tensor y = kernel::atan(x);
  if (autograd::needs_grad(x))
    autograd::record("atan", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy / (1 + x^2)
      const Tensor x = bw.unpack(sx);
      bw.add(0, div(bw.grad(), add(mul(x, x), 1.0)));
    });
  return y;
}

Tensor sinh(const Tensor& x) {
  TG_PROFILE_OP("sinh", x);
  Tensor y = kernel::sinh(x);
  if (autograd::needs_grad(x))
    autograd::record("sinh", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy cosh(x)
      bw.add(0, mul(bw.grad(), cosh(bw.unpack(sx))));
    });
  return y;
}

Tensor cosh(const Tensor& x) {
  TG_PROFILE_OP("cosh", x);
  Tensor y = kernel::cosh(x);
  if (autograd::needs_grad(x))
    autograd::record("cosh", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy sinh(x)
      bw.add(0, mul(bw.grad(), sinh(bw.unpack(sx))));
    });
  return y;
}

Tensor asinh(const Tensor& x) {
  TG_PROFILE_OP("asinh", x);
  Tensor y = kernel::asinh(x);
  if (autograd::needs_grad(x))
    autograd::record("asinh", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy / sqrt(x^2 + 1)
      const Tensor x = bw.unpack(sx);
      bw.add(0, div(bw.grad(), sqrt(add(mul(x, x), 1.0))));
    });
  return y;
}

Tensor acosh(const Tensor& x) {
  TG_PROFILE_OP("acosh", x);
  Tensor y = kernel::acosh(x);
  if (autograd::needs_grad(x))
    autograd::record("acosh", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy / sqrt(x^2 - 1)
      const Tensor x = bw.unpack(sx);
      bw.add(0, div(bw.grad(), sqrt(sub(mul(x, x), 1.0))));
    });
  return y;
}

Tensor atanh(const Tensor& x) {
  TG_PROFILE_OP("atanh", x);
  Tensor y = kernel::atanh(x);
  if (autograd::needs_grad(x))
    autograd::record("atanh", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy / (1 - x^2)
      const Tensor x = bw.unpack(sx);
      bw.add(0, div(bw.grad(), rsub(mul(x, x), 1.0)));
    });
  return y;
}

// ---- error function, exponentials and logarithms ---------------------------------------

Tensor erf(const Tensor& x) {
  TG_PROFILE_OP("erf", x);
  Tensor y = kernel::erf(x);
  if (autograd::needs_grad(x))
    autograd::record("erf", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy 2/sqrt(pi) exp(-x^2)
      const Tensor x = bw.unpack(sx);
      bw.add(0, mul(bw.grad(), mul(exp(neg(mul(x, x))), 2 * std::numbers::inv_sqrtpi)));
    });
  return y;
}

Tensor erfc(const Tensor& x) {
  TG_PROFILE_OP("erfc", x);
  Tensor y = kernel::erfc(x);
  if (autograd::needs_grad(x))
    autograd::record("erfc", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = -dy 2/sqrt(pi) exp(-x^2)
      const Tensor x = bw.unpack(sx);
      bw.add(0, mul(bw.grad(), mul(exp(neg(mul(x, x))), -2 * std::numbers::inv_sqrtpi)));
    });
  return y;
}

Tensor erfinv(const Tensor& x) {
  TG_PROFILE_OP("erfinv", x);
  Tensor y = kernel::erfinv(x);
  if (autograd::needs_grad(x))
    autograd::record("erfinv", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // dx = dy sqrt(pi)/2 exp(y^2)
      const Tensor y = bw.unpack(sy);
      bw.add(0, mul(bw.grad(), mul(exp(mul(y, y)), std::sqrt(std::numbers::pi) / 2)));
    });
  return y;
}

Tensor expm1(const Tensor& x) {
  TG_PROFILE_OP("expm1", x);
  Tensor y = kernel::expm1(x);
  if (autograd::needs_grad(x))
    autograd::record("expm1", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // dx = dy (y + 1)
      bw.add(0, mul(bw.grad(), add(bw.unpack(sy), 1.0)));
    });
  return y;
}

Tensor log2(const Tensor& x) {
  TG_PROFILE_OP("log2", x);
  Tensor y = kernel::log2(x);
  if (autograd::needs_grad(x))
    autograd::record("log2", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy / (x ln 2)
      bw.add(0, div(bw.grad(), mul(bw.unpack(sx), std::numbers::ln2)));
    });
  return y;
}

Tensor log10(const Tensor& x) {
  TG_PROFILE_OP("log10", x);
  Tensor y = kernel::log10(x);
  if (autograd::needs_grad(x))
    autograd::record("log10", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy / (x ln 10)
      bw.add(0, div(bw.grad(), mul(bw.unpack(sx), std::numbers::ln10)));
    });
  return y;
}

Tensor exp2(const Tensor& x) {
  TG_PROFILE_OP("exp2", x);
  Tensor y = kernel::exp2(x);
  if (autograd::needs_grad(x))
    autograd::record("exp2", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // dx = dy y ln 2
      bw.add(0, mul(bw.grad(), mul(bw.unpack(sy), std::numbers::ln2)));
    });
  return y;
}

Tensor reciprocal(const Tensor& x) {
  TG_PROFILE_OP("reciprocal", x);
  Tensor y = kernel::reciprocal(x);
  if (autograd::needs_grad(x))
    autograd::record("reciprocal", {&x}, {&y}, [sy = SavedTensor(y, true)](Backward& bw) {
      // dx = -dy y^2
      const Tensor y = bw.unpack(sy);
      bw.add(0, mul(bw.grad(), neg(mul(y, y))));
    });
  return y;
}

// ---- rounding ------------------------------------------------------------------------------

Tensor floor(const Tensor& x) {
  TG_PROFILE_OP("floor", x);
  return zero_grad_op("floor", x, kernel::floor(x));
}
Tensor ceil(const Tensor& x) {
  TG_PROFILE_OP("ceil", x);
  return zero_grad_op("ceil", x, kernel::ceil(x));
}
Tensor round(const Tensor& x) {
  TG_PROFILE_OP("round", x);
  return zero_grad_op("round", x, kernel::round(x));
}
Tensor round(const Tensor& x, std::int64_t decimals) {
  TG_PROFILE_OP("round", x);
  return zero_grad_op("round", x, kernel::round(x, decimals));
}
Tensor trunc(const Tensor& x) {
  TG_PROFILE_OP("trunc", x);
  return zero_grad_op("trunc", x, kernel::trunc(x));
}

Tensor frac(const Tensor& x) {
  TG_PROFILE_OP("frac", x);
  Tensor y = kernel::frac(x);
  if (autograd::needs_grad(x))
    autograd::record("frac", {&x}, {&y}, [](Backward& bw) {
      // y = x - trunc(x);  dx = dy
      bw.add(0, bw.grad());
    });
  return y;
}

// ---- binary functions ---------------------------------------------------------------------

Tensor atan2(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("atan2", a, b);
  Tensor y = kernel::atan2(a, b);
  if (autograd::needs_grad(a, b))
    autograd::record("atan2", {&a, &b}, {&y}, [sa = SavedTensor(a, false), sb = SavedTensor(b, false)](Backward& bw) {
      // y = atan2(a, b);  da = dy b / r^2,  db = -dy a / r^2, r = hypot(a, b),
      // as dy (b / r) / r: a^2 + b^2 would underflow (to 0, or flushed) or
      // overflow where the gradient does not (a = b = 1e-20f: 5e19).
      const Tensor a = bw.unpack(sa), b = bw.unpack(sb);
      const Tensor r = hypot(a, b);
      if (bw.needs(0)) bw.add(0, div(mul(bw.grad(), div(b, r)), r));
      if (bw.needs(1)) bw.add(1, neg(div(mul(bw.grad(), div(a, r)), r)));
    });
  return y;
}

Tensor hypot(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("hypot", a, b);
  Tensor y = kernel::hypot(a, b);
  if (autograd::needs_grad(a, b))
    autograd::record("hypot", {&a, &b}, {&y},
                     [sa = SavedTensor::input_if(requires_grad_of(a), a),
                      sb = SavedTensor::input_if(requires_grad_of(b), b), sy = SavedTensor(y, true)](Backward& bw) {
                       // y = sqrt(a^2 + b^2);  da = dy a / y,  db = dy b / y
                       const Tensor g = div(bw.grad(), bw.unpack(sy));
                       if (bw.needs(0)) bw.add(0, mul(g, bw.unpack(sa)));
                       if (bw.needs(1)) bw.add(1, mul(g, bw.unpack(sb)));
                     });
  return y;
}

// The quotient's integer part is piecewise constant: it is no function of
// the inputs for the derivative, so it is computed without the tape.
Tensor fmod(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("fmod", a, b);
  Tensor y = kernel::fmod(a, b);
  if (autograd::needs_grad(a, b))
    autograd::record(
        "fmod", {&a, &b}, {&y},
        [sa = SavedTensor::input_if(requires_grad_of(b), a),
         sb = SavedTensor::input_if(requires_grad_of(b), b)](Backward& bw) {
          // y = a - trunc(a / b) b;  da = dy,  db = -dy trunc(a / b)
          if (bw.needs(0)) bw.add(0, bw.grad());
          if (bw.needs(1))
            bw.add(1, mul(bw.grad(), Tensor(kernel::neg(kernel::trunc(kernel::div(bw.unpack(sa), bw.unpack(sb)))))));
        });
  return y;
}

Tensor remainder(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("remainder", a, b);
  Tensor y = kernel::remainder(a, b);
  if (autograd::needs_grad(a, b))
    autograd::record("remainder", {&a, &b}, {&y},
                     [sa = SavedTensor::input_if(requires_grad_of(b), a),
                      sb = SavedTensor::input_if(requires_grad_of(b), b)](Backward& bw) {
                       // y = a - floor(a / b) b;  da = dy,  db = -dy floor(a / b)
                       if (bw.needs(0)) bw.add(0, bw.grad());
                       if (bw.needs(1))
                         bw.add(1,
                                mul(bw.grad(), Tensor(kernel::neg(kernel::div_floor(bw.unpack(sa), bw.unpack(sb))))));
                     });
  return y;
}

Tensor fmod(const Tensor& a, double b) {
  TG_PROFILE_OP("fmod", a);
  Tensor y = kernel::fmod(a, b);
  if (autograd::needs_grad(a))
    autograd::record("fmod", {&a}, {&y}, [](Backward& bw) {
      // da = dy
      bw.add(0, bw.grad());
    });
  return y;
}

Tensor remainder(const Tensor& a, double b) {
  TG_PROFILE_OP("remainder", a);
  Tensor y = kernel::remainder(a, b);
  if (autograd::needs_grad(a))
    autograd::record("remainder", {&a}, {&y}, [](Backward& bw) {
      // da = dy
      bw.add(0, bw.grad());
    });
  return y;
}

Tensor lerp(const Tensor& start, const Tensor& end, double weight) {
  TG_PROFILE_OP("lerp", start, end);
  Tensor y = kernel::lerp(start, end, weight);
  if (autograd::needs_grad(start, end))
    autograd::record("lerp", {&start, &end}, {&y}, [weight](Backward& bw) {
      // y = s + w (e - s);  ds = dy (1 - w),  de = dy w
      if (bw.needs(0)) bw.add(0, mul(bw.grad(), 1 - weight));
      if (bw.needs(1)) bw.add(1, mul(bw.grad(), weight));
    });
  return y;
}

Tensor lerp(const Tensor& start, const Tensor& end, const Tensor& weight) {
  TG_PROFILE_OP("lerp", start, end, weight);
  Tensor y = kernel::lerp(start, end, weight);
  if (autograd::needs_grad(start, end, weight))
    autograd::record(
        "lerp", {&start, &end, &weight}, {&y},
        [ss = SavedTensor::input_if(requires_grad_of(weight), start),
         se = SavedTensor::input_if(requires_grad_of(weight), end), sw = SavedTensor(weight, false)](Backward& bw) {
          // ds = dy (1 - w),  de = dy w,  dw = dy (e - s)
          const Tensor w = bw.unpack(sw);
          if (bw.needs(0)) bw.add(0, mul(bw.grad(), rsub(w, 1.0)));
          if (bw.needs(1)) bw.add(1, mul(bw.grad(), w));
          if (bw.needs(2)) bw.add(2, mul(bw.grad(), sub(bw.unpack(se), bw.unpack(ss))));
        });
  return y;
}

// As PyTorch: x's gradient passes where min <= x <= max; min's where x < min
// (and min < max), max's where x > max or max < min (max wins then).
Tensor detail::clamp_tensors(const Tensor& x, const Tensor& min, const Tensor& max) {
  Tensor y = kernel::clamp_tensors(x, min, max);
  if (autograd::needs_grad(x, min, max))
    autograd::record("clamp", {&x, &min, &max}, {&y},
                     [sx = SavedTensor(x, false), sl = min.defined() ? SavedTensor(min, false) : SavedTensor(),
                      sh = max.defined() ? SavedTensor(max, false) : SavedTensor(), has_min = min.defined(),
                      has_max = max.defined()](Backward& bw) {
                       const Tensor x = bw.unpack(sx);
                       const Tensor lo = has_min ? bw.unpack(sl) : Tensor(), hi = has_max ? bw.unpack(sh) : Tensor();
                       const Tensor& dy = bw.grad();
                       if (bw.needs(0)) {
                         Tensor inside;
                         if (has_min) inside = kernel::ge(x, lo);
                         if (has_max) {
                           Tensor below = kernel::le(x, hi);
                           inside = inside.defined() ? Tensor(kernel::logical_and(inside, below)) : below;
                         }
                         bw.add(0, where(inside, dy, 0.0));
                       }
                       if (has_min && bw.needs(1)) {
                         Tensor mask = kernel::lt(x, lo);
                         if (has_max) mask = kernel::logical_and(mask, kernel::lt(lo, hi));
                         bw.add(1, where(mask, dy, 0.0));
                       }
                       if (has_max && bw.needs(2)) {
                         Tensor mask = kernel::gt(x, hi);
                         if (has_min) mask = kernel::logical_or(mask, kernel::lt(hi, lo));
                         bw.add(2, where(mask, dy, 0.0));
                       }
                     });
  return y;
}

// ---- non-finite values ------------------------------------------------------------------

Tensor nan_to_num(const Tensor& x, double nan, std::optional<double> posinf, std::optional<double> neginf) {
  TG_PROFILE_OP("nan_to_num", x);
  Tensor y = kernel::nan_to_num(x, nan, posinf, neginf);
  if (autograd::needs_grad(x))
    autograd::record("nan_to_num", {&x}, {&y}, [sx = SavedTensor(x, false)](Backward& bw) {
      // dx = dy where x is finite, else 0 (the replaced values are constants)
      bw.add(0, where(kernel::isfinite(bw.unpack(sx)), bw.grad(), 0.0));
    });
  return y;
}

Tensor isinf(const Tensor& x) {
  TG_PROFILE_OP("isinf", x);
  return kernel::isinf(x);
}
Tensor isposinf(const Tensor& x) {
  TG_PROFILE_OP("isposinf", x);
  return kernel::isposinf(x);
}
Tensor isneginf(const Tensor& x) {
  TG_PROFILE_OP("isneginf", x);
  return kernel::isneginf(x);
}
Tensor isclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  TG_PROFILE_OP("isclose", a, b);
  return kernel::isclose(a, b, rtol, atol, equal_nan);
}

}  // namespace tg
